#pragma once
// For tests only: what an ACME client sends, built with real keys. A flattened JWS for
// a key, an algorithm, protected header members and a payload; the EAB and keyChange
// inner JWSs. Header-only so it stays out of the library.

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "pki/encoding.h"
#include "pki/jose.h"
#include "pki/key.h"

namespace scepter::acme::test {

// The public JWK of `key` (RSA, P-256 or P-384): its required members only.
inline nlohmann::json jwk_of(const pki::Key& key) {
  auto m = pki::jwk_members(key);
  CA_ASSERT(m.has_value(), "a key with a JWK");
  if (m->kty == "RSA") {
    return {{"kty", "RSA"}, {"n", pki::base64url_encode(m->n)}, {"e", pki::base64url_encode(m->e)}};
  }
  return {{"kty", "EC"},
          {"crv", m->crv},
          {"x", pki::base64url_encode(m->x)},
          {"y", pki::base64url_encode(m->y)}};
}

// "RS256", "ES256" or "ES384": the algorithm `key` signs with.
inline std::string alg_of(const pki::Key& key) {
  if (key.is_rsa()) return "RS256";
  return key.bits() == 384 ? "ES384" : "ES256";
}

// base64url of a JSON value's text.
inline std::string b64_json(const nlohmann::json& value) {
  return pki::base64url_encode(value.dump());
}

// A flattened JWS as a JSON object: protected = `members` with "alg" set to `alg`,
// payload = base64url(`payload`) ("" stays "": POST-as-GET), signed by `key`. The
// signature is made with `alg` when it fits the key, otherwise with the key's own
// algorithm, so that tests can send a header naming a wrong or unknown algorithm.
inline nlohmann::json jws_object(const pki::Key& key, std::string_view alg, nlohmann::json members,
                                 std::string_view payload) {
  members["alg"] = std::string(alg);
  const std::string protected64 = b64_json(members);
  const std::string payload64 = pki::base64url_encode(payload);
  auto sign_alg = pki::jws_algorithm(alg);
  if (!sign_alg || !pki::jws_algorithm_fits(*sign_alg, key)) {
    sign_alg = pki::jws_algorithm(alg_of(key));
  }
  auto sig = pki::jws_sign(*sign_alg, key, protected64 + "." + payload64);
  CA_ASSERT(sig.has_value(), "a JWS signature");
  return {{"protected", protected64},
          {"payload", payload64},
          {"signature", pki::base64url_encode(*sig)}};
}

// jws_object() as the body of a request.
inline std::string jws_body(const pki::Key& key, std::string_view alg,
                            const nlohmann::json& members, std::string_view payload) {
  return jws_object(key, alg, members, payload).dump();
}

// A request body as an ACME client sends it: alg_of(key), "nonce", "url", and "kid" when
// `kid` is not empty, else "jwk". `payload` is the JSON text ("" for POST-as-GET).
inline std::string request_body(const pki::Key& key, const std::string& url,
                                const std::string& nonce, const std::string& kid,
                                std::string_view payload) {
  nlohmann::json members = {{"nonce", nonce}, {"url", url}};
  if (kid.empty()) {
    members["jwk"] = jwk_of(key);
  } else {
    members["kid"] = kid;
  }
  return jws_body(key, alg_of(key), members, payload);
}

// An HS256 JWS as a JSON object, MACed with `hmac_key` (raw bytes).
inline nlohmann::json mac_jws_object(std::string_view hmac_key, nlohmann::json members,
                                     std::string_view payload) {
  members["alg"] = "HS256";
  const std::string protected64 = b64_json(members);
  const std::string payload64 = pki::base64url_encode(payload);
  return {{"protected", protected64},
          {"payload", payload64},
          {"signature",
           pki::base64url_encode(pki::hmac_sha256(hmac_key, protected64 + "." + payload64))}};
}

// newAccount's "externalAccountBinding" (RFC 8555 7.3.4) binding `account_key` to the
// external account `kid` with key `hmac_key`, for the newAccount URL `url`.
inline nlohmann::json eab_object(std::string_view hmac_key, const std::string& kid,
                                 const std::string& url, const pki::Key& account_key) {
  return mac_jws_object(hmac_key, {{"kid", kid}, {"url", url}}, jwk_of(account_key).dump());
}

// keyChange's inner JWS (RFC 8555 7.3.5), to be the outer JWS's payload: signed by
// `new_key`, moving `account_url` from `old_key`.
inline nlohmann::json key_change_object(const pki::Key& new_key, const std::string& url,
                                        const std::string& account_url, const pki::Key& old_key) {
  const nlohmann::json payload = {{"account", account_url}, {"oldKey", jwk_of(old_key)}};
  return jws_object(new_key, alg_of(new_key), {{"jwk", jwk_of(new_key)}, {"url", url}},
                    payload.dump());
}

}  // namespace scepter::acme::test
