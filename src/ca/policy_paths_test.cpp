// Every path to a certificate goes through the request policy: the attacks that walked
// around it before (renewal into another identity, RA impersonation, RA requests issued
// under manual grant, refused requests filling the database) tried on a real server.

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include <openssl/x509v3.h>

#include "ca/ca_test_support.h"
#include "ca/certificate_server.h"
#include "pki/identity.h"
#include "pki/issuer.h"

namespace scepter::ca {
namespace {

using testing::ServerHarness;

struct Requester {
  pki::Key key;
  std::string subject;
};

Requester requester(const std::string& subject) { return {*pki::Key::generate_ec(256), subject}; }

std::string csr_der(const Requester& r, const std::string& challenge = "",
                    std::vector<const X509_EXTENSION*> extensions = {}) {
  auto name = pki::parse_dn(r.subject);
  auto csr = pki::make_csr({.subject = name->get(),
                            .key = r.key,
                            .challenge_password = challenge,
                            .extensions = std::move(extensions)});
  return csr->der();
}

class PolicyPathsTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_OK(h_.server().enable({})); }

  void set(std::function<void(ServerConfig&)> edit) { ASSERT_OK(h_.set(edit)); }

  // A certificate of this CA for `r`, granted by the operator.
  pki::Certificate enrolled(const Requester& r) {
    auto out = h_.server().submit(csr_der(r), RequestSource::kManualPem);
    EXPECT_OK(out);
    if (out->certificate) return *out->certificate;
    auto issued = h_.server().grant(out->request.id);
    EXPECT_OK(issued);
    return issued->at(0).certificate;
  }

  Result<ScepOutcome> enroll(const Requester& r, const std::string& tid, std::string signer_der,
                             bool renewal = false, const std::string& challenge = "") {
    return h_.server().scep_enroll(csr_der(r, challenge), {tid, std::move(signer_der), renewal});
  }

  std::size_t stored_requests() { return h_.server().requests()->size(); }

  ServerHarness h_;
};

TEST_F(PolicyPathsTest, RenewalIntoAnotherIdentityWaitsForTheOperator) {
  Requester device = requester("CN=device1");
  const pki::Certificate cert = enrolled(device);  // grant manual: the operator granted it
  // The holder of device1's certificate asks for another device's, and for the RA's.
  for (std::string subject : {"CN=device2", "CN=ioscs RA", "CN=device1, O=other"}) {
    Requester other{device.key, subject};
    for (bool renewal : {false, true}) {
      auto out = enroll(other, "tid-" + subject + (renewal ? "-r" : ""), cert.der(), renewal);
      ASSERT_OK(out);
      EXPECT_EQ(out->status, ScepOutcome::Status::kPending) << subject;
    }
  }
}

TEST_F(PolicyPathsTest, RenewalOfTheSameIdentityIsGrantedAndRecordsItsPredecessor) {
  Requester device = requester("CN=device1");
  const pki::Certificate old_cert = enrolled(device);
  Requester renewed{*pki::Key::generate_ec(256), device.subject};
  auto out = enroll(renewed, "renew-1", old_cert.der(), /*renewal=*/true);
  ASSERT_OK(out);
  ASSERT_EQ(out->status, ScepOutcome::Status::kSuccess);
  std::optional<store::Serial> predecessor;
  ASSERT_OK(h_.server().for_each_certificate([&](const store::CertRecord& rec) {
    if (rec.serial == out->certificate->serial()->sequence) predecessor = rec.predecessor;
    return true;
  }));
  EXPECT_EQ(predecessor, old_cert.serial()->sequence);

  set([](ServerConfig& c) { c.renewal_auto = false; });
  Requester again{*pki::Key::generate_ec(256), device.subject};
  auto pending = enroll(again, "renew-2", out->certificate->der(), true);
  ASSERT_OK(pending);
  EXPECT_EQ(pending->status, ScepOutcome::Status::kPending);
}

TEST_F(PolicyPathsTest, RevokedOrForeignSignersCannotRenew) {
  Requester device = requester("CN=device1");
  const pki::Certificate cert = enrolled(device);
  ASSERT_OK(h_.server().revoke(*cert.serial()));
  auto out = enroll(device, "after-revoke", cert.der(), true);
  ASSERT_OK(out);
  EXPECT_EQ(out->status, ScepOutcome::Status::kFailure);
  EXPECT_EQ(out->fail_info, ScepFailInfo::kBadRequest);
  // A certificate that only claims to be ours.
  auto forged = enroll(device, "forged", std::string("\x30\x03\x02\x01\x05", 5), true);
  ASSERT_OK(forged);
  EXPECT_EQ(forged->status, ScepOutcome::Status::kFailure);
}

