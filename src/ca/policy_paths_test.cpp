// Every path to a certificate goes through the request policy: the attacks that walked
// around it before (renewal into another identity, RA impersonation, RA requests issued
// under manual grant, refused requests filling the database) tried on a real server.

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include <openssl/x509v3.h>

#include "ca/ca_test_support.h"
#include "ca/certificate_server.h"
#include "pki/crl.h"
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

// A subordinate CA's request: basicConstraints CA:TRUE, and the key usages of a CA.
std::string sub_ca_csr(const Requester& r, const std::string& challenge = "",
                       const char* basic_constraints = "critical,CA:TRUE") {
  pki::Ptr<X509_EXTENSION> bc(
      X509V3_EXT_conf_nid(nullptr, nullptr, NID_basic_constraints, basic_constraints));
  pki::Ptr<X509_EXTENSION> ku(
      X509V3_EXT_conf_nid(nullptr, nullptr, NID_key_usage, "critical,keyCertSign,cRLSign"));
  EXPECT_TRUE(bc && ku);
  return csr_der(r, challenge, {bc.get(), ku.get()});
}

// X509_verify_cert() of `leaf` up to `root` through `chain`, at `at`, with these CRLs (DER)
// and flags: X509_V_OK or the error.
int verify_chain(const pki::Certificate& root, const std::vector<const pki::Certificate*>& chain,
                 const pki::Certificate& leaf, TimePoint at,
                 const std::vector<std::string>& crls = {}, unsigned long flags = 0) {
  pki::Ptr<X509_STORE> store(X509_STORE_new());
  X509_STORE_add_cert(store.get(), root.x509());
  pki::Ptr<STACK_OF(X509)> untrusted(sk_X509_new_null());
  for (const pki::Certificate* c : chain) {
    X509_up_ref(c->x509());  // the stack frees its certificates
    sk_X509_push(untrusted.get(), c->x509());
  }
  for (const std::string& der : crls) {
    const auto* p = reinterpret_cast<const unsigned char*>(der.data());
    pki::Ptr<X509_CRL> crl(d2i_X509_CRL(nullptr, &p, static_cast<long>(der.size())));
    EXPECT_TRUE(crl);
    if (crl) X509_STORE_add_crl(store.get(), crl.get());
  }
  pki::Ptr<X509_STORE_CTX> ctx(X509_STORE_CTX_new());
  X509_STORE_CTX_init(ctx.get(), store.get(), leaf.x509(), untrusted.get());
  X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx.get());
  X509_VERIFY_PARAM_set_time(param, static_cast<time_t>(to_unix(at)));
  if (flags != 0) X509_VERIFY_PARAM_set_flags(param, flags);
  if (X509_verify_cert(ctx.get()) == 1) return X509_V_OK;
  return X509_STORE_CTX_get_error(ctx.get());
}

TEST_F(PolicyPathsTest, SubCaRequestsWaitForTheOperatorEvenUnderGrantAuto) {
  set([](ServerConfig& c) { c.grant = GrantMode::kAuto; });
  Requester sub = requester("CN=sub CA, O=Example");
  auto out = h_.server().scep_enroll(sub_ca_csr(sub), {"sub-ca", "", false});
  ASSERT_OK(out);
  EXPECT_EQ(out->status, ScepOutcome::Status::kPending);
  ASSERT_EQ(stored_requests(), 1u);
  const RequestRecord stored = h_.server().requests()->front();
  EXPECT_EQ(stored.kind, store::RequestKind::kSubCa);
  EXPECT_EQ(stored.state, RequestState::kPending);
  // Polls get the same answer; so does a resend.
  auto poll = h_.server().scep_poll("sub-ca");
  ASSERT_OK(poll);
  EXPECT_EQ(poll->status, ScepOutcome::Status::kPending);
  auto resend = h_.server().scep_enroll(sub_ca_csr(sub), {"sub-ca", "", false});
  ASSERT_OK(resend);
  EXPECT_EQ(resend->status, ScepOutcome::Status::kPending);
  // Neither does the one-time password obtain it, nor is the password used up.
  set([](ServerConfig& c) { c.grant = GrantMode::kManual; });
  auto otp = h_.server().generate_password(60);
  ASSERT_OK(otp);
  auto with_otp = h_.server().scep_enroll(sub_ca_csr(requester("CN=sub2"), otp->password),
                                          {"sub-otp", "", false});
  ASSERT_OK(with_otp);
  EXPECT_EQ(with_otp->status, ScepOutcome::Status::kPending);
  auto manual = h_.server().submit(sub_ca_csr(requester("CN=sub3"), otp->password),
                                   RequestSource::kManualPem);
  ASSERT_OK(manual);
  EXPECT_FALSE(manual->certificate.has_value());
  EXPECT_EQ(manual->request.kind, store::RequestKind::kSubCa);
  EXPECT_TRUE(h_.server().consume_password(otp->password));
  // grant none refuses them, and keeps nothing.
  set([](ServerConfig& c) { c.grant = GrantMode::kNone; });
  auto refused = h_.server().scep_enroll(sub_ca_csr(requester("CN=sub4")), {"sub-none", "", false});
  ASSERT_OK(refused);
  EXPECT_EQ(refused->status, ScepOutcome::Status::kFailure);
  EXPECT_EQ(refused->fail_info, ScepFailInfo::kBadRequest);
  EXPECT_EQ(stored_requests(), 3u);
}

