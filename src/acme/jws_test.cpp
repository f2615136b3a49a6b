#include "acme/jws.h"

#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <string>

#include "acme/jws_testing.h"
#include "common/testing.h"
#include "pki/digest.h"
#include "pki/encoding.h"

namespace scepter::acme {
namespace {

using nlohmann::json;
using test::b64_json;
using test::jwk_of;
using test::jws_body;
using test::jws_object;
using test::request_body;

const std::string kUrl = "https://ca.example/acme/new-order";
const std::string kNonce = "bm9uY2UtMQ";
const std::string kAccount = "https://ca.example/acme/acct/1";

const pki::Key& rsa() {
  static const pki::Key key = *pki::Key::generate_rsa(2048);
  return key;
}
const pki::Key& p256() {
  static const pki::Key key = *pki::Key::generate_ec(256);
  return key;
}
const pki::Key& p384() {
  static const pki::Key key = *pki::Key::generate_ec(384);
  return key;
}
const pki::Key& other_p256() {
  static const pki::Key key = *pki::Key::generate_ec(256);
  return key;
}

Jwk jwk(const pki::Key& key) {
  std::optional<Jwk> out;
  EXPECT_EQ(parse_jwk(jwk_of(key), out), std::nullopt);
  return *out;
}

// The problem's type ("ok" when there is none), with the detail for the failure message.
std::string type_of(const std::optional<Problem>& p) { return p ? p->type : "ok"; }

#define EXPECT_PROBLEM(expr, want)                                            \
  do {                                                                        \
    const std::optional<Problem> problem_ = (expr);                           \
    EXPECT_EQ(type_of(problem_), want) << (problem_ ? problem_->detail : ""); \
  } while (0)

std::optional<Problem> parse(const std::string& body, bool inner = false) {
  Jws jws;
  return parse_jws(body, jws, inner);
}

// A body with its members replaced (or removed, for a null value).
std::string edited(json object, const json& changes) {
  for (const auto& [name, value] : changes.items()) {
    if (value.is_null()) {
      object.erase(name);
    } else {
      object[name] = value;
    }
  }
  return object.dump();
}

json members(const json& extra = json::object()) {
  json m = {{"nonce", kNonce}, {"url", kUrl}, {"kid", kAccount}};
  for (const auto& [name, value] : extra.items()) {
    if (value.is_null()) {
      m.erase(name);
    } else {
      m[name] = value;
    }
  }
  return m;
}

TEST(Jws, EachAlgorithmVerifies) {
  for (const pki::Key* key : {&rsa(), &p256(), &p384()}) {
    const std::string alg = test::alg_of(*key);
    SCOPED_TRACE(alg);
    Jws jws;
    ASSERT_EQ(parse_jws(request_body(*key, kUrl, kNonce, kAccount, R"({"a":1})"), jws),
              std::nullopt);
    EXPECT_EQ(jws.alg, alg);
    EXPECT_EQ(jws.nonce, kNonce);
    EXPECT_EQ(jws.url, kUrl);
    EXPECT_EQ(jws.kid, kAccount);
    EXPECT_FALSE(jws.jwk.has_value());
    EXPECT_EQ(jws.payload, R"({"a":1})");
    EXPECT_EQ(jws.payload_json, json({{"a", 1}}));
    EXPECT_FALSE(jws.post_as_get);
    EXPECT_EQ(jws.protected_header["alg"], alg);
    EXPECT_EQ(verify_jws(jws, *key), std::nullopt);
    const pki::Key pub = *pki::Key::from_public_der(key->public_key_der());
    EXPECT_EQ(verify_jws(jws, pub), std::nullopt);

    // With the key itself in the header (newAccount).
    Jws with_jwk;
    ASSERT_EQ(parse_jws(request_body(*key, kUrl, kNonce, "", "{}"), with_jwk), std::nullopt);
    ASSERT_TRUE(with_jwk.jwk.has_value());
    EXPECT_TRUE(with_jwk.kid.empty());
    EXPECT_TRUE(with_jwk.jwk->key.equals_public(*key));
    EXPECT_EQ(with_jwk.jwk->json, jwk_of(*key));
    EXPECT_EQ(verify_jws(with_jwk, with_jwk.jwk->key), std::nullopt);
  }
}

TEST(Jws, SigningInputIsAsSent) {
  const json object = jws_object(p256(), "ES256", members(), R"({"b":2})");
  Jws jws;
  ASSERT_EQ(parse_jws(object.dump(), jws), std::nullopt);
  EXPECT_EQ(jws.signing_input,
            object["protected"].get<std::string>() + "." + object["payload"].get<std::string>());
}

TEST(Jws, PostAsGetIsAnEmptyPayload) {
  Jws jws;
  ASSERT_EQ(parse_jws(request_body(p256(), kUrl, kNonce, kAccount, ""), jws), std::nullopt);
  EXPECT_TRUE(jws.post_as_get);
  EXPECT_TRUE(jws.payload.empty());
  EXPECT_TRUE(jws.payload_json.is_null());
  EXPECT_EQ(verify_jws(jws, p256()), std::nullopt);
  // "e30" is {}: a POST with an empty object, not a POST-as-GET.
  Jws empty_object;
  ASSERT_EQ(parse_jws(request_body(p256(), kUrl, kNonce, kAccount, "{}"), empty_object),
            std::nullopt);
  EXPECT_FALSE(empty_object.post_as_get);
  EXPECT_EQ(empty_object.payload, "{}");
}

TEST(Jws, AlgorithmMustFitTheKey) {
  Jws jws;
  // The header says ES384, the P-256 key signed (with ES256).
  ASSERT_EQ(parse_jws(jws_body(p256(), "ES384", members(), "{}"), jws), std::nullopt);
  EXPECT_PROBLEM(verify_jws(jws, p256()), "badSignatureAlgorithm");
  ASSERT_EQ(parse_jws(jws_body(p256(), "RS256", members(), "{}"), jws), std::nullopt);
  EXPECT_PROBLEM(verify_jws(jws, p256()), "badSignatureAlgorithm");
  ASSERT_EQ(parse_jws(jws_body(rsa(), "RS256", members(), "{}"), jws), std::nullopt);
  EXPECT_PROBLEM(verify_jws(jws, p256()), "badSignatureAlgorithm");
  ASSERT_EQ(parse_jws(jws_body(p256(), "ES256", members(), "{}"), jws), std::nullopt);
  EXPECT_PROBLEM(verify_jws(jws, p384()), "badSignatureAlgorithm");
  EXPECT_PROBLEM(verify_jws(jws, rsa()), "badSignatureAlgorithm");
  EXPECT_PROBLEM(verify_jws(jws, other_p256()), "malformed");  // fits, but another key
}

TEST(Jws, TamperingBreaksTheSignature) {
  const json object = jws_object(p256(), "ES256", members(), R"({"a":1})");
  Jws jws;
  ASSERT_EQ(parse_jws(edited(object, {{"payload", pki::base64url_encode(R"({"a":2})")}}), jws),
            std::nullopt);
  EXPECT_PROBLEM(verify_jws(jws, p256()), "malformed");
  ASSERT_EQ(
      parse_jws(edited(object,
                       {{"protected", b64_json(members({{"alg", "ES256"}, {"url", kUrl + "x"}}))}}),
                jws),
      std::nullopt);
  EXPECT_PROBLEM(verify_jws(jws, p256()), "malformed");
  std::string sig = object["signature"];
  sig[10] = sig[10] == 'A' ? 'B' : 'A';
  ASSERT_EQ(parse_jws(edited(object, {{"signature", sig}}), jws), std::nullopt);
  EXPECT_PROBLEM(verify_jws(jws, p256()), "malformed");
  // A POST-as-GET turned into a POST and back.
  const json get = jws_object(p256(), "ES256", members(), "");
  ASSERT_EQ(parse_jws(edited(get, {{"payload", "e30"}}), jws), std::nullopt);
  EXPECT_PROBLEM(verify_jws(jws, p256()), "malformed");
  ASSERT_EQ(parse_jws(edited(object, {{"payload", ""}}), jws), std::nullopt);
  EXPECT_PROBLEM(verify_jws(jws, p256()), "malformed");
}

TEST(Jws, EcdsaSignatureOfTheWrongLength) {
  for (const pki::Key* key : {&p256(), &p384()}) {
    const json object = jws_object(*key, test::alg_of(*key), members(), "{}");
    const std::string sig = *pki::base64url_decode(object["signature"].get<std::string>());
    for (const std::string& bad : {sig.substr(1), sig + std::string(1, '\0'),
                                   std::string(1, '\0') + sig, sig.substr(0, sig.size() / 2),
                                   *key->sign(object["protected"].get<std::string>() + "." +
                                              object["payload"].get<std::string>())}) {
      Jws jws;
      ASSERT_EQ(parse_jws(edited(object, {{"signature", pki::base64url_encode(bad)}}), jws),
                std::nullopt);
      EXPECT_PROBLEM(verify_jws(jws, *key), "malformed");
    }
  }
}

TEST(Jws, BodyMembers) {
  const json object = jws_object(p256(), "ES256", members(), "{}");
  EXPECT_PROBLEM(parse(object.dump()), "ok");
  for (const char* name : {"protected", "payload", "signature"}) {
    EXPECT_PROBLEM(parse(edited(object, {{name, nullptr}})), "malformed");
    EXPECT_PROBLEM(parse(edited(object, {{name, 5}})), "malformed");
    EXPECT_PROBLEM(parse(edited(object, {{name, json::object()}})), "malformed");
  }
  EXPECT_PROBLEM(parse(edited(object, {{"header", {{"kid", "x"}}}})), "malformed");
  EXPECT_PROBLEM(parse(edited(object, {{"extra", "x"}})), "malformed");
  EXPECT_PROBLEM(parse(edited(object, {{"signatures", json::array()}})), "malformed");
  EXPECT_PROBLEM(parse(edited(object, {{"signature", ""}})), "malformed");
  EXPECT_PROBLEM(parse(edited(object, {{"protected", ""}})), "malformed");
  // A member twice: the second would silently win with a lax parser.
  std::string twice = object.dump();
  twice.insert(1, R"("payload":"eyJhIjoxfQ",)");
  auto p = parse(twice);
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->type, "malformed");
  EXPECT_NE(p->detail.find("twice"), std::string::npos) << p->detail;
}

TEST(Jws, NotAJsonObject) {
  for (const std::string& body :
       {std::string(""), std::string("null"), std::string("[]"), std::string("\"x\""),
        std::string("{"), std::string("{}x"), std::string("{\"protected\":\"\xC3\x28\"}"),
        std::string("{\"a\":1,}"), std::string(1, '\0')}) {
    SCOPED_TRACE(body);
    EXPECT_PROBLEM(parse(body), "malformed");
  }
}

TEST(Jws, ProtectedHeader) {
  const auto body = [](const json& changes) { return jws_body(p256(), "ES256", changes, "{}"); };
  EXPECT_PROBLEM(parse(body(members())), "ok");
  EXPECT_PROBLEM(parse(body(members({{"url", nullptr}}))), "malformed");
  EXPECT_PROBLEM(parse(body(members({{"url", ""}}))), "malformed");
  EXPECT_PROBLEM(parse(body(members({{"url", 1}}))), "malformed");
  EXPECT_PROBLEM(parse(body(members({{"nonce", nullptr}}))), "badNonce");
  EXPECT_PROBLEM(parse(body(members({{"nonce", nullptr}})), true), "ok");
  EXPECT_PROBLEM(parse(body(members({{"nonce", "a+b"}}))), "malformed");
  EXPECT_PROBLEM(parse(body(members({{"nonce", "abc="}}))), "malformed");
  EXPECT_PROBLEM(parse(body(members({{"nonce", ""}}))), "malformed");
  EXPECT_PROBLEM(parse(body(members({{"nonce", 7}}))), "malformed");
  EXPECT_PROBLEM(parse(body(members({{"kid", nullptr}}))), "malformed");         // neither
  EXPECT_PROBLEM(parse(body(members({{"jwk", jwk_of(p256())}}))), "malformed");  // both
  EXPECT_PROBLEM(parse(body(members({{"kid", nullptr}, {"jwk", jwk_of(p256())}}))), "ok");
  EXPECT_PROBLEM(parse(body(members({{"kid", ""}}))), "malformed");
  EXPECT_PROBLEM(parse(body(members({{"kid", 1}}))), "malformed");
  EXPECT_PROBLEM(parse(body(members({{"kid", nullptr}, {"jwk", "x"}}))), "malformed");
  EXPECT_PROBLEM(parse(body(members({{"crit", {"exp"}}, {"exp", 1}}))), "malformed");
  EXPECT_PROBLEM(parse(body(members({{"b64", false}, {"crit", {"b64"}}}))), "malformed");
  EXPECT_PROBLEM(parse(body(members({{"b64", true}}))), "malformed");
  EXPECT_PROBLEM(parse(body(members({{"typ", "JOSE"}}))), "ok");  // unknown, not critical

  // No alg, alg not a string.
  const json object = jws_object(p256(), "ES256", members(), "{}");
  EXPECT_PROBLEM(parse(edited(object, {{"protected", b64_json(members())}})), "malformed");
  EXPECT_PROBLEM(parse(edited(object, {{"protected", b64_json(members({{"alg", 256}}))}})),
                 "malformed");
  // The header is not an object, not JSON, or names alg twice.
  EXPECT_PROBLEM(parse(edited(object, {{"protected", pki::base64url_encode("[1]")}})), "malformed");
  EXPECT_PROBLEM(parse(edited(object, {{"protected", pki::base64url_encode("{")}})), "malformed");
  std::string twice = members({{"alg", "ES256"}}).dump();
  twice.insert(1, R"("alg":"none",)");
  EXPECT_PROBLEM(parse(edited(object, {{"protected", pki::base64url_encode(twice)}})), "malformed");
}

TEST(Jws, AlgorithmAllowList) {
  for (const char* alg : {"none", "RS512", "PS256", "ES512", "EdDSA", "rs256", ""}) {
    const auto p = parse(jws_body(p256(), alg, members(), "{}"));
    ASSERT_TRUE(p.has_value()) << alg;
    EXPECT_EQ(p->type, "badSignatureAlgorithm") << alg;
    EXPECT_NE(p->detail.find("allowed: RS256, ES256, ES384"), std::string::npos) << p->detail;
  }
  // HS256 only for an inner JWS (EAB).
  const std::string hs = test::mac_jws_object("secret", members(), "{}").dump();
  EXPECT_PROBLEM(parse(hs), "badSignatureAlgorithm");
  EXPECT_PROBLEM(parse(hs, true), "ok");
  Jws jws;
  ASSERT_EQ(parse_jws(hs, jws, true), std::nullopt);
  EXPECT_PROBLEM(verify_jws(jws, p256()), "badSignatureAlgorithm");
}

TEST(Jws, Oversized) {
  const std::string big(kMaxJwsSize, 'a');
  const std::string body =
      request_body(p256(), kUrl, kNonce, kAccount, json({{"csr", big}}).dump());
  ASSERT_GT(body.size(), kMaxJwsSize);
  const auto p = parse(body);
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->type, "malformed");
  EXPECT_NE(p->detail.find("larger"), std::string::npos) << p->detail;
  // Just under the limit is read.
  const std::string fits =
      request_body(p256(), kUrl, kNonce, kAccount,
                   json({{"csr", std::string(kMaxJwsSize * 3 / 4 - 600, 'a')}}).dump());
  ASSERT_LE(fits.size(), kMaxJwsSize);
  EXPECT_PROBLEM(parse(fits), "ok");
}