TEST_F(PolicyPathsTest, RaRequestsFollowTheModeAtEveryPoll) {
  Requester ra = requester("CN=myra, OU=ioscs RA, O=company");
  const pki::Certificate ra_cert = enrolled(ra);
  Requester device = requester("CN=behind-the-ra");
  auto first = enroll(device, "via-ra", ra_cert.der());
  ASSERT_OK(first);
  EXPECT_EQ(first->status, ScepOutcome::Status::kPending);
  EXPECT_EQ(h_.server().requests()->front().state, RequestState::kAuthorized);

  for (GrantMode mode : {GrantMode::kManual, GrantMode::kNone}) {
    set([&](ServerConfig& c) { c.grant = mode; });
    auto poll = h_.server().scep_poll("via-ra");
    ASSERT_OK(poll);
    EXPECT_NE(poll->status, ScepOutcome::Status::kSuccess) << grant_mode_text(mode);
  }
  set([](ServerConfig& c) { c.grant = GrantMode::kRaAuto; });
  auto granted = h_.server().scep_poll("via-ra");
  ASSERT_OK(granted);
  EXPECT_EQ(granted->status, ScepOutcome::Status::kSuccess);
}

TEST_F(PolicyPathsTest, ARevokedRaStopsVouchingAtOnce) {
  Requester ra = requester("CN=ioscs RA");
  const pki::Certificate ra_cert = enrolled(ra);
  ASSERT_OK(enroll(requester("CN=d1"), "ra-1", ra_cert.der()));
  ASSERT_OK(h_.server().revoke(*ra_cert.serial()));
  set([](ServerConfig& c) { c.grant = GrantMode::kRaAuto; });
  auto poll = h_.server().scep_poll("ra-1");
  ASSERT_OK(poll);
  EXPECT_EQ(poll->status, ScepOutcome::Status::kFailure);
}

TEST_F(PolicyPathsTest, LookalikeRaNamesAreNotRas) {
  set([](ServerConfig& c) { c.grant = GrantMode::kRaAuto; });
  for (std::string subject : {"CN=ioscs radius", "CN=x\\,ou=ioscs RA", "OU=ioscs RAs"}) {
    Requester fake = requester(subject);
    const pki::Certificate cert = enrolled(fake);
    auto out = enroll(requester("CN=victim"), "lookalike-" + subject, cert.der());
    ASSERT_OK(out);
    EXPECT_EQ(out->status, ScepOutcome::Status::kPending) << subject;
    EXPECT_EQ(h_.server().requests()->front().state, RequestState::kPending) << subject;
  }
}

TEST_F(PolicyPathsTest, RaRoleCertificatesNeedTheOperatorEvenUnderGrantAuto) {
  set([](ServerConfig& c) { c.grant = GrantMode::kAuto; });
  auto out = enroll(requester("CN=evil, OU=ioscs RA"), "ra-wannabe", "");
  ASSERT_OK(out);
  EXPECT_EQ(out->status, ScepOutcome::Status::kPending);
  EXPECT_EQ(h_.server().requests()->front().kind, store::RequestKind::kRa);
}

TEST_F(PolicyPathsTest, RefusedRequestsAreNotStored) {
  set([](ServerConfig& c) { c.grant = GrantMode::kNone; });
  for (int i = 0; i < 5; ++i) {
    auto out = enroll(requester("CN=d"), "none-" + std::to_string(i), "");
    ASSERT_OK(out);
    EXPECT_EQ(out->status, ScepOutcome::Status::kFailure);
  }
  EXPECT_EQ(stored_requests(), 0u);
  // Garbage after decryption: the same answer as an envelope that does not open.
  auto garbage = h_.server().scep_enroll("not a request", {"garbage", "", false});
  ASSERT_OK(garbage);
  EXPECT_EQ(garbage->fail_info, ScepFailInfo::kBadMessageCheck);
  EXPECT_EQ(stored_requests(), 0u);
}

TEST_F(PolicyPathsTest, SmallRsaKeysAreRefusedUnlessAllowed) {
  set([](ServerConfig& c) { c.grant = GrantMode::kAuto; });
  Requester old_device{*pki::Key::generate_rsa(1024), "CN=old-router"};
  auto out = enroll(old_device, "small-key", "");
  ASSERT_OK(out);
  EXPECT_EQ(out->status, ScepOutcome::Status::kFailure);
  EXPECT_EQ(out->fail_info, ScepFailInfo::kBadAlg);
  EXPECT_EQ(stored_requests(), 0u);
  set([](ServerConfig& c) { c.min_rsa_bits = 1024; });
  auto allowed = enroll(old_device, "small-key-2", "");
  ASSERT_OK(allowed);
  EXPECT_EQ(allowed->status, ScepOutcome::Status::kSuccess);
}

