#pragma once
// Hash algorithms: the `hash` command's choices, message digests and the fingerprint
// formats IOS prints.
//
// All functions are pure and thread-safe.

#include <string>
#include <string_view>

#include <openssl/evp.h>

#include "common/status.h"

namespace scepter::pki {

// The digests IOS offers for `hash` (md5, sha1, sha256, sha384, sha512).
enum class Hash { kMd5, kSha1, kSha256, kSha384, kSha512 };

// "md5", "sha1", "sha256", "sha384", "sha512"; case-insensitive, "sha-256" also accepted.
// Fails with kInvalidArgument on any other name.
Result<Hash> parse_hash(std::string_view name);
// The lower-case name parse_hash() accepts: "sha256".
std::string_view hash_name(Hash hash);
// MD5 and SHA-1: chosen-prefix collisions are practical, so a certificate signed with
// them is safe only if its serial is unpredictable (serial_number.h).
inline bool collision_prone(Hash hash) { return hash == Hash::kMd5 || hash == Hash::kSha1; }
// OpenSSL's static descriptor; never null, not owned.
const EVP_MD* evp_md(Hash hash);

// The raw digest of `bytes`. Aborts only if OpenSSL cannot compute a digest it
// advertises (a broken installation, or a FIPS-only configuration for MD5).
std::string digest(Hash hash, std::string_view bytes);
// MD5 of `bytes` as 32 upper-case hex digits: IOS's certificate and request fingerprint.
std::string md5_hex(std::string_view bytes);

// `n` bytes from OpenSSL's CSPRNG; kInternal if it fails.
Result<std::string> random_bytes(std::size_t n);
// Compares in time independent of where the inputs differ (for secrets).
bool constant_time_equal(std::string_view a, std::string_view b);
// Cuts a hex string into groups of 8 separated by single spaces, as IOS prints
// fingerprints: "CF2C23D1 560F25DB 22E9D10F E595A6D6". No trailing space (some IOS
// screens print one; the display code adds it).
std::string ios_fingerprint(std::string_view hex);

}  // namespace scepter::pki
