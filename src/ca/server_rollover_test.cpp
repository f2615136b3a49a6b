// Automatic CA certificate and key rollover of a root: stage two (the shadow key and
// certificate) at the autorollover timer or at the operator's `rollover`, stage three
// (the shadow takes over) when the current CA certificate expires, and what survives a
// restart or a crash in between.
#include <gtest/gtest.h>
#include <openssl/x509v3.h>

#include <filesystem>

#include "ca/ca_test_support.h"
#include "ca/certificate_server.h"
#include "common/fs.h"
#include "pki/crl.h"
#include "pki/csr.h"
#include "pki/name.h"
#include "store/store.h"

namespace scepter::ca {
namespace {

using testing::ServerHarness;

class RolloverTest : public ::testing::Test {
 protected:
  RolloverTest() : h_(config()) {}

  static ServerConfig config() {
    ServerConfig c = ServerHarness::default_config();
    c.auto_rollover_days = 30;
    c.grant = GrantMode::kAuto;
    return c;
  }

  void enable() {
    auto r = h_.server().enable({});
    ASSERT_TRUE(r.has_value()) << r.error().message();
  }
  void restart(ServerConfig c = config()) {
    h_.make_server(std::move(c));
    enable();
  }
  pki::Certificate ca_cert() { return h_.server().signing_identity()->certificate; }
  TimePoint ca_expiry() { return h_.server().signing_identity()->certificate.not_after(); }

  pki::Certificate issue(const std::string& subject) {
    auto out = h_.server().submit(testing::make_csr_der(subject), RequestSource::kManualPem);
    EXPECT_TRUE(out.has_value() && out->certificate.has_value());
    return *out->certificate;
  }

  // The timer until the server is enabled again (a switch rebuilds it).
  void tick_until_enabled() {
    for (int i = 0; i < 3 && h_.server().state() != ServerState::kEnabled; ++i) {
      h_.server().tick();
    }
  }

