#include "ca/trustpoint_client.h"

#include <gtest/gtest.h>
#include <openssl/x509v3.h>

#include "ca/ca_test_support.h"
#include "ca/device.h"
#include "ca/fake_upstream.h"
#include "common/fs.h"
#include "pki/issuer.h"
#include "pki/name.h"

namespace scepter::ca {
namespace {

using testing::FakeUpstream;
using testing::kStart;
using Answer = FakeUpstream::Answer;
using Kind = UpstreamRequest::Kind;
using RS = UpstreamReply::Status;

class TrustpointClientTest : public ::testing::Test {
 protected:
  TrustpointClientTest() {
    keys_ = std::move(*KeyStore::open(dir_.file("keys"), "master", testing::kTestKdfIterations));
    // A key for the trustpoint up front: generating RSA keys would only slow the tests.
    KeyEntry e{"r1-key", testing::shared_ca_key(), KeyUsage::kGeneralPurpose, false, clock_.now()};
    EXPECT_TRUE(keys_->put(e).ok());
    tp_.name = "tp";
    tp_.enrollment_url = "http://127.0.0.1:1/";
    tp_.rsakeypair = "r1-key";
    tp_.subject_name = "CN=r1, O=Example";
    reopen();
  }

  void reopen() {
    client_.reset();
    client_ = std::make_unique<TrustpointClient>(*keys_, clock_, dir_.path(), upstream_);
    client_->on_change([this](const std::string& name) { changed_.push_back(name); });
  }

  void authenticate() {
    auto fetched = client_->fetch_ca(tp_, tp_.name);
    ASSERT_TRUE(fetched.has_value()) << fetched.error().message();
    ASSERT_TRUE(client_->accept_ca(tp_.name, *fetched).ok());
  }

  Result<EnrollResult> enroll(EnrollOptions options = {}) {
    return client_->enroll(tp_, options, "r1.example.com");
  }

  void tick() {
    client_->tick(
        [this](const std::string& name) -> std::optional<TrustpointConfig> {
          if (name == tp_.name) return tp_;
          return std::nullopt;
        },
        "r1.example.com");
  }

  store::testing::TempDir dir_;
  FakeClock clock_{from_unix(kStart)};
  std::unique_ptr<KeyStore> keys_;
  std::shared_ptr<FakeUpstream> upstream_ =
      std::make_shared<FakeUpstream>(*pki::Key::generate_ec(256), from_unix(kStart));
  std::unique_ptr<TrustpointClient> client_;
  TrustpointConfig tp_;
  std::vector<std::string> changed_;
};

TEST_F(TrustpointClientTest, AuthenticateNeedsAnEnrollmentUrl) {
  tp_.enrollment_url.clear();
  auto fetched = client_->fetch_ca(tp_, "tp");
  ASSERT_FALSE(fetched.has_value());
  EXPECT_EQ(fetched.error().message(),
            "You must specify an enrollment URL for this CA before you can authenticate it.");
}

TEST_F(TrustpointClientTest, EnrollNeedsAuthentication) {
  auto r = enroll();
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), Code::kPermissionDenied);
  EXPECT_NE(r.error().message().find("crypto pki authenticate tp"), std::string::npos);
  EXPECT_TRUE(upstream_->kinds().empty());
}

TEST_F(TrustpointClientTest, GrantedAtOnceAndKeptAcrossRestart) {
  authenticate();
  auto r = enroll({.challenge_password = "secret"});
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(r->status, RS::kSuccess);
  ASSERT_TRUE(r->certificate.has_value());
  EXPECT_EQ(r->fingerprint_md5.size(), 32u);
  // The request: our key, the subject-name after the hostname, the challenge password.
  auto csr = pki::Csr::parse(upstream_->last_csr());
  ASSERT_TRUE(csr.has_value());
  EXPECT_TRUE(csr->public_key().equals_public(testing::shared_ca_key()));
  EXPECT_EQ(pki::format_dn_ios(csr->subject()), "hostname=r1.example.com,cn=r1,o=Example");
  EXPECT_EQ(csr->challenge_password().value_or(""), "secret");
  EXPECT_FALSE(pki::requests_ca_certificate(*csr));
  EXPECT_EQ(changed_, std::vector<std::string>{"tp"});

  reopen();
  auto st = client_->state("tp");
  ASSERT_TRUE(st.has_value());
  ASSERT_TRUE(st->certificate.has_value());
  EXPECT_EQ(*st->certificate, *r->certificate);
  EXPECT_EQ(st->ca->issuing_ca(), upstream_->ca_cert());
  EXPECT_TRUE(st->caps.post);
  EXPECT_FALSE(st->pending.has_value());
}

