#pragma once
// Passwords kept as IOS keeps `secret 9`: scrypt (N = 16384, r = 1, p = 1, 32 bytes) over
// the password with a 14-character salt, written "$9$SALT$HASH" with the salt and the
// 43-character hash in IOS's base64 alphabet (./0-9A-Za-z, no padding). A configuration
// line `... secret 9 $9$...` from a router verifies here, and the other way round.
//
// One verification costs an scrypt computation (2 MiB, some milliseconds): callers that
// verify what the network sends must bound how often (est/service.h does).
//
// Thread-safe.

#include <string>
#include <string_view>

#include "common/status.h"

namespace scepter::pki {

// A new "$9$..." for `password`, with a random salt. kInternal when OpenSSL fails.
Result<std::string> type9_hash(std::string_view password);
// Whether `text` has the shape of a type 9 secret ("$9$" + 14 + "$" + 43 characters of
// the alphabet).
bool is_type9(std::string_view text);
// Whether `password` is the one `hashed` was made from (false for a malformed `hashed`).
// The comparison of the hashes is constant-time.
bool type9_verify(std::string_view password, std::string_view hashed);

}  // namespace scepter::pki