TEST_F(PolicyPathsTest, SubCaRequestsCountAgainstThePendingLimit) {
  set([](ServerConfig& c) {
    c.grant = GrantMode::kAuto;
    c.max_pending_requests = 1;
  });
  auto first = h_.server().scep_enroll(sub_ca_csr(requester("CN=sub1")), {"cap-1", "", false});
  ASSERT_OK(first);
  EXPECT_EQ(first->status, ScepOutcome::Status::kPending);
  auto second = h_.server().scep_enroll(sub_ca_csr(requester("CN=sub2")), {"cap-2", "", false});
  ASSERT_OK(second);
  EXPECT_EQ(second->status, ScepOutcome::Status::kFailure);
  EXPECT_EQ(stored_requests(), 1u);
}

TEST_F(PolicyPathsTest, TheOperatorGrantsASubCaThatChainsToTheRoot) {
  set([](ServerConfig& c) {
    c.grant = GrantMode::kAuto;
    c.sub_ca_path_len = 0;
  });
  Requester sub = requester("CN=sub CA, O=Example");
  auto out = h_.server().scep_enroll(sub_ca_csr(sub), {"sub-ca", "", false});
  ASSERT_OK(out);
  ASSERT_EQ(out->status, ScepOutcome::Status::kPending);
  const RequestRecord stored = h_.server().requests()->front();
  // The CA profile honours CA:TRUE: the operator is told of nothing dropped.
  EXPECT_TRUE(h_.server().dropped_by_profile(stored).empty());

  auto granted = h_.server().grant(stored.id);
  ASSERT_OK(granted);
  ASSERT_EQ(granted->size(), 1u);
  const pki::Certificate cert = granted->at(0).certificate;
  auto poll = h_.server().scep_poll("sub-ca");
  ASSERT_OK(poll);
  ASSERT_EQ(poll->status, ScepOutcome::Status::kSuccess);
  EXPECT_EQ(poll->certificate->der(), cert.der());

  int critical = -1;
  pki::Ptr<BASIC_CONSTRAINTS> bc(static_cast<BASIC_CONSTRAINTS*>(
      X509_get_ext_d2i(cert.x509(), NID_basic_constraints, &critical, nullptr)));
  ASSERT_TRUE(bc);
  EXPECT_EQ(critical, 1);
  EXPECT_NE(bc->ca, 0);
  ASSERT_NE(bc->pathlen, nullptr);
  EXPECT_EQ(ASN1_INTEGER_get(bc->pathlen), 0);
  pki::Ptr<ASN1_BIT_STRING> ku(static_cast<ASN1_BIT_STRING*>(
      X509_get_ext_d2i(cert.x509(), NID_key_usage, &critical, nullptr)));
  ASSERT_TRUE(ku);
  EXPECT_EQ(critical, 1);
  EXPECT_EQ(X509_get_key_usage(cert.x509()),
            static_cast<std::uint32_t>(KU_DIGITAL_SIGNATURE | KU_KEY_CERT_SIGN | KU_CRL_SIGN));
  EXPECT_EQ(X509_get_ext_by_NID(cert.x509(), NID_ext_key_usage, -1), -1);

  auto root = h_.server().signing_identity();
  ASSERT_OK(root);
  const pki::Certificate& root_cert = root->certificate;
  const TimePoint now = h_.clock().now();
  EXPECT_EQ(cert.not_after(), now + std::chrono::days(365));  // lifetime certificate
  EXPECT_LE(cert.not_after(), root_cert.not_after());
  EXPECT_TRUE(cert.signed_by(root_cert));
  EXPECT_EQ(verify_chain(root_cert, {}, cert, now), X509_V_OK);

  // What the sub-CA signs, certificates and CRLs, chains to the root.
  const pki::Key leaf_key = *pki::Key::generate_ec(256);
  auto leaf_name = pki::parse_dn("CN=leaf.example.com");
  auto leaf_csr = pki::make_csr({.subject = leaf_name->get(), .key = leaf_key});
  ASSERT_OK(leaf_csr);
  auto leaf = pki::issue_certificate({.csr = *leaf_csr,
                                      .ca_cert = cert,
                                      .ca_key = sub.key,
                                      .serial = pki::SerialNumber{2},
                                      .not_before = now,
                                      .not_after = now + std::chrono::days(30)});
  ASSERT_OK(leaf);
  auto sub_crl_builder = pki::CrlBuilder::create(cert.x509(), sub.key.evp());
  ASSERT_OK(sub_crl_builder);
  auto sub_crl = sub_crl_builder->build(now, now + std::chrono::days(7), 1, nullptr);
  ASSERT_OK(sub_crl);
  auto root_crl = h_.server().current_crl();
  ASSERT_OK(root_crl);
  EXPECT_EQ(verify_chain(root_cert, {&cert}, *leaf, now, {*sub_crl, root_crl->der},
                         X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL),
            X509_V_OK);
  // pathlen 0: a CA below it signs nothing that verifies.
  auto sub_sub = pki::issue_certificate({.csr = *leaf_csr,
                                         .ca_cert = cert,
                                         .ca_key = sub.key,
                                         .serial = pki::SerialNumber{3},
                                         .not_before = now,
                                         .not_after = now + std::chrono::days(30),
                                         .ca = pki::CaProfile{}});
  ASSERT_OK(sub_sub);
  const pki::Key below_key = *pki::Key::generate_ec(256);
  auto below_csr = pki::make_csr({.subject = leaf_name->get(), .key = below_key});
  ASSERT_OK(below_csr);
  auto below = pki::issue_certificate({.csr = *below_csr,
                                       .ca_cert = *sub_sub,
                                       .ca_key = leaf_key,
                                       .serial = pki::SerialNumber{4},
                                       .not_before = now,
                                       .not_after = now + std::chrono::days(30)});
  ASSERT_OK(below);
  EXPECT_EQ(verify_chain(root_cert, {&cert, &*sub_sub}, *below, now),
            X509_V_ERR_PATH_LENGTH_EXCEEDED);

  // Revoked on the root: on the root's CRL, and nothing below it verifies any more.
  ASSERT_OK(h_.server().revoke(*cert.serial()));
  root_crl = h_.server().current_crl();
  ASSERT_OK(root_crl);
  bool listed = false;
  for (const auto& e : root_crl->info.entries) {
    listed = listed || e.serial.sequence == cert.serial()->sequence;
  }
  EXPECT_TRUE(listed);
  EXPECT_EQ(verify_chain(root_cert, {&cert}, *leaf, now, {*sub_crl, root_crl->der},
                         X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL),
            X509_V_ERR_CERT_REVOKED);
}