TEST(Jws, BadBase64url) {
  const json object = jws_object(p256(), "ES256", members(), R"({"a":1})");
  const std::string protected64 = object["protected"];
  const std::string payload64 = object["payload"];
  const std::string sig64 = object["signature"];
  ASSERT_EQ(sig64.size() % 4, 2u);  // 64 bytes
  EXPECT_PROBLEM(parse(edited(object, {{"protected", protected64 + "="}})), "malformed");
  EXPECT_PROBLEM(parse(edited(object, {{"protected", " " + protected64}})), "malformed");
  EXPECT_PROBLEM(parse(edited(object, {{"payload", payload64 + "=="}})), "malformed");
  EXPECT_PROBLEM(parse(edited(object, {{"payload", pki::base64_encode(R"({"a":1}>?)", 0)}})),
                 "malformed");
  EXPECT_PROBLEM(
      parse(edited(object, {{"signature", sig64.substr(0, 5) + "\n" + sig64.substr(5)}})),
      "malformed");
  EXPECT_PROBLEM(parse(edited(object, {{"signature", sig64 + "AAA"}})), "malformed");  // 1 mod 4
  // The payload decodes but is not a JSON object.
  EXPECT_PROBLEM(parse(request_body(p256(), kUrl, kNonce, kAccount, "[1]")), "malformed");
  EXPECT_PROBLEM(parse(request_body(p256(), kUrl, kNonce, kAccount, "1")), "malformed");
  EXPECT_PROBLEM(parse(request_body(p256(), kUrl, kNonce, kAccount, "{\"a\":\"\xFF\"}")),
                 "malformed");
}

