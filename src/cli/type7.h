#pragma once
// Passwords in the configuration text, as IOS writes them: `password 7 <hex>`.
//
// The running-config and the startup-config carry two passwords: `database username U
// password X` (the database login) and `database archive <pkcs12|pem> password X` (the
// passphrase of the CA key archive). The server needs both in clear to use them, so
// they can only be hidden, not hashed. They are written as IOS "type 7" text, and the
// parser takes all three IOS forms: `password X` and `password 0 X` (clear) and
// `password 7 <hex>` (hidden).
//
// What type 7 protects against: somebody reading over an operator's shoulder, a printed
// or pasted configuration, a screen share, a support ticket with `show running-config`
// in it. What it does not protect against: anyone who has the text and wants the
// password. It is a reversible obfuscation (a fixed public key stream XORed with the
// password, from a two-digit offset), not encryption; free decoders exist. The real
// protection of the startup-config is its mode, 0600, and the directory's: only the
// daemon's user can read the file. Treat a configuration that has left the machine as
// if its passwords were in clear, and change them.
//
// Thread-safe: pure functions.

#include <string>
#include <string_view>

#include "cli/args.h"
#include "common/status.h"

namespace scepter::cli {

// Help lines of the `<0|7>` keywords (IOS's own).
inline constexpr std::string_view kHelpPasswordClear =
    "Specifies an UNENCRYPTED password will follow";
inline constexpr std::string_view kHelpPasswordHidden = "Specifies a HIDDEN password will follow";

// The IOS type 7 text of `clear`: two decimal digits (the offset into the key stream,
// 00-15) then two upper-case hex digits per byte. The offset is derived from the
// password, so the same password always gives the same text and the running-config
// does not change each time it is shown.
std::string type7_encode(std::string_view clear);

// Decodes type 7 text (offsets 00-52, hex in either case). Fails with kInvalidArgument
// for text that is not type 7: odd length, non-hex digits, an offset above 52, no
// password bytes, more than 256 of them, or a decoded byte that is a control character.
Result<std::string> type7_decode(std::string_view hidden);

// The password of a `[password [<0|7>$enc] WORD$password]` grammar fragment: the word
// as typed, or decoded when `enc` is "7". "" when no password was given.
Result<std::string> password_argument(const Args& a, std::string_view enc = "enc",
                                      std::string_view word = "password");

// Replaces everything after a `password` keyword (abbreviated or not, or any word
// starting with "pass", `user-pin`, or `hmac` as in `acme eab KEYID hmac 7 ...`), except
// the 0/7 type, with "*****", so that a configuration line can be logged:
//   "database archive pem password 7 0822455D0A16" -> "database archive pem password 7 *****"
std::string mask_passwords(std::string_view line);

}  // namespace scepter::cli
