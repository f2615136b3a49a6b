// mode sub-cs: a certificate server whose CA certificate comes from a superior CA through
// its trustpoint (TrustpointClient over a FakeUpstream standing in for the superior).
#include <gtest/gtest.h>
#include <openssl/x509v3.h>

#include "ca/ca_test_support.h"
#include "ca/certificate_server.h"
#include "ca/device.h"
#include "ca/fake_upstream.h"
#include "ca/superior_test_support.h"
#include "ca/trustpoint_client.h"
#include "common/fs.h"
#include "pki/crl.h"
#include "pki/name.h"

namespace scepter::ca {
namespace {

using testing::FakeUpstream;
using testing::kStart;
using Answer = FakeUpstream::Answer;

class SubCaTest : public testing::SuperiorFixture {
 protected:
  SubCaTest() : SuperiorFixture("sub", "host") { make_server(); }

  void make_server() {
    server_.reset();
    ServerConfig cfg = sub_ca_config();
    server_ = std::make_unique<CertificateServer>(cfg, deps());
  }
};

TEST_F(SubCaTest, WithoutAnAuthenticatedSuperiorItWaitsForTheOperator) {
  auto r = server_->enable({.request_superior = true});
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(server_->state(), ServerState::kWaitingForOperator);
  EXPECT_NE(r.error().message().find("not authenticated"), std::string::npos);
  EXPECT_TRUE(upstream_->kinds().empty());
}

TEST_F(SubCaTest, RequestsACaCertificateWaitsAndEnablesWhenGranted) {
  authenticate();
  upstream_->script({Answer::kPending, Answer::kPending});
  auto r = server_->enable({.request_superior = true});
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(server_->state(), ServerState::kWaitingForSuperior);
  EXPECT_NE(r.error().message().find("Waiting for the superior CA"), std::string::npos);
  EXPECT_FALSE(server_->signing_identity().has_value());
  // The request: the issuer name, a CA certificate, the server's key.
  auto csr = pki::Csr::parse(upstream_->last_csr());
  ASSERT_TRUE(csr.has_value());
  EXPECT_EQ(pki::format_dn_ios(csr->subject()), "cn=sub,o=Example");
  EXPECT_TRUE(pki::requests_ca_certificate(*csr));
  EXPECT_TRUE(csr->public_key().equals_public(testing::shared_ca_key()));

  // Still pending at the first poll: the server keeps waiting.
  clock_.advance(std::chrono::minutes(1));
  tick();
  EXPECT_EQ(server_->state(), ServerState::kWaitingForSuperior);
  // Granted at the next: the server enables itself.
  clock_.advance(std::chrono::minutes(1));
  tick();
  ASSERT_EQ(server_->state(), ServerState::kEnabled) << server_->reason();
  auto id = server_->signing_identity();
  ASSERT_TRUE(id.has_value());
  ASSERT_EQ(id->chain.size(), 1u);
  EXPECT_EQ(id->chain[0], upstream_->ca_cert());
  EXPECT_TRUE(id->certificate.signed_by(upstream_->ca_cert()));
  EXPECT_TRUE(id->certificate.is_ca());
  ASSERT_TRUE(server_->info().upper_ca.has_value());
  EXPECT_EQ(*server_->info().upper_ca, upstream_->ca_cert());
  EXPECT_TRUE(fs::exists(dir_.file("sub.p12")));  // archived when the certificate came

  // It issues under its own name, and the certificates chain to the superior.
  auto issued = server_->submit(testing::make_csr_der("CN=leaf"), RequestSource::kManualPem);
  ASSERT_TRUE(issued.has_value()) << issued.error().message();
  ASSERT_TRUE(issued->certificate.has_value());
  EXPECT_TRUE(issued->certificate->signed_by(id->certificate));
  EXPECT_EQ(pki::format_dn_ios(issued->certificate->issuer()), "cn=sub,o=Example");
  auto crl = server_->current_crl();
  ASSERT_TRUE(crl.has_value());
  EXPECT_EQ(pki::format_dn_ios(crl->info.issuer.get()), "cn=sub,o=Example");

  // After a restart it enables from its database, with the chain.
  make_server();
  ASSERT_TRUE(server_->enable({}).has_value());
  id = server_->signing_identity();
  ASSERT_TRUE(id.has_value());
  EXPECT_EQ(id->chain.size(), 1u);
  EXPECT_EQ(upstream_->kinds().size(), 3u);  // the request and two polls; nothing more
}

TEST_F(SubCaTest, ARefusalWaitsForTheOperatorWhoMayAskAgain) {
  authenticate();
  upstream_->script({Answer::kPending, Answer::kReject});
  ASSERT_FALSE(server_->enable({.request_superior = true}).has_value());
  clock_.advance(std::chrono::minutes(1));
  tick();  // the poll is refused; the server hears of it
  EXPECT_EQ(server_->state(), ServerState::kWaitingForOperator);
  EXPECT_NE(server_->reason().find("the CA rejected the request"), std::string::npos)
      << server_->reason();
  // The timer does not ask again behind the operator's back.
  for (int i = 0; i < 3; ++i) {
    clock_.advance(std::chrono::minutes(1));
    tick();
  }
  EXPECT_EQ(upstream_->kinds().size(), 2u);
  // A start-up without the operator does not ask either.
  make_server();
  ASSERT_FALSE(server_->enable({}).has_value());
  EXPECT_EQ(upstream_->kinds().size(), 2u);
  // The operator's no shutdown does; this time it is granted at once.
  auto r = server_->enable({.request_superior = true});
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(server_->state(), ServerState::kEnabled);
  EXPECT_EQ(upstream_->kinds().size(), 3u);
}

TEST_F(SubCaTest, ShutdownWhileWaitingAndTheRequestStillCounts) {
  authenticate();
  upstream_->script({Answer::kPending});
  ASSERT_FALSE(server_->enable({.request_superior = true}).has_value());
  server_->shutdown();
  EXPECT_EQ(server_->state(), ServerState::kDisabled);
  // The request waits at the superior all the same; no shutdown does not send another.
  ASSERT_FALSE(server_->enable({.request_superior = true}).has_value());
  EXPECT_EQ(server_->state(), ServerState::kWaitingForSuperior);
  EXPECT_EQ(upstream_->kinds().size(), 1u);
}

TEST_F(SubCaTest, ItsOwnPathLengthBoundsWhatItGrants) {
  authenticate();
  upstream_->set_ca_path_len(0);
  ASSERT_TRUE(server_->enable({.request_superior = true}).has_value());
  // pathLen 0: no CA below it, not even by the operator's grant.
  auto r = server_->submit(testing::make_csr_der_ca("CN=subsub"), RequestSource::kManualPem);
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message().find("pathLen 0"), std::string::npos) << r.error().message();
}

TEST_F(SubCaTest, ASubCaBelowItGetsAShorterPath) {
  authenticate();
  upstream_->set_ca_path_len(2);
  ASSERT_TRUE(server_->enable({.request_superior = true}).has_value());
  auto r = server_->submit(testing::make_csr_der_ca("CN=subsub"), RequestSource::kManualPem);
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(r->request.state, RequestState::kPending);
  auto granted = server_->grant(r->request.id);
  ASSERT_TRUE(granted.has_value()) << granted.error().message();
  ASSERT_EQ(granted->size(), 1u);
  EXPECT_EQ(X509_get_pathlen((*granted)[0].certificate.x509()), 1);
}

// `revocation-check crl` (the default of a server's trustpoint): a sub-CA whose
// certificate its superior revoked stops issuing, and stays stopped after a restart.
TEST_F(SubCaTest, RevokedByItsSuperiorItStops) {
  tp_.revocation_check = "crl";
  authenticate();
  ASSERT_TRUE(server_->enable({.request_superior = true}).has_value());
  const pki::Certificate mine = server_->signing_identity()->certificate;
  auto crl_with = [&](std::vector<pki::SerialNumber> serials) {
    auto b = pki::CrlBuilder::create(upstream_->ca_cert().x509(), upstream_->key().evp());
    for (const auto& s : serials) EXPECT_TRUE(b->add(s, clock_.now()).ok());
    return *b->build(clock_.now(), clock_.now() + std::chrono::hours(24), 1, nullptr);
  };
  // The CRL without it: nothing changes.
  upstream_->set_crl(crl_with({pki::SerialNumber{5}}));
  tick();
  EXPECT_EQ(server_->state(), ServerState::kEnabled);
  EXPECT_FALSE(client_->state("sub")->revoked_at.has_value());
  // Listed an hour later (the next check): the server stops.
  upstream_->set_crl(crl_with({pki::SerialNumber{5}, *mine.serial()}));
  clock_.advance(TrustpointClient::kCrlCheckInterval);
  tick();
  ASSERT_TRUE(client_->state("sub")->revoked_at.has_value());
  tick();
  EXPECT_EQ(server_->state(), ServerState::kCheckFailed);
  EXPECT_NE(server_->reason().find("revoked"), std::string::npos) << server_->reason();
  EXPECT_FALSE(server_->signing_identity().has_value());
  tick();
  EXPECT_NE(server_->state(), ServerState::kEnabled);
  // A restart does not bring it back.
  make_server();
  auto again = server_->enable({});
  ASSERT_FALSE(again.has_value());
  EXPECT_NE(again.error().message().find("revoked"), std::string::npos);
}

}  // namespace
}  // namespace scepter::ca
