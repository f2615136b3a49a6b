// Issuing: serials and lifetimes, the grant modes, one-time passwords, requests the
// server refuses or lets expire, and what a restart carries over.
#include <gtest/gtest.h>

#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "ca/ca_test_support.h"
#include "ca/certificate_server.h"
#include "common/fs.h"

namespace scepter::ca {
namespace {

using namespace std::chrono_literals;
using testing::make_csr_der;
using testing::ServerHarness;

using testing::serial_of;
using ServerIssueTest = testing::ServerTest;

TEST_F(ServerIssueTest, IssuesWithIncreasingSerialsAndConfiguredLifetime) {
  enable();
  set_grant(GrantMode::kAuto);
  ASSERT_OK(h_.set([](ServerConfig& c) { c.cert_lifetime_days = 30; }));
  for (std::uint64_t want = 2; want <= 5; ++want) {
    h_.clock().advance(10s);
    SubmitOutcome out = submit("CN=r" + std::to_string(want) + ", O=Example");
    ASSERT_TRUE(out.certificate.has_value());
    EXPECT_EQ(serial_of(*out.certificate), want);
    EXPECT_EQ(out.request.state, RequestState::kGranted);
    EXPECT_EQ(out.certificate->not_before(), h_.clock().now());
    EXPECT_EQ(out.certificate->not_after(), h_.clock().now() + std::chrono::days(30));
    EXPECT_TRUE(out.certificate->signed_by(*h_.server().info().ca_certificate));
  }
  EXPECT_EQ(h_.server().info().last_serial, 5u);
  // Shut down, show still says what was issued last (IOS does not go back to 0x0).
  h_.server().shutdown();
  EXPECT_EQ(h_.server().info().last_serial, 5u);
}

TEST_F(ServerIssueTest, CertificatesStopAtTheCaExpiry) {
  ASSERT_OK(h_.set([](ServerConfig& c) {
    c.cert_lifetime_days = 30;
    c.ca_lifetime_days = 60;
  }));
  enable();
  set_grant(GrantMode::kAuto);
  const TimePoint ca_end = h_.server().info().ca_certificate->not_after();
  h_.clock().set(ca_end - std::chrono::days(5));
  SubmitOutcome out = submit("CN=late");
  ASSERT_TRUE(out.certificate.has_value());
  EXPECT_EQ(out.certificate->not_after(), ca_end);
}

TEST_F(ServerIssueTest, NothingIsIssuedOnceTheCaHasExpired) {
  ASSERT_OK(h_.set([](ServerConfig& c) {
    c.cert_lifetime_days = 30;
    c.ca_lifetime_days = 60;
    c.grant = GrantMode::kAuto;
  }));
  enable();
  h_.clock().set(h_.server().info().ca_certificate->not_after() + 1h);
  auto out = h_.server().submit(make_csr_der("CN=after"), RequestSource::kManualPem);
  EXPECT_CODE(out, Code::kUnavailable);
  EXPECT_NE(out.error().message().find("The CA certificate expired"), std::string::npos);
  EXPECT_EQ(h_.server().info().last_serial, 1u);  // no serial used up
}

TEST_F(ServerIssueTest, ConcurrentSubmitsGetUniqueSerials) {
  enable();
  set_grant(GrantMode::kAuto);
  constexpr int kThreads = 8, kEach = 6;
  std::vector<std::string> csrs;
  for (int i = 0; i < kThreads; ++i) csrs.push_back(make_csr_der("CN=t" + std::to_string(i)));
  std::mutex mu;
  std::vector<std::uint64_t> serials;
  std::vector<RequestId> ids;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        auto out = h_.server().submit(csrs[t], RequestSource::kManualBase64);
        std::lock_guard<std::mutex> lock(mu);
        ASSERT_TRUE(out.has_value() && out->certificate.has_value());
        serials.push_back(serial_of(*out->certificate));
        ids.push_back(out->request.id);
      }
    });
  }
  for (auto& t : threads) t.join();
  ASSERT_EQ(serials.size(), std::size_t{kThreads * kEach});
  std::set<std::uint64_t> unique(serials.begin(), serials.end());
  EXPECT_EQ(unique.size(), serials.size());
  EXPECT_EQ(*unique.begin(), 2u);
  EXPECT_EQ(*unique.rbegin(), std::uint64_t{kThreads * kEach + 1});
  EXPECT_EQ(std::set<RequestId>(ids.begin(), ids.end()).size(), ids.size());
  int stored = 0;
  ASSERT_OK(h_.server().for_each_certificate([&](const store::CertRecord&) {
    ++stored;
    return true;
  }));
  EXPECT_EQ(stored, kThreads * kEach + 1);  // and the CA certificate
}

