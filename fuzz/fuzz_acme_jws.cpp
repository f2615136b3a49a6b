// libFuzzer target for the parser of every ACME request body: parse_jws on the bytes as
// a request (outer, then inner as EAB and keyChange read it) and, when it accepts them
// with a jwk, verify_jws with that key; then the bytes as a JSON object through
// parse_jwk, eab_key_id, verify_eab and verify_key_change. Every refusal must be a
// Problem: nothing may throw or crash, and what is accepted must be consistent.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "acme/jws.h"
#include "acme/jws_testing.h"
#include "common/status.h"
#include "pki/key.h"

namespace {

using scepter::acme::Jwk;
using scepter::acme::Jws;

const Jwk& account_key() {
  static const Jwk jwk = [] {
    auto key = scepter::pki::Key::generate_ec(256);
    CA_ASSERT(key.has_value(), "a key");
    std::optional<Jwk> out;
    CA_ASSERT(!scepter::acme::parse_jwk(scepter::acme::test::jwk_of(*key), out).has_value(),
              "its JWK");
    return *out;
  }();
  return jwk;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  for (const bool inner : {false, true}) {
    Jws jws;
    if (scepter::acme::parse_jws(body, jws, inner)) continue;
    CA_ASSERT(!jws.url.empty(), "an accepted JWS has a url");
    CA_ASSERT(jws.jwk.has_value() != !jws.kid.empty(), "exactly one of jwk and kid");
    CA_ASSERT(inner || !jws.nonce.empty(), "an outer JWS has a nonce");
    CA_ASSERT(jws.post_as_get == jws.payload.empty(), "POST-as-GET is the empty payload");
    CA_ASSERT(jws.post_as_get || jws.payload_json.is_object(), "a payload is an object");
    if (jws.jwk) {
      CA_ASSERT(jws.jwk->thumbprint.size() == 43, "a thumbprint is base64url of 32 bytes");
      (void)scepter::acme::verify_jws(jws, jws.jwk->key);
    }
  }
  nlohmann::json value;
  if (scepter::acme::parse_json_object(body, "input", value)) return 0;
  std::optional<Jwk> jwk;
  if (!scepter::acme::parse_jwk(value, jwk)) {
    CA_ASSERT(jwk.has_value(), "an accepted JWK is set");
  }
  const Jwk& account = account_key();
  (void)scepter::acme::eab_key_id(value);
  (void)scepter::acme::verify_eab(value, "kid", "hmac key", "https://ca.example/new-account",
                                  account);
  std::optional<Jwk> new_key;
  if (!scepter::acme::verify_key_change(value, "https://ca.example/key-change",
                                        "https://ca.example/acct/1", account, new_key)) {
    CA_ASSERT(new_key.has_value(), "an accepted key change sets the new key");
  }
  return 0;
}
