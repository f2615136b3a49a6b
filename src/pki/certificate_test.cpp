#include "pki/certificate.h"

#include <gtest/gtest.h>

#include "common/testing.h"
#include "pki/encoding.h"
#include "pki/name.h"
#include "pki/test_support.h"

namespace scepter::pki {
namespace {

using test::run;
using test::TempDir;

TEST(Certificate, AccessorsOfOurCaCertificate) {
  const Key& key = test::rsa_key_2048();
  const Certificate ca = test::make_test_ca(key);
  EXPECT_EQ(ca.serial()->sequence, 1u);
  EXPECT_EQ(ca.serial_hex(), "1");
  EXPECT_EQ(format_dn_config(ca.subject()), "CN=testca, O=Test, C=US");
  EXPECT_EQ(X509_NAME_cmp(ca.subject(), ca.issuer()), 0);
  EXPECT_EQ(to_unix(ca.not_before()), test::kNow);
  EXPECT_EQ(to_unix(ca.not_after()), test::kNow + 1095 * 86400);
  EXPECT_TRUE(ca.is_ca());
  EXPECT_TRUE(ca.verify_signature(key));
  EXPECT_FALSE(ca.verify_signature(test::rsa_key_1024()));
  EXPECT_TRUE(ca.signed_by(ca));
  EXPECT_EQ(ca.subject_key_id().size(), 20u);
  auto pub = ca.public_key();
  ASSERT_OK(pub);
  EXPECT_FALSE(pub->has_private());
  EXPECT_TRUE(pub->equals_public(key));
  EXPECT_EQ(ca.md5_fingerprint().size(), 32u);
  EXPECT_EQ(ca.sha1_fingerprint().size(), 40u);

  const Certificate other = test::make_test_ca(test::rsa_key_1024(), "other");
  EXPECT_FALSE(ca.signed_by(other));
  EXPECT_FALSE(ca == other);
  const Certificate copy = ca;
  EXPECT_TRUE(copy == ca);
  EXPECT_EQ(copy.x509(), ca.x509());
}

TEST(Certificate, DerAndPemRoundTripAndMatchOpenssl) {
  const Certificate ca = test::make_test_ca(test::ec_key_256());
  auto from_der = Certificate::from_der(ca.der());
  ASSERT_OK(from_der);
  EXPECT_EQ(from_der->der(), ca.der());
  auto from_pem = Certificate::from_pem("junk before\n" + ca.pem());
  ASSERT_OK(from_pem);
  EXPECT_EQ(from_pem->der(), ca.der());

  TempDir dir;
  dir.write("c.der", ca.der());
  auto out =
      run("openssl x509 -inform DER -in " + dir.file("c.der") + " -out " + dir.file("c.pem"));
  ASSERT_EQ(out.status, 0) << out.text;
  EXPECT_EQ(dir.read("c.pem"), ca.pem());
  EXPECT_EQ(test::openssl_fingerprint(dir.file("c.der"), "md5"), ca.md5_fingerprint());
  EXPECT_EQ(test::openssl_fingerprint(dir.file("c.der"), "sha1"), ca.sha1_fingerprint());
}

TEST(Certificate, LargeSerialFromAnotherCa) {
  TempDir dir;
  auto out = run("cd " + dir.file("") +
                 " && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes"
                 " -keyout k.pem -out c.pem -subj /CN=big -days 1"
                 " -set_serial 0x00ABCDEF0123456789AB");
  ASSERT_EQ(out.status, 0) << out.text;
  auto cert = Certificate::from_pem(dir.read("c.pem"));
  ASSERT_OK(cert);
  // Above 2^64: read as a sequence number followed by 64 bits of entropy.
  auto serial = cert->serial();
  ASSERT_OK(serial);
  EXPECT_EQ(serial->sequence, 0xABu);
  EXPECT_EQ(serial->entropy, std::uint64_t{0xCDEF0123456789AB});
  EXPECT_EQ(cert->serial_hex(), "ABCDEF0123456789AB");
  EXPECT_EQ(serial->hex(), "ABCDEF0123456789AB");
}

TEST(Certificate, RejectsBadInput) {
  const Certificate ca = test::make_test_ca(test::ec_key_256());
  const std::string& der = ca.der();
  EXPECT_CODE(Certificate::from_der(""), Code::kInvalidArgument);
  EXPECT_CODE(Certificate::from_der(der.substr(0, der.size() - 1)), Code::kInvalidArgument);
  EXPECT_CODE(Certificate::from_der(der.substr(0, 10)), Code::kInvalidArgument);
  EXPECT_CODE(Certificate::from_der(der + std::string(1, '\0')), Code::kInvalidArgument);
  EXPECT_CODE(Certificate::from_der("garbage"), Code::kInvalidArgument);
  EXPECT_CODE(Certificate::from_pem(pem_encode("CERTIFICATE REQUEST", der)),
              Code::kInvalidArgument);
  EXPECT_CODE(Certificate::from_pem("-----BEGIN CERTIFICATE-----\n%%%\n-----END CERTIFICATE-----"),
              Code::kInvalidArgument);
  EXPECT_CODE(Certificate::from_x509(nullptr), Code::kInvalidArgument);
}

}  // namespace
}  // namespace scepter::pki
