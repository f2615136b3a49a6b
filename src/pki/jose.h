#pragma once
// The cryptography of JOSE (RFC 7515 JWS, RFC 7517 JWK, RFC 7518 algorithms) as ACME
// uses it: public keys made from a JWK's raw members, and the signatures of the
// algorithms ACME accepts. JSON itself is the caller's business (acme/jws.h): this file
// only sees the decoded bytes of the members.
//
// Failures: bytes from a client that cannot be used give kInvalidArgument (the message
// says why); a signature that does not verify gives kPermissionDenied; an OpenSSL
// failure that input cannot explain gives kInternal. All functions are thread-safe.

#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"
#include "pki/key.h"

namespace scepter::pki {

// The JWS algorithms ("alg") we implement: RSASSA-PKCS1-v1_5 with SHA-256, ECDSA on
// P-256 with SHA-256 and on P-384 with SHA-384, HMAC with SHA-256.
enum class JwsAlgorithm { kRs256, kEs256, kEs384, kHs256 };
// "RS256" -> kRs256, ...; nullopt for any other name (case matters).
std::optional<JwsAlgorithm> jws_algorithm(std::string_view name);
const char* jws_algorithm_name(JwsAlgorithm alg);
// Whether `key` is the kind of key `alg` signs with: RSA for RS256, P-256 for ES256,
// P-384 for ES384. Never for HS256 (its key is a shared secret, not a Key).
bool jws_algorithm_fits(JwsAlgorithm alg, const Key& key);

// RSA public key limits for an account key.
inline constexpr int kJwkMinRsaBits = 2048;
inline constexpr int kJwkMaxRsaBits = 8192;

// The public members of a JWK as raw unsigned big-endian bytes (before base64url).
struct JwkMembers {
  std::string kty;  // "RSA" or "EC"
  std::string n;    // RSA modulus, no leading zero byte
  std::string e;    // RSA public exponent, no leading zero byte
  std::string crv;  // EC: "P-256" or "P-384"
  std::string x;    // EC: the point's coordinates, each exactly the field's size
  std::string y;    //     (32 bytes for P-256, 48 for P-384)
};

// A public RSA key from its modulus and exponent (RFC 7518 6.3.1). Both must be the
// minimum number of bytes (no leading zero); the modulus 2048 to 8192 bits and odd; the
// exponent odd, between 3 and 2^32 + 1. kInvalidArgument otherwise.
Result<Key> rsa_public_key(std::string_view n, std::string_view e);
// A public EC key from the curve name ("P-256", "P-384") and the coordinates (RFC 7518
// 6.2.1), each exactly the field's size. The point must be on the curve (and not the
// point at infinity). kInvalidArgument otherwise.
Result<Key> ec_public_key(std::string_view crv, std::string_view x, std::string_view y);
// The inverse: the members of a public RSA key or P-256/P-384 EC key. kInvalidArgument
// for other keys.
Result<JwkMembers> jwk_members(const Key& key);

// Whether `signature` is `key`'s signature of `input` with `alg` (RFC 7518 3.3, 3.4).
// For ES256/ES384 the signature is r || s, each the field's size; any other length fails.
// kInvalidArgument when `alg` does not fit `key` (jws_algorithm_fits), kPermissionDenied
// when the signature does not verify.
Status jws_verify(JwsAlgorithm alg, const Key& key, std::string_view input,
                  std::string_view signature);
// The JWS signature of `input` with `key`'s private half (r || s for ECDSA): what a
// client sends; for tests and for a client of our own. kInvalidArgument when `alg` does
// not fit `key` or the key has no private half.
Result<std::string> jws_sign(JwsAlgorithm alg, const Key& key, std::string_view input);

// HMAC-SHA256 of `data` under `key` (32 bytes).
std::string hmac_sha256(std::string_view key, std::string_view data);
// Whether `mac` is hmac_sha256(key, data), compared in constant time.
bool hmac_sha256_verify(std::string_view key, std::string_view data, std::string_view mac);

}  // namespace scepter::pki
