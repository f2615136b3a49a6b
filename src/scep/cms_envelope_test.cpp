// detail::envelope() writes the DER EnvelopedData itself: it must be what CMS_encrypt
// writes, apart from the random content key, IV and ciphertext, and open with CMS_decrypt.

#include <string>
#include <string_view>

#include <gtest/gtest.h>
#include <openssl/cms.h>

#include "pki/crl_der.h"
#include "scep/cms_util.h"
#include "scep/message.h"
#include "scep/test_fixtures.h"

namespace scepter::scep {
namespace {

using testing::shared_pki;

// The DER with the bytes that are random in every envelope left out: the contents of
// each OCTET STRING (the encryptedKey and the IV) and of the [0] IMPLICIT
// encryptedContent. Every identifier and length octet, and the contents of every other
// primitive (OIDs, versions, the NULL, the recipient's name and serial), stay.
std::string skeleton(std::string_view der) {
  std::string out;
  while (!der.empty()) {
    const std::string_view rest = der;
    pki::der::Tlv tlv;
    if (pki::der::next_tlv(der, tlv) != nullptr) return out + "<bad DER>";
    const std::size_t header = rest.size() - der.size() - tlv.content.size();
    out += rest.substr(0, header);
    const auto id = static_cast<unsigned char>(rest[0]);
    if ((id & 0x20) != 0) {
      out += skeleton(tlv.content);
    } else if (id != 0x04 && id != 0x80) {
      out += tlv.content;
    }
  }
  return out;
}

std::string openssl_envelope(std::string_view content, X509* recipient, CipherAlg cipher) {
  detail::X509Stack certs(sk_X509_new_null());
  sk_X509_push(certs.get(), pki::up_ref(recipient).release());
  auto in = detail::read_bio(content);
  pki::Ptr<CMS_ContentInfo> env(
      CMS_encrypt(certs.get(), in->get(), evp_cipher(cipher), CMS_BINARY));
  if (!env) return {};
  return *detail::cms_der(env.get());
}

std::string decrypt(std::string_view der, EVP_PKEY* key, X509* cert) {
  auto cms = detail::parse_cms(der);
  if (!cms) return "<" + cms.error().message() + ">";
  pki::Ptr<BIO> out(BIO_new(BIO_s_mem()));
  if (CMS_decrypt(cms->get(), key, cert, nullptr, out.get(), CMS_BINARY) != 1) {
    return "<does not decrypt>";
  }
  return detail::bio_bytes(out.get());
}

class EnvelopeDer : public ::testing::TestWithParam<CipherAlg> {};

TEST_P(EnvelopeDer, IsWhatCmsEncryptWritesAndOpens) {
  const CipherAlg cipher = GetParam();
  if (cipher == CipherAlg::kDesCbc && !des_available()) GTEST_SKIP() << "no legacy provider";
  const auto& pki = shared_pki();
  // A recipient issued by another CA, with a long serial: the rid names the issuer.
  pki::Ptr<X509> recipient =
      testing::issue(pki.csr.get(), pki.ca_cert.get(), pki.ca_key.get(), 0x7123456789abcdefL);
  ASSERT_TRUE(recipient);
  for (const std::string& content :
       {std::string("x"), std::string(15, 'a'), std::string(16, 'b'), std::string(1500, 'c')}) {
    auto ours = detail::envelope(content, recipient.get(), cipher);
    ASSERT_TRUE(ours.has_value()) << ours.error().to_string();
    const std::string theirs = openssl_envelope(content, recipient.get(), cipher);
    ASSERT_FALSE(theirs.empty());
    EXPECT_EQ(ours->size(), theirs.size());
    EXPECT_EQ(skeleton(*ours), skeleton(theirs));
    EXPECT_EQ(decrypt(*ours, pki.client_key.get(), recipient.get()), content);

    // OpenSSL reads it back to the same bytes, names the recipient and the cipher.
    auto cms = detail::parse_cms(*ours);
    ASSERT_TRUE(cms.has_value());
    auto again = detail::cms_der(cms->get());
    ASSERT_TRUE(again.has_value());
    EXPECT_EQ(*again, *ours);
    STACK_OF(CMS_RecipientInfo)* ris = CMS_get0_RecipientInfos(cms->get());
    ASSERT_EQ(sk_CMS_RecipientInfo_num(ris), 1);
    EXPECT_EQ(CMS_RecipientInfo_ktri_cert_cmp(sk_CMS_RecipientInfo_value(ris, 0), recipient.get()),
              0);
    auto alg = detail::envelope_cipher(*ours);
    ASSERT_TRUE(alg.has_value());
    EXPECT_EQ(alg->cipher, cipher);
  }
  // Another key does not open it.
  auto ours = detail::envelope("secret", recipient.get(), cipher);
  ASSERT_TRUE(ours.has_value());
  EXPECT_NE(decrypt(*ours, pki.other_key.get(), recipient.get()), "secret");
}

TEST(EnvelopeDer, KeysAndIvsAreFreshEachTime) {
  const auto& pki = shared_pki();
  auto a = detail::envelope("same", pki.client_signer.get(), CipherAlg::kAes128Cbc);
  auto b = detail::envelope("same", pki.client_signer.get(), CipherAlg::kAes128Cbc);
  ASSERT_TRUE(a.has_value() && b.has_value());
  EXPECT_EQ(skeleton(*a), skeleton(*b));
  EXPECT_NE(*a, *b);
}

INSTANTIATE_TEST_SUITE_P(Ciphers, EnvelopeDer,
                         ::testing::Values(CipherAlg::kDesCbc, CipherAlg::kDes3Cbc,
                                           CipherAlg::kAes128Cbc, CipherAlg::kAes192Cbc,
                                           CipherAlg::kAes256Cbc),
                         [](const auto& info) {
                           std::string n(cipher_name(info.param));
                           std::string out;
                           for (char c : n) {
                             if (c != '-') out += c;
                           }
                           return out;
                         });

}  // namespace
}  // namespace scepter::scep
