// `?` listings and completion.
#include <gtest/gtest.h>

#include "cli/matcher.h"
#include "cli/output_filter.h"
#include "cli/test_table.h"

namespace scepter::cli {
namespace {

class HelpTest : public ::testing::Test {
 protected:
  void SetUp() override { testing::build_test_table(table_); }
  std::string help(std::string_view line, Node node = Node::kExec) {
    bool recognized = false;
    return help_listing(table_, node, line, recognized);
  }
  std::vector<std::string> complete(std::string_view line, Node node = Node::kExec) {
    return completions(table_, node, line);
  }
  CommandTable table_;
};

using Words = std::vector<std::string>;

TEST_F(HelpTest, NextKeywordsInTwoColumns) {
  EXPECT_EQ(help("show "),
            "  clock   Display the system clock\n"
            "  crypto  Encryption module\n");
  EXPECT_EQ(help("sho cry pki "),
            "  certificates  Show certificates\n"
            "  server        Show Certificate Server\n");
}

TEST_F(HelpTest, VariablesFirstAndCarriageReturn) {
  EXPECT_EQ(help("show crypto pki server "),
            "  WORD  Certificate Server label\n"
            "  |     Output modifiers\n"
            "  <cr>\n");
  EXPECT_EQ(help("grant "),
            "  <1-2147483647>  Request id\n"
            "  all             Grant all requests\n");
  EXPECT_EQ(help("show clock "), "  |  Output modifiers\n  <cr>\n");
}

// After '|': the filters, a partial filter word, then the expression (a LINE), as IOS.
TEST(OutputFilterHelp, ListsTheFiltersThenTheExpression) {
  EXPECT_EQ(output_filter_help(" "),
            "  begin    Begin with the line that matches\n"
            "  count    Count number of lines which match regexp\n"
            "  exclude  Exclude lines that match\n"
            "  include  Include lines that match\n"
            "  section  Filter a section of output\n");
  EXPECT_EQ(output_filter_help(""), output_filter_help(" "));
  EXPECT_EQ(output_filter_help(" e"), "exclude\n");
  EXPECT_EQ(output_filter_help(" c"), "count\n");
  EXPECT_EQ(output_filter_help(" x"), "% Unrecognized command\n");
  EXPECT_EQ(output_filter_help(" include "), "  LINE  Regular Expression\n");
  EXPECT_EQ(output_filter_help(" i crypto"), "LINE\n");
  EXPECT_EQ(output_filter_help(" sec crypto pki "), "  LINE  Regular Expression\n  <cr>\n");
  EXPECT_EQ(output_filter_help(" bogus crypto "), "% Unrecognized command\n");
}

TEST_F(HelpTest, Ranges) {
  EXPECT_EQ(help("lifetime crl ", Node::kCsServer), "  <1-336>  Hours (default 168)\n");
  // The no form may end here.
  EXPECT_EQ(help("no lifetime crl ", Node::kCsServer),
            "  <1-336>  Hours (default 168)\n"
            "  <cr>\n");
}

TEST_F(HelpTest, PartialWordListsKeywords) {
  EXPECT_EQ(help("sh"), "show  shutdown\n");
  EXPECT_EQ(help("show c"), "clock  crypto\n");
  EXPECT_EQ(help("SHOW CL"), "clock\n");
  EXPECT_EQ(help("grant 1"), "<1-2147483647>\n");
  EXPECT_EQ(help("xyz"), "% Unrecognized command\n");
}

TEST_F(HelpTest, UnorderedOptionsLeftToGive) {
  EXPECT_EQ(help("crypto key generate rsa label k1 exportable "),
            "  encryption    Generate an encryption RSA key pair\n"
            "  general-keys  Generate a general purpose RSA key pair\n"
            "  modulus       Provide number of modulus bits on the command line\n"
            "  signature     Generate a signature RSA key pair\n"
            "  usage-keys    Generate separate RSA key pairs\n"
            "  <cr>\n");
}

TEST_F(HelpTest, Line) {
  EXPECT_EQ(help("issuer-name ", Node::kCsServer), "  LINE  Issuer name string\n");
  EXPECT_EQ(help("issuer-name CN=a, ", Node::kCsServer), "  <cr>\n");
  EXPECT_EQ(help("issuer-name CN=a, O", Node::kCsServer), "LINE\n");
}

TEST_F(HelpTest, Errors) {
  EXPECT_EQ(help("xyz "), "% Unrecognized command\n");
  EXPECT_EQ(help("show bogus "), "% Unrecognized command\n");
  EXPECT_EQ(help("show clock extra "), "% Unrecognized command\n");
  EXPECT_EQ(help("sh "), "% Ambiguous command:  \"sh \"\n");
}

TEST_F(HelpTest, EmptyLineListsTheMode) {
  EXPECT_EQ(help("", Node::kCsServer),
            "  hash         Hash algorithm\n"
            "  issuer-name  Issuer name\n"
            "  lifetime     Lifetimes of CA items\n"
            "  no           Negate a command or set its defaults\n");
}

TEST_F(HelpTest, Completion) {
  EXPECT_EQ(complete("sh"), (Words{"show", "shutdown"}));
  EXPECT_EQ(complete("show c"), (Words{"clock", "crypto"}));
  EXPECT_EQ(complete("show "), (Words{"clock", "crypto"}));
  EXPECT_EQ(complete("crypto key generate rsa e"), (Words{"encryption", "exportable"}));
  EXPECT_EQ(complete("grant "), (Words{"all"}));
  EXPECT_EQ(complete("show crypto pki server "), Words{});
  EXPECT_EQ(complete("xyz "), Words{});
  EXPECT_EQ(complete("HA", Node::kCsServer), (Words{"hash"}));
}

}  // namespace
}  // namespace scepter::cli
