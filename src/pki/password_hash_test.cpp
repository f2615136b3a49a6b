#include "pki/password_hash.h"

#include <gtest/gtest.h>

#include "common/testing.h"

namespace scepter::pki {
namespace {

// hashcat's example of mode 9300 (Cisco-IOS $9$, scrypt), password "hashcat": what an IOS
// router writes for `secret hashcat` with that salt.
constexpr char kIosExample[] = "$9$2MJBozw/9R3UsU$2lFhcKvpghcyw8deP25GOfyZaagyUOGBymkryvOdfo6";

TEST(Type9, VerifiesWhatIosWrites) {
  EXPECT_TRUE(is_type9(kIosExample));
  EXPECT_TRUE(type9_verify("hashcat", kIosExample));
  EXPECT_FALSE(type9_verify("hashcaT", kIosExample));
  EXPECT_FALSE(type9_verify("", kIosExample));
}

TEST(Type9, HashesWithAFreshSaltEachTime) {
  auto a = type9_hash("s3cret pass");
  auto b = type9_hash("s3cret pass");
  ASSERT_OK(a);
  ASSERT_OK(b);
  EXPECT_NE(*a, *b);
  EXPECT_TRUE(is_type9(*a));
  EXPECT_TRUE(type9_verify("s3cret pass", *a));
  EXPECT_TRUE(type9_verify("s3cret pass", *b));
  EXPECT_FALSE(type9_verify("s3cret pas", *a));
}

TEST(Type9, MalformedIsNeverAMatch) {
  std::string s = kIosExample;
  for (std::string bad :
       {std::string(), std::string("$9$"), s.substr(0, s.size() - 1), s + "x", "$8$" + s.substr(3),
        s.substr(0, 17) + "#" + s.substr(18), s.substr(0, 20) + "+" + s.substr(21)}) {
    EXPECT_FALSE(is_type9(bad)) << bad;
    EXPECT_FALSE(type9_verify("hashcat", bad)) << bad;
  }
}

}  // namespace
}  // namespace scepter::pki