TEST_F(TrustpointClientTest, PendingIsPolledAtTheRetryPeriodAndSurvivesARestart) {
  tp_.retry_period_minutes = 2;
  authenticate();
  upstream_->script({Answer::kPending, Answer::kPending});
  auto r = enroll();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, RS::kPending);
  tick();  // not yet time
  EXPECT_EQ(upstream_->kinds().size(), 1u);
  clock_.advance(std::chrono::minutes(2));
  tick();
  ASSERT_EQ(upstream_->kinds(), (std::vector<Kind>{Kind::kPkcsReq, Kind::kCertPoll}));

  // scepterd restarts while the CA still has not decided: the same request is polled.
  reopen();
  auto st = client_->state("tp");
  ASSERT_TRUE(st && st->pending);
  EXPECT_TRUE(st->pending->delivered());
  EXPECT_EQ(st->pending->polls, 1);
  clock_.advance(std::chrono::minutes(2));
  tick();  // the fallback grants
  auto kinds = upstream_->kinds();
  ASSERT_EQ(kinds.size(), 3u);
  EXPECT_EQ(kinds[2], Kind::kCertPoll);
  auto tids = upstream_->transaction_ids();
  EXPECT_EQ(tids[0], tids[2]);
  st = client_->state("tp");
  ASSERT_TRUE(st.has_value());
  EXPECT_TRUE(st->certificate.has_value());
  EXPECT_FALSE(st->pending.has_value());
  EXPECT_EQ(upstream_->issued(), 1);
}

TEST_F(TrustpointClientTest, AnUnreachableCaIsRetriedWithTheSameRequest) {
  authenticate();
  upstream_->script({Answer::kDown, Answer::kDown});
  auto r = enroll();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, RS::kPending);
  EXPECT_NE(r->error.find("Connection refused"), std::string::npos);
  auto st = client_->state("tp");
  ASSERT_TRUE(st && st->pending);
  EXPECT_FALSE(st->pending->delivered());
  EXPECT_NE(st->last_error.find("Connection refused"), std::string::npos);
  clock_.advance(std::chrono::minutes(1));
  tick();
  clock_.advance(std::chrono::minutes(1));
  tick();  // back: granted
  // Never delivered until the end: every attempt is the PKCSReq again, with one ID.
  EXPECT_EQ(upstream_->kinds(),
            (std::vector<Kind>{Kind::kPkcsReq, Kind::kPkcsReq, Kind::kPkcsReq}));
  auto tids = upstream_->transaction_ids();
  EXPECT_EQ(tids[0], tids[1]);
  EXPECT_EQ(tids[1], tids[2]);
  st = client_->state("tp");
  EXPECT_TRUE(st->certificate.has_value());
  EXPECT_TRUE(st->last_error.empty());
}

TEST_F(TrustpointClientTest, RejectionEndsTheRequestAndSaysWhy) {
  authenticate();
  upstream_->script({Answer::kPending, Answer::kReject});
  ASSERT_TRUE(enroll().has_value());
  clock_.advance(std::chrono::minutes(1));
  tick();
  auto st = client_->state("tp");
  ASSERT_TRUE(st.has_value());
  EXPECT_FALSE(st->pending.has_value());
  EXPECT_FALSE(st->certificate.has_value());
  EXPECT_EQ(st->last_error, "the CA rejected the request: badRequest (rejected by the operator)");
  EXPECT_EQ(changed_, std::vector<std::string>{"tp"});
  // A new enrolment is a new transaction, not a resend of the refused one.
  ASSERT_TRUE(enroll().has_value());
  auto tids = upstream_->transaction_ids();
  EXPECT_NE(tids.front(), tids.back());
}