// Under `hash md5|sha1` every new serial is the sequence number followed by 64 random
// bits; the database keys on the sequence number, the certificate, GetCert and the CRL
// carry the whole serial, and the operator may revoke by either.
TEST_F(ServerIssueTest, WeakHashSerialsCarryEntropy) {
  enable();
  set_grant(GrantMode::kAuto);
  ASSERT_OK(h_.set([](ServerConfig& c) { c.hash = pki::Hash::kSha1; }));
  const SubmitOutcome a = submit("CN=a");
  const SubmitOutcome b = submit("CN=b");
  ASSERT_TRUE(a.certificate && b.certificate);
  auto sa = a.certificate->serial();
  auto sb = b.certificate->serial();
  ASSERT_OK(sa);
  ASSERT_OK(sb);
  EXPECT_EQ(sa->sequence, 2u);
  EXPECT_EQ(sb->sequence, 3u);
  ASSERT_TRUE(sa->entropy.has_value() && sb->entropy.has_value());
  EXPECT_NE(*sa->entropy, *sb->entropy);  // 2^-64 chance of a false failure
  EXPECT_EQ(X509_get_signature_nid(a.certificate->x509()), NID_sha1WithRSAEncryption);
  EXPECT_EQ(a.certificate->serial_hex(), sa->hex());
  EXPECT_GE(sa->hex().size(), 17u);

  // GetCert wants the whole serial.
  ASSERT_OK(h_.server().certificate_by_serial(*sa));
  EXPECT_EQ(h_.server().certificate_by_serial(*sa)->der(), a.certificate->der());
  EXPECT_CODE(h_.server().certificate_by_serial(pki::SerialNumber{2}), Code::kNotFound);
  EXPECT_CODE(h_.server().certificate_by_serial(pki::SerialNumber{2, *sa->entropy + 1}),
              Code::kNotFound);

  // Revoke by the whole serial (a wrong one is refused) or by the sequence number.
  EXPECT_CODE(h_.server().revoke(pki::SerialNumber{2, *sa->entropy ^ 1}), Code::kNotFound);
  ASSERT_OK(h_.server().revoke(*sa));
  ASSERT_OK(h_.server().revoke(3));
  auto crl = h_.server().current_crl();
  ASSERT_OK(crl);
  ASSERT_EQ(crl->info.entries.size(), 2u);
  EXPECT_EQ(crl->info.entries[0].serial, *sa);
  EXPECT_EQ(crl->info.entries[1].serial, *sb);

  // Back to SHA-256: plain sequence numbers again, and a restart rebuilds the same CRL
  // entries from the database.
  ASSERT_OK(h_.set([](ServerConfig& c) { c.hash = pki::Hash::kSha256; }));
  const SubmitOutcome c = submit("CN=c");
  ASSERT_TRUE(c.certificate);
  EXPECT_EQ(*c.certificate->serial(), pki::SerialNumber{4});
  ASSERT_OK(fs::remove_file(h_.file("ca.crl")));
  h_.make_server(h_.server().config());
  enable();
  auto rebuilt = h_.server().current_crl();
  ASSERT_OK(rebuilt);
  ASSERT_EQ(rebuilt->info.entries.size(), 2u);
  EXPECT_EQ(rebuilt->info.entries[0].serial, *sa);
  EXPECT_EQ(rebuilt->info.entries[1].serial, *sb);
}

TEST_F(ServerIssueTest, ManualPolicyGrantRejectRemove) {
  enable();
  for (int i = 1; i <= 4; ++i) {
    SubmitOutcome out = submit("CN=m" + std::to_string(i));
    EXPECT_EQ(out.request.id, i);
    EXPECT_EQ(out.request.state, RequestState::kPending);
    EXPECT_FALSE(out.certificate.has_value());
  }
  auto one = h_.server().grant(1);
  ASSERT_OK(one);
  ASSERT_EQ(one->size(), 1u);
  EXPECT_EQ(serial_of((*one)[0].certificate), 2u);
  EXPECT_EQ((*one)[0].source, RequestSource::kManualPem);
  EXPECT_CODE(h_.server().grant(1), Code::kInvalidArgument);
  ASSERT_OK(h_.server().reject(2));
  EXPECT_CODE(h_.server().grant(2), Code::kInvalidArgument);
  auto missing = h_.server().grant(42);
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().code(), Code::kNotFound);
  EXPECT_EQ(missing.error().message(), "Request 42 does not exist.");
  ASSERT_OK(h_.server().remove(3));
  EXPECT_CODE(h_.server().remove(3), Code::kNotFound);
  EXPECT_EQ(h_.server().remove(3).message(), "Request 3 does not exist.");

  auto all = h_.server().grant(std::nullopt);
  ASSERT_OK(all);
  ASSERT_EQ(all->size(), 1u);
  EXPECT_EQ((*all)[0].request_id, 4);
  std::map<RequestId, RequestState> states;
  for (const auto& r : requests()) states[r.id] = r.state;
  EXPECT_EQ(states, (std::map<RequestId, RequestState>{{1, RequestState::kGranted},
                                                       {2, RequestState::kDenied},
                                                       {4, RequestState::kGranted}}));
  ASSERT_OK(h_.server().remove(std::nullopt));
  EXPECT_TRUE(requests().empty());
  EXPECT_EQ(submit("CN=next").request.id, 5);  // ids are never reused
}

