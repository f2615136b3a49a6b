// username, aaa local authentication attempts max-fail, their running-config lines, and
// show/clear aaa local user lockout.
#include <sstream>

#include <gtest/gtest.h>

#include "cli/commands/more_commands_testing.h"
#include "pki/password_hash.h"

namespace scepter::cli {
namespace {

class AccountCommandsTest : public testing::MoreCommandsTest {
 protected:
  void SetUp() override { run("configure terminal"); }
  ca::Accounts& accounts() { return dev_.device().accounts(); }
  // The account lines of the running-config.
  std::string account_config() {
    std::istringstream config(exec("do show running-config").output);
    std::string out;
    for (std::string line; std::getline(config, line);) {
      if (line.starts_with("username ") || line.starts_with("aaa ")) out += line + "\n";
    }
    return out;
  }
};

TEST_F(AccountCommandsTest, SecretsAreKeptAndShownHashed) {
  EXPECT_TRUE(exec("username admin privilege 15 secret 0 Sekr1t").ok);
  auto admin = accounts().find("admin");
  ASSERT_TRUE(admin);
  EXPECT_EQ(admin->privilege, 15);
  EXPECT_TRUE(pki::type9_verify("Sekr1t", admin->secret));
  EXPECT_EQ(account_config(), "username admin privilege 15 secret 9 " + admin->secret + "\n");
  // The line as shown loads back to the same account.
  const std::string shown = account_config();
  EXPECT_TRUE(exec("no username admin").ok);
  EXPECT_FALSE(accounts().find("admin"));
  EXPECT_TRUE(exec(shown.substr(0, shown.size() - 1)).ok);
  EXPECT_EQ(accounts().find("admin")->secret, admin->secret);
  // Without a type, the secret is clear text too; privilege 1 is not written.
  EXPECT_TRUE(exec("username reader secret pw").ok);
  EXPECT_NE(account_config().find("username reader secret 9 $9$"), std::string::npos);
  EXPECT_EQ(account_config().find("Sekr1t"), std::string::npos);
}

TEST_F(AccountCommandsTest, RefusedLines) {
  EXPECT_EQ(exec("username bob").output,
            "% User bob needs a secret: username bob secret PASSWORD.\n");
  EXPECT_EQ(exec("username bob secret 9 notahash").output, "% Invalid type 9 secret.\n");
  EXPECT_EQ(exec("no username bob").output, "% User bob does not exist.\n");
  EXPECT_FALSE(exec("username bob privilege 16 secret x").ok);
  EXPECT_FALSE(exec("username bob certificate sha256 1234").ok);
  EXPECT_TRUE(accounts().list().empty());
}

TEST_F(AccountCommandsTest, LevelChangesKeepTheSecret) {
  exec("username op secret pw");
  const std::string secret = accounts().find("op")->secret;
  EXPECT_TRUE(exec("username op privilege 7").ok);
  EXPECT_EQ(accounts().find("op")->privilege, 7);
  EXPECT_EQ(accounts().find("op")->secret, secret);
}

TEST_F(AccountCommandsTest, CertificateAccounts) {
  const std::string fp(64, 'a');
  const std::string upper(64, 'A');
  EXPECT_TRUE(exec("username robot privilege 7 certificate sha256 " + fp).ok);
  EXPECT_EQ(accounts().find("robot")->certificate_sha256, upper);
  EXPECT_EQ(account_config(), "username robot privilege 7 certificate sha256 " + upper + "\n");
  // Colons as fingerprints are often printed.
  std::string colons;
  for (int i = 0; i < 32; ++i) colons += (i ? ":" : "") + std::string("BB");
  EXPECT_TRUE(exec("username admin secret pw").ok);
  EXPECT_TRUE(exec("username admin certificate sha256 " + colons).ok);
  EXPECT_EQ(accounts().find("admin")->certificate_sha256, std::string(64, 'B'));
  EXPECT_NE(account_config().find("username admin certificate sha256 " + std::string(64, 'B')),
            std::string::npos);
  EXPECT_TRUE(exec("no username admin certificate").ok);
  EXPECT_EQ(accounts().find("admin")->certificate_sha256, "");
  EXPECT_FALSE(exec("no username robot certificate").ok);  // it would be left with nothing
}

TEST_F(AccountCommandsTest, LockoutsShownAndCleared) {
  exec("username admin secret right");
  EXPECT_TRUE(exec("aaa local authentication attempts max-fail 2").ok);
  EXPECT_EQ(account_config().substr(0, 46), "aaa local authentication attempts max-fail 2\nu");
  accounts().check_password("admin", "wrong");
  accounts().check_password("admin", "wrong");
  const std::string shown = exec("do show aaa local user lockout").output;
  EXPECT_EQ(shown,
            "Local-user              Failures  Locked until\n"
            "admin                   2         cleared by an operator\n");
  run("end");
  EXPECT_FALSE(exec("clear aaa local user lockout username nobody").ok);
  EXPECT_TRUE(exec("clear aaa local user lockout username admin").ok);
  EXPECT_EQ(accounts().check_password("admin", "right").verdict, ca::Accounts::Verdict::kOk);
  run("configure terminal");
  EXPECT_TRUE(exec("no aaa local authentication attempts max-fail").ok);
  EXPECT_FALSE(accounts().max_fail());
}

}  // namespace
}  // namespace scepter::cli
