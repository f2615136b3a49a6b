// Token against SoftHSM2 (a real PKCS#11 module; see softhsm_testing.h): opening by
// label and slot, the PIN, keys made on the token and what they can and cannot do.

#include "pki/token.h"

#include <openssl/cms.h>

#include <gtest/gtest.h>

#include "pki/softhsm_testing.h"

namespace scepter::pki {
namespace {

using test::kSoftHsmModule;
using test::kSoftHsmUserPin;

class TokenTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!test::softhsm_installed()) GTEST_SKIP() << "softhsm2 is not installed";
    ASSERT_EQ(hsm_.init_token("ca-token"), "");
  }
  TokenSpec spec(const std::string& pin = kSoftHsmUserPin) const {
    return TokenSpec{
        .name = "token0", .module = kSoftHsmModule, .slot = {}, .label = "ca-token", .pin = pin};
  }
  test::SoftHsm hsm_;
};

TEST_F(TokenTest, OpensByLabelAndLogsIn) {
  auto token = Token::open(spec());
  ASSERT_OK(token);
  auto info = (*token)->info();
  ASSERT_OK(info);
  EXPECT_EQ(info->label, "ca-token");
  EXPECT_EQ(info->manufacturer, "SoftHSM project");
  EXPECT_TRUE(info->logged_in);
  EXPECT_FALSE(info->pin_locked);
  EXPECT_EQ((*token)->name(), "token0");

  // The same token by its slot id, and a slot id with the wrong label.
  TokenSpec by_slot = spec();
  by_slot.label.clear();
  by_slot.slot = info->slot;
  auto again = Token::open(by_slot);
  ASSERT_OK(again);
  EXPECT_EQ((*again)->info()->label, "ca-token");
  by_slot.label = "other";
  EXPECT_CODE(Token::open(by_slot), Code::kNotFound);
}

TEST_F(TokenTest, WrongPinMissingTokenAndMissingModuleAreRefused) {
  auto wrong = Token::open(spec("9999"));
  EXPECT_CODE(wrong, Code::kPermissionDenied);
  EXPECT_NE(wrong.error().message().find("wrong user PIN"), std::string::npos)
      << wrong.error().message();

  TokenSpec no_token = spec();
  no_token.label = "no-such-token";
  EXPECT_CODE(Token::open(no_token), Code::kNotFound);

  TokenSpec no_module = spec();
  no_module.module = "/nonexistent/libpkcs11.so";
  auto missing = Token::open(no_module);
  EXPECT_CODE(missing, Code::kNotFound);
  EXPECT_NE(missing.error().message().find("/nonexistent/libpkcs11.so"), std::string::npos);
}

TEST_F(TokenTest, GeneratedKeySignsAndDecryptsAndNeverLeaves) {
  auto token = Token::open(spec());
  ASSERT_OK(token);
  auto key = (*token)->generate_rsa("ca", 2048);
  ASSERT_OK(key);
  EXPECT_TRUE(key->is_rsa());
  EXPECT_EQ(key->bits(), 2048);
  EXPECT_TRUE(key->has_private());
  EXPECT_EQ(key->token(), "token0");

  // The token made it, and it keeps it: sensitive and never extractable.
  const std::string objects = hsm_.list_objects("ca-token");
  EXPECT_NE(objects.find("never extractable"), std::string::npos) << objects;
  EXPECT_NE(objects.find("sensitive"), std::string::npos) << objects;
  EXPECT_CODE(key->to_encrypted_pkcs8_pem("secret"), Code::kPermissionDenied);
  EXPECT_CODE(key->to_traditional_pem("secret", PemCipher::kAes256), Code::kPermissionDenied);

  // A certificate signed on the token verifies with OpenSSL, from the public key alone.
  const Certificate ca = test::make_test_ca(*key, "token-ca");
  auto pub = Key::from_public_der(key->public_key_der());
  ASSERT_OK(pub);
  EXPECT_TRUE(ca.verify_signature(*pub));
  test::TempDir dir;
  dir.write("ca.der", ca.der());
  const test::Output verify = test::run(
      "openssl x509 -inform DER -in " + dir.file("ca.der") + " -out " + dir.file("ca.pem") +
      " && openssl verify -CAfile " + dir.file("ca.pem") + " " + dir.file("ca.pem"));
  EXPECT_NE(verify.text.find(": OK"), std::string::npos) << verify.text;

  // What is enveloped to its certificate (SCEP's way to the CA) opens on the token.
  Ptr<BIO> in(BIO_new_mem_buf("sealed for the token", -1));
  STACK_OF(X509)* recipients = sk_X509_new_null();
  sk_X509_push(recipients, ca.x509());
  CMS_ContentInfo* cms = CMS_encrypt(recipients, in.get(), EVP_aes_128_cbc(), CMS_BINARY);
  sk_X509_free(recipients);
  ASSERT_NE(cms, nullptr);
  Ptr<BIO> out(BIO_new(BIO_s_mem()));
  EXPECT_EQ(CMS_decrypt(cms, key->evp(), ca.x509(), nullptr, out.get(), CMS_BINARY), 1);
  CMS_ContentInfo_free(cms);
  char* data = nullptr;
  const long len = BIO_get_mem_data(out.get(), &data);
  EXPECT_EQ(std::string(data, static_cast<std::size_t>(len)), "sealed for the token");
}