TEST_F(ServerIssueTest, GrantNoneRefusesAndStoresNothing) {
  enable();
  set_grant(GrantMode::kNone);
  auto out = h_.server().submit(make_csr_der("CN=n"), RequestSource::kManualPem);
  EXPECT_CODE(out, Code::kPermissionDenied);
  EXPECT_NE(out.error().message().find("grant none"), std::string::npos);
  EXPECT_TRUE(requests().empty());
}

TEST_F(ServerIssueTest, OneTimePasswordGrantsOnceUntilItExpires) {
  enable();
  auto otp = h_.server().generate_password(5);
  ASSERT_OK(otp);
  EXPECT_EQ(otp->expires, h_.clock().now() + 5min);
  EXPECT_EQ(submit("CN=wrong", otp->password + "x").request.state, RequestState::kPending);
  SubmitOutcome ok = submit("CN=otp", otp->password);
  EXPECT_EQ(ok.request.state, RequestState::kGranted);
  EXPECT_TRUE(ok.certificate.has_value());
  EXPECT_EQ(submit("CN=again", otp->password).request.state, RequestState::kPending);

  auto old_one = h_.server().generate_password(5);
  auto new_one = h_.server().generate_password(5);
  EXPECT_NE(old_one->password, new_one->password);
  EXPECT_FALSE(h_.server().consume_password(old_one->password));
  h_.clock().advance(5min);
  EXPECT_EQ(submit("CN=late", new_one->password).request.state, RequestState::kPending);
}

TEST_F(ServerIssueTest, OneTimePasswordSurvivesARestart) {
  enable();
  auto otp = h_.server().generate_password(60);
  ASSERT_OK(otp);
  h_.make_server(h_.server().config());
  enable();
  EXPECT_TRUE(h_.server().consume_password(otp->password));
  EXPECT_FALSE(h_.server().consume_password(otp->password));
}

TEST_F(ServerIssueTest, BadRequestsAreRefusedAndNotRecorded) {
  enable();
  EXPECT_CODE(h_.server().submit("not a csr", RequestSource::kManualPem), Code::kInvalidArgument);
  std::string der = make_csr_der("CN=x");
  der[der.size() - 3] ^= 1;  // in the signature
  EXPECT_FALSE(h_.server().submit(der, RequestSource::kManualPem).has_value());
  auto small = pki::Key::generate_rsa(512);
  auto name = pki::parse_dn("CN=small");
  auto csr = pki::make_csr({.subject = name->get(), .key = *small});
  ASSERT_OK(csr);
  EXPECT_CODE(h_.server().submit(csr->der(), RequestSource::kManualPem), Code::kPermissionDenied);
  EXPECT_TRUE(requests().empty());
  EXPECT_EQ(submit("CN=good").request.id, 1);
}

TEST_F(ServerIssueTest, RestartContinuesSerialsAndRequestIds) {
  enable();
  submit("CN=1");
  submit("CN=2");
  submit("CN=3");
  ASSERT_OK(h_.server().grant(1));  // an older request granted last
  h_.make_server(h_.server().config());
  enable();
  EXPECT_EQ(h_.server().info().last_serial, 2u);
  EXPECT_EQ(requests().size(), 3u);
  EXPECT_EQ(submit("CN=4").request.id, 4);
  auto granted = h_.server().grant(3);
  ASSERT_OK(granted);
  EXPECT_EQ(serial_of((*granted)[0].certificate), 3u);
  EXPECT_EQ(requests().size(), 4u);
}

TEST_F(ServerIssueTest, RequestsExpire) {
  ASSERT_OK(h_.set([](ServerConfig& c) { c.request_lifetime_hours = 1; }));
  enable();
  submit("CN=old");
  h_.clock().advance(40min);
  submit("CN=young");
  h_.clock().advance(21min);
  h_.server().tick();
  auto left = requests();
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0].id, 2);
  h_.clock().advance(1h);
  h_.server().tick();
  EXPECT_TRUE(requests().empty());
}

}  // namespace
}  // namespace scepter::ca
