#include "ca/certificate_server.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "ca/ca_test_support.h"
#include "common/fs.h"

namespace scepter::ca {
namespace {

using namespace std::chrono_literals;
using testing::kStart;
using testing::make_csr_der;
using testing::ServerHarness;

std::uint64_t serial_of(const pki::Certificate& c) { return c.serial()->sequence; }

class CertificateServerTest : public ::testing::Test {
 protected:
  void enable() {
    auto r = h_.server().enable({});
    ASSERT_OK(r);
  }
  void set_grant(GrantMode mode) {
    ASSERT_OK(h_.set([&](ServerConfig& c) { c.grant = mode; }));
  }
  SubmitOutcome submit(const std::string& subject, const std::string& challenge = "") {
    auto out = h_.server().submit(make_csr_der(subject, challenge), RequestSource::kManualPem);
    EXPECT_OK(out);
    return out.has_value() ? *out : SubmitOutcome{};
  }
  std::vector<RequestRecord> requests() { return *h_.server().requests(); }

  ServerHarness h_;
};

TEST_F(CertificateServerTest, FirstEnableGeneratesCaArchiveAndCrl) {
  EXPECT_FALSE(h_.server().has_ca_certificate());
  EXPECT_FALSE(h_.server().needs_archive_password());  // it is in the configuration
  auto report = h_.server().enable({});
  ASSERT_OK(report);
  EXPECT_TRUE(report->generated_ca);
  EXPECT_FALSE(report->generated_key);  // the key existed
  EXPECT_TRUE(report->archived);
  EXPECT_EQ(h_.server().state(), ServerState::kEnabled);
  EXPECT_TRUE(h_.server().has_ca_certificate());

  const ServerInfo info = h_.server().info();
  ASSERT_TRUE(info.ca_certificate.has_value());
  EXPECT_EQ(serial_of(*info.ca_certificate), 1u);
  EXPECT_TRUE(info.ca_certificate->is_ca());
  EXPECT_EQ(info.ca_certificate->not_before(), from_unix(kStart));
  EXPECT_EQ(info.ca_certificate->not_after(), from_unix(kStart) + std::chrono::days(1095));
  EXPECT_EQ(pki::format_dn_config(info.ca_certificate->subject()), "CN=ca");
  EXPECT_EQ(info.last_serial, 1u);
  ASSERT_TRUE(info.crl_next_update.has_value());
  EXPECT_EQ(*info.crl_next_update, from_unix(kStart) + 168h);
  for (const char* f : {"ca.ser", "ca.crl", "ca.p12", "ca#1CA.cer"}) {
    EXPECT_TRUE(fs::exists(h_.file(f))) << f;
  }
  // A second enable is a no-op.
  auto again = h_.server().enable({});
  ASSERT_OK(again);
  EXPECT_FALSE(again->generated_ca);
}

TEST_F(CertificateServerTest, GeneratesTheKeyWhenMissingAndNeedsAnArchivePassword) {
  ServerConfig c = ServerHarness::default_config();
  c.label = "fresh";
  c.archive_password.clear();
  h_.make_server(c);
  EXPECT_TRUE(h_.server().needs_archive_password());
  auto report = h_.server().enable({.archive_password = "typed-at-prompt"});
  ASSERT_OK(report);
  EXPECT_TRUE(report->generated_key);
  EXPECT_EQ(report->key_bits, kDefaultCaKeyBits);
  EXPECT_TRUE(report->archived);
  EXPECT_TRUE(h_.keys().get("fresh").has_value());
  EXPECT_TRUE(fs::exists(h_.file("fresh.p12")));
}

TEST_F(CertificateServerTest, NonExportableOperatorKeyIsNotArchived) {
  ServerConfig c = ServerHarness::default_config();
  c.archive_password.clear();
  ASSERT_OK(h_.keys().put({"ca", testing::shared_ca_key(), KeyUsage::kGeneralPurpose, false}));
  h_.make_server(c);
  EXPECT_FALSE(h_.server().needs_archive_password());  // nothing to protect with it
  auto report = h_.server().enable({});
  ASSERT_OK(report);
  EXPECT_FALSE(report->archived);
  EXPECT_NE(report->archive_skipped_reason.find("not exportable"), std::string::npos);
  EXPECT_FALSE(fs::exists(h_.file("ca.p12")));
}

// A CA's key signs and decrypts: usage keys (two pairs) are refused rather than half used.
TEST_F(CertificateServerTest, UsageKeysCannotBeTheCaKey) {
  auto enc = pki::Key::generate_rsa(1024);
  ASSERT_OK(enc);
  ASSERT_OK(h_.keys().put(
      {"ca", testing::shared_ca_key(), KeyUsage::kUsageKeys, true, TimePoint{}, *enc}));
  h_.make_server(ServerHarness::default_config());
  auto report = h_.server().enable({});
  ASSERT_FALSE(report.has_value());
  EXPECT_NE(report.error().message().find("usage keys"), std::string::npos)
      << report.error().message();
  EXPECT_NE(h_.server().state(), ServerState::kEnabled);
}

TEST_F(CertificateServerTest, IssuesWithIncreasingSerialsAndConfiguredLifetime) {
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

TEST_F(CertificateServerTest, CertificatesStopAtTheCaExpiry) {
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

TEST_F(CertificateServerTest, NothingIsIssuedOnceTheCaHasExpired) {
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

TEST_F(CertificateServerTest, ConcurrentSubmitsGetUniqueSerials) {
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

TEST_F(CertificateServerTest, RevokeUpdatesTheCrl) {
  enable();
  set_grant(GrantMode::kAuto);
  submit("CN=a");
  submit("CN=b");
  auto before = h_.server().current_crl();
  ASSERT_OK(before);
  EXPECT_TRUE(before->info.entries.empty());
  h_.clock().advance(60s);
  ASSERT_OK(h_.server().revoke(3));
  auto after = h_.server().current_crl();
  ASSERT_OK(after);
  ASSERT_EQ(after->info.entries.size(), 1u);
  EXPECT_EQ(after->info.entries[0].serial, pki::SerialNumber{3});
  EXPECT_EQ(after->info.entries[0].revoked_at, h_.clock().now());
  EXPECT_EQ(after->info.this_update, h_.clock().now());
  EXPECT_GT(*after->info.crl_number, *before->info.crl_number);
  ASSERT_OK(fs::read_file(h_.file("ca.crl")));
  EXPECT_EQ(*fs::read_file(h_.file("ca.crl")), after->der);

  EXPECT_CODE(h_.server().revoke(3), Code::kAlreadyExists);
  EXPECT_CODE(h_.server().revoke(99), Code::kNotFound);
  EXPECT_CODE(h_.server().revoke(1), Code::kInvalidArgument);
  EXPECT_EQ(h_.server().current_crl()->der, after->der);
}

// Under `hash md5|sha1` every new serial is the sequence number followed by 64 random
// bits; the database keys on the sequence number, the certificate, GetCert and the CRL
// carry the whole serial, and the operator may revoke by either.
TEST_F(CertificateServerTest, WeakHashSerialsCarryEntropy) {
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

TEST_F(CertificateServerTest, ManualPolicyGrantRejectRemove) {
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
  EXPECT_CODE(h_.server().grant(42), Code::kNotFound);
  ASSERT_OK(h_.server().remove(3));
  EXPECT_CODE(h_.server().remove(3), Code::kNotFound);

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

TEST_F(CertificateServerTest, GrantNoneRefusesAndStoresNothing) {
  enable();
  set_grant(GrantMode::kNone);
  auto out = h_.server().submit(make_csr_der("CN=n"), RequestSource::kManualPem);
  EXPECT_CODE(out, Code::kPermissionDenied);
  EXPECT_NE(out.error().message().find("grant none"), std::string::npos);
  EXPECT_TRUE(requests().empty());
}

TEST_F(CertificateServerTest, OneTimePasswordGrantsOnceUntilItExpires) {
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

TEST_F(CertificateServerTest, OneTimePasswordSurvivesARestart) {
  enable();
  auto otp = h_.server().generate_password(60);
  ASSERT_OK(otp);
  h_.make_server(h_.server().config());
  enable();
  EXPECT_TRUE(h_.server().consume_password(otp->password));
  EXPECT_FALSE(h_.server().consume_password(otp->password));
}

TEST_F(CertificateServerTest, BadRequestsAreRefusedAndNotRecorded) {
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

TEST_F(CertificateServerTest, DisabledServerRefusesWork) {
  EXPECT_CODE(h_.server().submit(make_csr_der("CN=x"), RequestSource::kManualPem),
              Code::kUnavailable);
  enable();
  h_.server().shutdown();
  EXPECT_EQ(h_.server().state(), ServerState::kDisabled);
  EXPECT_CODE(h_.server().submit(make_csr_der("CN=x"), RequestSource::kManualPem),
              Code::kUnavailable);
  EXPECT_CODE(h_.server().revoke(2), Code::kUnavailable);
  EXPECT_CODE(h_.server().generate_password(5), Code::kUnavailable);
  h_.server().tick();  // does not re-enable what the operator shut down
  EXPECT_EQ(h_.server().state(), ServerState::kDisabled);
  enable();
  EXPECT_EQ(h_.server().state(), ServerState::kEnabled);
}

TEST_F(CertificateServerTest, ConfigLocks) {
  const std::string other = h_.dir().path() + "/other";
  ASSERT_OK(fs::make_dirs(other));
  // Before the CA exists everything may change.
  ASSERT_OK(h_.set([](ServerConfig& c) { c.issuer_name = "CN=Root, O=Example"; }));
  enable();
  EXPECT_CODE(h_.set([&](ServerConfig& c) { c.locations.primary = other; }),
              Code::kPermissionDenied);
  EXPECT_CODE(h_.set([&](ServerConfig& c) { c.locations.storage[files::FileType::kCrl] = other; }),
              Code::kPermissionDenied);
  EXPECT_CODE(h_.set([](ServerConfig& c) { c.archive_enabled = false; }), Code::kPermissionDenied);
  EXPECT_CODE(h_.set([](ServerConfig& c) { c.issuer_name = "CN=Other"; }), Code::kPermissionDenied);
  EXPECT_CODE(h_.set([](ServerConfig& c) { c.issuer_name.clear(); }), Code::kPermissionDenied);
  EXPECT_CODE(h_.set([](ServerConfig& c) { c.ca_lifetime_days = 500; }), Code::kPermissionDenied);
  EXPECT_CODE(h_.set([](ServerConfig& c) { c.mode = ServerMode::kSubCs; }),
              Code::kPermissionDenied);
  EXPECT_CODE(h_.set([](ServerConfig& c) { c.cert_lifetime_days = 1066; }), Code::kInvalidArgument);
  EXPECT_OK(h_.set([](ServerConfig& c) {
    c.cert_lifetime_days = 1065;
    c.grant = GrantMode::kAuto;
    c.crl_lifetime_hours = 24;
  }));
  EXPECT_EQ(h_.server().config().issuer_name, "CN=Root, O=Example");

  h_.server().shutdown();
  EXPECT_OK(h_.set([&](ServerConfig& c) { c.locations.storage[files::FileType::kCrl] = other; }));
  EXPECT_CODE(h_.set([](ServerConfig& c) { c.issuer_name = "CN=Other"; }), Code::kPermissionDenied);
}

TEST_F(CertificateServerTest, ConfigurationLoadsIntoAServerWhoseCaExists) {
  // At start-up the configuration is applied line by line to a server with defaults:
  // setting what the CA certificate already holds is not a change.
  ASSERT_OK(h_.set([](ServerConfig& c) {
    c.issuer_name = "CN=Root, O=Example";
    c.cert_lifetime_days = 60;
    c.ca_lifetime_days = 100;
  }));
  enable();
  h_.make_server(ServerHarness::default_config());
  EXPECT_OK(h_.set([](ServerConfig& c) { c.cert_lifetime_days = 60; }));
  EXPECT_OK(h_.set([](ServerConfig& c) { c.issuer_name = "CN=Root, O=Example"; }));
  EXPECT_OK(h_.set([](ServerConfig& c) { c.ca_lifetime_days = 100; }));
  EXPECT_CODE(h_.set([](ServerConfig& c) { c.issuer_name = "CN=ca"; }), Code::kPermissionDenied);
  enable();
  EXPECT_EQ(h_.server().state(), ServerState::kEnabled);
}

TEST_F(CertificateServerTest, RestartContinuesSerialsAndRequestIds) {
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

TEST_F(CertificateServerTest, StorageFailureAtEnableIsRetriedByTick) {
  const std::string store = h_.dir().path() + "/store";
  ASSERT_OK(fs::write_atomic(store, "a file, not a directory"));
  ASSERT_OK(h_.set([&](ServerConfig& c) { c.locations.primary = store; }));
  auto r = h_.server().enable({});
  EXPECT_CODE(r, Code::kUnavailable);
  EXPECT_EQ(h_.server().state(), ServerState::kCheckFailed);
  EXPECT_NE(h_.server().reason().find("Storage inaccessible"), std::string::npos);
  h_.server().tick();
  EXPECT_EQ(h_.server().state(), ServerState::kCheckFailed);
  std::filesystem::remove(store);
  h_.server().tick();  // a missing directory is not created behind the operator's back
  EXPECT_EQ(h_.server().state(), ServerState::kCheckFailed);
  std::filesystem::create_directory(store);
  h_.server().tick();
  EXPECT_EQ(h_.server().state(), ServerState::kEnabled) << h_.server().reason();
  EXPECT_TRUE(h_.server().reason().empty());
  EXPECT_TRUE(fs::exists(store + "/ca.ser"));
}

TEST_F(CertificateServerTest, CrlWriteFailureDisablesUntilFixed) {
  const std::string crls = h_.dir().path() + "/crls";
  ASSERT_OK(fs::make_dirs(crls));
  ASSERT_OK(h_.set([&](ServerConfig& c) { c.locations.storage[files::FileType::kCrl] = crls; }));
  enable();
  set_grant(GrantMode::kAuto);
  submit("CN=victim");
  std::filesystem::rename(crls, crls + ".away");
  ASSERT_OK(fs::write_atomic(crls, "in the way"));
  EXPECT_CODE(h_.server().revoke(2), Code::kUnavailable);
  EXPECT_EQ(h_.server().state(), ServerState::kCheckFailed);
  EXPECT_NE(h_.server().reason().find("CRL could not be written"), std::string::npos);
  EXPECT_CODE(h_.server().submit(make_csr_der("CN=x"), RequestSource::kManualPem),
              Code::kUnavailable);
  h_.server().tick();
  EXPECT_EQ(h_.server().state(), ServerState::kCheckFailed);

  std::filesystem::remove(crls);
  std::filesystem::rename(crls + ".away", crls);
  h_.server().tick();
  EXPECT_EQ(h_.server().state(), ServerState::kEnabled);
  auto crl = h_.server().current_crl();
  ASSERT_OK(crl);
  ASSERT_EQ(crl->info.entries.size(), 1u);
  EXPECT_EQ(crl->info.entries[0].serial, pki::SerialNumber{2});
  EXPECT_EQ(*fs::read_file(crls + "/ca.crl"), crl->der);
}

TEST_F(CertificateServerTest, CertificateFileFailureDisablesUntilStorageIsBack) {
  const std::string crt = h_.dir().path() + "/crt";
  ASSERT_OK(fs::make_dirs(crt));
  ASSERT_OK(h_.set([&](ServerConfig& c) {
    c.level = files::DbLevel::kComplete;
    c.locations.storage[files::FileType::kCrt] = crt;
    c.grant = GrantMode::kAuto;
  }));
  enable();
  std::filesystem::remove(crt);
  ASSERT_OK(fs::write_atomic(crt, "in the way"));
  // The certificate is in the database, so the client gets it; the server stops.
  SubmitOutcome out = submit("CN=a");
  ASSERT_TRUE(out.certificate.has_value());
  EXPECT_EQ(h_.server().state(), ServerState::kCheckFailed);
  EXPECT_NE(h_.server().reason().find("certificate files"), std::string::npos);
  h_.clock().advance(1s);
  h_.server().tick();  // still broken: stays disabled
  EXPECT_EQ(h_.server().state(), ServerState::kCheckFailed);
  std::filesystem::remove(crt);
  ASSERT_OK(fs::make_dirs(crt));
  h_.server().tick();
  EXPECT_EQ(h_.server().state(), ServerState::kEnabled) << h_.server().reason();
}

TEST_F(CertificateServerTest, TickReissuesTheCrlBeforeNextUpdate) {
  ASSERT_OK(h_.set([](ServerConfig& c) { c.crl_lifetime_hours = 24; }));
  enable();
  auto first = h_.server().current_crl();
  ASSERT_OK(first);
  h_.clock().advance(20h);  // 4 hours left: more than 1/8 of the lifetime
  h_.server().tick();
  EXPECT_EQ(h_.server().current_crl()->der, first->der);
  h_.clock().advance(1h + 30min);  // 2.5 hours left
  h_.server().tick();
  auto second = h_.server().current_crl();
  ASSERT_OK(second);
  EXPECT_EQ(second->info.this_update, h_.clock().now());
  EXPECT_EQ(*second->info.next_update, h_.clock().now() + 24h);
  EXPECT_GT(*second->info.crl_number, *first->info.crl_number);
}

TEST_F(CertificateServerTest, RestartReloadsTheCurrentCrl) {
  enable();
  set_grant(GrantMode::kAuto);
  submit("CN=r");
  ASSERT_OK(h_.server().revoke(2));
  const std::string der = h_.server().current_crl()->der;
  h_.clock().advance(1h);
  h_.make_server(h_.server().config());
  enable();
  EXPECT_EQ(h_.server().current_crl()->der, der);
  // A CRL that expired while the server was down is replaced at once.
  h_.make_server(h_.server().config());
  h_.clock().advance(200h);
  enable();
  auto fresh = h_.server().current_crl();
  ASSERT_OK(fresh);
  EXPECT_EQ(fresh->info.this_update, h_.clock().now());
  EXPECT_EQ(fresh->info.entries.size(), 1u);
}

TEST_F(CertificateServerTest, RequestsExpire) {
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

TEST_F(CertificateServerTest, WaitsForAValidClock) {
  h_.clock().set(from_unix(1'500'000'000));  // 2017
  EXPECT_CODE(h_.server().enable({}), Code::kUnavailable);
  EXPECT_EQ(h_.server().state(), ServerState::kWaitingForTime);
  h_.server().tick();
  EXPECT_EQ(h_.server().state(), ServerState::kWaitingForTime);
  h_.clock().set(from_unix(kStart));
  h_.server().tick();
  EXPECT_EQ(h_.server().state(), ServerState::kEnabled);
}

TEST_F(CertificateServerTest, DatabaseLevelCompleteWritesNamesAndCertificates) {
  ASSERT_OK(h_.set([](ServerConfig& c) {
    c.level = files::DbLevel::kComplete;
    c.grant = GrantMode::kAuto;
  }));
  enable();
  SubmitOutcome out = submit("CN=r1, O=Example");
  ASSERT_TRUE(out.certificate.has_value());
  auto cer = fs::read_file(h_.file("2.cer"));
  ASSERT_OK(cer);
  EXPECT_EQ(*cer, out.certificate->der());
  auto cnm = fs::read_file(h_.file("2.cnm"));
  ASSERT_OK(cnm);
  EXPECT_NE(cnm->find("cn=r1,o=Example"), std::string::npos);
}

}  // namespace
}  // namespace scepter::ca
