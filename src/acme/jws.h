#pragma once
// JSON Web Signatures as ACME uses them (RFC 8555 6.2, RFC 7515, RFC 7517, RFC 7518,
// RFC 7638): the flattened JSON serialisation only, strictly checked. Every request an
// ACME client makes is one of these; all of it is untrusted. Every function here is
// pure and thread-safe, and never throws: each refusal is a Problem.

#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "acme/problem.h"
#include "pki/key.h"

namespace scepter::acme {

// Most bytes of a request body the service reads (the CSR of a finalize is the largest
// thing a client sends); larger bodies are refused before parsing.
inline constexpr std::size_t kMaxJwsSize = 64 * 1024;

// An account key: RSA (kty "RSA", n and e; 2048 to 8192 bits, e odd and at most 2^32 + 1)
// or EC (kty "EC", crv "P-256" or "P-384", x and y of the curve's size, on the curve).
// Private members ("d", ...) are refused.
struct Jwk {
  pki::Key key;
  // RFC 7638: base64url(SHA-256(the required members, sorted, no whitespace)).
  std::string thumbprint;
  // The required members only, as a JSON object (what the account stores).
  nlohmann::json json;
};
// badPublicKey for keys of other kinds or sizes (kty, crv, modulus size, exponent) and
// for an EC point that is not on its curve; malformed for broken members (missing, not
// strings, not base64url, leading zeros, x or y of the wrong length, private members).
// `out` is set only on success (a Jwk has no empty state: its Key has none).
std::optional<Problem> parse_jwk(const nlohmann::json& jwk, std::optional<Jwk>& out);

// Most levels of nesting of the JSON of a request (the body, the protected header, the
// payload); deeper texts are refused before parsing.
inline constexpr int kMaxJsonDepth = 16;
// Parses `text` as one JSON object, strictly: nested at most kMaxJsonDepth levels, no
// member name twice in any object (RFC 7515 4, RFC 8259 4), valid UTF-8. `what` names
// the text in the problem's detail ("payload"). Never throws; malformed on any failure.
std::optional<Problem> parse_json_object(std::string_view text, std::string_view what,
                                         nlohmann::json& out);

struct Jws {
  std::string alg;    // "RS256", "ES256", "ES384" (an account key) or "HS256" (EAB)
  std::string nonce;  // empty when absent (inner JWSs, EAB and keyChange, have none)
  std::string url;
  std::string kid;              // the account URL; empty when jwk is given
  std::optional<Jwk> jwk;       // exactly one of kid and jwk
  std::string payload;          // decoded; empty: POST-as-GET
  bool post_as_get = false;     // the payload was "" (not "e30" = {})
  nlohmann::json payload_json;  // the payload parsed (an object); null for POST-as-GET
  std::string signing_input;    // ASCII(protected) "." ASCII(payload), as sent
  std::string signature;        // decoded
  nlohmann::json protected_header;
};

// Parses a request body: a JSON object with exactly "protected", "payload" and
// "signature" (base64url, no padding), the protected header a JSON object with "alg",
// "url", "nonce" (required unless `inner`) and exactly one of "jwk" and "kid"; "alg"
// in the allow-list (RS256, ES256, ES384; HS256 only when `inner`, for EAB); no "crit"
// or other unknown critical members; "b64" refused. The payload, when not empty, must
// be a JSON object (the service reads it as such). Every JSON text is read as
// parse_json_object does. Bodies larger than kMaxJwsSize are refused unread. The
// nonce is only checked for its syntax (base64url); whether it is fresh is the
// caller's business. With `inner` a nonce may still be present: verify_eab and
// verify_key_change refuse it. The signature is not checked (verify_jws).
// Problems: malformed; badNonce (no nonce, RFC 8555 6.5); badSignatureAlgorithm (with
// the allowed ones in the detail); badPublicKey (a jwk that parse_jwk refuses).
std::optional<Problem> parse_jws(std::string_view body, Jws& out, bool inner = false);

// Whether `jws` is signed by `key` with its alg: RS256 needs an RSA key; ES256 a P-256
// and ES384 a P-384 key, with the signature as r||s of the curve's size (RFC 7518 3.4).
// badSignatureAlgorithm when the alg does not fit the key; malformed when the
// signature does not verify.
std::optional<Problem> verify_jws(const Jws& jws, const pki::Key& key);

// External account binding (RFC 8555 7.3.4): `eab` is newAccount's
// externalAccountBinding member, to be a JWS (as parse_jws with inner) with alg HS256,
// the kid `key_id`, the url `url` (the newAccount URL), no nonce, signed with the HMAC
// key `hmac_key`, and whose payload is the outer JWS's jwk (`account_jwk`, compared as
// keys). `key_id` is what the caller read from eab's protected header to find the key
// (eab_key_id below). `hmac_key` is the raw key (not its base64url text).
// Problems: malformed (not such a JWS, a nonce, another url or kid, a payload that is
// not a JWK), badSignatureAlgorithm (not HS256), unauthorized (wrong MAC, other key).
std::optional<Problem> verify_eab(const nlohmann::json& eab, const std::string& key_id,
                                  const std::string& hmac_key, const std::string& url,
                                  const Jwk& account_jwk);
// The kid of an externalAccountBinding's protected header; nullopt when it has none or
// is not a JWS.
std::optional<std::string> eab_key_id(const nlohmann::json& eab);

// keyChange's inner JWS (RFC 8555 7.3.5): `inner` (the outer JWS's payload) signed by
// the new key (jwk, no nonce, url equal to the outer url), with payload {"account":
// account_url, "oldKey": old key's JWK}; oldKey is compared as a key (same
// thumbprint), and the new key must differ from the old one. On success `new_key` is
// the new key (untouched otherwise). Whether another account already has the new key
// is the caller's business. Problems: malformed, badPublicKey, badSignatureAlgorithm.
std::optional<Problem> verify_key_change(const nlohmann::json& inner, const std::string& url,
                                         const std::string& account_url, const Jwk& old_key,
                                         std::optional<Jwk>& new_key);

// The key authorization of a challenge (RFC 8555 8.1): token "." thumbprint.
std::string key_authorization(std::string_view token, std::string_view thumbprint);

}  // namespace scepter::acme
