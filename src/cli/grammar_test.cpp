#include "cli/grammar.h"

#include <gtest/gtest.h>

#include "cli/commands/commands.h"
#include "common/testing.h"

namespace scepter::cli {
namespace {

Result<CommandGraph> compile(std::string_view g, std::vector<std::string> helps) {
  return compile_grammar(g, helps);
}

std::vector<std::string> n_helps(std::size_t n) { return std::vector<std::string>(n, "h"); }

TEST(Grammar, TokensInOrderWithKinds) {
  auto g = compile("[no] lifetime crl (1-336)$hours WORD LINE$rest", n_helps(6));
  ASSERT_OK(g);
  ASSERT_EQ(g->tokens.size(), 6u);
  EXPECT_EQ(g->tokens[0].text, "no");
  EXPECT_EQ(g->tokens[3].kind, TokenKind::kRange);
  EXPECT_EQ(g->tokens[3].min, 1);
  EXPECT_EQ(g->tokens[3].max, 336);
  EXPECT_EQ(g->tokens[3].bind, "hours");
  EXPECT_EQ(g->tokens[3].display(), "<1-336>");
  EXPECT_EQ(g->tokens[4].kind, TokenKind::kVariable);
  EXPECT_EQ(g->tokens[4].bind, "WORD");
  EXPECT_EQ(g->tokens[5].kind, TokenKind::kLine);
  EXPECT_EQ(g->tokens[5].bind, "rest");
  EXPECT_TRUE(g->optional_no);
}

TEST(Grammar, HelpCountMustMatch) {
  auto g = compile("show clock", {"Show"});
  ASSERT_FALSE(g.has_value());
  EXPECT_NE(g.error().message().find("2 tokens but 1 help lines"), std::string::npos);
}

TEST(Grammar, AlternativeBindAppliesToEachKeyword) {
  auto g = compile("grant <auto|none|ra-auto>$mode", n_helps(4));
  ASSERT_OK(g);
  for (int i = 1; i <= 3; ++i) EXPECT_EQ(g->tokens[static_cast<std::size_t>(i)].bind, "mode");
  EXPECT_FALSE(g->optional_no);
}

TEST(Grammar, SyntaxErrors) {
  EXPECT_FALSE(compile("show [clock", n_helps(2)).has_value());
  EXPECT_FALSE(compile("show <a|b", n_helps(3)).has_value());
  EXPECT_FALSE(compile("show <a|>", n_helps(2)).has_value());
  EXPECT_FALSE(compile("show (5-1)", n_helps(2)).has_value());
  EXPECT_FALSE(compile("show (x-1)", n_helps(2)).has_value());
  EXPECT_FALSE(compile("show Clock", n_helps(2)).has_value());
  EXPECT_FALSE(compile("show LINE clock", n_helps(3)).has_value());
  EXPECT_FALSE(compile("[show]", n_helps(1)).has_value());
  EXPECT_FALSE(compile("", n_helps(0)).has_value());
  EXPECT_FALSE(compile("show [a b]$x", n_helps(3)).has_value());
  EXPECT_FALSE(compile("show <a b|c>$x", n_helps(4)).has_value());
  EXPECT_FALSE(compile("show $x", n_helps(1)).has_value());
  EXPECT_FALSE(compile("show ]", n_helps(1)).has_value());
}

TEST(Grammar, NegativeRange) {
  auto g = compile("offset (-12-14)", n_helps(2));
  ASSERT_OK(g);
  EXPECT_EQ(g->tokens[1].min, -12);
  EXPECT_EQ(g->tokens[1].max, 14);
}

TEST(Grammar, UnorderedGroupEndsAnywhere) {
  auto g = compile("rsa {exportable|label WORD|modulus (360-4096)}", n_helps(6));
  ASSERT_OK(g);
  // After `rsa` the command may end: the options are optional.
  int rsa = g->successors(CommandGraph::kStart)[0];
  EXPECT_TRUE(g->can_end(rsa, false));
}

// Nine options (cs-server `eku`) compile; ten are refused (2^n states).
TEST(Grammar, UnorderedGroupOfNineAtMost) {
  EXPECT_TRUE(compile("eku {a|b|c|d|e|f|g|h|i}", n_helps(10)).has_value());
  EXPECT_FALSE(compile("eku {a|b|c|d|e|f|g|h|i|j}", n_helps(11)).has_value());
}

TEST(Grammar, NoFormMaySkipTrailingVariables) {
  auto g = compile("[no] lifetime crl (1-336)", n_helps(4));
  ASSERT_OK(g);
  int node = CommandGraph::kStart;
  for (std::string_view kw : {"no", "lifetime", "crl"}) {
    for (int s : g->successors(node)) {
      int t = g->nodes[static_cast<std::size_t>(s)].token;
      if (t >= 0 && g->tokens[static_cast<std::size_t>(t)].text == kw) node = s;
    }
  }
  EXPECT_FALSE(g->can_end(node, false));
  EXPECT_TRUE(g->can_end(node, true));
}

TEST(Grammar, EveryRegisteredCommandCompiles) {
  // CommandTable::add aborts on a bad grammar; this builds the whole table.
  CommandTable t;
  register_all_commands(t);
  std::size_t n = 0;
  for (const NodeInfo& info : all_nodes()) n += t.commands(info.id).size();
  EXPECT_GT(n, 10u);
}

TEST(GrammarDeathTest, AddAbortsOnHelpMismatch) {
  CommandTable t;
  EXPECT_DEATH(t.add(Node::kExec, "show clock", {"only one"},
                     [](Context&, const Args&) { return CmdResult(); }),
               "1 help lines");
}

}  // namespace
}  // namespace scepter::cli
