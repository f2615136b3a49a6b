// The certificate server's first `no shutdown` (the CA key, certificate, archive and
// CRL), its states, and which configuration changes it takes once the CA exists.
#include "ca/certificate_server.h"

#include <gtest/gtest.h>

#include "ca/ca_test_support.h"
#include "common/fs.h"

namespace scepter::ca {
namespace {

using namespace std::chrono_literals;
using testing::kStart;
using testing::make_csr_der;
using testing::ServerHarness;

using testing::serial_of;
using CertificateServerTest = testing::ServerTest;

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

}  // namespace
}  // namespace scepter::ca