TEST_F(PolicyPathsTest, SubCaCertificatesEndWithTheRoot) {
  Requester sub = requester("CN=late sub CA");
  auto out = h_.server().submit(sub_ca_csr(sub, "", "critical,CA:TRUE,pathlen:3"),
                                RequestSource::kManualPem);
  ASSERT_OK(out);
  ASSERT_FALSE(out->certificate.has_value());
  // No pathlen configured: the one asked for is not granted, and the operator sees it.
  const auto dropped = h_.server().dropped_by_profile(out->request);
  ASSERT_EQ(dropped.size(), 1u);
  EXPECT_EQ(dropped[0], "basicConstraints pathlen:3 (replaced by the profile)");

  auto root = h_.server().signing_identity();
  ASSERT_OK(root);
  const TimePoint root_end = root->certificate.not_after();
  h_.clock().set(root_end - std::chrono::days(100));
  auto granted = h_.server().grant(out->request.id);
  ASSERT_OK(granted);
  const pki::Certificate& cert = granted->at(0).certificate;
  EXPECT_EQ(cert.not_after(), root_end);
  pki::Ptr<BASIC_CONSTRAINTS> bc(static_cast<BASIC_CONSTRAINTS*>(
      X509_get_ext_d2i(cert.x509(), NID_basic_constraints, nullptr, nullptr)));
  ASSERT_TRUE(bc);
  EXPECT_NE(bc->ca, 0);
  EXPECT_EQ(bc->pathlen, nullptr);
  EXPECT_EQ(verify_chain(root->certificate, {}, cert, h_.clock().now()), X509_V_OK);
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