TEST_F(TrustpointClientTest, RetryCountBoundsThePolls) {
  tp_.retry_count = 2;
  authenticate();
  upstream_->set_fallback(Answer::kPending);
  ASSERT_TRUE(enroll().has_value());
  for (int i = 0; i < 5; ++i) {
    clock_.advance(std::chrono::minutes(1));
    tick();
  }
  EXPECT_EQ(upstream_->kinds().size(), 3u);  // the request and two polls
  auto st = client_->state("tp");
  EXPECT_FALSE(st->pending.has_value());
  EXPECT_NE(st->last_error.find("no certificate after 2 attempts"), std::string::npos);
}

TEST_F(TrustpointClientTest, AForgedAnswerChangesNothing) {
  authenticate();
  upstream_->script({Answer::kForged});
  auto r = enroll();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, RS::kPending);
  auto st = client_->state("tp");
  EXPECT_TRUE(st->pending.has_value());
  EXPECT_FALSE(st->certificate.has_value());
  EXPECT_NE(st->last_error.find("does not verify"), std::string::npos);
}

TEST_F(TrustpointClientTest, OneRequestAtATime) {
  authenticate();
  upstream_->script({Answer::kPending});
  ASSERT_TRUE(enroll().has_value());
  auto again = enroll();
  ASSERT_FALSE(again.has_value());
  EXPECT_NE(again.error().message().find("already waiting"), std::string::npos);
  ASSERT_TRUE(client_->cancel("tp").ok());
  EXPECT_TRUE(enroll().has_value());
}

TEST_F(TrustpointClientTest, ACaRequestAsksForACaCertificate) {
  authenticate();
  auto r = enroll({.subject = "CN=sub, O=Example", .ca_request = true});
  ASSERT_TRUE(r.has_value());
  auto csr = pki::Csr::parse(upstream_->last_csr());
  ASSERT_TRUE(csr.has_value());
  EXPECT_TRUE(pki::requests_ca_certificate(*csr));
  EXPECT_EQ(pki::format_dn_ios(csr->subject()), "cn=sub,o=Example");
}

TEST_F(TrustpointClientTest, AMissingKeyIsGeneratedUnderTheHostname) {
  tp_.rsakeypair.clear();
  tp_.rsakeypair_bits = 1024;  // quick to generate; the size is what is checked
  authenticate();
  auto r = enroll();
  ASSERT_TRUE(r.has_value()) << r.error().message();
  auto key = keys_->get("r1.example.com");
  ASSERT_TRUE(key.has_value());
  auto csr = pki::Csr::parse(upstream_->last_csr());
  EXPECT_EQ(csr->key_bits(), 1024);
  EXPECT_TRUE(csr->public_key().equals_public(key->key));
}

TEST_F(TrustpointClientTest, ForgetRemovesTheSavedState) {
  authenticate();
  ASSERT_TRUE(enroll().has_value());
  ASSERT_TRUE(client_->forget("tp").ok());
  reopen();
  EXPECT_FALSE(client_->state("tp").has_value());
}

TEST_F(TrustpointClientTest, ACorruptStateFileIsSkipped) {
  ASSERT_TRUE(fs::write_atomic(dir_.file("bad.tp"), "{not json").ok());
  authenticate();
  reopen();
  EXPECT_FALSE(client_->state("bad").has_value());
  EXPECT_TRUE(client_->state("tp").has_value());
}

