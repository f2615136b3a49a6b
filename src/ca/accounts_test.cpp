// Accounts: levels and roles, type 9 secrets, IOS max-fail locks until cleared, Scepter's
// own temporary lock, and unknown names leaving nothing behind.
#include "ca/accounts.h"

#include <gtest/gtest.h>

#include "common/testing.h"
#include "pki/password_hash.h"

namespace scepter::ca {
namespace {

class AccountsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto secret = pki::type9_hash("right");
    ASSERT_OK(secret);
    secret_ = *secret;
    ASSERT_OK(accounts_.set({"alice", 15, secret_, ""}));
  }

  FakeClock clock_{TimePoint(std::chrono::seconds(1'800'000'000))};
  Accounts accounts_{clock_};
  std::string secret_;
};

TEST_F(AccountsTest, RolesFollowTheLevel) {
  EXPECT_EQ(role_for_privilege(1), Role::kReadOnly);
  EXPECT_EQ(role_for_privilege(2), Role::kOperator);
  EXPECT_EQ(role_for_privilege(14), Role::kOperator);
  EXPECT_EQ(role_for_privilege(15), Role::kAdministrator);
  EXPECT_STREQ(role_name(Role::kOperator), "operator");
}

TEST_F(AccountsTest, RefusesBadAccounts) {
  EXPECT_FALSE(accounts_.set({"bad name", 1, secret_, ""}).ok());
  EXPECT_FALSE(accounts_.set({"a:b", 1, secret_, ""}).ok());
  EXPECT_FALSE(accounts_.set({"", 1, secret_, ""}).ok());
  EXPECT_FALSE(accounts_.set({std::string(65, 'a'), 1, secret_, ""}).ok());
  EXPECT_FALSE(accounts_.set({"bob", 0, secret_, ""}).ok());
  EXPECT_FALSE(accounts_.set({"bob", 16, secret_, ""}).ok());
  EXPECT_FALSE(accounts_.set({"bob", 1, "plain", ""}).ok());
  EXPECT_FALSE(accounts_.set({"bob", 1, "", ""}).ok());     // neither
  EXPECT_FALSE(accounts_.set({"bob", 1, "", "ABC"}).ok());  // short fingerprint
  EXPECT_FALSE(accounts_.set({"bob", 1, "", std::string(64, 'g')}).ok());
  EXPECT_OK(accounts_.set({"bob", 1, "", std::string(64, 'A')}));
  EXPECT_EQ(accounts_.by_certificate(std::string(64, 'A'))->name, "bob");
  EXPECT_FALSE(accounts_.by_certificate(std::string(64, 'B')));
  // No password: a password never logs in as bob.
  EXPECT_EQ(accounts_.check_password("bob", "").verdict, Accounts::Verdict::kWrong);
}

TEST_F(AccountsTest, RightAndWrongPasswords) {
  auto ok = accounts_.check_password("alice", "right");
  EXPECT_EQ(ok.verdict, Accounts::Verdict::kOk);
  EXPECT_EQ(ok.account->privilege, 15);
  EXPECT_EQ(accounts_.check_password("alice", "wrong").verdict, Accounts::Verdict::kWrong);
  EXPECT_EQ(accounts_.check_password("nobody", "right").verdict, Accounts::Verdict::kWrong);
  EXPECT_TRUE(accounts_.lockouts().empty());
}

TEST_F(AccountsTest, DefaultLockIsTemporary) {
  for (int i = 0; i < kDefaultMaxFail - 1; ++i) {
    EXPECT_EQ(accounts_.check_password("alice", "wrong").verdict, Accounts::Verdict::kWrong);
  }
  // A success in between starts the count again.
  EXPECT_EQ(accounts_.check_password("alice", "right").verdict, Accounts::Verdict::kOk);
  for (int i = 0; i < kDefaultMaxFail; ++i) accounts_.check_password("alice", "wrong");
  auto locked = accounts_.check_password("alice", "right");
  EXPECT_EQ(locked.verdict, Accounts::Verdict::kLocked);
  ASSERT_TRUE(locked.locked_until);
  EXPECT_EQ(*locked.locked_until, clock_.now() + kDefaultLockout);
  ASSERT_EQ(accounts_.lockouts().size(), 1u);
  clock_.advance(kDefaultLockout);
  EXPECT_EQ(accounts_.check_password("alice", "right").verdict, Accounts::Verdict::kOk);
  EXPECT_TRUE(accounts_.lockouts().empty());
}

TEST_F(AccountsTest, MaxFailLocksUntilCleared) {
  accounts_.set_max_fail(2);
  accounts_.check_password("alice", "wrong");
  accounts_.check_password("alice", "wrong");
  auto locked = accounts_.check_password("alice", "right");
  EXPECT_EQ(locked.verdict, Accounts::Verdict::kLocked);
  EXPECT_FALSE(locked.locked_until);
  clock_.advance(std::chrono::hours(24 * 30));
  EXPECT_EQ(accounts_.check_password("alice", "right").verdict, Accounts::Verdict::kLocked);
  auto locks = accounts_.lockouts();
  ASSERT_EQ(locks.size(), 1u);
  EXPECT_EQ(locks[0].name, "alice");
  EXPECT_EQ(locks[0].failures, 2);
  EXPECT_EQ(accounts_.clear_lockout(std::string("bob")), 0);
  EXPECT_EQ(accounts_.clear_lockout(std::nullopt), 1);
  EXPECT_EQ(accounts_.check_password("alice", "right").verdict, Accounts::Verdict::kOk);
}

TEST_F(AccountsTest, NewPasswordUnlocksRemovalForgets) {
  accounts_.set_max_fail(1);
  accounts_.check_password("alice", "wrong");
  EXPECT_EQ(accounts_.lockouts().size(), 1u);
  // The same secret again (a level change) keeps the lock; a new one lifts it.
  ASSERT_OK(accounts_.set({"alice", 7, secret_, ""}));
  EXPECT_EQ(accounts_.lockouts().size(), 1u);
  auto other = pki::type9_hash("other");
  ASSERT_OK(other);
  ASSERT_OK(accounts_.set({"alice", 7, *other, ""}));
  EXPECT_TRUE(accounts_.lockouts().empty());
  accounts_.check_password("alice", "wrong");
  EXPECT_TRUE(accounts_.remove("alice"));
  EXPECT_FALSE(accounts_.remove("alice"));
  EXPECT_TRUE(accounts_.lockouts().empty());
  EXPECT_FALSE(accounts_.find("alice"));
}

}  // namespace
}  // namespace scepter::ca
