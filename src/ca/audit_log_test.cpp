// The audit log: records chained by hash, checkpoints signed by a CA key, and the
// verification that finds an edited, removed, moved or cut record, and a checkpoint
// signed by a key the device does not hold.

#include "ca/audit_log.h"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/testing.h"
#include "pki/test_support.h"

namespace scepter::ca {
namespace {

class AuditLogTest : public ::testing::Test {
 protected:
  AuditLogTest() : clock_(from_unix(pki::test::kNow)) {
    std::string tmpl = (std::filesystem::temp_directory_path() / "scepter-audit-XXXXXX").string();
    EXPECT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    path_ = (dir_ / "audit.log").string();
  }
  ~AuditLogTest() override { std::filesystem::remove_all(dir_); }

  std::unique_ptr<AuditLog> open() {
    auto log = AuditLog::open(path_, clock_);
    EXPECT_TRUE(log.has_value()) << log.error().to_string();
    return std::move(*log);
  }
  std::vector<std::string> lines() {
    std::ifstream in(path_);
    std::vector<std::string> out;
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
  }
  void write_lines(const std::vector<std::string>& lines) {
    std::ofstream out(path_, std::ios::trunc);
    for (const auto& l : lines) out << l << "\n";
  }
  AuditVerification verify(const std::vector<pki::Certificate>& trusted) {
    auto v = verify_audit(path_, trusted);
    EXPECT_TRUE(v.has_value()) << v.error().to_string();
    return *v;
  }
  // Five commands, a checkpoint signed by the CA, two more commands.
  void fill() {
    auto log = open();
    for (int i = 1; i <= 5; ++i) {
      log->record({"command", "shell uid 0", "",
                   "crypto pki server mycs grant " + std::to_string(i), "ok"});
    }
    EXPECT_EQ(log->unsigned_records(), 5u);
    ASSERT_OK(log->checkpoint("mycs", ca_, pki::test::rsa_key_2048()));
    EXPECT_EQ(log->unsigned_records(), 0u);
    ASSERT_OK(log->checkpoint("mycs", ca_, pki::test::rsa_key_2048()));  // nothing new: none
    log->record({"command", "shell uid 0", "", "crypto pki server mycs revoke 3", "ok"});
    log->record({"command", "shell uid 0", "", "no ip http server", "ok"});
  }

