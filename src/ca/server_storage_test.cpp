// What the certificate server keeps on storage: the CRL it publishes and reissues, the
// certificate files, and how a storage failure disables it until fixed.
#include <gtest/gtest.h>

#include <filesystem>

#include "ca/ca_test_support.h"
#include "ca/certificate_server.h"
#include "common/fs.h"

namespace scepter::ca {
namespace {

using namespace std::chrono_literals;
using testing::make_csr_der;
using testing::ServerHarness;

using ServerStorageTest = testing::ServerTest;

TEST_F(ServerStorageTest, RevokeUpdatesTheCrl) {
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

TEST_F(ServerStorageTest, StorageFailureAtEnableIsRetriedByTick) {
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

TEST_F(ServerStorageTest, CrlWriteFailureDisablesUntilFixed) {
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

TEST_F(ServerStorageTest, CertificateFileFailureDisablesUntilStorageIsBack) {
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

TEST_F(ServerStorageTest, TickReissuesTheCrlBeforeNextUpdate) {
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

TEST_F(ServerStorageTest, RestartReloadsTheCurrentCrl) {
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

TEST_F(ServerStorageTest, DatabaseLevelCompleteWritesNamesAndCertificates) {
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