// IOS usage keys (`rsakeypair LABEL SIZE ENC-SIZE`): both keys are made at enrolment,
// each is requested with its own PKCS#10 and transactionID asking for its key usage,
// the two are polled together across a restart, and the trustpoint ends with a
// signature and an encryption certificate.
TEST_F(TrustpointClientTest, UsageKeysEnrolTwoCertificatesTogether) {
  tp_.rsakeypair = "uk";
  tp_.rsakeypair_bits = 1024;
  tp_.rsakeypair_encryption_bits = 1024;
  tp_.retry_period_minutes = 1;
  authenticate();
  upstream_->script({Answer::kPending, Answer::kGrant, Answer::kPending});
  auto r = enroll();
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(r->status, RS::kPending);
  EXPECT_EQ(r->encryption_fingerprint_md5.size(), 32u);
  EXPECT_NE(r->encryption_fingerprint_md5, r->fingerprint_md5);
  auto key = keys_->get("uk");
  ASSERT_TRUE(key && key->encryption_key);
  EXPECT_EQ(key->usage, KeyUsage::kUsageKeys);
  EXPECT_EQ(key->key.bits(), 1024);
  EXPECT_EQ(key->encryption_key->bits(), 1024);
  // The encryption request went second, for the encryption key, asking to encrypt.
  auto csr = pki::Csr::parse(upstream_->last_csr());
  ASSERT_TRUE(csr.has_value());
  EXPECT_TRUE(csr->public_key().equals_public(*key->encryption_key));
  auto st = client_->state("tp");
  ASSERT_TRUE(st && st->pending);
  ASSERT_EQ(st->pending->parts.size(), 1u);  // the encryption one was granted at once
  EXPECT_FALSE(st->pending->parts[0].encryption);
  ASSERT_TRUE(st->encryption_certificate.has_value());
  EXPECT_FALSE(st->certificate.has_value());
  EXPECT_FALSE(st->enrolled(true));
  EXPECT_EQ(X509_get_key_usage(st->encryption_certificate->x509()),
            static_cast<std::uint32_t>(KU_KEY_ENCIPHERMENT));

  reopen();  // the signature request is still polled after a restart
  clock_.advance(std::chrono::minutes(1));
  tick();  // PENDING again
  clock_.advance(std::chrono::minutes(1));
  tick();  // granted
  EXPECT_EQ(upstream_->kinds(),
            (std::vector<Kind>{Kind::kPkcsReq, Kind::kPkcsReq, Kind::kCertPoll, Kind::kCertPoll}));
  st = client_->state("tp");
  ASSERT_TRUE(st.has_value());
  EXPECT_FALSE(st->pending.has_value());
  ASSERT_TRUE(st->enrolled(true));
  auto sig_key = st->certificate->public_key();
  ASSERT_TRUE(sig_key.has_value());
  EXPECT_TRUE(sig_key->equals_public(key->key));
  EXPECT_EQ(X509_get_key_usage(st->certificate->x509()),
            static_cast<std::uint32_t>(KU_DIGITAL_SIGNATURE));
  reopen();
  st = client_->state("tp");
  ASSERT_TRUE(st && st->enrolled(true));

  // A CA is never usage keys.
  ASSERT_TRUE(client_->forget("tp").ok());
  authenticate();
  auto ca = enroll({.ca_request = true});
  ASSERT_FALSE(ca.has_value());
  EXPECT_EQ(ca.error().code(), Code::kInvalidArgument);
}

// One of the two requests refused: the enrolment fails as a whole, with the CA's words.
TEST_F(TrustpointClientTest, UsageKeysOneRefusalFailsTheEnrolment) {
  tp_.rsakeypair = "uk";
  tp_.rsakeypair_bits = 1024;
  tp_.rsakeypair_encryption_bits = 1024;
  authenticate();
  upstream_->script({Answer::kPending, Answer::kReject});
  auto r = enroll();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, RS::kFailure);
  EXPECT_NE(r->error.find("rejected by the operator"), std::string::npos) << r->error;
  auto st = client_->state("tp");
  ASSERT_TRUE(st.has_value());
  EXPECT_FALSE(st->pending.has_value());
  EXPECT_FALSE(st->enrolled(true));
}

