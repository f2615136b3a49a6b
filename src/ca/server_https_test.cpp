// CertificateServer::https_certificate: the HTTPS listener's own certificate — what it
// says, kept while it fits, issued again when the names change or it nears its end, one
// per node; and refused by an RA, which issues nothing.
#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/x509.h>

#include "ca/ca_test_support.h"
#include "ca/certificate_server.h"
#include "pki/identity.h"
#include "pki/name.h"
#include "pki/ptr.h"

namespace scepter::ca {
namespace {

using testing::ServerHarness;

// What `openssl x509 -text` says of `cert`.
std::string text_of(const pki::Certificate& cert) {
  pki::Ptr<BIO> bio(BIO_new(BIO_s_mem()));
  X509_print(bio.get(), cert.x509());
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(len));
}

class HttpsCertificateTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_OK(h_.server().enable({})); }
  Result<pki::Certificate> cert(const std::vector<std::string>& dns,
                                const std::string& node = "ca.example.com") {
    return h_.server().https_certificate(key_, dns, {"127.0.0.1", "::1"}, node);
  }
  ServerHarness h_;
  pki::Key key_ = *pki::Key::generate_ec(256);
};

TEST_F(HttpsCertificateTest, ATlsServerCertificateForTheNames) {
  auto c = cert({"ca.example.com", "ca"});
  ASSERT_OK(c);
  EXPECT_EQ(pki::format_dn_config(c->subject()), "CN=ca.example.com");
  EXPECT_EQ(pki::alt_names(*c),
            (std::vector<std::string>{"DNS:ca", "DNS:ca.example.com",
                                      "IP:00000000000000000000000000000001", "IP:127.0.0.1"}));
  EXPECT_FALSE(c->is_ca());
  EXPECT_TRUE(c->public_key()->equals_public(key_));
  EXPECT_EQ(c->not_after() - c->not_before(), std::chrono::days(90));
  // In the database like any certificate the CA issued, so that it can be revoked.
  EXPECT_OK(h_.server().certificate_by_serial(*c->serial()));
  const std::string text = text_of(*c);
  EXPECT_NE(text.find("TLS Web Server Authentication"), std::string::npos) << text;
  EXPECT_NE(text.find("Digital Signature"), std::string::npos) << text;
  EXPECT_EQ(text.find("Key Encipherment"), std::string::npos) << text;  // an EC key
}

TEST_F(HttpsCertificateTest, KeptWhileItFitsThenIssuedAgain) {
  auto first = cert({"ca.example.com"});
  ASSERT_OK(first);
  EXPECT_EQ(cert({"ca.example.com"})->der(), first->der());
  // A new host name: a new certificate.
  auto renamed = cert({"ca2.example.com"});
  ASSERT_OK(renamed);
  EXPECT_NE(renamed->der(), first->der());
  // With a third of its life left: renewed.
  h_.clock().advance(std::chrono::duration_cast<Seconds>(std::chrono::days(61)));
  auto renewed = cert({"ca2.example.com"});
  ASSERT_OK(renewed);
  EXPECT_NE(renewed->der(), renamed->der());
  // Revoked: not presented again.
  ASSERT_OK(h_.server().revoke(*renewed->serial()));
  EXPECT_NE(cert({"ca2.example.com"})->der(), renewed->der());
}

TEST_F(HttpsCertificateTest, EachNodeKeepsItsOwn) {
  auto a = cert({"a.example.com"}, "a.example.com");
  auto b = cert({"b.example.com"}, "b.example.com");
  ASSERT_OK(a);
  ASSERT_OK(b);
  EXPECT_EQ(cert({"a.example.com"}, "a.example.com")->der(), a->der());
  EXPECT_EQ(cert({"b.example.com"}, "b.example.com")->der(), b->der());
}

TEST_F(HttpsCertificateTest, DisabledIssuesNothing) {
  h_.server().shutdown();
  auto c = cert({"ca.example.com"});
  ASSERT_FALSE(c.has_value());
  EXPECT_EQ(c.error().code(), Code::kUnavailable);
}

}  // namespace
}  // namespace scepter::ca
