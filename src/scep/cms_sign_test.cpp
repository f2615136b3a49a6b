// detail::sign_data() writes the DER SignedData of an RSA signer itself: it must be
// byte for byte what OpenSSL's CMS code (CMS_sign, CMS_add1_signer, CMS_final) writes for
// the same content, attributes, signingTime and key (PKCS#1 v1.5 signatures are
// deterministic), and OpenSSL must verify it.

#include <ctime>

#include <gtest/gtest.h>

#include <openssl/cms.h>

#include "common/testing.h"
#include "scep/cms_util.h"
#include "scep/test_fixtures.h"

namespace scepter::scep {
namespace {

using testing::shared_pki;

std::vector<detail::Attribute> cert_rep_attributes(bool failure) {
  const AttributeTypes& t = attribute_types();
  std::vector<detail::Attribute> attrs = {
      {t.message_type.obj, V_ASN1_PRINTABLESTRING, "3"},
      {t.pki_status.obj, V_ASN1_PRINTABLESTRING, failure ? "2" : "0"},
      {t.transaction_id.obj, V_ASN1_PRINTABLESTRING, "0F1E2D3C4B5A69788796A5B4C3D2E1F0"},
      {t.sender_nonce.obj, V_ASN1_OCTET_STRING, std::string("\x00\x01\x02\xff nonce 16 b", 16)},
      {t.recipient_nonce.obj, V_ASN1_OCTET_STRING, "recipient nonce!"},
  };
  if (failure) {
    attrs.push_back({t.fail_info.obj, V_ASN1_PRINTABLESTRING, "2"});
    attrs.push_back({t.fail_info_text.obj, V_ASN1_UTF8STRING, "refusé — ask again"});
  }
  return attrs;
}

void expect_same_as_cms(std::string_view content, detail::SignSpec spec,
                        const std::vector<detail::Attribute>& attrs) {
  auto ours = detail::sign_data(content, spec, attrs);
  spec.through_cms = true;
  auto theirs = detail::sign_data(content, spec, attrs);
  ASSERT_OK(ours);
  ASSERT_OK(theirs);
  EXPECT_EQ(*ours, *theirs);

  // OpenSSL verifies it: the signature over the signedAttrs and the messageDigest.
  auto cms = detail::parse_cms(*ours);
  ASSERT_OK(cms);
  detail::X509Stack certs(sk_X509_new_null());
  sk_X509_push(certs.get(), X509_dup(spec.cert));
  EXPECT_EQ(CMS_verify(cms->get(), certs.get(), nullptr, nullptr, nullptr,
                       CMS_NO_SIGNER_CERT_VERIFY | CMS_NOINTERN | CMS_BINARY),
            1);
}

TEST(CmsSign, RsaDerIsWhatCmsFinalWrites) {
  const testing::Pki& p = shared_pki();
  for (DigestAlg d : {DigestAlg::kMd5, DigestAlg::kSha1, DigestAlg::kSha224, DigestAlg::kSha256,
                      DigestAlg::kSha384, DigestAlg::kSha512}) {
    for (bool failure : {false, true}) {
      for (bool include_cert : {true, false}) {
        SCOPED_TRACE(std::string(digest_name(d)) + (failure ? " FAILURE" : " SUCCESS") +
                     (include_cert ? " with cert" : " without cert"));
        detail::SignSpec spec;
        spec.cert = p.ca_cert.get();
        spec.key = p.ca_key.get();
        spec.digest = d;
        spec.include_cert = include_cert;
        spec.signing_time = std::time_t{1'800'000'000};
        expect_same_as_cms(failure ? "" : std::string(300, 'x'), spec,
                           cert_rep_attributes(failure));
      }
    }
  }
}

TEST(CmsSign, SigningTimesOfBothEncodingsAndLargeContent) {
  const testing::Pki& p = shared_pki();
  detail::SignSpec spec;
  spec.cert = p.client_signer.get();
  spec.key = p.client_key.get();
  // UTCTime up to 2049, GeneralizedTime from 2050 (RFC 5652 11.3).
  for (std::time_t when : {std::time_t{0}, std::time_t{2'524'607'999}, std::time_t{2'524'608'000},
                           std::time_t{4'102'444'800}}) {
    spec.signing_time = when;
    expect_same_as_cms(std::string(70'000, '\x5a'), spec, cert_rep_attributes(false));
  }
}

TEST(CmsSign, WithoutSigningTimeTheClockIsUsed) {
  const testing::Pki& p = shared_pki();
  detail::SignSpec spec;
  spec.cert = p.ca_cert.get();
  spec.key = p.ca_key.get();
  auto der = detail::sign_data("content", spec, cert_rep_attributes(false));
  ASSERT_OK(der);
  auto cms = detail::parse_cms(*der);
  ASSERT_OK(cms);
  CMS_SignerInfo* si = sk_CMS_SignerInfo_value(CMS_get0_SignerInfos(cms->get()), 0);
  auto when = detail::signing_time(si);
  ASSERT_TRUE(when.has_value());
  EXPECT_LE(std::abs(*when - std::time(nullptr)), 5);
}

}  // namespace
}  // namespace scepter::scep