  ServerHarness h_;
};

TEST_F(RolloverTest, AutoRolloverMakesTheShadowAtItsTimerAndSwitchesAtExpiry) {
  enable();
  const pki::Certificate old_ca = h_.server().signing_identity()->certificate;
  const TimePoint expiry = old_ca.not_after();
  const pki::Certificate early = issue("CN=early, O=Example");
  ASSERT_TRUE(h_.server().revoke(pki::SerialNumber{2}).ok());

  h_.clock().set(expiry - std::chrono::days(31));
  h_.server().tick();
  EXPECT_FALSE(h_.server().rollover_certificate().has_value());
  h_.clock().set(expiry - std::chrono::days(29));
  h_.server().tick();
  auto shadow = h_.server().rollover_certificate();
  ASSERT_TRUE(shadow.has_value());
  // The seed's stage two: same subject, a new key, valid from the current expiry for the
  // CA lifetime, self-signed; archived, and its key kept beside the CA key.
  EXPECT_EQ(pki::format_dn_ios(shadow->subject()), pki::format_dn_ios(old_ca.subject()));
  EXPECT_TRUE(shadow->is_ca());
  EXPECT_TRUE(shadow->signed_by(*shadow));
  EXPECT_EQ(shadow->not_before(), expiry);
  EXPECT_EQ(shadow->not_after(), expiry + std::chrono::days(h_.server().config().ca_lifetime_days));
  auto shadow_key = h_.keys().get("ca.rollover");
  ASSERT_TRUE(shadow_key.has_value());
  EXPECT_FALSE(shadow_key->key.equals_public(*old_ca.public_key()));
  EXPECT_TRUE(shadow_key->key.equals_public(*shadow->public_key()));
  EXPECT_TRUE(fs::exists(h_.file("ca-rollover.p12")));
  EXPECT_TRUE(fs::exists(h_.file("ca.p12")));
  const ServerInfo info = h_.server().info();
  ASSERT_TRUE(info.rollover_certificate.has_value());
  EXPECT_EQ(*info.rollover_certificate, *shadow);
  // Its serial is the CA's next one: never handed to anyone else.
  const pki::Certificate during = issue("CN=during, O=Example");
  EXPECT_EQ(during.serial_hex(), "4");
  EXPECT_EQ(shadow->serial_hex(), "3");

  // A restart during the overlap keeps the shadow.
  restart();
  ASSERT_TRUE(h_.server().rollover_certificate().has_value());
  EXPECT_EQ(*h_.server().rollover_certificate(), *shadow);

  // Stage three at the expiry: the shadow is the CA.
  h_.clock().set(expiry + std::chrono::seconds(1));
  tick_until_enabled();
  h_.server().tick();
  tick_until_enabled();
  ASSERT_EQ(h_.server().state(), ServerState::kEnabled) << h_.server().reason();
  EXPECT_EQ(ca_cert(), *shadow);
  EXPECT_FALSE(h_.server().rollover_certificate().has_value());
  auto key = h_.keys().get("ca");
  ASSERT_TRUE(key.has_value());
  EXPECT_TRUE(key->key.equals_public(*shadow->public_key()));
  EXPECT_FALSE(h_.keys().get("ca.rollover").has_value());
  EXPECT_FALSE(fs::exists(h_.file("ca-rollover.p12")));
  EXPECT_TRUE(fs::exists(h_.file("ca.p12")));
  // New certificates and the CRL come from the new key; the revocation is still listed.
  const pki::Certificate after = issue("CN=after, O=Example");
  EXPECT_TRUE(after.signed_by(*shadow));
  EXPECT_FALSE(after.signed_by(old_ca));
  auto crl = h_.server().crl_der();
  ASSERT_TRUE(crl);
  auto listed = pki::crl_lists_certificate(*crl, shadow->x509(), early.x509());
  ASSERT_TRUE(listed.has_value()) << listed.error().message();
  EXPECT_TRUE(*listed);
  // And the next rollover is timed from the new certificate.
  restart();
  EXPECT_EQ(ca_cert(), *shadow);
  h_.server().tick();
  EXPECT_FALSE(h_.server().rollover_certificate().has_value());
}

TEST_F(RolloverTest, RolloverNowAndCancel) {
  ServerConfig c = config();
  c.auto_rollover_days.reset();
  restart(c);
  ASSERT_TRUE(h_.server().start_rollover().ok());
  auto shadow = h_.server().rollover_certificate();
  ASSERT_TRUE(shadow.has_value());
  EXPECT_EQ(h_.server().start_rollover().code(), Code::kAlreadyExists);
  ASSERT_TRUE(h_.server().cancel_rollover().ok());
  EXPECT_FALSE(h_.server().rollover_certificate().has_value());
  EXPECT_FALSE(h_.keys().get("ca.rollover").has_value());
  EXPECT_FALSE(fs::exists(h_.file("ca-rollover.p12")));
  EXPECT_EQ(h_.server().cancel_rollover().code(), Code::kNotFound);
  restart(c);
  EXPECT_FALSE(h_.server().rollover_certificate().has_value());
  // Without auto-rollover nothing happens at expiry but the end of issuing.
  ASSERT_TRUE(h_.server().start_rollover().ok());
  ASSERT_TRUE(h_.server().cancel_rollover().ok());
  h_.clock().set(ca_expiry() + std::chrono::seconds(1));
  h_.server().tick();
  EXPECT_EQ(h_.server().state(), ServerState::kEnabled);
  auto out = h_.server().submit(testing::make_csr_der("CN=late"), RequestSource::kManualPem);
  EXPECT_FALSE(out.has_value() && out->certificate.has_value());
}

// The guide: "if auto-archive is configured and fails, rollover does not occur".
TEST_F(RolloverTest, NoArchivePasswordNoRollover) {
  ServerConfig c = config();
  c.archive_password.clear();
  h_.make_server(c);
  ASSERT_TRUE(h_.server().enable({.archive_password = "typed-at-the-console"}).has_value());
  h_.clock().set(ca_expiry() - std::chrono::days(1));
  h_.server().tick();
  EXPECT_FALSE(h_.server().rollover_certificate().has_value());
  EXPECT_FALSE(h_.keys().get("ca.rollover").has_value());
  Status s = h_.server().start_rollover();
  EXPECT_EQ(s.code(), Code::kPermissionDenied);
  EXPECT_NE(s.message().find("archive password"), std::string::npos) << s.message();
  // Typed at the console, it is used for this archive only.
  ASSERT_TRUE(h_.server().start_rollover("typed-again").ok());
  EXPECT_TRUE(fs::exists(h_.file("ca-rollover.p12")));
  EXPECT_FALSE(h_.server().config().archive_password.size());
}

// The archive cannot be written (here: a directory where the file goes): no rollover,
// and nothing of it is left behind; once it can be written, the next attempt succeeds.
TEST_F(RolloverTest, AnArchiveThatCannotBeWrittenMeansNoRollover) {
  enable();
  ASSERT_TRUE(fs::make_dirs(h_.file("ca-rollover.p12")).ok());
  Status s = h_.server().start_rollover();
  EXPECT_FALSE(s.ok());
  EXPECT_FALSE(h_.server().rollover_certificate().has_value());
  EXPECT_FALSE(h_.keys().get("ca.rollover").has_value());
  restart();
  EXPECT_FALSE(h_.server().rollover_certificate().has_value());
  std::filesystem::remove_all(h_.file("ca-rollover.p12"));
  ASSERT_TRUE(h_.server().start_rollover().ok());
  EXPECT_TRUE(h_.server().rollover_certificate().has_value());
}

// Stage two, seen by the clients: a renewal signed by a valid certificate of ours is a
// client rollover request, certified under the shadow key from the moment it takes over,
// a little shorter than configured; a new enrolment still gets the current CA's
// certificate; `rollover request pkcs10` certifies under the shadow too.
TEST_F(RolloverTest, RolloverRequestsAreCertifiedUnderTheShadow) {
  enable();
  const pki::Certificate current = ca_cert();
  // Late in the CA's life: the client's certificate ends with the CA's.
  h_.clock().set(current.not_after() - std::chrono::days(100));
  const pki::Key client_key = *pki::Key::generate_ec(256);
  auto subject = pki::parse_dn("CN=r1, O=Example");
  const std::string csr = pki::make_csr({.subject = subject->get(), .key = client_key})->der();
  auto first = h_.server().scep_enroll(csr, {"T1", "", false});
  ASSERT_TRUE(first.has_value() && first->certificate.has_value());
  const pki::Certificate held = *first->certificate;
  ASSERT_EQ(held.not_after(), current.not_after());

  ASSERT_TRUE(h_.server().start_rollover().ok());
  const pki::Certificate shadow = *h_.server().rollover_certificate();
  h_.clock().advance(std::chrono::hours(1));
  auto renewed = h_.server().scep_enroll(csr, {"T2", held.der(), true});
  ASSERT_TRUE(renewed.has_value() && renewed->certificate.has_value()) << renewed->fail_text;
  const pki::Certificate next = *renewed->certificate;
  EXPECT_TRUE(next.signed_by(shadow));
  EXPECT_FALSE(next.signed_by(current));
  EXPECT_EQ(next.not_before(), shadow.not_before());
  // In seconds: a tenth of a lifetime in days is not a whole number of days.
  const auto life = std::chrono::duration_cast<Seconds>(
      std::chrono::days(h_.server().config().cert_lifetime_days));
  EXPECT_LE(next.not_after(), shadow.not_before() + life);
  EXPECT_GE(next.not_after(), shadow.not_before() + life - life / 10);
  auto rows = h_.server().requests();
  ASSERT_TRUE(rows.has_value());
  ASSERT_FALSE(rows->empty());
  EXPECT_TRUE(is_rollover_request(rows->front()));  // newest first

  // Somebody new during the overlap: the current CA, until it expires.
  const pki::Certificate fresh = issue("CN=fresh, O=Example");
  EXPECT_TRUE(fresh.signed_by(current));
  EXPECT_LE(fresh.not_after(), current.not_after());

  // By hand.
  auto manual = h_.server().submit(testing::make_csr_der("CN=manual"), RequestSource::kManualPem,
                                   /*rollover=*/true);
  ASSERT_TRUE(manual.has_value() && manual->certificate.has_value());
  EXPECT_TRUE(manual->certificate->signed_by(shadow));
  ASSERT_TRUE(h_.server().cancel_rollover().ok());
  EXPECT_EQ(h_.server()
                .submit(testing::make_csr_der("CN=manual2"), RequestSource::kManualPem, true)
                .error()
                .code(),
            Code::kPermissionDenied);

  // After the switch the rollover certificate is the one in force, and it renews.
  ASSERT_TRUE(h_.server().start_rollover().ok());
  const pki::Certificate shadow2 = *h_.server().rollover_certificate();
  auto again = h_.server().scep_enroll(csr, {"T3", held.der(), true});
  ASSERT_TRUE(again.has_value() && again->certificate.has_value());
  const pki::Certificate rolled = *again->certificate;
  h_.clock().set(current.not_after() + std::chrono::seconds(1));
  tick_until_enabled();
  h_.server().tick();
  tick_until_enabled();
  ASSERT_EQ(ca_cert(), shadow2);
  EXPECT_TRUE(rolled.signed_by(ca_cert()));
  auto after = h_.server().scep_enroll(csr, {"T4", rolled.der(), true});
  ASSERT_TRUE(after.has_value() && after->certificate.has_value()) << after->fail_text;
  EXPECT_TRUE(after->certificate->signed_by(shadow2));
}

// A subordinate CA of this CA rolling over (a CA request for a new key of the same name,
// signed by its current certificate): under this CA's rollover certificate when its own
// lasts until the switch, from the end of its current certificate otherwise; and refused
// while this CA has no rollover certificate and the subordinate's ends with this CA's.
TEST_F(RolloverTest, SubordinateRolloversFollowTheCasOwn) {
  ServerConfig c = config();
  c.cert_lifetime_days = 3650;  // a subordinate's certificate ends with the CA's
  c.rollover_auto_ca = true;
  c.auto_rollover_days.reset();
  restart(c);
  const pki::Certificate current = ca_cert();
  auto ca_csr = [](const pki::Key& key) {
    auto name = pki::parse_dn("CN=sub, O=Example");
    pki::Ptr<X509_EXTENSION> bc(
        X509V3_EXT_conf_nid(nullptr, nullptr, NID_basic_constraints, "critical,CA:TRUE"));
    auto csr = pki::make_csr({.subject = name->get(), .key = key, .extensions = {bc.get()}});
    EXPECT_TRUE(csr.has_value());
    return csr->der();
  };
  auto certify_sub = [&] {
    auto out = h_.server().submit(ca_csr(*pki::Key::generate_ec(256)), RequestSource::kManualPem);
    EXPECT_TRUE(out.has_value() && !out->certificate);  // the operator's decision
    auto granted = h_.server().grant(out->request.id);
    EXPECT_TRUE(granted.has_value());
    return granted->at(0).certificate;
  };
  const pki::Certificate sub = certify_sub();
  ASSERT_EQ(sub.not_after(), current.not_after());

  auto refused =
      h_.server().scep_enroll(ca_csr(*pki::Key::generate_ec(256)), {"S1", sub.der(), true});
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->status, ScepOutcome::Status::kFailure);
  EXPECT_NE(refused->fail_text.find("this CA must roll over first"), std::string::npos)
      << refused->fail_text;

