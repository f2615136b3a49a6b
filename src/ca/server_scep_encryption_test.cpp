// `scep encryption-key`: a CA whose key only signs certificates and CRLs (an EC CA, or a
// key that must not decrypt), and the RSA key and certificate SCEP clients encrypt their
// requests to, which signs the SCEP replies.
#include <gtest/gtest.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "ca/ca_test_support.h"
#include "ca/certificate_server.h"

namespace scepter::ca {
namespace {

using namespace std::chrono_literals;
using testing::make_csr_der;
using testing::serial_of;

const pki::Key& ec_key(int bits) {
  static const pki::Key p256 = *pki::Key::generate_ec(256);
  static const pki::Key p384 = *pki::Key::generate_ec(384);
  return bits == 384 ? p384 : p256;
}

class ScepEncryptionKeyTest : public testing::ServerTest {
 protected:
  // The CA key `ca` made an EC key, before the CA exists.
  void use_ec_ca_key(int bits = 256) {
    ASSERT_OK(h_.keys().remove("ca"));
    KeyEntry e{"ca", ec_key(bits), KeyUsage::kGeneralPurpose, false, h_.clock().now()};
    ASSERT_OK(h_.keys().put(e));
  }
  void set_encryption_key(const std::string& label) {
    ASSERT_OK(h_.set([&](ServerConfig& c) { c.scep_encryption_key = label; }));
  }
  EnableReport enable_report() {
    auto r = h_.server().enable({});
    EXPECT_OK(r);
    return r.value_or(EnableReport{});
  }
  pki::Certificate encryption_cert() {
    auto info = h_.server().info();
    EXPECT_TRUE(info.scep_encryption_certificate.has_value());
    return *info.scep_encryption_certificate;
  }
};

TEST_F(ScepEncryptionKeyTest, AnEcCaWithoutOneIsRefusedWithTheWayOut) {
  use_ec_ca_key();
  auto r = h_.server().enable({});
  EXPECT_CODE(r, Code::kInvalidArgument);
  EXPECT_NE(r.error().message().find("scep encryption-key LABEL"), std::string::npos)
      << r.error().message();
  EXPECT_NE(h_.server().state(), ServerState::kEnabled);
}

TEST_F(ScepEncryptionKeyTest, AnEcCaIssuesItsEncryptionKeyACertificateAndSignsWithEcdsa) {
  use_ec_ca_key(384);
  set_encryption_key("ca-scep");
  const EnableReport report = enable_report();
  EXPECT_EQ(report.generated_encryption_key_bits, 2048);
  EXPECT_EQ(report.issued_encryption_serial, "2");
  const pki::Certificate ca_cert = *h_.server().info().ca_certificate;
  EXPECT_EQ(X509_get_signature_nid(ca_cert.x509()), NID_ecdsa_with_SHA256);

  // The encryption certificate: RSA, issued by the CA for as long as the CA, an end entity
  // with the usages of an RA certificate (clients choose it by them), in the database.
  const pki::Certificate enc = encryption_cert();
  EXPECT_TRUE(enc.signed_by(ca_cert));
  EXPECT_FALSE(enc.is_ca());
  EXPECT_EQ(X509_get_key_usage(enc.x509()),
            static_cast<uint32_t>(KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT));
  EXPECT_EQ(X509_get_extended_key_usage(enc.x509()), UINT32_MAX);  // no EKU at all
  EXPECT_EQ(enc.not_after(), ca_cert.not_after());
  EXPECT_EQ(serial_of(enc), 2u);
  auto stored = h_.server().certificate_by_serial(pki::SerialNumber{2});
  ASSERT_OK(stored);
  EXPECT_EQ(*stored, enc);
  auto key = h_.keys().get("ca-scep");
  ASSERT_TRUE(key.has_value());
  EXPECT_TRUE(key->key.is_rsa());
  EXPECT_TRUE(enc.public_key()->equals_public(key->key));

  // SCEP answers with that key, as the CA's own RA: it decrypts and signs the replies.
  auto id = h_.server().signing_identity();
  ASSERT_OK(id);
  EXPECT_EQ(id->certificate, enc);
  EXPECT_EQ(id->decryption_certificate(), enc);
  EXPECT_TRUE(id->key.equals_public(key->key));
  ASSERT_EQ(id->chain.size(), 1u);
  EXPECT_EQ(id->chain[0], ca_cert);

  // Certificates and CRLs are signed by the EC key.
  set_grant(GrantMode::kAuto);
  SubmitOutcome out = submit("CN=leaf");
  ASSERT_TRUE(out.certificate.has_value());
  EXPECT_EQ(serial_of(*out.certificate), 3u);
  EXPECT_TRUE(out.certificate->signed_by(ca_cert));
  EXPECT_EQ(X509_get_signature_nid(out.certificate->x509()), NID_ecdsa_with_SHA256);
  ASSERT_OK(h_.server().revoke(3));
  auto crl_der = h_.server().crl_der();
  ASSERT_TRUE(crl_der);
  const auto* p = reinterpret_cast<const unsigned char*>(crl_der->data());
  pki::Ptr<X509_CRL> crl(d2i_X509_CRL(nullptr, &p, static_cast<long>(crl_der->size())));
  ASSERT_TRUE(crl);
  EXPECT_EQ(X509_CRL_verify(crl.get(), X509_get0_pubkey(ca_cert.x509())), 1);
}

TEST_F(ScepEncryptionKeyTest, ARestartKeepsTheCertificateAndAChangeGetsANewOne) {
  use_ec_ca_key();
  set_encryption_key("ca-scep");
  enable_report();
  const pki::Certificate first = encryption_cert();

  h_.server().shutdown();
  h_.make_server(h_.server().config());
  EnableReport again = enable_report();
  EXPECT_EQ(again.generated_encryption_key_bits, 0);
  EXPECT_TRUE(again.issued_encryption_serial.empty());
  EXPECT_EQ(encryption_cert(), first);

  // Revoked by the operator: the next start issues another.
  ASSERT_OK(h_.server().revoke(serial_of(first)));
  h_.server().shutdown();
  EnableReport after_revoke = enable_report();
  EXPECT_FALSE(after_revoke.issued_encryption_serial.empty());
  const pki::Certificate second = encryption_cert();
  EXPECT_NE(second, first);
  EXPECT_TRUE(second.public_key()->equals_public(*first.public_key()));

  // Another key named: its own certificate, the key generated as needed.
  h_.server().shutdown();
  set_encryption_key("other-scep");
  EnableReport other = enable_report();
  EXPECT_EQ(other.generated_encryption_key_bits, 2048);
  const pki::Certificate third = encryption_cert();
  EXPECT_FALSE(third.public_key()->equals_public(*first.public_key()));
}

TEST_F(ScepEncryptionKeyTest, AnRsaCaMayHandDecryptionToAnotherKey) {
  KeyEntry e{"dec", *pki::Key::generate_rsa(2048), KeyUsage::kGeneralPurpose, false,
             h_.clock().now()};
  ASSERT_OK(h_.keys().put(e));
  set_encryption_key("dec");
  EnableReport report = enable_report();
  EXPECT_EQ(report.generated_encryption_key_bits, 0);  // it existed
  auto id = h_.server().signing_identity();
  ASSERT_OK(id);
  EXPECT_TRUE(id->decryption_key().equals_public(e.key));
  ASSERT_EQ(id->chain.size(), 1u);
  EXPECT_FALSE(id->decryption_key().equals_public(*id->chain[0].public_key()));
}

TEST_F(ScepEncryptionKeyTest, KeysThatCannotDoItAreRefused) {
  // The CA key itself.
  set_encryption_key("ca");
  auto r = h_.server().enable({});
  EXPECT_CODE(r, Code::kInvalidArgument);
  EXPECT_NE(r.error().message().find("another key than the CA key"), std::string::npos);
  h_.server().shutdown();
  // An EC key: clients encrypt with RSA.
  KeyEntry ec{"ec-dec", ec_key(256), KeyUsage::kGeneralPurpose, false, h_.clock().now()};
  ASSERT_OK(h_.keys().put(ec));
  set_encryption_key("ec-dec");
  r = h_.server().enable({});
  EXPECT_CODE(r, Code::kInvalidArgument);
  EXPECT_NE(r.error().message().find("general-purpose RSA"), std::string::npos);
  h_.server().shutdown();
  // Usage keys.
  KeyEntry usage{"usage-dec", *pki::Key::generate_rsa(2048), KeyUsage::kUsageKeys, false,
                 h_.clock().now()};
  usage.encryption_key = *pki::Key::generate_rsa(2048);
  ASSERT_OK(h_.keys().put(usage));
  set_encryption_key("usage-dec");
  EXPECT_CODE(h_.server().enable({}), Code::kInvalidArgument);
}

TEST_F(ScepEncryptionKeyTest, TheSettingIsLockedWhileEnabledAndRefusedForAnRa) {
  set_encryption_key("dec");
  enable_report();
  Status s = h_.set([](ServerConfig& c) { c.scep_encryption_key = "else"; });
  EXPECT_EQ(s.code(), Code::kPermissionDenied);
  h_.server().shutdown();
  testing::ServerHarness ra;
  s = ra.set([](ServerConfig& c) {
    c.mode = ServerMode::kRa;
    c.scep_encryption_key = "dec";
  });
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_NE(s.message().find("usage keys"), std::string::npos);
}

// After a rollover the new CA (EC like the old one) gives the same key a certificate of
// its own: the one served must be the current CA's.
TEST_F(ScepEncryptionKeyTest, ARolloverGivesTheKeyACertificateOfTheNewCa) {
  use_ec_ca_key();
  set_encryption_key("ca-scep");
  enable_report();
  const pki::Certificate old_ca = *h_.server().info().ca_certificate;
  const pki::Certificate old_enc = encryption_cert();
  ASSERT_OK(h_.server().start_rollover("archive-password"));
  ASSERT_TRUE(h_.server().rollover_certificate().has_value());
  h_.clock().set(old_ca.not_after() + 1s);
  for (int i = 0; i < 4 && (h_.server().state() != ServerState::kEnabled ||
                            *h_.server().info().ca_certificate == old_ca);
       ++i) {
    h_.server().tick();
  }
  ASSERT_EQ(h_.server().state(), ServerState::kEnabled) << h_.server().reason();
  const pki::Certificate new_ca = *h_.server().info().ca_certificate;
  ASSERT_NE(new_ca, old_ca);
  EXPECT_TRUE(new_ca.public_key()->is_ec());
  const pki::Certificate enc = encryption_cert();
  EXPECT_TRUE(enc.signed_by(new_ca));
  EXPECT_TRUE(enc.public_key()->equals_public(*old_enc.public_key()));
  EXPECT_EQ(enc.not_after(), new_ca.not_after());
  EXPECT_EQ(h_.server().signing_identity()->decryption_certificate(), enc);
}

}  // namespace
}  // namespace scepter::ca
