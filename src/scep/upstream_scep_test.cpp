// HttpUpstream against a real CertificateServer behind ScepService on 127.0.0.1, wired
// as scepterd's HTTP front end wires it (daemon/http_frontend.cpp).

#include "scep/upstream_client.h"

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <openssl/x509v3.h>

#include "ca/ra_forwarder.h"
#include "common/log.h"
#include "common/testing.h"
#include "http/server.h"
#include "http/test_client.h"
#include "pki/name.h"
#include "scep/cert_rep.h"
#include "scep/service_fixture.h"
#include "scep/upstream_test_support.h"

namespace scepter::scep {
namespace {

using namespace std::chrono_literals;
using namespace upstream_testing;
using ca::UpstreamReply;
using ca::UpstreamRequest;
using testing::client_key;

// ---------------------------------------------------------------------------------
// Against a real CertificateServer behind ScepService, wired as scepterd's HTTP front
// end wires it (daemon/http_frontend.cpp).

class UpstreamScepTest : public testing::ScepServiceTest {
 protected:
  void SetUp() override {
    ScepServiceTest::SetUp();
    if (HasFatalFailure()) return;
    server_http_ = serve_scep(*service_);
    ASSERT_TRUE(server_http_);
    url_ = server_http_->url();
  }
  void TearDown() override { server_http_.reset(); }

  // GetCACaps and GetCACert, as `crypto pki authenticate` does.
  void authenticate() {
    auto caps = upstream_.get_ca_caps(url_, testing::kLabel);
    ASSERT_OK(caps);
    caps_ = *caps;
    auto certs = upstream_.get_ca_cert(url_, testing::kLabel);
    ASSERT_OK(certs);
    certs_ = *certs;
  }

  // Stopped before the CA it serves (the fixture's members) goes away.
  std::unique_ptr<TestServer> server_http_;
  std::string url_;
  HttpUpstream upstream_{{.connect_timeout = 5'000ms, .total_timeout = 30'000ms}};
  ca::UpstreamCaps caps_;
  std::optional<ca::UpstreamCertificates> certs_;
};

TEST_F(UpstreamScepTest, AuthenticateAndEnrollWithAutoGrant) {
  set_grant(ca::GrantMode::kAuto);
  ASSERT_NO_FATAL_FAILURE(authenticate());
  EXPECT_TRUE(caps_.post);
  EXPECT_TRUE(caps_.scep_standard);
  EXPECT_TRUE(caps_.sha512);
  ASSERT_EQ(certs_->ca_chain.size(), 1u);
  EXPECT_EQ(X509_cmp(certs_->issuing_ca().x509(), ca_cert_.get()), 0);
  EXPECT_FALSE(certs_->ra_signer);

  UpstreamRequest rq = make_request(url_, client_key(0), "router1.example.com", *certs_, caps_);
  auto reply = upstream_.send(rq);
  ASSERT_OK(reply);
  ASSERT_EQ(reply->status, UpstreamReply::Status::kSuccess) << reply->fail_text;
  ASSERT_FALSE(reply->certificates.empty());
  const pki::Certificate& issued = reply->certificates.front();
  EXPECT_TRUE(issued.public_key()->equals_public(*rq.signer_key));
  EXPECT_TRUE(issued.signed_by(certs_->issuing_ca()));
  EXPECT_EQ(reply->method, "POST");
  EXPECT_EQ(reply->digest, "SHA-512");
  EXPECT_EQ(reply->cipher, "AES-128-CBC");

  auto reqs = requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].state, store::RequestState::kGranted);
  EXPECT_EQ(reqs[0].transaction_id, rq.transaction_id);
}

TEST_F(UpstreamScepTest, ManualGrantPendsThenCertPollSucceeds) {
  ASSERT_NO_FATAL_FAILURE(authenticate());
  UpstreamRequest rq = make_request(url_, client_key(1), "sub.example.com", *certs_, caps_);
  auto first = upstream_.send(rq);
  ASSERT_OK(first);
  EXPECT_EQ(first->status, UpstreamReply::Status::kPending);
  EXPECT_TRUE(first->certificates.empty());

  UpstreamRequest poll = rq;
  poll.kind = UpstreamRequest::Kind::kCertPoll;
  auto still = upstream_.send(poll);
  ASSERT_OK(still);
  EXPECT_EQ(still->status, UpstreamReply::Status::kPending);

  auto reqs = requests();
  ASSERT_EQ(reqs.size(), 1u);
  ASSERT_OK(server_->grant(reqs[0].id));
  auto granted = upstream_.send(poll);
  ASSERT_OK(granted);
  ASSERT_EQ(granted->status, UpstreamReply::Status::kSuccess) << granted->fail_text;
  ASSERT_FALSE(granted->certificates.empty());
  EXPECT_TRUE(granted->certificates.front().public_key()->equals_public(*rq.signer_key));
  EXPECT_EQ(requests().size(), 1u);
}

TEST_F(UpstreamScepTest, RefusalIsAFailureWithFailInfo) {
  set_grant(ca::GrantMode::kNone);
  ASSERT_NO_FATAL_FAILURE(authenticate());
  auto reply = upstream_.send(make_request(url_, client_key(2), "r2", *certs_, caps_));
  ASSERT_OK(reply);
  EXPECT_EQ(reply->status, UpstreamReply::Status::kFailure);
  ASSERT_TRUE(reply->fail_info.has_value());
  EXPECT_EQ(*reply->fail_info, ca::ScepFailInfo::kBadRequest);
  EXPECT_FALSE(reply->fail_text.empty());
  EXPECT_TRUE(reply->certificates.empty());
}

