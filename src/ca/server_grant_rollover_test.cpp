// `grant auto rollover ca-cert | ra-cert` on the superior's side: a subordinate CA or an RA
// this CA certified re-enrols for the same identity with a new key, signing the SCEP
// message with its current certificate; the setting grants that at once, and nothing else.
#include <gtest/gtest.h>

#include "ca/ca_test_support.h"
#include "ca/certificate_server.h"

namespace scepter::ca {
namespace {

using testing::make_csr_der;
using testing::ServerHarness;

std::uint64_t serial_of(const pki::Certificate& c) { return c.serial()->sequence; }

class GrantAutoRolloverTest : public ::testing::Test {
 protected:
  void enable() { ASSERT_OK(h_.server().enable({})); }
  std::vector<RequestRecord> requests() { return *h_.server().requests(); }

  ServerHarness h_;
};

// `grant auto rollover ca-cert`: a subordinate CA this CA certified re-enrols with a new
// key for the same identity, signing the SCEP message with its current certificate. It
// waits for the operator without the setting, and is granted at once with it.
TEST_F(GrantAutoRolloverTest, SubCaRolloverIsGrantedUnderGrantAutoRolloverCaCert) {
  enable();
  auto ca_csr = [](const std::string& subject, const pki::Key& key,
                   const std::string& challenge = "") {
    auto name = pki::parse_dn(subject);
    pki::Ptr<X509_EXTENSION> bc(
        X509V3_EXT_conf_nid(nullptr, nullptr, NID_basic_constraints, "critical,CA:TRUE"));
    EXPECT_TRUE(name.has_value() && bc);
    auto csr = pki::make_csr({.subject = name->get(),
                              .key = key,
                              .challenge_password = challenge,
                              .extensions = {bc.get()}});
    EXPECT_OK(csr);
    return csr->der();
  };
  auto granted_by_operator = [&](const std::string& csr_der) {
    auto out = h_.server().submit(csr_der, RequestSource::kManualPem);
    EXPECT_OK(out);
    EXPECT_FALSE(out->certificate.has_value());
    auto granted = h_.server().grant(out->request.id);
    EXPECT_OK(granted);
    return granted->at(0).certificate;
  };
  auto predecessor_of = [&](const pki::Certificate& cert) {
    std::optional<store::Serial> predecessor;
    EXPECT_OK(h_.server().for_each_certificate([&](const store::CertRecord& rec) {
      if (rec.serial == serial_of(cert)) predecessor = rec.predecessor;
      return true;
    }));
    return predecessor;
  };
  const std::string subject = "CN=sub CA, O=Example";
  // Its first certificate: the operator's grant, as always.
  const pki::Certificate sub = granted_by_operator(ca_csr(subject, *pki::Key::generate_ec(256)));
  ASSERT_TRUE(sub.is_ca());

  // Without the setting the rollover waits for the operator, as a subordinate CA request.
  auto waiting = h_.server().scep_enroll(ca_csr(subject, *pki::Key::generate_ec(256)),
                                         {"roll-1", sub.der(), false});
  ASSERT_OK(waiting);
  EXPECT_EQ(waiting->status, ScepOutcome::Status::kPending);
  const auto all = requests();
  const auto stored = std::find_if(
      all.begin(), all.end(), [&](const RequestRecord& r) { return r.id == waiting->request_id; });
  ASSERT_NE(stored, all.end());
  EXPECT_EQ(stored->kind, store::RequestKind::kSubCa);
  EXPECT_EQ(stored->state, RequestState::kPending);

  // With it: granted at once, a CA certificate for the new key that records the one it
  // replaces; the one-time password it carries is left for whom it was made.
  ASSERT_OK(h_.set([](ServerConfig& c) { c.rollover_auto_ca = true; }));
  auto otp = h_.server().generate_password(60);
  ASSERT_OK(otp);
  const pki::Key next = *pki::Key::generate_ec(256);
  auto rolled =
      h_.server().scep_enroll(ca_csr(subject, next, otp->password), {"roll-2", sub.der(), false});
  ASSERT_OK(rolled);
  ASSERT_EQ(rolled->status, ScepOutcome::Status::kSuccess) << rolled->fail_text;
  ASSERT_TRUE(rolled->certificate.has_value());
  const pki::Certificate& cert = *rolled->certificate;
  EXPECT_TRUE(cert.is_ca());
  EXPECT_TRUE(cert.public_key()->equals_public(next));
  EXPECT_EQ(pki::format_dn_ios(cert.subject()), pki::format_dn_ios(sub.subject()));
  EXPECT_TRUE(cert.signed_by(*h_.server().info().ca_certificate));
  EXPECT_EQ(predecessor_of(cert), serial_of(sub));
  EXPECT_TRUE(h_.server().consume_password(otp->password));
  // The request that waited is granted at its next poll.
  auto poll = h_.server().scep_poll("roll-1");
  ASSERT_OK(poll);
  EXPECT_EQ(poll->status, ScepOutcome::Status::kSuccess);

  // Nothing else: another subject, a router's certificate of the same name, a revoked
  // sub-CA certificate.
  auto other = h_.server().scep_enroll(
      ca_csr("CN=other CA, O=Example", *pki::Key::generate_ec(256)), {"roll-3", cert.der(), false});
  ASSERT_OK(other);
  EXPECT_EQ(other->status, ScepOutcome::Status::kPending);
  const pki::Certificate router = granted_by_operator(make_csr_der(subject));
  ASSERT_FALSE(router.is_ca());
  auto by_router = h_.server().scep_enroll(ca_csr(subject, *pki::Key::generate_ec(256)),
                                           {"roll-4", router.der(), false});
  ASSERT_OK(by_router);
  EXPECT_EQ(by_router->status, ScepOutcome::Status::kPending);
  ASSERT_OK(h_.server().revoke(serial_of(cert)));
  auto by_revoked = h_.server().scep_enroll(ca_csr(subject, *pki::Key::generate_ec(256)),
                                            {"roll-5", cert.der(), false});
  ASSERT_OK(by_revoked);
  EXPECT_EQ(by_revoked->status, ScepOutcome::Status::kFailure);
  // `grant auto rollover ra-cert` alone does not grant a subordinate CA.
  ASSERT_OK(h_.set([](ServerConfig& c) {
    c.rollover_auto_ca = false;
    c.rollover_auto_ra = true;
  }));
  auto ra_only = h_.server().scep_enroll(ca_csr(subject, *pki::Key::generate_ec(256)),
                                         {"roll-6", sub.der(), false});
  ASSERT_OK(ra_only);
  EXPECT_EQ(ra_only->status, ScepOutcome::Status::kPending);
}

// `grant auto rollover ra-cert`: an RA this CA certified re-enrols with a new key. A
// request the RA re-signed with its own key (as it forwards its clients') is not its own,
// even for its name.
TEST_F(GrantAutoRolloverTest, RaRolloverIsGrantedUnderGrantAutoRolloverRaCert) {
  enable();
  const std::string subject = "CN=ra1, OU=ioscs RA, O=Example";
  auto csr_for = [&](const pki::Key& key, const pki::Key* subject_key = nullptr) {
    auto name = pki::parse_dn(subject);
    EXPECT_TRUE(name.has_value());
    auto csr = pki::make_csr({.subject = name->get(), .key = key, .subject_key = subject_key});
    EXPECT_OK(csr);
    return csr->der();
  };
  const pki::Key ra_key = *pki::Key::generate_ec(256);
  auto first = h_.server().submit(csr_for(ra_key), RequestSource::kManualPem);
  ASSERT_OK(first);
  ASSERT_FALSE(first->certificate.has_value());  // the first time, the operator grants
  auto granted = h_.server().grant(first->request.id);
  ASSERT_OK(granted);
  const pki::Certificate ra = granted->at(0).certificate;

  const pki::Key next = *pki::Key::generate_ec(256);
  auto waiting = h_.server().scep_enroll(csr_for(next), {"ra-roll-1", ra.der(), false});
  ASSERT_OK(waiting);
  EXPECT_EQ(waiting->status, ScepOutcome::Status::kPending);
  // ca-cert does not grant an RA.
  ASSERT_OK(h_.set([](ServerConfig& c) { c.rollover_auto_ca = true; }));
  auto ca_only = h_.server().scep_poll("ra-roll-1");
  ASSERT_OK(ca_only);
  EXPECT_EQ(ca_only->status, ScepOutcome::Status::kPending);

  ASSERT_OK(h_.set([](ServerConfig& c) { c.rollover_auto_ra = true; }));
  const pki::Key client = *pki::Key::generate_ec(256);
  auto resigned = h_.server().scep_enroll(csr_for(ra_key, &client), {"ra-roll-2", ra.der(), false});
  ASSERT_OK(resigned);
  EXPECT_EQ(resigned->status, ScepOutcome::Status::kPending);
  auto rolled = h_.server().scep_poll("ra-roll-1");
  ASSERT_OK(rolled);
  ASSERT_EQ(rolled->status, ScepOutcome::Status::kSuccess) << rolled->fail_text;
  EXPECT_FALSE(rolled->certificate->is_ca());
  EXPECT_TRUE(rolled->certificate->public_key()->equals_public(next));
  EXPECT_EQ(pki::format_dn_ios(rolled->certificate->subject()), pki::format_dn_ios(ra.subject()));
}

}  // namespace
}  // namespace scepter::ca