TEST_F(TrustpointClientTest, AutoEnrollEnrolsOnceAuthenticated) {
  tp_.auto_enroll = true;
  tick();  // not authenticated: nothing to do
  EXPECT_TRUE(upstream_->kinds().empty());
  authenticate();
  tick();
  auto st = client_->state("tp");
  ASSERT_TRUE(st && st->certificate);
  tick();  // enrolled: nothing more until renewal time
  EXPECT_EQ(upstream_->kinds().size(), 1u);
}

TEST_F(TrustpointClientTest, AutoEnrollRenewsAtItsPercentSignedByTheCurrentCertificate) {
  authenticate();
  ASSERT_TRUE(enroll().has_value());
  const pki::Certificate first = *client_->state("tp")->certificate;
  tp_.auto_enroll = true;
  tp_.auto_enroll_percent = 80;  // of 365 days: 292
  clock_.advance(std::chrono::days(291));
  tick();
  EXPECT_EQ(upstream_->kinds().size(), 1u);
  clock_.advance(std::chrono::days(2));
  upstream_->set_now(clock_.now());
  tick();
  // The CA offers Renewal: a RenewalReq, signed by the certificate it renews, same key.
  ASSERT_EQ(upstream_->kinds().size(), 2u);
  EXPECT_EQ(upstream_->kinds()[1], Kind::kRenewalReq);
  ASSERT_TRUE(upstream_->last_signer().has_value());
  EXPECT_EQ(*upstream_->last_signer(), first);
  auto csr = pki::Csr::parse(upstream_->last_csr());
  EXPECT_EQ(pki::format_dn_ios(csr->subject()), pki::format_dn_ios(first.subject()));
  const pki::Certificate renewed = *client_->state("tp")->certificate;
  EXPECT_NE(renewed, first);
  EXPECT_TRUE(renewed.public_key()->equals_public(testing::shared_ca_key()));
  tick();  // the new certificate is young: no second renewal
  EXPECT_EQ(upstream_->kinds().size(), 2u);
}

TEST_F(TrustpointClientTest, AutoEnrollRegenerateRenewsWithANewKey) {
  authenticate();
  ASSERT_TRUE(enroll().has_value());
  const pki::Certificate first = *client_->state("tp")->certificate;
  tp_.auto_enroll = true;
  tp_.auto_enroll_percent = 50;
  tp_.auto_enroll_regenerate = true;
  tp_.rsakeypair_bits = 1024;  // quick to generate
  clock_.advance(std::chrono::days(200));
  upstream_->set_now(clock_.now());
  upstream_->script({Answer::kPending});
  tick();
  // While the CA decides, the new key waits beside the current one.
  ASSERT_TRUE(keys_->get("r1-key.new").has_value());
  EXPECT_TRUE(keys_->get("r1-key")->key.equals_public(testing::shared_ca_key()));
  clock_.advance(std::chrono::minutes(1));
  tick();
  auto st = client_->state("tp");
  ASSERT_TRUE(st && st->certificate);
  EXPECT_NE(*st->certificate, first);
  auto key = keys_->get("r1-key");
  ASSERT_TRUE(key.has_value());
  EXPECT_FALSE(key->key.equals_public(testing::shared_ca_key()));
  EXPECT_TRUE(st->certificate->public_key()->equals_public(key->key));
  EXPECT_FALSE(keys_->get("r1-key.new").has_value());
}

