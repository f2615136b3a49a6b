#include "acme/jws.h"

#include <set>
#include <utility>
#include <vector>

#include "pki/digest.h"
#include "pki/encoding.h"
#include "pki/jose.h"

namespace scepter::acme {
namespace {

using nlohmann::json;

constexpr const char* kAllowedOuter = "allowed: RS256, ES256, ES384";
constexpr const char* kAllowedInner = "allowed: RS256, ES256, ES384, HS256";

Problem malformed(std::string detail) { return problem("malformed", std::move(detail)); }

// Whether brackets in `text` (outside strings) nest at most `max` deep. Runs before the
// parser so that no deep tree is ever built; unbalanced text is the parser's to refuse.
bool within_depth(std::string_view text, int max) {
  int depth = 0;
  bool in_string = false;
  bool escaped = false;
  for (const char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (++depth > max) return false;
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return true;
}

// A member that must be a base64url string; `what` names it in the detail.
std::optional<Problem> decode_member(const json& obj, const char* name, std::string_view what,
                                     std::string& out) {
  const auto it = obj.find(name);
  if (it == obj.end()) return malformed(std::string(what) + " has no \"" + name + "\"");
  if (!it->is_string()) {
    return malformed(std::string(what) + " \"" + name + "\" is not a string");
  }
  auto bytes = pki::base64url_decode(it->get_ref<const std::string&>());
  if (!bytes) {
    return malformed(std::string(what) + " \"" + name + "\" is not base64url (" +
                     bytes.error().message() + ")");
  }
  out = std::move(*bytes);
  return std::nullopt;
}

// The JSON text of `value` (which came from our own parser or the caller's), or nullopt
// when it cannot be written (strings that are not UTF-8).
std::optional<std::string> to_text(const json& value) {
  try {
    return value.dump();
  } catch (const json::exception&) {
    return std::nullopt;
  }
}

std::optional<Problem> parse_inner(const json& value, std::string_view what, Jws& out) {
  if (!value.is_object()) return malformed(std::string(what) + " is not a JWS object");
  const auto text = to_text(value);
  if (!text) return malformed(std::string(what) + " is not valid JSON");
  if (auto p = parse_jws(*text, out, true)) {
    p->detail = std::string(what) + ": " + p->detail;
    return p;
  }
  return std::nullopt;
}

}  // namespace

std::optional<Problem> parse_json_object(std::string_view text, std::string_view what, json& out) {
  const std::string name(what);
  if (!within_depth(text, kMaxJsonDepth)) {
    return malformed(name + " nests deeper than " + std::to_string(kMaxJsonDepth) + " levels");
  }
  // Names seen in each object (and arrays, to keep the stack aligned) being read.
  std::vector<std::set<std::string>> open;
  std::string duplicate;
  const json::parser_callback_t check = [&](int /*depth*/, json::parse_event_t event,
                                            json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start:
      case json::parse_event_t::array_start:
        open.emplace_back();
        break;
      case json::parse_event_t::object_end:
      case json::parse_event_t::array_end:
        if (!open.empty()) open.pop_back();
        break;
      case json::parse_event_t::key:
        if (!open.empty() && parsed.is_string() &&
            !open.back().insert(parsed.get<std::string>()).second && duplicate.empty()) {
          duplicate = parsed.get<std::string>();
        }
        break;
      case json::parse_event_t::value:
        break;
    }
    return true;
  };
  json parsed;
  try {
    parsed = json::parse(text.begin(), text.end(), check, /*allow_exceptions=*/false);
  } catch (const std::exception&) {
    parsed = json(json::value_t::discarded);
  }
  if (parsed.is_discarded()) return malformed(name + " is not valid JSON");
  if (!duplicate.empty()) {
    return malformed(name + " has the member \"" + duplicate + "\" twice");
  }
  if (!parsed.is_object()) return malformed(name + " is not a JSON object");
  out = std::move(parsed);
  return std::nullopt;
}

std::optional<Problem> parse_jwk(const json& jwk, std::optional<Jwk>& out) {
  if (!jwk.is_object()) return malformed("jwk is not a JSON object");
  for (const char* secret : {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}) {
    if (jwk.contains(secret)) {
      return malformed(std::string("jwk has the private member \"") + secret + "\"");
    }
  }
  const auto kty = jwk.find("kty");
  if (kty == jwk.end() || !kty->is_string()) return malformed("jwk has no \"kty\" string");
  const std::string& type = kty->get_ref<const std::string&>();
  Result<pki::Key> key = fail(invalid_argument(""));
  json members;
  if (type == "RSA") {
    std::string n;
    std::string e;
    if (auto p = decode_member(jwk, "n", "jwk", n)) return p;
    if (auto p = decode_member(jwk, "e", "jwk", e)) return p;
    if (n.empty() || e.empty() || n[0] == 0 || e[0] == 0) {
      return malformed("jwk \"n\" and \"e\" must be unsigned numbers in the fewest bytes");
    }
    key = pki::rsa_public_key(n, e);
    members = {{"e", pki::base64url_encode(e)}, {"kty", "RSA"}, {"n", pki::base64url_encode(n)}};
  } else if (type == "EC") {
    const auto crv = jwk.find("crv");
    if (crv == jwk.end() || !crv->is_string()) return malformed("jwk has no \"crv\" string");
    const std::string& curve = crv->get_ref<const std::string&>();
    if (curve != "P-256" && curve != "P-384") {
      return problem("badPublicKey",
                     "jwk curve \"" + curve + "\" is not supported; " + "allowed: P-256, P-384");
    }
    std::string x;
    std::string y;
    if (auto p = decode_member(jwk, "x", "jwk", x)) return p;
    if (auto p = decode_member(jwk, "y", "jwk", y)) return p;
    const std::size_t size = curve == "P-256" ? 32 : 48;
    if (x.size() != size || y.size() != size) {
      return malformed("jwk \"x\" and \"y\" must be " + std::to_string(size) + " bytes each on " +
                       curve);
    }
    key = pki::ec_public_key(curve, x, y);
    members = {{"crv", curve},
               {"kty", "EC"},
               {"x", pki::base64url_encode(x)},
               {"y", pki::base64url_encode(y)}};
  } else {
    return problem("badPublicKey", "jwk key type \"" + type + "\" is not supported; " +
                                       "allowed: RSA (2048 to 8192 bits), EC (P-256, P-384)");
  }
  if (!key) return problem("badPublicKey", "jwk: " + key.error().message());
  // RFC 7638 3: the required members in lexicographic order without whitespace, which is
  // how nlohmann::json (a std::map underneath) writes an object.
  std::string thumbprint = pki::base64url_encode(pki::digest(pki::Hash::kSha256, members.dump()));
  out.emplace(Jwk{std::move(*key), std::move(thumbprint), std::move(members)});
  return std::nullopt;
}

std::optional<Problem> parse_jws(std::string_view body, Jws& out, bool inner) {
  if (body.size() > kMaxJwsSize) {
    return malformed("request body is larger than " + std::to_string(kMaxJwsSize) + " bytes");
  }
  json outer;
  if (auto p = parse_json_object(body, "JWS", outer)) return p;
  if (outer.contains("header")) return malformed("JWS has an unprotected header; not allowed");
  if (outer.contains("signatures")) {
    return malformed("JWS uses the general serialization; only the flattened one is allowed");
  }
  for (const auto& [name, value] : outer.items()) {
    if (name != "protected" && name != "payload" && name != "signature") {
      return malformed("JWS has the unexpected member \"" + name + "\"");
    }
    if (!value.is_string()) return malformed("JWS \"" + name + "\" is not a string");
  }
  for (const char* name : {"protected", "payload", "signature"}) {
    if (!outer.contains(name)) return malformed(std::string("JWS has no \"") + name + "\"");
  }
  const std::string& protected64 = outer["protected"].get_ref<const std::string&>();
  const std::string& payload64 = outer["payload"].get_ref<const std::string&>();

  Jws jws;
  std::string header_text;
  if (auto p = decode_member(outer, "protected", "JWS", header_text)) return p;
  if (auto p = parse_json_object(header_text, "JWS protected header", jws.protected_header)) {
    return p;
  }
  const json& header = jws.protected_header;
  if (header.contains("crit")) {
    return malformed("JWS protected header has \"crit\"; no extension is understood");
  }
  if (header.contains("b64")) return malformed("JWS protected header has \"b64\"; not allowed");

  const auto alg = header.find("alg");
  if (alg == header.end() || !alg->is_string()) {
    return malformed("JWS protected header has no \"alg\" string");
  }
  jws.alg = alg->get<std::string>();
  const auto known = pki::jws_algorithm(jws.alg);
  if (!known || (*known == pki::JwsAlgorithm::kHs256 && !inner)) {
    return problem("badSignatureAlgorithm", "JWS algorithm \"" + jws.alg + "\" is not accepted; " +
                                                (inner ? kAllowedInner : kAllowedOuter));
  }

  const auto url = header.find("url");
  if (url == header.end() || !url->is_string() || url->get_ref<const std::string&>().empty()) {
    return malformed("JWS protected header has no \"url\" string");
  }
  jws.url = url->get<std::string>();

  const auto nonce = header.find("nonce");
  if (nonce == header.end()) {
    if (!inner) return problem("badNonce", "JWS protected header has no \"nonce\"");
  } else {
    if (!nonce->is_string()) return malformed("JWS \"nonce\" is not a string");
    jws.nonce = nonce->get<std::string>();
    if (jws.nonce.empty() || !pki::base64url_decode(jws.nonce)) {
      return malformed("JWS \"nonce\" is not base64url");
    }
  }

  const auto jwk = header.find("jwk");
  const auto kid = header.find("kid");
  if ((jwk == header.end()) == (kid == header.end())) {
    return malformed("JWS protected header must have exactly one of \"jwk\" and \"kid\"");
  }
  if (kid != header.end()) {
    if (!kid->is_string() || kid->get_ref<const std::string&>().empty()) {
      return malformed("JWS \"kid\" is not a non-empty string");
    }
    jws.kid = kid->get<std::string>();
  } else if (auto p = parse_jwk(*jwk, jws.jwk)) {
    return p;
  }

  if (payload64.empty()) {
    jws.post_as_get = true;
  } else {
    if (auto p = decode_member(outer, "payload", "JWS", jws.payload)) return p;
    if (auto p = parse_json_object(jws.payload, "JWS payload", jws.payload_json)) return p;
  }
  if (auto p = decode_member(outer, "signature", "JWS", jws.signature)) return p;
  if (jws.signature.empty()) return malformed("JWS \"signature\" is empty");
  jws.signing_input = protected64 + "." + payload64;
  out = std::move(jws);
  return std::nullopt;
}

std::optional<Problem> verify_jws(const Jws& jws, const pki::Key& key) {
  const auto alg = pki::jws_algorithm(jws.alg);
  if (!alg || !pki::jws_algorithm_fits(*alg, key)) {
    return problem("badSignatureAlgorithm",
                   "JWS algorithm \"" + jws.alg + "\" does not fit the key (RS256 for RSA, " +
                       "ES256 for P-256, ES384 for P-384); " + kAllowedOuter);
  }
  const Status s = pki::jws_verify(*alg, key, jws.signing_input, jws.signature);
  if (!s.ok()) return malformed("JWS signature does not verify: " + s.message());
  return std::nullopt;
}

std::optional<std::string> eab_key_id(const json& eab) {
  Jws jws;
  if (parse_inner(eab, "externalAccountBinding", jws)) return std::nullopt;
  if (jws.kid.empty()) return std::nullopt;
  return jws.kid;
}

std::optional<Problem> verify_eab(const json& eab, const std::string& key_id,
                                  const std::string& hmac_key, const std::string& url,
                                  const Jwk& account_jwk) {
  Jws jws;
  if (auto p = parse_inner(eab, "externalAccountBinding", jws)) return p;
  if (jws.alg != "HS256") {
    return problem("badSignatureAlgorithm", "externalAccountBinding algorithm \"" + jws.alg +
                                                "\" is not accepted; " + "allowed: HS256");
  }
  if (jws.kid.empty()) return malformed("externalAccountBinding has no \"kid\"");
  if (jws.kid != key_id) return malformed("externalAccountBinding \"kid\" is not the key's");
  if (!jws.nonce.empty()) return malformed("externalAccountBinding must not have a \"nonce\"");
  if (jws.url != url) {
    return malformed("externalAccountBinding \"url\" is not the newAccount URL");
  }
  if (!pki::hmac_sha256_verify(hmac_key, jws.signing_input, jws.signature)) {
    return problem("unauthorized", "externalAccountBinding MAC does not verify", 403);
  }
  if (jws.post_as_get) return malformed("externalAccountBinding has no payload");
  std::optional<Jwk> bound;
  if (auto p = parse_jwk(jws.payload_json, bound)) {
    return malformed("externalAccountBinding payload is not a usable JWK: " + p->detail);
  }
  if (bound->thumbprint != account_jwk.thumbprint) {
    return problem("unauthorized", "externalAccountBinding binds another key than the account's",
                   403);
  }
  return std::nullopt;
}

std::optional<Problem> verify_key_change(const json& inner, const std::string& url,
                                         const std::string& account_url, const Jwk& old_key,
                                         std::optional<Jwk>& new_key) {
  Jws jws;
  if (auto p = parse_inner(inner, "keyChange inner JWS", jws)) return p;
  if (!jws.jwk) return malformed("keyChange inner JWS must carry \"jwk\", not \"kid\"");
  if (!jws.nonce.empty()) return malformed("keyChange inner JWS must not have a \"nonce\"");
  if (jws.url != url) return malformed("keyChange inner JWS \"url\" is not the outer one");
  if (auto p = verify_jws(jws, jws.jwk->key)) {
    p->detail = "keyChange inner JWS: " + p->detail;
    return p;
  }
  if (jws.post_as_get) return malformed("keyChange inner JWS has no payload");
  const json& payload = jws.payload_json;
  const auto account = payload.find("account");
  if (account == payload.end() || !account->is_string()) {
    return malformed("keyChange payload has no \"account\" string");
  }
  if (account->get_ref<const std::string&>() != account_url) {
    return malformed("keyChange \"account\" is not the URL of the account signing the request");
  }
  const auto old_member = payload.find("oldKey");
  if (old_member == payload.end()) return malformed("keyChange payload has no \"oldKey\"");
  std::optional<Jwk> old_jwk;
  if (auto p = parse_jwk(*old_member, old_jwk)) {
    return malformed("keyChange \"oldKey\" is not a usable JWK: " + p->detail);
  }
  if (old_jwk->thumbprint != old_key.thumbprint) {
    return malformed("keyChange \"oldKey\" is not the account's current key");
  }
  if (jws.jwk->thumbprint == old_key.thumbprint) {
    return malformed("keyChange new key is the same as the old key");
  }
  new_key = std::move(jws.jwk);
  return std::nullopt;
}

std::string key_authorization(std::string_view token, std::string_view thumbprint) {
  std::string out(token);
  out.push_back('.');
  out.append(thumbprint);
  return out;
}

}  // namespace scepter::acme
