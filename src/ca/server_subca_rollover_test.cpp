// The rollover of a subordinate CA (and the same path for an RA): at its autorollover
// timer, or at the operator's `rollover`, it asks its superior for a certificate of its
// new key (LABEL.rollover) signed with its current certificate; what the superior grants
// becomes its shadow, under the superior's current or next certificate, and takes over
// when its current certificate expires. The superior is a FakeUpstream driven by the
// test (the real exchange with a scepterd root runs in tests/integration/test_rollover.py).
#include <gtest/gtest.h>

#include "ca/ca_test_support.h"
#include "ca/certificate_server.h"
#include "ca/fake_upstream.h"
#include "ca/superior_test_support.h"
#include "ca/trustpoint_client.h"
#include "common/fs.h"
#include "pki/name.h"

namespace scepter::ca {
namespace {

using Answer = testing::FakeUpstream::Answer;

class SubCaRolloverTest : public testing::SuperiorFixture {
 protected:
  SubCaRolloverTest() : SuperiorFixture("sub", "host") { make_server(); }

  void make_server() {
    server_.reset();
    ServerConfig cfg = sub_ca_config();
    cfg.auto_rollover_days = 30;
    server_ = std::make_unique<CertificateServer>(cfg, deps());
  }

  // Authenticated, enrolled at once, issuing.
  void enable() {
    authenticate();
    auto r = server_->enable({.request_superior = true});
    ASSERT_TRUE(r.has_value()) << r.error().message();
  }

  pki::Certificate current() { return server_->signing_identity()->certificate; }

