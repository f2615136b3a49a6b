// The certs-only SignedData is framed by hand around certificates and CRLs kept as DER
// (cms_util.h, degenerate_der): it must be, byte for byte, what OpenSSL's PKCS7 code
// writes for the same objects (the shape clients and `openssl pkcs7` read).

#include <gtest/gtest.h>

#include <openssl/pkcs7.h>
#include <openssl/x509.h>

#include "common/testing.h"
#include "pki/io.h"
#include "scep/cms_util.h"
#include "scep/test_fixtures.h"

namespace scepter::scep {
namespace {

using testing::shared_pki;

// The certs-only SignedData as OpenSSL's PKCS7 API builds it.
std::string by_openssl(const std::vector<X509*>& certs, const std::vector<X509_CRL*>& crls) {
  pki::Ptr<PKCS7> p7(PKCS7_new());
  if (!p7 || PKCS7_set_type(p7.get(), NID_pkcs7_signed) != 1 ||
      PKCS7_content_new(p7.get(), NID_pkcs7_data) != 1 || PKCS7_set_detached(p7.get(), 1) != 1) {
    return {};
  }
  for (X509* c : certs) PKCS7_add_certificate(p7.get(), c);
  for (X509_CRL* c : crls) PKCS7_add_crl(p7.get(), c);
  return pki::to_der(i2d_PKCS7, p7.get());
}

pki::Ptr<X509_CRL> empty_crl(X509* issuer, EVP_PKEY* key) {
  pki::Ptr<X509_CRL> crl(X509_CRL_new());
  pki::Ptr<ASN1_TIME> now(ASN1_TIME_set(nullptr, 1735995514));
  if (!crl || X509_CRL_set_version(crl.get(), X509_CRL_VERSION_2) != 1 ||
      X509_CRL_set_issuer_name(crl.get(), X509_get_subject_name(issuer)) != 1 ||
      X509_CRL_set1_lastUpdate(crl.get(), now.get()) != 1 ||
      X509_CRL_sign(crl.get(), key, EVP_sha256()) <= 0) {
    return nullptr;
  }
  return crl;
}

TEST(Degenerate, IsWhatOpensslWritesForTheSameObjects) {
  const testing::Pki& p = shared_pki();
  pki::Ptr<X509_CRL> crl = empty_crl(p.ca_cert.get(), p.ca_key.get());
  ASSERT_TRUE(crl);
  X509* a = p.client_signer.get();
  X509* b = p.ca_cert.get();
  const std::vector<std::pair<std::vector<X509*>, std::vector<X509_CRL*>>> cases = {
      {{a}, {}}, {{a, b}, {}}, {{b, a}, {}}, {{a}, {crl.get()}}, {{}, {crl.get()}}};
  for (const auto& [certs, crls] : cases) {
    auto ours = detail::degenerate(certs, crls);
    ASSERT_OK(ours);
    EXPECT_EQ(*ours, by_openssl(certs, crls));
  }
}

TEST(Degenerate, RefusesWhatIsNotOneDerSequence) {
  const std::string cert = pki::to_der(i2d_X509, shared_pki().ca_cert.get());
  EXPECT_OK(detail::degenerate_der({cert}, {}));
  EXPECT_CODE(detail::degenerate_der({cert + "x"}, {}), Code::kInvalidArgument);
  EXPECT_CODE(detail::degenerate_der({cert.substr(0, 10)}, {}), Code::kInvalidArgument);
  EXPECT_CODE(detail::degenerate_der({}, {"\x02\x01\x01"}), Code::kInvalidArgument);
}

}  // namespace
}  // namespace scepter::scep
