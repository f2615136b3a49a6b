// mode ra: a certificate server that enrols its own RA certificate through its
// trustpoint, grants by its own policy, and forwards what it grants to the issuing CA (a
// FakeUpstream standing in for it, answering as scripted).
#include <gtest/gtest.h>
#include <openssl/x509v3.h>

#include "ca/ca_test_support.h"
#include "ca/certificate_server.h"
#include "ca/device.h"
#include "ca/fake_upstream.h"
#include "ca/ra_forwarder.h"
#include "ca/superior_test_support.h"
#include "ca/trustpoint_client.h"
#include "common/fs.h"
#include "pki/name.h"

namespace scepter::ca {
namespace {

using testing::FakeUpstream;
using testing::kStart;
using Answer = FakeUpstream::Answer;
using Kind = UpstreamRequest::Kind;

struct Client {
  pki::Key key = *pki::Key::generate_ec(256);
  std::string csr_der;
  std::string tid;
};

Client make_client(const std::string& subject, const std::string& challenge = "") {
  Client c;
  auto name = pki::parse_dn(subject);
  c.csr_der =
      pki::make_csr({.subject = name->get(), .key = c.key, .challenge_password = challenge})->der();
  c.tid = "TID-" + subject;
  return c;
}

class RaTest : public testing::SuperiorFixture {
 protected:
  RaTest() : SuperiorFixture("ra", "ra.example") {
    tp_.subject_name = "cn=myra, ou=ioscs RA, o=Example";
    tp_.retry_period_minutes = 2;
    make_server();
  }

  void make_server(ServerMode mode = ServerMode::kRa, GrantMode grant = GrantMode::kAuto) {
    server_.reset();
    ServerConfig cfg;
    cfg.label = "ra";
    cfg.mode = mode;
    cfg.grant = grant;
    ServerDeps d = deps();
    d.on_event = [this](EventKind kind, std::string id, std::string state) {
      events_.push_back(fmt::format("{} {} {}", event_kind_name(kind), id, state));
    };
    server_ = std::make_unique<CertificateServer>(cfg, std::move(d));
  }

  // The seed's RA task: authenticate, `no shutdown` (the request goes up), the issuing
  // CA's operator grants, the RA enables itself.
  void enable_ra() {
    ASSERT_NO_FATAL_FAILURE(authenticate());
    upstream_->script({Answer::kPending});
    auto r = server_->enable({.request_superior = true});
    ASSERT_FALSE(r.has_value());
    ASSERT_EQ(server_->state(), ServerState::kWaitingForSuperior) << r.error().message();
    clock_.advance(std::chrono::minutes(3));
    tick();
    ASSERT_EQ(server_->state(), ServerState::kEnabled) << server_->reason();
  }

  Result<ScepOutcome> enroll(const Client& c) {
    return server_->scep_enroll(c.csr_der, {c.tid, /*signer=*/"", false});
  }

  RequestRecord request(RequestId id) {
    auto all = server_->requests();
    for (const auto& r : *all) {
      if (r.id == id) return r;
    }
    ADD_FAILURE() << "no request " << id;
    return {};
  }

  pki::Certificate ra_cert() { return server_->signing_identity()->certificate; }

  // What the server published, as "request 1 pending", from the last call on.
  std::vector<std::string> take_events() { return std::exchange(events_, {}); }