  ASSERT_TRUE(h_.server().start_rollover().ok());
  const pki::Certificate shadow = *h_.server().rollover_certificate();
  const pki::Key next_key = *pki::Key::generate_ec(256);
  auto rolled = h_.server().scep_enroll(ca_csr(next_key), {"S2", sub.der(), true});
  ASSERT_TRUE(rolled.has_value() && rolled->certificate.has_value()) << rolled->fail_text;
  EXPECT_TRUE(rolled->certificate->is_ca());
  EXPECT_TRUE(rolled->certificate->signed_by(shadow));
  EXPECT_EQ(rolled->certificate->not_before(), shadow.not_before());
  EXPECT_EQ(rolled->certificate->not_after(), shadow.not_after());  // not shortened
  auto rows = h_.server().requests();
  ASSERT_TRUE(rows.has_value());
  EXPECT_TRUE(is_rollover_request(rows->front()));

  // A subordinate whose certificate ends before this CA's: from its end, under the
  // current CA (the rollover certificate does not exist yet when it begins).
  ASSERT_TRUE(h_.server().cancel_rollover().ok());
  ASSERT_TRUE(h_.set([](ServerConfig& cfg) { cfg.cert_lifetime_days = 30; }).ok());
  const pki::Certificate short_sub = certify_sub();
  ASSERT_LT(short_sub.not_after(), current.not_after());
  auto next =
      h_.server().scep_enroll(ca_csr(*pki::Key::generate_ec(256)), {"S3", short_sub.der(), true});
  ASSERT_TRUE(next.has_value() && next->certificate.has_value()) << next->fail_text;
  EXPECT_TRUE(next->certificate->signed_by(current));
  EXPECT_EQ(next->certificate->not_before(), short_sub.not_after());
}

// A client whose certificate ends before the switch renews under the current CA: a
// certificate of the next CA would leave it without a valid one until then.
TEST_F(RolloverTest, ACertificateEndingBeforeTheSwitchRenewsUnderTheCurrentCa) {
  ServerConfig c = config();
  c.cert_lifetime_days = 30;
  restart(c);
  const pki::Certificate current = ca_cert();
  const pki::Key client_key = *pki::Key::generate_ec(256);
  auto subject = pki::parse_dn("CN=short, O=Example");
  const std::string csr = pki::make_csr({.subject = subject->get(), .key = client_key})->der();
  auto first = h_.server().scep_enroll(csr, {"S1", "", false});
  ASSERT_TRUE(first.has_value() && first->certificate.has_value());
  ASSERT_LT(first->certificate->not_after(), current.not_after());
  ASSERT_TRUE(h_.server().start_rollover().ok());
  auto renewed = h_.server().scep_enroll(csr, {"S2", first->certificate->der(), true});
  ASSERT_TRUE(renewed.has_value() && renewed->certificate.has_value()) << renewed->fail_text;
  EXPECT_TRUE(renewed->certificate->signed_by(current));
  auto rows = h_.server().requests();
  ASSERT_TRUE(rows.has_value() && !rows->empty());
  EXPECT_FALSE(is_rollover_request(rows->front()));
}

// A crash after the database took the new CA certificate and before the key store took
// its key: the restart finishes the switch rather than refusing a key that does not match.
TEST_F(RolloverTest, AnInterruptedSwitchIsFinishedAtRestart) {
  enable();
  ASSERT_TRUE(h_.server().start_rollover().ok());
  const pki::Certificate shadow = *h_.server().rollover_certificate();
  h_.server().shutdown();
  {
    auto db = store::open_store({"sqlite:" + h_.file("ca.ser")});
    ASSERT_TRUE(db.has_value()) << db.error().message();
    store::WriteBatch batch;
    batch.put_meta("ca_cert", shadow.der());
    batch.delete_meta("rollover_cert");
    ASSERT_TRUE((*db)->write(batch).ok());
  }
  h_.clock().set(shadow.not_before() + std::chrono::seconds(5));
  restart();
  EXPECT_EQ(ca_cert(), shadow);
  EXPECT_TRUE(h_.keys().get("ca")->key.equals_public(*shadow.public_key()));
  EXPECT_FALSE(h_.keys().get("ca.rollover").has_value());
  EXPECT_TRUE(issue("CN=after").signed_by(shadow));
}

// A clock moved back into the time before the autorollover timer: the shadow stays, and
// nothing switches until the expiry comes again.
TEST_F(RolloverTest, AClockMovedBackKeepsTheShadow) {
  enable();
  const TimePoint expiry = ca_expiry();
  h_.clock().set(expiry - std::chrono::days(10));
  h_.server().tick();
  auto shadow = h_.server().rollover_certificate();
  ASSERT_TRUE(shadow.has_value());
  h_.clock().set(expiry - std::chrono::days(100));
  h_.server().tick();
  EXPECT_EQ(h_.server().rollover_certificate(), shadow);
  EXPECT_NE(ca_cert(), *shadow);
}

}  // namespace
}  // namespace scepter::ca