  // Ticks until the server is enabled again (a switch rebuilds it).
  void tick_until_enabled() {
    for (int i = 0; i < 3 && server_->state() != ServerState::kEnabled; ++i) tick();
  }
};

TEST_F(SubCaRolloverTest, AtItsTimerItRollsOverThroughTheSuperiorAndSwitchesAtExpiry) {
  enable();
  const pki::Certificate old_cert = current();
  const pki::Key old_key = keys_->get("sub")->key;

  // Before the timer (expiry minus 30 days), nothing is asked.
  clock_.set(old_cert.not_after() - std::chrono::days(31));
  upstream_->set_now(clock_.now());
  tick();
  EXPECT_FALSE(server_->rollover_certificate().has_value());
  EXPECT_EQ(upstream_->kinds().size(), 1u);

  clock_.set(old_cert.not_after() - std::chrono::days(29));
  upstream_->set_now(clock_.now());
  tick();
  auto shadow = server_->rollover_certificate();
  ASSERT_TRUE(shadow.has_value()) << server_->reason();
  // The request: the same subject, a CA, for the new key, signed by the current
  // certificate.
  ASSERT_EQ(upstream_->kinds().size(), 2u);
  auto csr = pki::Csr::parse(upstream_->last_csr());
  ASSERT_TRUE(csr.has_value());
  EXPECT_EQ(pki::format_dn_ios(csr->subject()), "cn=sub,o=Example");
  EXPECT_TRUE(pki::requests_ca_certificate(*csr));
  auto new_key = keys_->get("sub.rollover");
  ASSERT_TRUE(new_key.has_value());
  EXPECT_TRUE(csr->public_key().equals_public(new_key->key));
  EXPECT_FALSE(new_key->key.equals_public(old_key));
  ASSERT_TRUE(upstream_->last_signer().has_value());
  EXPECT_EQ(*upstream_->last_signer(), old_cert);
  // The shadow: the granted certificate, archived, handed out with the chain above it.
  EXPECT_TRUE(shadow->signed_by(upstream_->ca_cert()));
  EXPECT_TRUE(fs::exists(dir_.file("sub-rollover.p12")));
  auto chain = server_->rollover_chain();
  ASSERT_EQ(chain.size(), 2u);
  EXPECT_EQ(chain[0], *shadow);
  EXPECT_EQ(chain[1], upstream_->ca_cert());
  auto state = client_->state("sub");
  ASSERT_TRUE(state.has_value());
  EXPECT_EQ(*state->certificate, old_cert);  // the current one stays until the switch
  // Until then the current key issues.
  auto leaf = server_->submit(testing::make_csr_der("CN=leaf"), RequestSource::kManualPem);
  ASSERT_TRUE(leaf.has_value() && leaf->certificate.has_value());
  EXPECT_TRUE(leaf->certificate->signed_by(old_cert));
  // A restart keeps the shadow.
  make_server();
  ASSERT_TRUE(server_->enable({}).has_value());
  ASSERT_TRUE(server_->rollover_certificate().has_value());
  EXPECT_EQ(*server_->rollover_certificate(), *shadow);

  // At the expiry of the current certificate, the shadow takes over.
  clock_.set(old_cert.not_after() + std::chrono::seconds(1));
  tick();
  tick_until_enabled();
  ASSERT_EQ(server_->state(), ServerState::kEnabled) << server_->reason();
  EXPECT_EQ(current(), *shadow);
  EXPECT_FALSE(server_->rollover_certificate().has_value());
  EXPECT_TRUE(keys_->get("sub")->key.equals_public(new_key->key));
  EXPECT_FALSE(keys_->get("sub.rollover").has_value());
  state = client_->state("sub");
  EXPECT_EQ(*state->certificate, *shadow);
  EXPECT_FALSE(state->rollover_certificate.has_value());
  leaf = server_->submit(testing::make_csr_der("CN=leaf2"), RequestSource::kManualPem);
  ASSERT_TRUE(leaf.has_value() && leaf->certificate.has_value());
  EXPECT_TRUE(leaf->certificate->signed_by(*shadow));
  make_server();
  ASSERT_TRUE(server_->enable({}).has_value());
  EXPECT_EQ(current(), *shadow);
}

TEST_F(SubCaRolloverTest, ARequestWaitingForTheSuperiorIsPolledAndCanBeCancelled) {
  enable();
  const pki::Certificate old_cert = current();
  clock_.advance(std::chrono::days(100));
  upstream_->set_now(clock_.now());
  upstream_->script({Answer::kPending});
  ASSERT_TRUE(server_->start_rollover().ok());
  EXPECT_FALSE(server_->rollover_certificate().has_value());
  auto state = client_->state("sub");
  ASSERT_TRUE(state->pending.has_value());
  EXPECT_TRUE(state->pending->rollover);
  EXPECT_TRUE(keys_->get("sub.rollover").has_value());
  // Asked again while it waits: nothing new is sent.
  ASSERT_TRUE(server_->start_rollover().ok());
  EXPECT_EQ(upstream_->kinds().size(), 2u);
  // Cancelled: the request and the key are gone.
  ASSERT_TRUE(server_->cancel_rollover().ok());
  EXPECT_FALSE(client_->state("sub")->pending.has_value());
  EXPECT_FALSE(keys_->get("sub.rollover").has_value());
  EXPECT_EQ(server_->cancel_rollover().code(), Code::kNotFound);

  // Again; granted at the first poll, installed at the same tick.
  upstream_->script({Answer::kPending, Answer::kGrant});
  ASSERT_TRUE(server_->start_rollover().ok());
  clock_.advance(std::chrono::minutes(1));
  tick();
  auto shadow = server_->rollover_certificate();
  ASSERT_TRUE(shadow.has_value());
  EXPECT_EQ(current(), old_cert);
  EXPECT_EQ(*client_->state("sub")->rollover_certificate, *shadow);
  // Cancelled once installed: the shadow, its key and the trustpoint's copy go.
  ASSERT_TRUE(server_->cancel_rollover().ok());
  EXPECT_FALSE(server_->rollover_certificate().has_value());
  EXPECT_FALSE(client_->state("sub")->rollover_certificate.has_value());
  EXPECT_FALSE(keys_->get("sub.rollover").has_value());
  EXPECT_FALSE(fs::exists(dir_.file("sub-rollover.p12")));
}

// A superior whose own certificate ends with ours grants a certificate that ends no
// later than the current one: of no use, so it is refused and asked for again later.
TEST_F(SubCaRolloverTest, ACertificateThatEndsNoLaterIsRefused) {
  enable();
  Status s = server_->start_rollover();  // the fake issues the same validity again
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("the superior CA must roll over first"), std::string::npos)
      << s.message();
  EXPECT_FALSE(server_->rollover_certificate().has_value());
  EXPECT_FALSE(client_->state("sub")->rollover_certificate.has_value());
}

// The superior rolls over too: the subordinate's rollover certificate comes from the
// superior's next certificate, which the trustpoint fetches (GetNextCACert) to check it;
// after the switch the trustpoint's CA is the superior's next certificate.
TEST_F(SubCaRolloverTest, UnderTheSuperiorsNextCertificate) {
  // The sub-CA's certificate ends when the superior's does (as a scepterd superior
  // issues it: never past its own).
  const TimePoint root_end = upstream_->ca_cert().not_after();
  clock_.set(root_end - std::chrono::days(365));
  upstream_->set_now(clock_.now());
  enable();
  const pki::Certificate old_cert = current();
  ASSERT_EQ(old_cert.not_after(), root_end);
  upstream_->roll_over(*pki::Key::generate_ec(256));
  const pki::Certificate next_root = *upstream_->next_ca_cert();

  clock_.set(root_end - std::chrono::days(10));
  tick();
  auto shadow = server_->rollover_certificate();
  ASSERT_TRUE(shadow.has_value()) << server_->reason();
  EXPECT_TRUE(shadow->signed_by(next_root));
  EXPECT_EQ(shadow->not_before(), root_end);
  EXPECT_EQ(upstream_->next_ca_fetches(), 1);
  auto chain = server_->rollover_chain();
  ASSERT_EQ(chain.size(), 2u);
  EXPECT_EQ(chain[1], next_root);
  // Until the switch the current chain is served.
  ASSERT_EQ(server_->signing_identity()->chain.size(), 1u);
  EXPECT_EQ(server_->signing_identity()->chain[0], upstream_->ca_cert());

  clock_.set(root_end + std::chrono::seconds(1));
  tick();
  tick_until_enabled();
  ASSERT_EQ(server_->state(), ServerState::kEnabled) << server_->reason();
  auto id = server_->signing_identity();
  EXPECT_EQ(id->certificate, *shadow);
  ASSERT_EQ(id->chain.size(), 1u);
  EXPECT_EQ(id->chain[0], next_root);
  auto state = client_->state("sub");
  EXPECT_EQ(state->ca->issuing_ca(), next_root);
  EXPECT_FALSE(state->next_ca.has_value());
}

// The trustpoint moved the key (its own timer came first) and the process stopped before
// the server switched: the restart finishes the switch in the database.
TEST_F(SubCaRolloverTest, ARestartAfterTheTrustpointTookTheKeyFinishesTheSwitch) {
  enable();
  const pki::Certificate old_cert = current();
  clock_.set(old_cert.not_after() - std::chrono::days(10));
  upstream_->set_now(clock_.now());
  ASSERT_TRUE(server_->start_rollover().ok());
  auto shadow = server_->rollover_certificate();
  ASSERT_TRUE(shadow.has_value());
  server_.reset();
  clock_.set(shadow->not_before() > old_cert.not_after() ? shadow->not_before()
                                                         : old_cert.not_after());
  ASSERT_TRUE(client_->promote_rollover("sub").ok());
  EXPECT_FALSE(keys_->get("sub.rollover").has_value());
  make_server();
  auto r = server_->enable({});
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(current(), *shadow);
  EXPECT_FALSE(server_->rollover_certificate().has_value());
}

}  // namespace
}  // namespace scepter::ca