  FakeClock clock_;
  std::filesystem::path dir_;
  std::string path_;
  const pki::Certificate ca_ = pki::test::make_test_ca(pki::test::rsa_key_2048(), "mycs");
};

TEST_F(AuditLogTest, AWholeLogVerifies) {
  fill();
  ASSERT_EQ(lines().size(), 8u);
  const AuditVerification v = verify({ca_});
  EXPECT_FALSE(v.bad_line) << v.problem;
  EXPECT_EQ(v.records, 8u);
  EXPECT_EQ(v.checkpoints, 1u);
  EXPECT_EQ(v.unsigned_tail, 2u);
  EXPECT_EQ(v.signers, std::vector<std::string>{"mycs (serial 0x1)"});

  auto records = read_audit(path_, 3);
  ASSERT_TRUE(records.has_value());
  ASSERT_EQ(records->size(), 3u);
  EXPECT_EQ((*records)[0].event, "checkpoint");
  EXPECT_EQ((*records)[1].detail, "crypto pki server mycs revoke 3");
  EXPECT_EQ((*records)[2].seq, 8u);
  EXPECT_EQ((*records)[2].time, "2025-01-04T12:58:34Z");
}

TEST_F(AuditLogTest, ReopenedItGoesOnWithTheChain) {
  fill();
  {
    auto log = open();
    EXPECT_EQ(log->unsigned_records(), 2u);
    log->record({"start", "scepterd", "", "scepterd started", "ok"});
    ASSERT_OK(log->checkpoint("mycs", ca_, pki::test::rsa_key_2048()));
  }
  const AuditVerification v = verify({ca_});
  EXPECT_FALSE(v.bad_line) << v.problem;
  EXPECT_EQ(v.records, 10u);
  EXPECT_EQ(v.checkpoints, 2u);
  EXPECT_EQ(v.unsigned_tail, 0u);
}

TEST_F(AuditLogTest, AnEditedRecordIsFound) {
  fill();
  auto l = lines();
  const auto at = l[2].find("grant 3");
  ASSERT_NE(at, std::string::npos);
  l[2].replace(at, 7, "grant 4");
  write_lines(l);
  const AuditVerification v = verify({ca_});
  ASSERT_TRUE(v.bad_line);
  EXPECT_EQ(*v.bad_line, 3u);
  EXPECT_EQ(v.problem, "the record was changed");
}

TEST_F(AuditLogTest, ARecordRemovedOrMovedIsFound) {
  fill();
  auto l = lines();
  l.erase(l.begin() + 1);
  write_lines(l);
  AuditVerification v = verify({ca_});
  ASSERT_TRUE(v.bad_line);
  EXPECT_EQ(*v.bad_line, 2u);

  std::filesystem::remove(path_);  // a fresh log for the next case
  fill();
  l = lines();
  std::swap(l[3], l[4]);
  write_lines(l);
  v = verify({ca_});
  ASSERT_TRUE(v.bad_line);
  EXPECT_EQ(*v.bad_line, 4u);
}

// Rewriting the chain from an edited record on needs a CA key for the checkpoint after it.
TEST_F(AuditLogTest, ARewrittenChainNeedsTheCaKey) {
  const pki::Certificate other = pki::test::make_test_ca(pki::test::ec_key_256(), "mycs");
  {
    auto log = open();
    log->record({"command", "shell uid 0", "", "crypto pki server mycs grant 1", "ok"});
    ASSERT_OK(log->checkpoint("mycs", other, pki::test::ec_key_256()));
  }
  const AuditVerification v = verify({ca_});
  ASSERT_TRUE(v.bad_line);
  EXPECT_EQ(*v.bad_line, 2u);
  EXPECT_NE(v.problem.find("signed by a certificate this device does not hold"), std::string::npos)
      << v.problem;
  EXPECT_FALSE(verify({other}).bad_line);

  // A checkpoint whose signature was made for another chain.
  auto l = lines();
  const auto sig = l[1].find("\"signature\":\"");
  ASSERT_NE(sig, std::string::npos);
  std::string edited = l[1];
  edited[sig + 14] = edited[sig + 14] == 'A' ? 'B' : 'A';
  l[1] = edited;
  write_lines(l);
  EXPECT_TRUE(verify({other}).bad_line);
}

// After a rollover the device holds the new CA certificate only: the checkpoints signed
// by the old one are good because a checkpoint by the new one covers them, and the last
// checkpoint must be by a certificate the device holds.
TEST_F(AuditLogTest, CheckpointsByARolledOverKeyAreVouchedForByALaterOne) {
  const pki::Certificate old_ca = pki::test::make_test_ca(pki::test::ec_key_256(), "mycs");
  {
    auto log = open();
    log->record({"command", "shell uid 0", "", "crypto pki server mycs grant 1", "ok"});
    ASSERT_OK(log->checkpoint("mycs", old_ca, pki::test::ec_key_256()));  // line 2
    log->record({"command", "shell uid 0", "", "crypto pki server mycs rollover", "ok"});
    ASSERT_OK(log->checkpoint("mycs", old_ca, pki::test::ec_key_256()));  // line 4
    log->record({"command", "shell uid 0", "", "crypto pki server mycs grant 2", "ok"});
    ASSERT_OK(log->checkpoint("mycs", ca_, pki::test::rsa_key_2048()));  // line 6
    log->record({"command", "shell uid 0", "", "crypto pki server mycs grant 3", "ok"});
  }
  AuditVerification v = verify({ca_});
  EXPECT_FALSE(v.bad_line) << v.problem;
  EXPECT_EQ(v.records, 7u);
  EXPECT_EQ(v.checkpoints, 3u);
  EXPECT_EQ(v.unsigned_tail, 1u);
  ASSERT_EQ(v.signers.size(), 2u);
  EXPECT_EQ(v.signers[0], "mycs (serial 0x1)");
  EXPECT_NE(v.signers[1].find("no longer holds"), std::string::npos) << v.signers[1];

  // A device that does not know the new certificate yet: the last checkpoint is not by
  // one it holds.
  v = verify({old_ca});
  ASSERT_TRUE(v.bad_line);
  EXPECT_EQ(*v.bad_line, 6u);
  EXPECT_NE(v.problem.find("signed by a certificate this device does not hold"), std::string::npos)
      << v.problem;

  // The old key's checkpoints still have to verify.
  auto l = lines();
  const auto sig = l[3].find("\"signature\":\"");
  ASSERT_NE(sig, std::string::npos);
  l[3][sig + 14] = l[3][sig + 14] == 'A' ? 'B' : 'A';
  write_lines(l);
  v = verify({ca_});
  ASSERT_TRUE(v.bad_line);
  EXPECT_EQ(*v.bad_line, 4u);
}

// Checkpoints by the old key after the last one by a certificate the device holds vouch
// for nothing: the first of them is named.
TEST_F(AuditLogTest, TheLastCheckpointMustBeByAHeldCertificate) {
  const pki::Certificate old_ca = pki::test::make_test_ca(pki::test::ec_key_256(), "mycs");
  {
    auto log = open();
    log->record({"command", "shell uid 0", "", "crypto pki server mycs grant 1", "ok"});
    ASSERT_OK(log->checkpoint("mycs", ca_, pki::test::rsa_key_2048()));  // line 2
    log->record({"command", "shell uid 0", "", "crypto pki server mycs grant 2", "ok"});
    ASSERT_OK(log->checkpoint("mycs", old_ca, pki::test::ec_key_256()));  // line 4
    log->record({"command", "shell uid 0", "", "crypto pki server mycs grant 3", "ok"});
    ASSERT_OK(log->checkpoint("mycs", old_ca, pki::test::ec_key_256()));  // line 6
  }
  const AuditVerification v = verify({ca_});
  ASSERT_TRUE(v.bad_line);
  EXPECT_EQ(*v.bad_line, 4u);
  EXPECT_NE(v.problem.find("no checkpoint after it is signed by one it holds"), std::string::npos)
      << v.problem;
}

TEST_F(AuditLogTest, ACutLastRecordIsEndedAndNamed) {
  fill();
  {
    std::ofstream out(path_, std::ios::app);
    out << "{\"seq\":9,\"ti";  // a crash in the middle of a write
  }
  auto log = open();
  log->record({"start", "scepterd", "", "scepterd started", "ok"});
  const AuditVerification v = verify({ca_});
  ASSERT_TRUE(v.bad_line);
  EXPECT_EQ(*v.bad_line, 9u);
  EXPECT_EQ(v.problem, "not an audit record");
  EXPECT_EQ(lines().size(), 10u);
}

TEST_F(AuditLogTest, TheFileIsPrivate) {
  fill();
  const auto perms = std::filesystem::status(path_).permissions();
  EXPECT_EQ(perms & std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
}

}  // namespace
}  // namespace scepter::ca

namespace scepter::ca {
namespace {

TEST_F(AuditLogTest, UntrustedEventsAreBoundedAndCounted) {
  auto log = open();
  for (int i = 0; i < kUntrustedPerMinute + 7; ++i) {
    log->record_untrusted({"login", "api ? from 192.0.2.1", "", "REST API login (password)",
                           "failed: wrong user name or password"});
  }
  log->record({"command", "shell uid 0", "", "no ip http server", "ok"});  // never held back
  EXPECT_EQ(lines().size(), static_cast<std::size_t>(kUntrustedPerMinute + 1));
  clock_.advance(std::chrono::minutes(1));
  log->record_untrusted({"refused", "scepterd", "mycs", "PKCSReq request from cn=x", "failed"});
  auto records = read_audit(path_, 1);
  ASSERT_OK(records);
  EXPECT_EQ(records->back().detail,
            "PKCSReq request from cn=x (7 more such events before this one were not recorded)");
  EXPECT_EQ(verify({}).bad_line, std::nullopt);
}

}  // namespace
}  // namespace scepter::ca
