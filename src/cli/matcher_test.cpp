#include "cli/matcher.h"

#include <gtest/gtest.h>

#include "cli/test_table.h"
#include "cli/walk.h"

namespace scepter::cli {
namespace {

class MatcherTest : public ::testing::Test {
 protected:
  void SetUp() override { testing::build_test_table(table_); }
  MatchResult match(std::string_view line, Node node = Node::kExec) {
    return match_command(table_, node, line);
  }
  CommandTable table_;
};

TEST_F(MatcherTest, UniquePrefixes) {
  MatchResult m = match("sho cry pki ser mycs");
  ASSERT_EQ(m.status, MatchStatus::kOk);
  EXPECT_EQ(m.command->grammar, "show crypto pki server [WORD$label]");
  EXPECT_EQ(m.args.word("label"), "mycs");
  EXPECT_TRUE(m.args.has("server"));
  EXPECT_FALSE(m.args.has("certificates"));
}

TEST_F(MatcherTest, KeywordsAreCaseInsensitive) {
  MatchResult m = match("SHOW Clock");
  ASSERT_EQ(m.status, MatchStatus::kOk);
  EXPECT_EQ(m.command->grammar, "show clock");
}

TEST_F(MatcherTest, AmbiguousPrefix) {
  EXPECT_EQ(match("sh clock").status, MatchStatus::kAmbiguous);
  EXPECT_EQ(match("show crypto pki c").status, MatchStatus::kOk);
  EXPECT_EQ(match("show c").status, MatchStatus::kAmbiguous);
}

TEST_F(MatcherTest, ExactMatchBeatsLongerKeyword) {
  MatchResult m = match("level prio 3");
  ASSERT_EQ(m.status, MatchStatus::kOk);
  EXPECT_EQ(m.command->grammar, "level prio (1-10)$n");
  m = match("level priority 3");
  ASSERT_EQ(m.status, MatchStatus::kOk);
  EXPECT_EQ(m.command->grammar, "level priority (1-10)$n");
  EXPECT_EQ(match("level pri 3").status, MatchStatus::kAmbiguous);
}

TEST_F(MatcherTest, KeywordBeatsVariable) {
  MatchResult m = match("name se");
  ASSERT_EQ(m.status, MatchStatus::kOk);
  EXPECT_TRUE(m.args.has("set"));
  EXPECT_FALSE(m.args.has("value"));
  m = match("name other");
  ASSERT_EQ(m.status, MatchStatus::kOk);
  EXPECT_EQ(m.args.word("value"), "other");
}

TEST_F(MatcherTest, RangesAreChecked) {
  MatchResult m = match("lifetime crl 336", Node::kCsServer);
  ASSERT_EQ(m.status, MatchStatus::kOk);
  EXPECT_EQ(m.args.integer("hours"), 336);
  m = match("lifetime crl 337", Node::kCsServer);
  EXPECT_EQ(m.status, MatchStatus::kInvalid);
  EXPECT_EQ(m.error_offset, 13u);
  EXPECT_EQ(match("lifetime crl 0", Node::kCsServer).status, MatchStatus::kInvalid);
  EXPECT_EQ(match("lifetime crl 1x", Node::kCsServer).status, MatchStatus::kInvalid);
  EXPECT_EQ(match("lifetime crl 99999999999999999999999", Node::kCsServer).status,
            MatchStatus::kInvalid);
}

TEST_F(MatcherTest, RangeOrKeyword) {
  MatchResult m = match("grant a");
  ASSERT_EQ(m.status, MatchStatus::kOk);
  EXPECT_TRUE(m.args.has("all"));
  m = match("grant 42");
  ASSERT_EQ(m.status, MatchStatus::kOk);
  EXPECT_EQ(m.args.integer("id"), 42);
}

TEST_F(MatcherTest, UnorderedOptionsInAnyOrder) {
  MatchResult m = match("crypto key gen rsa mod 2048 exp label k1 us");
  ASSERT_EQ(m.status, MatchStatus::kOk);
  EXPECT_EQ(m.args.integer("bits"), 2048);
  EXPECT_TRUE(m.args.has("exportable"));
  EXPECT_EQ(m.args.word("label"), "k1");
  EXPECT_EQ(m.args.choice("usage"), "usage-keys");
  m = match("crypto key generate rsa");
  ASSERT_EQ(m.status, MatchStatus::kOk);
  EXPECT_FALSE(m.args.has("usage"));
  EXPECT_EQ(m.args.integer("bits", 1024), 1024);
  // Each option once.
  m = match("crypto key generate rsa label a label b");
  EXPECT_EQ(m.status, MatchStatus::kInvalid);
  EXPECT_EQ(m.error_offset, 32u);
  // One usage only.
  EXPECT_EQ(match("crypto key generate rsa general usage").status, MatchStatus::kInvalid);
  EXPECT_EQ(match("crypto key generate rsa label").status, MatchStatus::kIncomplete);
}

TEST_F(MatcherTest, LineTakesTheRest) {
  MatchResult m = match("issuer-name   CN=mycs, O=Example,  C=US  ", Node::kCsServer);
  ASSERT_EQ(m.status, MatchStatus::kOk);
  EXPECT_EQ(m.args.line("dn"), "CN=mycs, O=Example,  C=US");
  EXPECT_EQ(match("issuer-name", Node::kCsServer).status, MatchStatus::kIncomplete);
}

TEST_F(MatcherTest, IncompleteAndInvalid) {
  EXPECT_EQ(match("show crypto").status, MatchStatus::kIncomplete);
  EXPECT_EQ(match("").status, MatchStatus::kEmpty);
  EXPECT_EQ(match("   ").status, MatchStatus::kEmpty);
  MatchResult m = match("show clock now");
  EXPECT_EQ(m.status, MatchStatus::kInvalid);
  EXPECT_EQ(m.error_offset, 11u);
  m = match("  bogus");
  EXPECT_EQ(m.status, MatchStatus::kInvalid);
  EXPECT_EQ(m.error_offset, 2u);
}

TEST_F(MatcherTest, NoForm) {
  MatchResult m = match("no lifetime crl", Node::kCsServer);
  ASSERT_EQ(m.status, MatchStatus::kOk);
  EXPECT_TRUE(m.args.has("no"));
  EXPECT_FALSE(m.args.has("hours"));
  m = match("no lifetime crl 24", Node::kCsServer);
  ASSERT_EQ(m.status, MatchStatus::kOk);
  EXPECT_EQ(m.args.integer("hours"), 24);
  EXPECT_EQ(match("lifetime crl", Node::kCsServer).status, MatchStatus::kIncomplete);
  EXPECT_EQ(match("no lifetime", Node::kCsServer).status, MatchStatus::kIncomplete);
  EXPECT_FALSE(match("lifetime crl 5", Node::kCsServer).args.has("no"));
}

TEST_F(MatcherTest, ErrorTexts) {
  MatchResult m = match("show clock now");
  EXPECT_EQ(match_error_text(m, "show clock now", 7),
            std::string(18, ' ') + "^\n% Invalid input detected at '^' marker.\n");
  EXPECT_EQ(match_error_text(match("show crypto"), "show crypto", 7), "% Incomplete command.\n");
  EXPECT_EQ(match_error_text(match("sh clock"), "sh clock", 7),
            "% Ambiguous command:  \"sh clock\"\n");
}

TEST_F(MatcherTest, CanonicalKeywordsNotPrefixes) {
  MatchResult m = match("hash sha2", Node::kCsServer);
  ASSERT_EQ(m.status, MatchStatus::kOk);
  EXPECT_EQ(m.args.choice("alg"), "sha256");
  EXPECT_EQ(m.args.offset("alg"), 5u);
}

TEST_F(MatcherTest, ExplicitNoFormBeatsRelaxedOne) {
  testing::add_recorded(table_, Node::kCsServer, "[no] database url WORD$url",
                        {kNoHelp, "Database", "URL", "Root URL"});
  testing::add_recorded(table_, Node::kCsServer, "no database url", {kNoHelp, "Database", "URL"});
  MatchResult m = match("no database url", Node::kCsServer);
  ASSERT_EQ(m.status, MatchStatus::kOk);
  EXPECT_EQ(m.command->grammar, "no database url");
  m = match("no database url nvram:", Node::kCsServer);
  ASSERT_EQ(m.status, MatchStatus::kOk);
  EXPECT_EQ(m.command->grammar, "[no] database url WORD$url");
}

TEST_F(MatcherTest, NestedOptionalSequences) {
  testing::add_recorded(table_, Node::kExec, "rollover [request [pkcs10 terminal]]",
                        {"Rollover", "Request", "PKCS#10", "From the terminal"});
  EXPECT_EQ(match("rollover").status, MatchStatus::kOk);
  EXPECT_EQ(match("rollover request").status, MatchStatus::kOk);
  EXPECT_EQ(match("rollover request pkcs10").status, MatchStatus::kIncomplete);
  MatchResult m = match("rollover req pk term");
  ASSERT_EQ(m.status, MatchStatus::kOk);
  EXPECT_TRUE(m.args.has("terminal"));
  EXPECT_EQ(match("rollover pkcs10").status, MatchStatus::kInvalid);
}

TEST(SplitWords, KeepsOffsets) {
  auto w = split_words("  a\tbb  c ");
  ASSERT_EQ(w.size(), 3u);
  EXPECT_EQ(w[1].text, "bb");
  EXPECT_EQ(w[1].offset, 4u);
  EXPECT_EQ(w[2].offset, 8u);
}

}  // namespace
}  // namespace scepter::cli