// An RSA key made elsewhere, written onto the token: from then on it signs there and can
// no more be read back than one the token made.
TEST_F(TokenTest, ImportedKeyIsTheTokensAndNeverLeaves) {
  auto outside = Key::generate_rsa(2048);
  ASSERT_OK(outside);
  {
    auto token = Token::open(spec());
    ASSERT_OK(token);
    auto key = (*token)->import_rsa("imported", *outside);
    ASSERT_OK(key);
    EXPECT_EQ(key->token(), "token0");
    EXPECT_TRUE(key->equals_public(*outside));
    // Sensitive, and not extractable: pkcs11-tool lists "extractable" when CKA_EXTRACTABLE
    // is set. (Not "never extractable": that says the key was never outside the token.)
    const std::string objects = hsm_.list_objects("ca-token");
    const auto at = objects.find("Private Key Object; RSA \n  label:      imported");
    ASSERT_NE(at, std::string::npos) << objects;
    const std::string access = objects.substr(objects.find("Access:", at), 40);
    EXPECT_EQ(access.substr(0, access.find('\n')), "Access:     sensitive") << objects;
    EXPECT_CODE(key->to_encrypted_pkcs8_pem("secret"), Code::kPermissionDenied);
    // It signs on the token: the signature verifies with the key it came from.
    const Certificate ca = test::make_test_ca(*key, "imported-ca");
    EXPECT_TRUE(ca.verify_signature(*outside));

    // A label that is taken, an EC key and a public key alone are refused.
    EXPECT_CODE((*token)->import_rsa("imported", *outside), Code::kAlreadyExists);
    EXPECT_CODE((*token)->import_rsa("ec", *Key::generate_ec(256)), Code::kInvalidArgument);
    auto pub = Key::from_public_der(outside->public_key_der());
    ASSERT_OK(pub);
    EXPECT_CODE((*token)->import_rsa("public", *pub), Code::kInvalidArgument);
  }
  // Found again by label after the token is opened anew, as after a restart.
  auto again = Token::open(spec());
  ASSERT_OK(again);
  auto found = (*again)->find("imported");
  ASSERT_OK(found);
  EXPECT_TRUE(found->equals_public(*outside));
}

TEST_F(TokenTest, KeysAreFoundListedAndRemovedByLabel) {
  auto token = Token::open(spec());
  ASSERT_OK(token);
  auto first = (*token)->generate_rsa("first", 1024);
  ASSERT_OK(first);
  EXPECT_CODE((*token)->generate_rsa("first", 1024), Code::kAlreadyExists);
  EXPECT_CODE((*token)->generate_rsa("tiny", 512), Code::kInvalidArgument);
  ASSERT_OK((*token)->generate_rsa("second", 1024));
  EXPECT_EQ(*(*token)->labels(), (std::vector<std::string>{"first", "second"}));

  auto found = (*token)->find("first");
  ASSERT_OK(found);
  EXPECT_TRUE(found->equals_public(*first));
  EXPECT_CODE((*token)->find("third"), Code::kNotFound);

  ASSERT_OK((*token)->remove("second"));
  EXPECT_CODE((*token)->find("second"), Code::kNotFound);
  EXPECT_CODE((*token)->remove("second"), Code::kNotFound);
  EXPECT_EQ(*(*token)->labels(), (std::vector<std::string>{"first"}));

  // A key found before others came and went still signs, and outlives the Token object.
  token->reset();
  const Certificate ca = test::make_test_ca(*first, "still-here");
  EXPECT_TRUE(ca.verify_signature(*Key::from_public_der(first->public_key_der())));
}

TEST_F(TokenTest, KeysPersistOnTheTokenAcrossOpens) {
  std::string spki;
  {
    auto token = Token::open(spec());
    ASSERT_OK(token);
    auto key = (*token)->generate_rsa("kept", 1024);
    ASSERT_OK(key);
    spki = key->public_key_der();
  }
  auto token = Token::open(spec());
  ASSERT_OK(token);
  auto key = (*token)->find("kept");
  ASSERT_OK(key);
  EXPECT_EQ(key->public_key_der(), spki);
}

}  // namespace
}  // namespace scepter::pki