TEST(Jws, DuplicateNamesAnywhere) {
  json out;
  EXPECT_EQ(parse_json_object(R"({"a":{"b":1,"c":2},"d":[{"b":1},{"b":2}]})", "x", out),
            std::nullopt);
  EXPECT_EQ(out["d"][1]["b"], 2);
  EXPECT_PROBLEM(parse_json_object(R"({"a":{"b":1,"b":2}})", "x", out), "malformed");
  EXPECT_PROBLEM(parse_json_object(R"({"d":[{"b":1,"c":{},"b":2}]})", "x", out), "malformed");
  EXPECT_PROBLEM(parse_json_object(R"({"a":1,"\u0061":2})", "x", out), "malformed");
  EXPECT_PROBLEM(parse(request_body(p256(), kUrl, kNonce, kAccount,
                                    R"({"identifiers":[{"type":"dns","type":"ip"}]})")),
                 "malformed");
  EXPECT_PROBLEM(parse(request_body(p256(), kUrl, kNonce, kAccount,
                                    R"({"identifiers":[{"type":"dns"},{"type":"dns"}]})")),
                 "ok");
}

TEST(Jws, DeepJsonIsRefused) {
  const auto nested = [](int depth) {
    std::string s = R"({"a":)";
    for (int i = 1; i < depth; ++i) s += "[";
    s += "1";
    for (int i = 1; i < depth; ++i) s += "]";
    return s + "}";
  };
  EXPECT_PROBLEM(parse(request_body(p256(), kUrl, kNonce, kAccount, nested(kMaxJsonDepth))), "ok");
  const auto p = parse(request_body(p256(), kUrl, kNonce, kAccount, nested(kMaxJsonDepth + 1)));
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->type, "malformed");
  EXPECT_NE(p->detail.find("deeper"), std::string::npos) << p->detail;
  // Deep bodies are refused before parsing, even huge ones that are not JSON at all.
  EXPECT_PROBLEM(parse(std::string(10000, '[')), "malformed");
  EXPECT_PROBLEM(parse("{\"x\":" + std::string(5000, '{')), "malformed");
  // Brackets inside strings do not count.
  json out;
  EXPECT_EQ(
      parse_json_object(R"({"a":"[[[[[[[[[[[[[[[[[[[[[[[[\"{{{{{{{{{{{{{{{{{{{{{"})", "x", out),
      std::nullopt);
}

std::string testdata(const std::string& name) {
  std::ifstream in(scepter::testing::source_path("src/acme/testdata/" + name), std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Bodies that another implementation signed (testdata/make_jws.py).
TEST(Jws, ThirdPartyClientBodies) {
  for (const char* name : {"new_account_es256", "post_as_get_rs256", "new_order_es384"}) {
    SCOPED_TRACE(name);
    Jws jws;
    ASSERT_EQ(parse_jws(testdata(name), jws), std::nullopt);
    ASSERT_TRUE(jws.jwk.has_value());
    EXPECT_EQ(verify_jws(jws, jws.jwk->key), std::nullopt);
  }
  std::optional<Jwk> p256_jwk;
  ASSERT_EQ(parse_jwk(json::parse(testdata("jwk_p256")), p256_jwk), std::nullopt);
  std::optional<Jwk> rsa_jwk;
  ASSERT_EQ(parse_jwk(json::parse(testdata("jwk_rsa")), rsa_jwk), std::nullopt);
  const json eab = json::parse(testdata("eab_hs256"));
  EXPECT_EQ(eab_key_id(eab), "kid");
  EXPECT_PROBLEM(
      verify_eab(eab, "kid", "hmac key", "https://ca.example/acme/new-account", *p256_jwk), "ok");
  std::optional<Jwk> new_key;
  EXPECT_PROBLEM(verify_key_change(json::parse(testdata("key_change_inner")),
                                   "https://ca.example/acme/key-change",
                                   "https://ca.example/acme/acct/1", *p256_jwk, new_key),
                 "ok");
}

TEST(Jwk, Rfc7638Thumbprint) {
  const json key = {
      {"kty", "RSA"},
      {"n",
       "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_"
       "BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_"
       "FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-"
       "bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"},
      {"e", "AQAB"},
      {"alg", "RS256"},
      {"kid", "2011-04-29"}};
  std::optional<Jwk> out;
  ASSERT_EQ(parse_jwk(key, out), std::nullopt);
  EXPECT_EQ(out->thumbprint, "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
  EXPECT_EQ(out->json, json({{"e", "AQAB"}, {"kty", "RSA"}, {"n", key["n"]}}));
  EXPECT_EQ(key_authorization("tok", out->thumbprint),
            "tok.NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
}

TEST(Jwk, EcThumbprintIsOfTheSortedMembers) {
  const json key = jwk_of(p256());
  std::optional<Jwk> out;
  ASSERT_EQ(parse_jwk(key, out), std::nullopt);
  const std::string text = R"({"crv":"P-256","kty":"EC","x":")" + key["x"].get<std::string>() +
                           R"(","y":")" + key["y"].get<std::string>() + R"("})";
  EXPECT_EQ(out->thumbprint, pki::base64url_encode(pki::digest(pki::Hash::kSha256, text)));
  EXPECT_NE(jwk(p256()).thumbprint, jwk(other_p256()).thumbprint);
}

TEST(Jwk, Refusals) {
  const json ec = jwk_of(p256());
  const json rs = jwk_of(rsa());
  const auto with = [](json k, const json& changes) {
    for (const auto& [name, value] : changes.items()) {
      if (value.is_null()) {
        k.erase(name);
      } else {
        k[name] = value;
      }
    }
    return k;
  };
  std::optional<Jwk> out;
  EXPECT_PROBLEM(parse_jwk(json::array(), out), "malformed");
  EXPECT_PROBLEM(parse_jwk(with(ec, {{"kty", nullptr}}), out), "malformed");
  EXPECT_PROBLEM(parse_jwk(with(ec, {{"kty", "oct"}, {"k", "c2VjcmV0"}}), out), "malformed");
  EXPECT_PROBLEM(parse_jwk(with(ec, {{"kty", "OKP"}}), out), "badPublicKey");
  EXPECT_PROBLEM(parse_jwk(with(ec, {{"crv", "P-521"}}), out), "badPublicKey");
  EXPECT_PROBLEM(parse_jwk(with(ec, {{"crv", nullptr}}), out), "malformed");
  EXPECT_PROBLEM(parse_jwk(with(ec, {{"crv", "P-384"}}), out), "malformed");  // x of 32 bytes
  EXPECT_PROBLEM(parse_jwk(with(ec, {{"x", nullptr}}), out), "malformed");
  EXPECT_PROBLEM(parse_jwk(with(ec, {{"x", 3}}), out), "malformed");
  EXPECT_PROBLEM(parse_jwk(with(ec, {{"x", ec["x"].get<std::string>() + "="}}), out), "malformed");
  EXPECT_PROBLEM(parse_jwk(with(ec, {{"d", "AAAA"}}), out), "malformed");
  std::string y = *pki::base64url_decode(ec["y"].get<std::string>());
  y[5] ^= 1;
  EXPECT_PROBLEM(parse_jwk(with(ec, {{"y", pki::base64url_encode(y)}}), out), "badPublicKey");
  EXPECT_FALSE(out.has_value());

  EXPECT_PROBLEM(parse_jwk(with(rs, {{"e", nullptr}}), out), "malformed");
  EXPECT_PROBLEM(parse_jwk(with(rs, {{"p", "AQAB"}}), out), "malformed");
  EXPECT_PROBLEM(parse_jwk(with(rs, {{"e", "AAEAAQ"}}), out), "malformed");  // leading zero
  const std::string n = *pki::base64url_decode(rs["n"].get<std::string>());
  EXPECT_PROBLEM(parse_jwk(with(rs, {{"n", pki::base64url_encode(std::string(1, '\0') + n)}}), out),
                 "malformed");
  EXPECT_PROBLEM(parse_jwk(with(rs, {{"e", "Ag"}}), out), "badPublicKey");  // e = 2
  EXPECT_PROBLEM(parse_jwk(jwk_of(*pki::Key::generate_rsa(1024)), out), "badPublicKey");
  EXPECT_PROBLEM(parse_jwk(with(rs, {{"alg", "RS256"}, {"use", "sig"}}), out), "ok");

  // In a request's header: the same problems.
  EXPECT_PROBLEM(
      parse(jws_body(p256(), "ES256",
                     members({{"kid", nullptr}, {"jwk", with(ec, {{"kty", "OKP"}})}}), "{}")),
      "badPublicKey");
}

class Eab : public ::testing::Test {
 protected:
  const std::string hmac_key_ = *pki::random_bytes(32);
  const std::string url_ = "https://ca.example/acme/new-account";
  const Jwk account_ = jwk(p256());
};

TEST_F(Eab, Binds) {
  const json eab = test::eab_object(hmac_key_, "ext-1", url_, p256());
  EXPECT_EQ(eab_key_id(eab), "ext-1");
  EXPECT_PROBLEM(verify_eab(eab, "ext-1", hmac_key_, url_, account_), "ok");
}

TEST_F(Eab, Refusals) {
  const json eab = test::eab_object(hmac_key_, "ext-1", url_, p256());
  EXPECT_PROBLEM(verify_eab(eab, "ext-1", *pki::random_bytes(32), url_, account_), "unauthorized");
  EXPECT_PROBLEM(verify_eab(eab, "ext-2", hmac_key_, url_, account_), "malformed");
  EXPECT_PROBLEM(verify_eab(eab, "ext-1", hmac_key_, url_ + "/x", account_), "malformed");
  EXPECT_PROBLEM(verify_eab(eab, "ext-1", hmac_key_, url_, jwk(other_p256())), "unauthorized");
  // Bound to another key than the one signing newAccount.
  const json other = test::eab_object(hmac_key_, "ext-1", url_, other_p256());
  EXPECT_PROBLEM(verify_eab(other, "ext-1", hmac_key_, url_, account_), "unauthorized");
  // With a nonce; signed with an account key; with jwk instead of kid; a bad payload.
  const json with_nonce = test::mac_jws_object(
      hmac_key_, {{"kid", "ext-1"}, {"url", url_}, {"nonce", kNonce}}, account_.json.dump());
  EXPECT_PROBLEM(verify_eab(with_nonce, "ext-1", hmac_key_, url_, account_), "malformed");
  const json signed_by_key =
      jws_object(p256(), "ES256", {{"kid", "ext-1"}, {"url", url_}}, account_.json.dump());
  EXPECT_PROBLEM(verify_eab(signed_by_key, "ext-1", hmac_key_, url_, account_),
                 "badSignatureAlgorithm");
  const json with_jwk = test::mac_jws_object(hmac_key_, {{"jwk", account_.json}, {"url", url_}},
                                             account_.json.dump());
  EXPECT_PROBLEM(verify_eab(with_jwk, "ext-1", hmac_key_, url_, account_), "malformed");
  EXPECT_EQ(eab_key_id(with_jwk), std::nullopt);
  const json not_a_key =
      test::mac_jws_object(hmac_key_, {{"kid", "ext-1"}, {"url", url_}}, R"({"a":1})");
  EXPECT_PROBLEM(verify_eab(not_a_key, "ext-1", hmac_key_, url_, account_), "malformed");
  const json empty = test::mac_jws_object(hmac_key_, {{"kid", "ext-1"}, {"url", url_}}, "");
  EXPECT_PROBLEM(verify_eab(empty, "ext-1", hmac_key_, url_, account_), "malformed");
  // Not a JWS at all.
  EXPECT_PROBLEM(verify_eab(json("x"), "ext-1", hmac_key_, url_, account_), "malformed");
  EXPECT_PROBLEM(verify_eab(json::object(), "ext-1", hmac_key_, url_, account_), "malformed");
  EXPECT_EQ(eab_key_id(json(5)), std::nullopt);
  EXPECT_EQ(eab_key_id(json::object()), std::nullopt);
}

class KeyChange : public ::testing::Test {
 protected:
  const std::string url_ = "https://ca.example/acme/key-change";
  const Jwk old_ = jwk(p256());
  std::optional<Jwk> new_key_;

  std::optional<Problem> verify(const json& inner) {
    return verify_key_change(inner, url_, kAccount, old_, new_key_);
  }
  // An inner JWS signed by `signer` with the given header members and payload.
  static json inner(const pki::Key& signer, const json& header, const json& payload) {
    return jws_object(signer, test::alg_of(signer), header, payload.dump());
  }
  json payload() const { return {{"account", kAccount}, {"oldKey", old_.json}}; }
  json header(const pki::Key& key) const { return {{"jwk", jwk_of(key)}, {"url", url_}}; }
};

TEST_F(KeyChange, RollsOver) {
  for (const pki::Key* key : {&rsa(), &p384(), &other_p256()}) {
    new_key_.reset();
    EXPECT_PROBLEM(verify(test::key_change_object(*key, url_, kAccount, p256())), "ok");
    ASSERT_TRUE(new_key_.has_value());
    EXPECT_TRUE(new_key_->key.equals_public(*key));
    EXPECT_EQ(new_key_->thumbprint, jwk(*key).thumbprint);
  }
}

TEST_F(KeyChange, Refusals) {
  const pki::Key& fresh = rsa();
  EXPECT_PROBLEM(verify(inner(fresh, header(fresh), payload())), "ok");
  new_key_.reset();
  // kid instead of jwk.
  EXPECT_PROBLEM(verify(inner(fresh, {{"kid", kAccount}, {"url", url_}}, payload())), "malformed");
  // A nonce.
  json h = header(fresh);
  h["nonce"] = kNonce;
  EXPECT_PROBLEM(verify(inner(fresh, h, payload())), "malformed");
  // Another url.
  h = header(fresh);
  h["url"] = url_ + "x";
  EXPECT_PROBLEM(verify(inner(fresh, h, payload())), "malformed");
  // Another account, none, not a string.
  json p = payload();
  p["account"] = kAccount + "2";
  EXPECT_PROBLEM(verify(inner(fresh, header(fresh), p)), "malformed");
  p.erase("account");
  EXPECT_PROBLEM(verify(inner(fresh, header(fresh), p)), "malformed");
  p["account"] = 1;
  EXPECT_PROBLEM(verify(inner(fresh, header(fresh), p)), "malformed");
  // oldKey is another key, missing, or not a key.
  p = payload();
  p["oldKey"] = jwk_of(p384());
  EXPECT_PROBLEM(verify(inner(fresh, header(fresh), p)), "malformed");
  p.erase("oldKey");
  EXPECT_PROBLEM(verify(inner(fresh, header(fresh), p)), "malformed");
  p["oldKey"] = "x";
  EXPECT_PROBLEM(verify(inner(fresh, header(fresh), p)), "malformed");
  // Signed by another key than its jwk.
  EXPECT_PROBLEM(verify(inner(p384(), header(fresh), payload())), "badSignatureAlgorithm");
  EXPECT_PROBLEM(verify(inner(other_p256(), {{"jwk", jwk_of(p384())}, {"url", url_}}, payload())),
                 "badSignatureAlgorithm");
  EXPECT_PROBLEM(verify(inner(other_p256(), {{"jwk", jwk_of(p256())}, {"url", url_}}, payload())),
                 "malformed");
  // The new key is the old one.
  EXPECT_PROBLEM(verify(inner(p256(), header(p256()), payload())), "malformed");
  // HS256; a POST-as-GET; not a JWS.
  EXPECT_PROBLEM(verify(test::mac_jws_object("k", header(fresh), payload().dump())),
                 "badSignatureAlgorithm");
  EXPECT_PROBLEM(verify(jws_object(fresh, "RS256", header(fresh), "")), "malformed");
  EXPECT_PROBLEM(verify(json::object()), "malformed");
  EXPECT_PROBLEM(verify(json::array()), "malformed");
  EXPECT_FALSE(new_key_.has_value());
}

}  // namespace
}  // namespace scepter::acme
