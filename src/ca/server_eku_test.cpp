// `eku`: the extended key usages the operator adds to the end-entity certificates the
// server issues (ServerConfig::ekus), from the moment they are set; a subordinate CA
// certificate gets none.
#include <gtest/gtest.h>
#include <openssl/x509v3.h>

#include <memory>
#include <vector>

#include "ca/ca_test_support.h"
#include "ca/certificate_server.h"

namespace scepter::ca {
namespace {

using testing::make_csr_der;
using testing::ServerHarness;

struct EkuFree {
  void operator()(EXTENDED_KEY_USAGE* p) const { EXTENDED_KEY_USAGE_free(p); }
};

// The certificate's extended key usages, in certificate order; empty without the extension.
std::vector<int> eku_nids(const pki::Certificate& cert) {
  std::unique_ptr<EXTENDED_KEY_USAGE, EkuFree> ekus(static_cast<EXTENDED_KEY_USAGE*>(
      X509_get_ext_d2i(cert.x509(), NID_ext_key_usage, nullptr, nullptr)));
  std::vector<int> nids;
  if (!ekus) return nids;
  for (int i = 0; i < sk_ASN1_OBJECT_num(ekus.get()); ++i) {
    nids.push_back(OBJ_obj2nid(sk_ASN1_OBJECT_value(ekus.get(), i)));
  }
  return nids;
}

class ServerEkuTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK(h_.set([](ServerConfig& c) { c.grant = GrantMode::kAuto; }));
    auto enabled = h_.server().enable({});
    ASSERT_OK(enabled);
  }
  // The extended key usages of the certificate a request granted at once (grant auto) gets.
  std::vector<int> issue(const std::string& subject) {
    auto out = h_.server().submit(make_csr_der(subject), RequestSource::kManualPem);
    EXPECT_OK(out);
    if (!out.has_value() || !out->certificate.has_value()) {
      ADD_FAILURE() << "no certificate for " << subject;
      return {-1};
    }
    return eku_nids(*out->certificate);
  }

  ServerHarness h_;
};

TEST_F(ServerEkuTest, GrantedRequestsGetTheConfiguredUsagesFromNowOn) {
  // None configured: a request that asks for none gets none.
  EXPECT_TRUE(issue("CN=before").empty());
  // Set while the server runs, as `lifetime certificate` may be: the next certificate has
  // them, in certificate order whatever the configuration's.
  ASSERT_OK(h_.set([](ServerConfig& c) {
    c.ekus = {pki::Eku::kSshClient, pki::Eku::kServerAuth, pki::Eku::kClientAuth};
  }));
  EXPECT_EQ(issue("CN=after"), (std::vector<int>{NID_server_auth, NID_client_auth, NID_sshClient}));
  // `no eku`: back to none.
  ASSERT_OK(h_.set([](ServerConfig& c) { c.ekus.clear(); }));
  EXPECT_TRUE(issue("CN=cleared").empty());
}

TEST_F(ServerEkuTest, TheOperatorsGrantGetsThemToo) {
  ASSERT_OK(h_.set([](ServerConfig& c) {
    c.grant = GrantMode::kManual;
    c.ekus = {pki::Eku::kEmailProtection};
  }));
  auto out = h_.server().submit(make_csr_der("CN=mail"), RequestSource::kManualPem);
  ASSERT_OK(out);
  ASSERT_FALSE(out->certificate.has_value());
  auto granted = h_.server().grant(out->request.id);
  ASSERT_OK(granted);
  ASSERT_EQ(granted->size(), 1u);
  EXPECT_EQ(eku_nids((*granted)[0].certificate), (std::vector<int>{NID_email_protect}));
}

// The CA profile has no extendedKeyUsage: a subordinate CA the operator grants gets none.
TEST_F(ServerEkuTest, ASubordinateCaCertificateGetsNone) {
  ASSERT_OK(h_.set([](ServerConfig& c) { c.ekus = {pki::Eku::kServerAuth}; }));
  auto out = h_.server().submit(testing::make_csr_der_ca("CN=sub"), RequestSource::kManualPem);
  ASSERT_OK(out);
  auto granted = h_.server().grant(out->request.id);
  ASSERT_OK(granted);
  ASSERT_EQ(granted->size(), 1u);
  const pki::Certificate& sub = (*granted)[0].certificate;
  EXPECT_TRUE(sub.is_ca());
  EXPECT_TRUE(eku_nids(sub).empty());
}

// In RA mode the issuing CA decides the usages: `eku` would be accepted and do nothing, so
// it is refused whichever of the two lines comes first.
TEST(ServerEkuRaTest, IsRefusedInRaMode) {
  ServerHarness h;
  ASSERT_OK(h.set([](ServerConfig& c) { c.mode = ServerMode::kRa; }));
  Status s = h.set([](ServerConfig& c) { c.ekus = {pki::Eku::kClientAuth}; });
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_NE(s.message().find("no eku"), std::string::npos) << s.message();
  EXPECT_TRUE(h.server().config().ekus.empty());

  ServerHarness other;
  ASSERT_OK(other.set([](ServerConfig& c) { c.ekus = {pki::Eku::kClientAuth}; }));
  EXPECT_EQ(other.set([](ServerConfig& c) { c.mode = ServerMode::kRaTransparent; }).code(),
            Code::kInvalidArgument);
  EXPECT_EQ(other.server().config().mode, ServerMode::kRoot);
}

}  // namespace
}  // namespace scepter::ca