  std::vector<std::string> events_;
};

TEST_F(RaTest, RefusesASubjectThatDoesNotNameTheRaRole) {
  tp_.subject_name = "CN=myra, O=Example";
  authenticate();
  auto r = server_->enable({.request_superior = true});
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message().find("ou=ioscs RA"), std::string::npos) << r.error().message();
  EXPECT_NE(server_->state(), ServerState::kEnabled);
  EXPECT_TRUE(upstream_->kinds().empty());  // nothing was sent
}

TEST_F(RaTest, EnrolsItsOwnRaCertificateAndServesItWithTheChain) {
  enable_ra();
  // The request: the trustpoint's subject with the hostname, no CA certificate asked.
  auto csr = pki::Csr::parse(upstream_->last_csr());
  ASSERT_TRUE(csr.has_value());
  EXPECT_EQ(pki::format_dn_ios(csr->subject()),
            "hostname=ra.example,cn=myra,ou=ioscs RA,o=Example");
  EXPECT_FALSE(pki::requests_ca_certificate(*csr));

  auto id = server_->signing_identity();
  ASSERT_TRUE(id.has_value());
  EXPECT_FALSE(id->certificate.is_ca());
  EXPECT_TRUE(id->certificate.signed_by(upstream_->ca_cert()));
  ASSERT_EQ(id->chain.size(), 1u);
  EXPECT_EQ(id->chain[0], upstream_->ca_cert());
  const ServerInfo info = server_->info();
  ASSERT_TRUE(info.issuing_ca.has_value());
  EXPECT_EQ(*info.issuing_ca, upstream_->ca_cert());
  EXPECT_EQ(info.last_serial, 0u);
  // No CRL and no revocation on an RA: the issuing CA has them.
  EXPECT_EQ(server_->crl_der(), nullptr);
  EXPECT_EQ(server_->revoke(2).code(), Code::kPermissionDenied);
  EXPECT_EQ(server_->unrevoke(2).code(), Code::kPermissionDenied);
  EXPECT_FALSE(fs::exists(dir_.file("ra.p12")));  // no CA key to archive

  // A restart comes back as the same RA.
  make_server();
  ASSERT_TRUE(server_->enable({}).has_value());
  EXPECT_EQ(ra_cert(), id->certificate);

  // At start-up the configuration is replayed line by line into a server whose
  // certificate exists: `mode ra` is taken, a mode the certificate does not fit is not.
  make_server(ServerMode::kRoot);
  ServerConfig cfg = server_->config();
  cfg.mode = ServerMode::kSubCs;
  EXPECT_EQ(server_->set_config(cfg).code(), Code::kPermissionDenied);
  cfg.mode = ServerMode::kRa;
  EXPECT_TRUE(server_->set_config(cfg).ok());
}

// The other shape of RA (RFC 8894 3.5.1): usage keys, one certificate that signs and one
// that clients encrypt to. Both are enrolled, both are served before the CA, requests
// are opened with the encryption key and forwarded under the signature certificate, and
// a restart brings both back.
TEST_F(RaTest, UsageKeysServeASignatureAndAnEncryptionCertificate) {
  ASSERT_TRUE(keys_->remove("ra").ok());
  tp_.rsakeypair_bits = 1024;
  tp_.rsakeypair_encryption_bits = 1024;
  enable_ra();
  auto key = keys_->get("ra");
  ASSERT_TRUE(key && key->encryption_key);
  auto id = server_->signing_identity();
  ASSERT_TRUE(id.has_value());
  ASSERT_TRUE(id->encryption_certificate && id->encryption_key);
  EXPECT_TRUE(id->encryption_key->equals_public(*key->encryption_key));
  EXPECT_TRUE(id->key.equals_public(key->key));
  EXPECT_EQ(X509_get_key_usage(id->certificate.x509()),
            static_cast<std::uint32_t>(KU_DIGITAL_SIGNATURE));
  EXPECT_EQ(X509_get_key_usage(id->encryption_certificate->x509()),
            static_cast<std::uint32_t>(KU_KEY_ENCIPHERMENT));
  EXPECT_TRUE(is_ra_certificate_name(id->encryption_certificate->subject()));
  EXPECT_EQ(id->decryption_certificate(), *id->encryption_certificate);
  const ServerInfo info = server_->info();
  ASSERT_TRUE(info.ra_encryption_certificate.has_value());
  EXPECT_EQ(*info.ra_encryption_certificate, *id->encryption_certificate);

  // A granted request goes upstream under the signature certificate.
  Client c = make_client("CN=leaf, O=Example", "secret-for-the-ra");
  auto out = enroll(c);
  ASSERT_TRUE(out.has_value());
  ASSERT_EQ(out->status, ScepOutcome::Status::kSuccess) << out->fail_text;
  ASSERT_TRUE(upstream_->last_signer().has_value());
  EXPECT_EQ(*upstream_->last_signer(), id->certificate);

  make_server();
  ASSERT_TRUE(server_->enable({}).has_value()) << server_->reason();
  auto again = server_->signing_identity();
  ASSERT_TRUE(again.has_value() && again->encryption_certificate);
  EXPECT_EQ(*again->encryption_certificate, *id->encryption_certificate);
  EXPECT_EQ(again->certificate, id->certificate);
}

// An RA with usage keys rolls over with a new pair of usage keys: two requests, a shadow
// once both certificates have come (served by GetNextCACert as GetCACert orders them,
// kept across a restart), and both take over at the expiry of the current ones.
TEST_F(RaTest, UsageKeysRollOverTogether) {
  ASSERT_TRUE(keys_->remove("ra").ok());
  tp_.rsakeypair_bits = 1024;
  tp_.rsakeypair_encryption_bits = 1024;
  enable_ra();
  ServerConfig cfg = server_->config();
  cfg.auto_rollover_days = 30;
  ASSERT_TRUE(server_->set_config(cfg).ok());
  const SigningIdentity before = *server_->signing_identity();
  ASSERT_TRUE(before.encryption_certificate.has_value());

  clock_.set(before.certificate.not_after() - std::chrono::days(29));
  upstream_->set_now(clock_.now());
  const std::size_t sent = upstream_->kinds().size();
  tick();
  auto shadow = server_->rollover_chain();
  ASSERT_EQ(shadow.size(), 3u) << server_->reason();
  EXPECT_EQ(upstream_->kinds().size(), sent + 2);  // one request per key
  auto next = keys_->get("ra.rollover");
  ASSERT_TRUE(next && next->encryption_key);
  EXPECT_EQ(next->encryption_key->bits(), 1024);
  EXPECT_TRUE(shadow[0].public_key()->equals_public(next->key));
  EXPECT_TRUE(shadow[1].public_key()->equals_public(*next->encryption_key));
  EXPECT_EQ(X509_get_key_usage(shadow[1].x509()), static_cast<std::uint32_t>(KU_KEY_ENCIPHERMENT));
  EXPECT_EQ(shadow[2], upstream_->ca_cert());
  EXPECT_EQ(*server_->rollover_certificate(), shadow[0]);
  make_server();
  cfg.label = "ra";
  ASSERT_TRUE(server_->set_config(cfg).ok());
  ASSERT_TRUE(server_->enable({}).has_value()) << server_->reason();
  EXPECT_EQ(server_->rollover_chain(), shadow);

  clock_.set(before.certificate.not_after() + std::chrono::seconds(1));
  upstream_->set_now(clock_.now());
  tick();  // the switch, which rebuilds the server
  for (int i = 0; i < 3 && server_->state() != ServerState::kEnabled; ++i) tick();
  ASSERT_EQ(server_->state(), ServerState::kEnabled) << server_->reason();
  auto after = server_->signing_identity();
  ASSERT_TRUE(after.has_value() && after->encryption_certificate);
  EXPECT_EQ(after->certificate, shadow[0]);
  EXPECT_EQ(*after->encryption_certificate, shadow[1]);
  EXPECT_TRUE(after->encryption_key->equals_public(*next->encryption_key));
  EXPECT_FALSE(server_->rollover_certificate().has_value());
  auto state = client_->state("ra");
  ASSERT_TRUE(state && state->encryption_certificate);
  EXPECT_EQ(*state->certificate, shadow[0]);
  EXPECT_EQ(*state->encryption_certificate, shadow[1]);
  EXPECT_FALSE(state->rollover_encryption_certificate.has_value());
  // Requests are forwarded under the new signature certificate.
  Client c = make_client("CN=leaf, O=Example", "secret-for-the-ra");
  auto out = enroll(c);
  ASSERT_TRUE(out.has_value());
  ASSERT_EQ(out->status, ScepOutcome::Status::kSuccess) << out->fail_text;
  EXPECT_EQ(*upstream_->last_signer(), shadow[0]);
}

TEST_F(RaTest, GrantedRequestsAreResignedByTheRaAndForwardedWithTheClientsTransaction) {
  enable_ra();
  const int before = upstream_->issued();
  Client c = make_client("CN=leaf, O=Example", "secret-for-the-ra");
  auto out = enroll(c);
  ASSERT_TRUE(out.has_value());
  ASSERT_EQ(out->status, ScepOutcome::Status::kSuccess) << out->fail_text;
  EXPECT_EQ(upstream_->issued(), before + 1);
  // The issued certificate is the client's key, from the issuing CA.
  auto key = out->certificate->public_key();
  EXPECT_TRUE(key->equals_public(c.key));
  EXPECT_TRUE(out->certificate->signed_by(upstream_->ca_cert()));
  // Upstream: PKCSReq with the client's transactionID, signed by the RA certificate.
  EXPECT_EQ(upstream_->kinds().back(), Kind::kPkcsReq);
  EXPECT_EQ(upstream_->transaction_ids().back(), c.tid);
  ASSERT_TRUE(upstream_->last_signer().has_value());
  EXPECT_EQ(*upstream_->last_signer(), ra_cert());
  // The PKCS#10 went up re-signed: same subject and key, the RA's signature, and the
  // challenge password (the RA's secret) left out.
  auto sent = pki::Csr::parse(upstream_->last_csr());
  ASSERT_TRUE(sent.has_value());
  EXPECT_NE(sent->der(), c.csr_der);
  EXPECT_EQ(pki::format_dn_ios(sent->subject()), "cn=leaf,o=Example");
  EXPECT_TRUE(sent->public_key().equals_public(c.key));
  EXPECT_FALSE(sent->verify_signature().ok());
  EXPECT_TRUE(sent->verify_signature_with(*ra_cert().public_key()).ok());
  EXPECT_FALSE(sent->challenge_password().has_value());

  // The resend gets the same certificate, without asking upstream again.
  const auto calls = upstream_->kinds().size();
  auto again = enroll(c);
  ASSERT_EQ(again->status, ScepOutcome::Status::kSuccess);
  EXPECT_EQ(*again->certificate, *out->certificate);
  EXPECT_EQ(upstream_->kinds().size(), calls);
  EXPECT_EQ(request(out->request_id).state, store::RequestState::kGranted);
}

TEST_F(RaTest, TransparentForwardsTheClientsRequestUnchanged) {
  make_server(ServerMode::kRaTransparent);
  enable_ra();
  Client c = make_client("CN=leaf2", "pw");
  auto out = enroll(c);
  ASSERT_EQ(out->status, ScepOutcome::Status::kSuccess) << out->fail_text;
  EXPECT_EQ(upstream_->last_csr(), c.csr_der);
  EXPECT_EQ(*upstream_->last_signer(), ra_cert());
}

TEST_F(RaTest, ManualGrantThenTheIssuingCaDecidesAndTheClientsPollCollects) {
  make_server(ServerMode::kRa, GrantMode::kManual);
  enable_ra();
  const auto calls = upstream_->kinds().size();
  Client c = make_client("CN=waiting");
  auto out = enroll(c);
  ASSERT_EQ(out->status, ScepOutcome::Status::kPending);
  const RequestId id = out->request_id;
  (void)take_events();
  // Waiting for the RA's operator: nothing goes upstream, however often the client polls.
  ASSERT_EQ(server_->scep_poll(c.tid)->status, ScepOutcome::Status::kPending);
  EXPECT_EQ(upstream_->kinds().size(), calls);
  EXPECT_EQ(request(id).state, store::RequestState::kPending);

  // The RA's operator grants: forwarded, pending at the issuing CA.
  upstream_->script({Answer::kPending});
  auto granted = server_->grant(id);
  ASSERT_TRUE(granted.has_value());
  EXPECT_TRUE(granted->empty());
  EXPECT_EQ(request(id).state, store::RequestState::kAuthorized);
  EXPECT_EQ(upstream_->kinds().back(), Kind::kPkcsReq);
  // A poll right away does not go upstream again...
  const auto sent = upstream_->kinds().size();
  EXPECT_EQ(server_->scep_poll(c.tid)->status, ScepOutcome::Status::kPending);
  EXPECT_EQ(upstream_->kinds().size(), sent);
  // ...one a little later asks the issuing CA, which has granted meanwhile.
  clock_.advance(Seconds(5));
  auto done = server_->scep_poll(c.tid);
  ASSERT_EQ(done->status, ScepOutcome::Status::kSuccess) << done->fail_text;
  EXPECT_EQ(upstream_->kinds().back(), Kind::kCertPoll);
  EXPECT_EQ(upstream_->transaction_ids().back(), c.tid);
  EXPECT_TRUE(done->certificate->public_key()->equals_public(c.key));
  EXPECT_EQ(request(id).state, store::RequestState::kGranted);
}

// The event hub hears of an RA's requests as of a CA's: stored, authorized (forwarded),
// granted with the certificate that came back, or rejected by the RA's operator.
TEST_F(RaTest, RequestsAndTheCertificatesReceivedArePublished) {
  make_server(ServerMode::kRa, GrantMode::kManual);
  enable_ra();
  (void)take_events();
  Client c = make_client("CN=watched");
  auto out = enroll(c);
  ASSERT_EQ(out->status, ScepOutcome::Status::kPending);
  const std::string id = std::to_string(out->request_id);
  EXPECT_EQ(take_events(), std::vector<std::string>{"request " + id + " pending"});

  auto unwanted = enroll(make_client("CN=unwanted"));
  ASSERT_EQ(unwanted->status, ScepOutcome::Status::kPending);
  ASSERT_OK(server_->reject(unwanted->request_id));
  const std::string uid = std::to_string(unwanted->request_id);
  EXPECT_EQ(take_events(), (std::vector<std::string>{"request " + uid + " pending",
                                                     "request " + uid + " rejected"}));

  upstream_->script({Answer::kPending});
  ASSERT_TRUE(server_->grant(out->request_id).has_value());
  EXPECT_EQ(take_events(), std::vector<std::string>{"request " + id + " authorized"});

  clock_.advance(Seconds(5));
  auto done = server_->scep_poll(c.tid);
  ASSERT_EQ(done->status, ScepOutcome::Status::kSuccess) << done->fail_text;
  const RequestRecord r = request(out->request_id);
  ASSERT_TRUE(r.serial.has_value());
  EXPECT_EQ(take_events(), (std::vector<std::string>{
                               "request " + id + " granted",
                               "certificate " + pki::SerialNumber(*r.serial).hex() + " issued"}));
}

// Granted at once by the RA, refused by the issuing CA.
TEST_F(RaTest, ARefusalUpstreamIsPublished) {
  enable_ra();
  (void)take_events();
  upstream_->script({Answer::kReject});
  auto out = enroll(make_client("CN=refused"));
  ASSERT_EQ(out->status, ScepOutcome::Status::kFailure);
  const std::string id = std::to_string(out->request_id);
  EXPECT_EQ(take_events(), (std::vector<std::string>{"request " + id + " authorized",
                                                     "request " + id + " rejected"}));
}

TEST_F(RaTest, ARefusalUpstreamIsTheClientsAnswer) {
  enable_ra();
  upstream_->script({Answer::kReject});
  Client c = make_client("CN=refused");
  auto out = enroll(c);
  ASSERT_EQ(out->status, ScepOutcome::Status::kFailure);
  EXPECT_EQ(out->fail_info, ScepFailInfo::kBadRequest);
  EXPECT_NE(out->fail_text.find("issuing CA rejected"), std::string::npos) << out->fail_text;
  const RequestRecord r = request(out->request_id);
  EXPECT_EQ(r.state, store::RequestState::kDenied);
  // And stays so.
  auto poll = server_->scep_poll(c.tid);
  EXPECT_EQ(poll->status, ScepOutcome::Status::kFailure);
}

TEST_F(RaTest, AnUnreachableCaIsAskedAgainAndARestartPollsRatherThanResends) {
  enable_ra();
  upstream_->script({Answer::kDown});
  Client c = make_client("CN=patient");
  auto out = enroll(c);
  ASSERT_EQ(out->status, ScepOutcome::Status::kPending);
  const RequestId id = out->request_id;
  EXPECT_EQ(request(id).state, store::RequestState::kAuthorized);

  // For a while the issuing CA is not tried again: another request waits without a
  // connect timeout of its own.
  const auto tried = upstream_->kinds().size();
  Client other = make_client("CN=also-patient");
  auto waiting = enroll(other);
  ASSERT_EQ(waiting->status, ScepOutcome::Status::kPending);
  EXPECT_EQ(upstream_->kinds().size(), tried);
  ASSERT_TRUE(server_->remove(waiting->request_id).ok());
  clock_.advance(RaForwarder::kUnreachableBackoff);

  // Restarted while the request waits: the timer asks about it (CertPoll: it may have
  // arrived), and the issuing CA that never saw it gets it again.
  make_server();
  ASSERT_TRUE(server_->enable({}).has_value());
  upstream_->script({Answer::kUnknown, Answer::kPending});
  server_->poll_upstream();
  auto kinds = upstream_->kinds();
  ASSERT_GE(kinds.size(), 2u);
  EXPECT_EQ(kinds.back(), Kind::kCertPoll);
  // Not before the retry period (two minutes here).
  clock_.advance(Seconds(30));
  server_->poll_upstream();
  EXPECT_EQ(upstream_->kinds().size(), kinds.size());
  clock_.advance(Seconds(90));
  server_->poll_upstream();
  EXPECT_EQ(upstream_->kinds().back(), Kind::kPkcsReq);  // sent again: the CA did not know it
  EXPECT_EQ(request(id).state, store::RequestState::kAuthorized);
  clock_.advance(std::chrono::minutes(2));
  const int before = upstream_->issued();
  server_->poll_upstream();
  EXPECT_EQ(upstream_->kinds().back(), Kind::kCertPoll);
  EXPECT_EQ(upstream_->issued(), before + 1);
  EXPECT_EQ(request(id).state, store::RequestState::kGranted);
  auto collected = server_->scep_poll(c.tid);
  ASSERT_EQ(collected->status, ScepOutcome::Status::kSuccess);
  EXPECT_EQ(upstream_->issued(), before + 1);  // no second certificate
}

TEST_F(RaTest, WhatWaitsForTheIssuingCaCountsAgainstThePendingLimit) {
  enable_ra();
  ServerConfig cfg = server_->config();
  cfg.max_pending_requests = 1;
  ASSERT_TRUE(server_->set_config(cfg).ok());
  upstream_->set_fallback(Answer::kDown);
  ASSERT_EQ(enroll(make_client("CN=first"))->status, ScepOutcome::Status::kPending);
  auto second = enroll(make_client("CN=second"));
  ASSERT_EQ(second->status, ScepOutcome::Status::kFailure);
  EXPECT_NE(second->fail_text.find("waiting for the issuing CA"), std::string::npos);
  EXPECT_EQ(server_->requests()->size(), 1u);  // the refusal is not stored
}

TEST_F(RaTest, AnUnusableAnswerLeavesTheRequestWaiting) {
  enable_ra();
  upstream_->script({Answer::kForged});
  Client c = make_client("CN=forged");
  auto out = enroll(c);
  ASSERT_EQ(out->status, ScepOutcome::Status::kPending);
  EXPECT_EQ(request(out->request_id).state, store::RequestState::kAuthorized);
}

TEST_F(RaTest, IssuesNoCaCertificatesAndTakesRenewalsAsNewRequests) {
  enable_ra();
  auto ca = server_->scep_enroll(testing::make_csr_der_ca("CN=wannabe-ca"), {"T-CA", "", false});
  ASSERT_EQ(ca->status, ScepOutcome::Status::kFailure);
  EXPECT_NE(ca->fail_text.find("RA mode"), std::string::npos);
  Client c = make_client("CN=renewing");
  auto renewal = server_->scep_enroll(c.csr_der, {c.tid, "", /*renewal=*/true});
  ASSERT_EQ(renewal->status, ScepOutcome::Status::kSuccess) << renewal->fail_text;
  EXPECT_EQ(upstream_->kinds().back(), Kind::kPkcsReq);
}

// The issuing CA's side: a request an RA of this CA re-signed is the RA's word.
class RaResignedTest : public ::testing::Test {
 protected:
  RaResignedTest() {
    EXPECT_TRUE(h_.set([](ServerConfig& c) { c.grant = GrantMode::kRaAuto; }).ok());
    EXPECT_TRUE(h_.server().enable({}).has_value());
  }

