#include "pki/sealed_box.h"

#include <gtest/gtest.h>

#include "pki/softhsm_testing.h"
#include "pki/test_support.h"
#include "pki/token.h"

namespace scepter::pki {
namespace {

const std::string kSecret = std::string("a key made for a client\0with a NUL", 35);

void round_trip_and_refusals(const Key& key, const Key& stranger) {
  auto box = seal(kSecret, key, "EST-0001");
  ASSERT_OK(box);
  EXPECT_EQ(box->find(kSecret), std::string::npos) << "the secret is not in clear";
  auto opened = unseal(*box, key, "EST-0001");
  ASSERT_OK(opened);
  EXPECT_EQ(*opened, kSecret);
  // Two boxes of one secret differ (fresh key, IV).
  auto again = seal(kSecret, key, "EST-0001");
  ASSERT_OK(again);
  EXPECT_NE(*again, *box);

  // Another context, another key, any changed byte, a cut box: refused, never garbage.
  EXPECT_CODE(unseal(*box, key, "EST-0002"), Code::kInvalidArgument);
  EXPECT_CODE(unseal(*box, stranger, "EST-0001"), Code::kInvalidArgument);
  for (std::size_t i = 0; i < box->size(); i += 7) {
    std::string bad = *box;
    bad[i] = static_cast<char>(bad[i] ^ 0x01);
    auto r = unseal(bad, key, "EST-0001");
    EXPECT_FALSE(r.has_value()) << "byte " << i;
  }
  for (std::size_t n : {std::size_t{0}, std::size_t{3}, box->size() / 2, box->size() - 1}) {
    EXPECT_FALSE(unseal(box->substr(0, n), key, "EST-0001").has_value()) << n;
  }
  // The public half seals; it cannot open.
  auto pub = Key::from_public_der(key.public_key_der());
  ASSERT_OK(pub);
  auto by_public = seal(kSecret, *pub, "EST-0001");
  ASSERT_OK(by_public);
  EXPECT_FALSE(unseal(*by_public, *pub, "EST-0001").has_value());
  ASSERT_OK(unseal(*by_public, key, "EST-0001"));
}

TEST(SealedBox, Rsa) {
  auto key = Key::generate_rsa(2048);
  auto stranger = Key::generate_rsa(2048);
  ASSERT_OK(key);
  ASSERT_OK(stranger);
  round_trip_and_refusals(*key, *stranger);
}

TEST(SealedBox, Ec) {
  for (int bits : {256, 384}) {
    auto key = Key::generate_ec(bits);
    auto stranger = Key::generate_ec(bits);
    ASSERT_OK(key);
    ASSERT_OK(stranger);
    round_trip_and_refusals(*key, *stranger);
  }
  // A box for a P-256 key does not open with a P-384 key, nor an RSA key's with an EC key.
  auto p256 = Key::generate_ec(256);
  auto p384 = Key::generate_ec(384);
  auto rsa = Key::generate_rsa(2048);
  ASSERT_OK(p256);
  ASSERT_OK(p384);
  ASSERT_OK(rsa);
  auto box = seal(kSecret, *p256, "c");
  ASSERT_OK(box);
  EXPECT_CODE(unseal(*box, *p384, "c"), Code::kInvalidArgument);
  EXPECT_CODE(unseal(*box, *rsa, "c"), Code::kInvalidArgument);
}

// A CA key on a token opens what was sealed to it, through PKCS#11.
TEST(SealedBox, RsaKeyOnAToken) {
  if (!test::softhsm_installed()) GTEST_SKIP() << "softhsm2 is not installed";
  test::SoftHsm hsm;
  ASSERT_EQ(hsm.init_token("seal-token"), "");
  auto token = Token::open(test::SoftHsm::spec("seal-token"));
  ASSERT_OK(token);
  auto key = (*token)->generate_rsa("ca", 2048);
  ASSERT_OK(key);
  auto box = seal(kSecret, *key, "EST-1");
  ASSERT_OK(box);
  auto opened = unseal(*box, *key, "EST-1");
  ASSERT_OK(opened);
  EXPECT_EQ(*opened, kSecret);
}

TEST(KeyPkcs8, RoundTrip) {
  for (auto key : {Key::generate_rsa(2048), Key::generate_ec(256)}) {
    ASSERT_OK(key);
    auto der = key->to_pkcs8_der();
    ASSERT_OK(der);
    auto back = Key::from_pkcs8_der(*der);
    ASSERT_OK(back);
    EXPECT_TRUE(back->has_private());
    EXPECT_TRUE(back->equals_public(*key));
    EXPECT_CODE(Key::from_pkcs8_der(*der + "x"), Code::kInvalidArgument);
    EXPECT_CODE(Key::from_pkcs8_der(der->substr(0, der->size() - 1)), Code::kInvalidArgument);
    auto pub = Key::from_public_der(key->public_key_der());
    ASSERT_OK(pub);
    EXPECT_CODE(pub->to_pkcs8_der(), Code::kInvalidArgument);
  }
}

}  // namespace
}  // namespace scepter::pki