TEST_F(UpstreamScepTest, ReplyCheckedAgainstAnotherCertificateIsRefused) {
  set_grant(ca::GrantMode::kAuto);
  ASSERT_NO_FATAL_FAILURE(authenticate());
  // Encrypted to the real CA, but the reply is expected from a key the CA does not hold.
  ca::UpstreamCertificates upstream = *certs_;
  upstream.ra_signer = hierarchy().ra_sign;
  auto reply = upstream_.send(make_request(url_, client_key(3), "r3", upstream, caps_));
  ASSERT_FALSE(reply.has_value());
  EXPECT_EQ(reply.error().code(), Code::kInvalidArgument) << reply.error().to_string();
}

TEST_F(UpstreamScepTest, EveryStepIsTraced) {
  set_grant(ca::GrantMode::kAuto);
  std::mutex mu;
  std::vector<std::string> lines;
  const std::uint64_t id =
      log::subscribe(log::Category::kPkiTransactions, [&](log::Category, std::string_view line) {
        std::lock_guard<std::mutex> lock(mu);
        lines.emplace_back(line);
      });
  authenticate();
  Status sent = unavailable("not authenticated");
  if (certs_)
    sent = ::scepter::testing::status_of(
        upstream_.send(make_request(url_, client_key(4), "r4", *certs_, caps_)));
  log::unsubscribe(id);
  EXPECT_OK(sent);
  std::lock_guard<std::mutex> lock(mu);
  auto has = [&](std::string_view text) {
    for (const auto& l : lines) {
      if (l.find(text) != std::string::npos) return true;
    }
    return false;
  };
  EXPECT_TRUE(has("CRYPTO_PKI: Sending CA Certificate Request:"));
  EXPECT_TRUE(has("GET /cgi-bin/pkiclient.exe?operation=GetCACert&message=ca HTTP/1.1"));
  EXPECT_TRUE(has("CRYPTO_PKI: http connection opened"));
  EXPECT_TRUE(has("CRYPTO_PKI: received msg of "));
  EXPECT_TRUE(has("CRYPTO_PKI: transaction GetCACert completed"));
  EXPECT_TRUE(has("POST /cgi-bin/pkiclient.exe?operation=PKIOperation HTTP/1.1"));
  EXPECT_TRUE(has("CRYPTO_PKI: status = 100: certificate is granted"));
}

// An RA's forwarding over the wire: RaForwarder through HttpUpstream to a scepterd CA
// that certified the RA, under `grant ra-auto`.
TEST_F(UpstreamScepTest, AnRaForwardsAReSignedRequestAndTheCaGrantsIt) {
  set_grant(ca::GrantMode::kRaAuto);
  ASSERT_NO_FATAL_FAILURE(authenticate());
  // The RA's certificate, granted by the operator.
  const pki::Key ra_key = key_of(client_key(5));
  auto ra_name = pki::parse_dn("CN=myra, OU=ioscs RA");
  auto ra_csr = pki::make_csr({.subject = ra_name->get(), .key = ra_key});
  auto submitted = server_->submit(ra_csr->der(), ca::RequestSource::kManualPem);
  ASSERT_OK(submitted);
  auto granted = server_->grant(submitted->request.id);
  ASSERT_OK(granted);
  ASSERT_EQ(granted->size(), 1u);
  const pki::Certificate ra_cert = granted->front().certificate;

  ca::RaForwarder forwarder(upstream_, clock_, ra_cert, ra_key, /*transparent=*/false);
  const ca::UpstreamTarget target{url_, *certs_, caps_, std::chrono::seconds(60)};
  auto client_csr = testing::make_csr(client_key(6), "leaf.example.com", "the-ras-password");
  auto client = pki::Csr::parse(testing::csr_der(client_csr.get()));
  ASSERT_OK(client);
  const std::string tid = *transaction_id_for(client_key(6));
  auto out = forwarder.send(target, *client, tid, /*poll=*/false);
  ASSERT_OK(out);
  ASSERT_EQ(out->status, UpstreamReply::Status::kSuccess) << out->fail_text;
  EXPECT_TRUE(out->certificate->public_key()->equals_public(client->public_key()));
  EXPECT_TRUE(out->certificate->signed_by(certs_->issuing_ca()));
  // The CA recorded the RA as the signer, under the client's transactionID.
  bool found = false;
  for (const auto& r : requests()) {
    if (r.transaction_id != tid) continue;
    found = true;
    EXPECT_EQ(r.state, store::RequestState::kGranted);
    EXPECT_EQ(r.signer_cert_der, ra_cert.der());
  }
  EXPECT_TRUE(found);

  // Revoked on the CA, the RA vouches for nobody.
  ASSERT_OK(server_->revoke(*ra_cert.serial()));
  auto late_csr = testing::make_csr(client_key(7), "late.example.com", "");
  auto late = pki::Csr::parse(testing::csr_der(late_csr.get()));
  auto refused = forwarder.send(target, *late, *transaction_id_for(client_key(7)), false);
  ASSERT_OK(refused);
  EXPECT_EQ(refused->status, UpstreamReply::Status::kFailure);
}

}  // namespace
}  // namespace scepter::scep