  // A certificate of this CA for a new key, granted by the operator.
  std::pair<pki::Certificate, pki::Key> certify(const std::string& subject) {
    pki::Key key = *pki::Key::generate_ec(256);
    auto name = pki::parse_dn(subject);
    auto csr = pki::make_csr({.subject = name->get(), .key = key});
    auto out = h_.server().submit(csr->der(), RequestSource::kManualPem);
    EXPECT_TRUE(out.has_value());
    auto granted = h_.server().grant(out->request.id);
    EXPECT_TRUE(granted.has_value() && granted->size() == 1u);
    return {granted->front().certificate, key};
  }

  // The client's request for `subject`, signed by `signer` instead of its own key.
  std::string resigned(const std::string& subject, const pki::Key& client, const pki::Key& signer) {
    auto name = pki::parse_dn(subject);
    return pki::make_csr({.subject = name->get(), .key = signer, .subject_key = &client})->der();
  }

  testing::ServerHarness h_;
};

TEST_F(RaResignedTest, GrantsARequestReSignedByItsRaAndNoOtherCertificate) {
  auto [ra, ra_key] = certify("CN=myra, OU=ioscs RA");
  pki::Key client = *pki::Key::generate_ec(256);
  auto out = h_.server().scep_enroll(resigned("CN=leaf", client, ra_key), {"T1", ra.der(), false});
  ASSERT_TRUE(out.has_value());
  ASSERT_EQ(out->status, ScepOutcome::Status::kSuccess) << out->fail_text;
  EXPECT_TRUE(out->certificate->public_key()->equals_public(client));

  // A certificate of ours that is not an RA's vouches for nobody else's key.
  auto [router, router_key] = certify("CN=router");
  pki::Key other = *pki::Key::generate_ec(256);
  auto refused =
      h_.server().scep_enroll(resigned("CN=other", other, router_key), {"T2", router.der(), false});
  ASSERT_EQ(refused->status, ScepOutcome::Status::kFailure);
  EXPECT_EQ(refused->fail_info, ScepFailInfo::kBadMessageCheck);
  // Nor does the RA once revoked.
  ASSERT_TRUE(h_.server().revoke(*ra.serial()).ok());
  pki::Key late = *pki::Key::generate_ec(256);
  auto revoked =
      h_.server().scep_enroll(resigned("CN=late", late, ra_key), {"T3", ra.der(), false});
  ASSERT_EQ(revoked->status, ScepOutcome::Status::kFailure);
}

}  // namespace
}  // namespace scepter::ca
