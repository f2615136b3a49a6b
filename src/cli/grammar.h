#pragma once
// The command grammar: one string per command, compiled into a small graph the matcher
// walks (FRR's lib/command_graph, in miniature). Syntax:
//
//   show               a keyword; any unique prefix matches ("sh"), case-insensitive
//   WORD, LABEL        a variable: one word (see var_types.h for checked names)
//   LINE               the rest of the line, spaces and all (DNs, URLs); must come last
//   (1-336)            an integer in a range, shown by `?` as "<1-336>"
//   <a|b c|d>          exactly one of the alternatives (each may be a sequence)
//   [x] [x y] [a|b]    optional
//   {a|b c|d}          options in any order, each at most once, all optional
//   X$name             binds a token to an argument name; <a|b>$name binds each keyword
//   [no] ...           the command has a `no` form (see Args::has("no")); in that form,
//                      trailing variables may be left out (`no lifetime crl`)
//
// Every keyword, variable and range takes one help line, in the order they appear in the
// string (so `[no]` takes one, usually kNoHelp).

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "cli/var_types.h"
#include "common/status.h"

namespace scepter::cli {

// The help IOS shows for `no`.
inline constexpr std::string_view kNoHelp = "Negate a command or set its defaults";

enum class TokenKind : std::uint8_t { kLiteral, kVariable, kRange, kLine };

struct Token {
  TokenKind kind = TokenKind::kLiteral;
  // kLiteral: the keyword in lower case. kVariable, kLine: the name as written ("WORD").
  // kRange: "(1-336)".
  std::string text;
  std::string help;
  // The argument name: from "$name", else `text`.
  std::string bind;
  std::int64_t min = 0;  // kRange bounds, inclusive
  std::int64_t max = 0;
  VarCheck check = nullptr;  // kVariable only

  // How `?` shows the token: "show", "WORD", "LINE", "<1-336>".
  std::string display() const;
};

// A node of the compiled graph: a token, an epsilon (a fork or join with no token), or
// the end of the command. The graph is acyclic; node 0 is the start (an epsilon).
struct GraphNode {
  static constexpr int kEpsilon = -1;
  static constexpr int kEnd = -2;
  int token = kEpsilon;  // index into CommandGraph::tokens, or kEpsilon / kEnd
  std::vector<int> next;
};

struct CommandGraph {
  std::vector<Token> tokens;  // in the order they appear in the grammar string
  std::vector<GraphNode> nodes;
  bool optional_no = false;  // the grammar starts with "[no]"

  static constexpr int kStart = 0;
  // The token and end nodes reachable from `node` through epsilons, each once, in order.
  std::vector<int> successors(int node) const;
  // True when the command may end after `node`. With `relaxed`, variables, ranges and
  // LINE may be skipped (the `no` form).
  bool can_end(int node, bool relaxed) const;
};

// Compiles a grammar string. Fails with kInvalidArgument on a syntax error, when the
// number of help lines differs from the number of tokens, or when LINE is not last.
Result<CommandGraph> compile_grammar(std::string_view grammar, std::span<const std::string> helps);

}  // namespace scepter::cli