TEST_F(PolicyPathsTest, CaRequestsAreRefusedOnEveryPath) {
  pki::Ptr<X509_EXTENSION> bc(
      X509V3_EXT_conf_nid(nullptr, nullptr, NID_basic_constraints, "critical,CA:TRUE"));
  ASSERT_TRUE(bc);
  Requester sub = requester("CN=rogue CA");
  set([](ServerConfig& c) { c.grant = GrantMode::kAuto; });
  auto out = h_.server().scep_enroll(csr_der(sub, "", {bc.get()}), {"ca-req", "", false});
  ASSERT_OK(out);
  EXPECT_EQ(out->status, ScepOutcome::Status::kFailure);
  EXPECT_FALSE(
      h_.server().submit(csr_der(sub, "", {bc.get()}), RequestSource::kManualPem).has_value());
  EXPECT_EQ(stored_requests(), 0u);
}

TEST_F(PolicyPathsTest, TheOneTimePasswordGrantsExactlyOnce) {
  auto otp = h_.server().generate_password(60);
  ASSERT_OK(otp);
  constexpr int kThreads = 8;
  std::atomic<int> granted{0}, waiting{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      auto out = enroll(requester("CN=racer" + std::to_string(i)), "otp-" + std::to_string(i), "",
                        false, otp->password);
      if (!out.has_value()) return;
      if (out->status == ScepOutcome::Status::kSuccess) ++granted;
      if (out->status == ScepOutcome::Status::kPending) ++waiting;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(granted.load(), 1);
  EXPECT_EQ(waiting.load(), kThreads - 1);
}

TEST_F(PolicyPathsTest, PendingRequestsAreCapped) {
  set([](ServerConfig& c) { c.max_pending_requests = 3; });
  for (int i = 0; i < 3; ++i) {
    auto out = enroll(requester("CN=w"), "cap-" + std::to_string(i), "");
    ASSERT_OK(out);
    EXPECT_EQ(out->status, ScepOutcome::Status::kPending);
  }
  auto over = enroll(requester("CN=w"), "cap-over", "");
  ASSERT_OK(over);
  EXPECT_EQ(over->status, ScepOutcome::Status::kFailure);
  EXPECT_EQ(stored_requests(), 3u);
  // Waiting requests are still answered.
  auto poll = h_.server().scep_poll("cap-0");
  ASSERT_OK(poll);
  EXPECT_EQ(poll->status, ScepOutcome::Status::kPending);
}

TEST_F(PolicyPathsTest, ShellGrantAppliesTheKeyRule) {
  set([](ServerConfig& c) { c.min_rsa_bits = 1024; });
  Requester old_device{*pki::Key::generate_rsa(1024), "CN=old-router"};
  auto out = h_.server().submit(csr_der(old_device), RequestSource::kManualPem);
  ASSERT_OK(out);
  set([](ServerConfig& c) { c.min_rsa_bits = 2048; });
  auto granted = h_.server().grant(out->request.id);
  EXPECT_CODE(granted, Code::kPermissionDenied);
}

}  // namespace
}  // namespace scepter::ca

namespace scepter::ca {
namespace {

TEST_F(PolicyPathsTest, TheOperatorSeesWhatTheProfileWillNotGrant) {
  pki::Ptr<X509_EXTENSION> eku(
      X509V3_EXT_conf_nid(nullptr, nullptr, NID_ext_key_usage, "codeSigning,clientAuth"));
  pki::Ptr<X509_EXTENSION> ku(
      X509V3_EXT_conf_nid(nullptr, nullptr, NID_key_usage, "critical,keyCertSign"));
  ASSERT_TRUE(eku && ku);
  auto out = h_.server().submit(csr_der(requester("CN=greedy"), "", {eku.get(), ku.get()}),
                                RequestSource::kManualPem);
  ASSERT_OK(out);
  const auto dropped = h_.server().dropped_by_profile(out->request);
  ASSERT_EQ(dropped.size(), 2u);
  EXPECT_NE(dropped[0].find("codeSigning"), std::string::npos) << dropped[0];
  EXPECT_NE(dropped[1].find("keyCertSign"), std::string::npos) << dropped[1];
  store::RequestRecord modest;
  modest.csr_der = csr_der(requester("CN=modest"));
  EXPECT_TRUE(h_.server().dropped_by_profile(modest).empty());
}

}  // namespace
}  // namespace scepter::ca
