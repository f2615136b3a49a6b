// ScepService with `scep encryption-key`: GetCACert serves the certificate of that key
// before the CA's, as an RA's; requests are opened with that key alone and the replies
// signed by it, while the certificates are the CA's (ECDSA for an EC CA).
#include <gtest/gtest.h>
#include <openssl/x509v3.h>

#include "scep/service_fixture.h"
#include "scep/upstream_client.h"

namespace scepter::scep::testing {
namespace {

const pki::Key& ec_ca_key() {
  static const pki::Key key = *pki::Key::generate_ec(256);
  return key;
}

class EcCaServiceTest : public ScepServiceTest {
 protected:
  const pki::Key& ca_key() const override { return ec_ca_key(); }
  void configure(ca::ServerConfig& c) override {
    c.scep_encryption_key = "ca-scep";
    c.grant = ca::GrantMode::kAuto;
  }
};

TEST_F(EcCaServiceTest, GetCACertServesBothCertificatesInTheShapeClientsSortByKeyUsage) {
  ScepHttpResponse r = service_->handle({"GET", "GetCACert", "", false, ""});
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "application/x-x509-ca-ra-cert");
  auto certs = read_ca_certificates(r.content_type, r.body, "scepterd");
  ASSERT_OK(certs);
  ASSERT_EQ(certs->size(), 2u);
  EXPECT_EQ(X509_cmp((*certs)[0].x509(), recipient_.get()), 0);
  EXPECT_EQ(X509_cmp((*certs)[1].x509(), ca_cert_.get()), 0);
  EXPECT_EQ(X509_cmp(reply_signer_.get(), recipient_.get()), 0);
  // As our own SCEP client (and xipki's, and IOS) reads it: the CA issues, the other
  // certificate (digitalSignature and keyEncipherment) is encrypted to and signs replies.
  auto roles = classify_ca_certificates(std::move(*certs));
  ASSERT_OK(roles);
  EXPECT_EQ(X509_cmp(roles->issuing_ca().x509(), ca_cert_.get()), 0);
  EXPECT_EQ(X509_cmp(roles->recipient().x509(), recipient_.get()), 0);
  EXPECT_EQ(X509_cmp(roles->reply_signer().x509(), recipient_.get()), 0);
}

TEST_F(EcCaServiceTest, EnrolsThroughTheRsaKeyAndIssuesWithEcdsa) {
  CertRep rep = exchange(pkcs_req(client_key(0), "ec-client"));
  pki::Ptr<X509> cert = issued(rep);
  ASSERT_TRUE(cert);
  EXPECT_EQ(X509_get_signature_nid(cert.get()), NID_ecdsa_with_SHA256);
  // A renewal signed by that certificate, the same way.
  CertRep again =
      exchange(renewal(MessageType::kRenewalReq, client_key(1), cert.get(), client_key(0)));
  EXPECT_EQ(again.status, PkiStatus::kSuccess) << again.fail_info_text;
}

class RsaCaWithEncryptionKeyTest : public ScepServiceTest {
 protected:
  void configure(ca::ServerConfig& c) override {
    c.scep_encryption_key = "ca-scep";
    c.grant = ca::GrantMode::kAuto;
  }
};

TEST_F(RsaCaWithEncryptionKeyTest, TheCaKeyNoLongerOpensEnvelopes) {
  ASSERT_NE(X509_cmp(recipient_.get(), ca_cert_.get()), 0);
  // Encrypted to the CA certificate, as a client that ignored the other one would: the CA
  // key does not decrypt any more (a FIPS token may not let it), so it is refused.
  PkiRequestParams to_ca = pkcs_req(client_key(2), "to-ca");
  to_ca.recipient_cert = ca_cert_.get();
  ScepHttpResponse r = send(to_ca);
  ASSERT_EQ(r.status, 200) << r.body;
  expect_failure(rep_of(r, client_key(2)), FailInfo::kBadMessageCheck);
  // Encrypted to the encryption certificate: issued.
  CertRep rep = exchange(pkcs_req(client_key(3), "to-enc"));
  EXPECT_TRUE(issued(rep));
  EXPECT_EQ(requests().size(), 1u);
}

}  // namespace
}  // namespace scepter::scep::testing