// The CA rolls over while a router's certificate is due for renewal: the CA certifies the
// renewal under its next certificate, which the trustpoint fetches (GetNextCACert) to
// check it. The certificate waits, with its new key, until its validity begins; then it
// and the CA's next certificate take over, and the new key takes the trustpoint's label.
TEST_F(TrustpointClientTest, ARenewalDuringTheCasRolloverTakesOverWithTheNextCa) {
  authenticate();
  ASSERT_TRUE(enroll().has_value());
  const pki::Certificate first = *client_->state("tp")->certificate;
  upstream_->roll_over(*pki::Key::generate_ec(256));
  const pki::Certificate next_ca = *upstream_->next_ca_cert();
  tp_.auto_enroll = true;
  tp_.auto_enroll_percent = 50;
  tp_.auto_enroll_regenerate = true;
  tp_.rsakeypair_bits = 1024;  // quick to generate
  clock_.advance(std::chrono::days(200));
  tick();
  auto st = client_->state("tp");
  ASSERT_TRUE(st && st->rollover_certificate) << st->last_error;
  EXPECT_TRUE(st->rollover_certificate->signed_by(next_ca));
  EXPECT_EQ(*st->certificate, first);
  ASSERT_TRUE(st->next_ca.has_value());
  EXPECT_EQ(st->next_ca->issuing_ca(), next_ca);
  EXPECT_EQ(upstream_->next_ca_fetches(), 1);
  EXPECT_TRUE(keys_->get("r1-key")->key.equals_public(testing::shared_ca_key()));
  ASSERT_TRUE(keys_->get("r1-key.new").has_value());
  // Nothing more is asked meanwhile, and a restart keeps it all.
  clock_.advance(std::chrono::days(1));
  tick();
  EXPECT_EQ(upstream_->kinds().size(), 2u);
  reopen();
  ASSERT_TRUE(client_->state("tp")->rollover_certificate.has_value());

  clock_.set(next_ca.not_before());
  tick();
  st = client_->state("tp");
  ASSERT_TRUE(st && st->certificate);
  EXPECT_TRUE(st->certificate->signed_by(next_ca));
  EXPECT_FALSE(st->rollover_certificate.has_value());
  EXPECT_FALSE(st->next_ca.has_value());
  EXPECT_EQ(st->ca->issuing_ca(), next_ca);
  EXPECT_TRUE(st->certificate->public_key()->equals_public(keys_->get("r1-key")->key));
  EXPECT_FALSE(keys_->get("r1-key.new").has_value());
}

// A usage-keys renewal certified under the CA's next certificate: both rollover
// certificates wait beside the current ones, and take over together with the next CA.
TEST_F(TrustpointClientTest, AUsageKeysRenewalUnderTheNextCaTakesOverWithBothCertificates) {
  tp_.rsakeypair = "uk";
  tp_.rsakeypair_bits = 1024;
  tp_.rsakeypair_encryption_bits = 1024;
  authenticate();
  ASSERT_TRUE(enroll().has_value());
  const EnrollmentState first = *client_->state("tp");
  ASSERT_TRUE(first.enrolled(true));
  upstream_->roll_over(*pki::Key::generate_ec(256));
  const pki::Certificate next_ca = *upstream_->next_ca_cert();
  tp_.auto_enroll = true;
  tp_.auto_enroll_percent = 50;
  tp_.auto_enroll_regenerate = true;
  clock_.advance(std::chrono::days(200));
  tick();
  auto st = client_->state("tp");
  ASSERT_TRUE(st.has_value());
  ASSERT_TRUE(st->rollover_granted()) << st->last_error;
  ASSERT_TRUE(st->rollover_encryption_certificate.has_value());
  EXPECT_TRUE(st->rollover_certificate->signed_by(next_ca));
  EXPECT_TRUE(st->rollover_encryption_certificate->signed_by(next_ca));
  EXPECT_EQ(*st->certificate, *first.certificate);
  EXPECT_EQ(*st->encryption_certificate, *first.encryption_certificate);
  reopen();
  ASSERT_TRUE(client_->state("tp")->rollover_encryption_certificate.has_value());

  clock_.set(next_ca.not_before());
  tick();
  st = client_->state("tp");
  ASSERT_TRUE(st && st->enrolled(true));
  EXPECT_TRUE(st->certificate->signed_by(next_ca));
  EXPECT_TRUE(st->encryption_certificate->signed_by(next_ca));
  EXPECT_FALSE(st->rollover_encryption_certificate.has_value());
  auto key = keys_->get("uk");
  ASSERT_TRUE(key && key->encryption_key);
  EXPECT_TRUE(st->encryption_certificate->public_key()->equals_public(*key->encryption_key));
  EXPECT_TRUE(st->certificate->public_key()->equals_public(key->key));
}

}  // namespace
}  // namespace scepter::ca
