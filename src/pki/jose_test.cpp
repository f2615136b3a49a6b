#include "pki/jose.h"

#include <gtest/gtest.h>

#include "common/testing.h"
#include "pki/encoding.h"

namespace scepter::pki {
namespace {

std::string b64u(std::string_view text) { return *base64url_decode(text); }

const Key& rsa2048() {
  static const Key key = *Key::generate_rsa(2048);
  return key;
}
const Key& p256() {
  static const Key key = *Key::generate_ec(256);
  return key;
}
const Key& p384() {
  static const Key key = *Key::generate_ec(384);
  return key;
}

TEST(JoseKey, RsaRoundTrip) {
  auto m = jwk_members(rsa2048());
  ASSERT_OK(m);
  EXPECT_EQ(m->kty, "RSA");
  EXPECT_EQ(m->n.size(), 256u);
  EXPECT_EQ(m->e, std::string("\x01\x00\x01", 3));
  auto key = rsa_public_key(m->n, m->e);
  ASSERT_OK(key);
  EXPECT_TRUE(key->equals_public(rsa2048()));
  EXPECT_FALSE(key->has_private());
}

TEST(JoseKey, EcRoundTrip) {
  for (const Key* k : {&p256(), &p384()}) {
    auto m = jwk_members(*k);
    ASSERT_OK(m);
    EXPECT_EQ(m->kty, "EC");
    EXPECT_EQ(m->crv, k == &p256() ? "P-256" : "P-384");
    EXPECT_EQ(m->x.size(), k == &p256() ? 32u : 48u);
    EXPECT_EQ(m->y.size(), m->x.size());
    auto key = ec_public_key(m->crv, m->x, m->y);
    ASSERT_OK(key);
    EXPECT_TRUE(key->equals_public(*k));
  }
}

TEST(JoseKey, RsaRefusals) {
  auto m = *jwk_members(rsa2048());
  EXPECT_CODE(rsa_public_key(std::string(1, '\0') + m.n, m.e), Code::kInvalidArgument);
  EXPECT_CODE(rsa_public_key(m.n, std::string(1, '\0') + m.e), Code::kInvalidArgument);
  EXPECT_CODE(rsa_public_key("", m.e), Code::kInvalidArgument);
  EXPECT_CODE(rsa_public_key(m.n, ""), Code::kInvalidArgument);
  EXPECT_CODE(rsa_public_key(m.n, "\x01"), Code::kInvalidArgument);  // e = 1
  EXPECT_CODE(rsa_public_key(m.n, std::string("\x01\x00\x00", 3)), Code::kInvalidArgument);  // even
  EXPECT_OK(rsa_public_key(m.n, "\x03"));
  EXPECT_OK(rsa_public_key(m.n, std::string("\x01\x00\x00\x00\x01", 5)));   // 2^32 + 1
  EXPECT_CODE(rsa_public_key(m.n, std::string("\x01\x00\x00\x00\x03", 5)),  // 2^32 + 3
              Code::kInvalidArgument);
  EXPECT_CODE(rsa_public_key(m.n, std::string("\x01\x00\x00\x00\x00\x01", 6)),
              Code::kInvalidArgument);
  std::string even = m.n;
  even.back() = static_cast<char>(even.back() & ~1);
  EXPECT_CODE(rsa_public_key(even, m.e), Code::kInvalidArgument);
  auto small = *Key::generate_rsa(1024);
  auto s = *jwk_members(small);
  EXPECT_CODE(rsa_public_key(s.n, s.e), Code::kInvalidArgument);
  EXPECT_CODE(rsa_public_key(std::string(8192 / 8 + 1, '\x01'), m.e), Code::kInvalidArgument);
}

TEST(JoseKey, EcRefusals) {
  auto m = *jwk_members(p256());
  EXPECT_CODE(ec_public_key("P-521", m.x, m.y), Code::kInvalidArgument);
  EXPECT_CODE(ec_public_key("prime256v1", m.x, m.y), Code::kInvalidArgument);
  EXPECT_CODE(ec_public_key("P-384", m.x, m.y), Code::kInvalidArgument);
  EXPECT_CODE(ec_public_key("P-256", m.x.substr(1), m.y), Code::kInvalidArgument);
  EXPECT_CODE(ec_public_key("P-256", m.x, m.y + "A"), Code::kInvalidArgument);
  std::string y = m.y;
  y.back() = static_cast<char>(y.back() ^ 1);
  EXPECT_CODE(ec_public_key("P-256", m.x, y), Code::kInvalidArgument);  // not on the curve
  EXPECT_CODE(ec_public_key("P-256", std::string(32, '\0'), std::string(32, '\0')),
              Code::kInvalidArgument);
  // The field prime p itself as x: out of range.
  const std::string p = b64u("_____wAAAAEAAAAAAAAAAAAAAAD_______________8");
  EXPECT_CODE(ec_public_key("P-256", p, m.y), Code::kInvalidArgument);
}

// RFC 7515 appendix A.3: an ES256 signature made by someone else.
TEST(JoseSignature, Rfc7515Es256Vector) {
  auto key = ec_public_key("P-256", b64u("f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU"),
                           b64u("x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"));
  ASSERT_OK(key);
  const std::string input =
      "eyJhbGciOiJFUzI1NiJ9."
      "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVl"
      "fQ";
  const std::string sig = b64u(
      "DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q");
  EXPECT_OK(jws_verify(JwsAlgorithm::kEs256, *key, input, sig));
  EXPECT_CODE(jws_verify(JwsAlgorithm::kEs256, *key, input + " ", sig), Code::kPermissionDenied);
}

TEST(JoseSignature, SignAndVerifyEachAlgorithm) {
  const struct {
    JwsAlgorithm alg;
    const Key* key;
    std::size_t length;
  } cases[] = {{JwsAlgorithm::kRs256, &rsa2048(), 256},
               {JwsAlgorithm::kEs256, &p256(), 64},
               {JwsAlgorithm::kEs384, &p384(), 96}};
  for (const auto& c : cases) {
    SCOPED_TRACE(jws_algorithm_name(c.alg));
    auto sig = jws_sign(c.alg, *c.key, "header.payload");
    ASSERT_OK(sig);
    EXPECT_EQ(sig->size(), c.length);
    const Key pub = *Key::from_public_der(c.key->public_key_der());
    EXPECT_OK(jws_verify(c.alg, pub, "header.payload", *sig));
    EXPECT_CODE(jws_verify(c.alg, pub, "header.payloaD", *sig), Code::kPermissionDenied);
    std::string bad = *sig;
    bad[bad.size() / 2] ^= 0x10;
    EXPECT_CODE(jws_verify(c.alg, pub, "header.payload", bad), Code::kPermissionDenied);
    EXPECT_CODE(jws_verify(c.alg, pub, "header.payload", sig->substr(1)), Code::kPermissionDenied);
    EXPECT_CODE(jws_verify(c.alg, pub, "header.payload", *sig + std::string(1, '\0')),
                Code::kPermissionDenied);
    EXPECT_CODE(jws_verify(c.alg, pub, "header.payload", ""), Code::kPermissionDenied);
    EXPECT_CODE(jws_sign(c.alg, pub, "x"), Code::kInvalidArgument);  // no private half
  }
}

TEST(JoseSignature, Es256DerSignatureIsRefused) {
  // Key::sign gives the DER ECDSA-Sig-Value; JWS wants r || s.
  auto der = p256().sign("header.payload");
  ASSERT_OK(der);
  EXPECT_CODE(jws_verify(JwsAlgorithm::kEs256, p256(), "header.payload", *der),
              Code::kPermissionDenied);
}

TEST(JoseSignature, AlgorithmMustFitTheKey) {
  EXPECT_TRUE(jws_algorithm_fits(JwsAlgorithm::kRs256, rsa2048()));
  EXPECT_FALSE(jws_algorithm_fits(JwsAlgorithm::kRs256, p256()));
  EXPECT_TRUE(jws_algorithm_fits(JwsAlgorithm::kEs256, p256()));
  EXPECT_FALSE(jws_algorithm_fits(JwsAlgorithm::kEs256, p384()));
  EXPECT_FALSE(jws_algorithm_fits(JwsAlgorithm::kEs384, p256()));
  EXPECT_TRUE(jws_algorithm_fits(JwsAlgorithm::kEs384, p384()));
  EXPECT_FALSE(jws_algorithm_fits(JwsAlgorithm::kHs256, rsa2048()));
  const std::string sig = *jws_sign(JwsAlgorithm::kEs256, p256(), "x");
  EXPECT_CODE(jws_verify(JwsAlgorithm::kEs384, p256(), "x", sig), Code::kInvalidArgument);
  EXPECT_CODE(jws_verify(JwsAlgorithm::kRs256, p256(), "x", sig), Code::kInvalidArgument);
  EXPECT_CODE(jws_verify(JwsAlgorithm::kHs256, p256(), "x", sig), Code::kInvalidArgument);
  EXPECT_CODE(jws_sign(JwsAlgorithm::kRs256, p256(), "x"), Code::kInvalidArgument);
}

TEST(JoseSignature, AlgorithmNames) {
  for (const char* name : {"RS256", "ES256", "ES384", "HS256"}) {
    auto alg = jws_algorithm(name);
    ASSERT_TRUE(alg.has_value()) << name;
    EXPECT_STREQ(jws_algorithm_name(*alg), name);
  }
  for (const char* name : {"none", "rs256", "RS384", "HS512", "EdDSA", ""}) {
    EXPECT_FALSE(jws_algorithm(name).has_value()) << name;
  }
}

// RFC 4231 test case 2.
TEST(JoseHmac, Rfc4231Vector) {
  const std::string mac = hmac_sha256("Jefe", "what do ya want for nothing?");
  EXPECT_EQ(hex_upper(mac), "5BDCC146BF60754E6A042426089575C75A003F089D2739839DEC58B964EC3843");
  EXPECT_TRUE(hmac_sha256_verify("Jefe", "what do ya want for nothing?", mac));
  EXPECT_FALSE(hmac_sha256_verify("Jeff", "what do ya want for nothing?", mac));
  EXPECT_FALSE(hmac_sha256_verify("Jefe", "what do ya want for nothing?", mac.substr(1)));
  EXPECT_EQ(hmac_sha256("", "").size(), 32u);
}

}  // namespace
}  // namespace scepter::pki
