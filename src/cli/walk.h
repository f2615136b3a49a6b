#pragma once
// The matcher's core, shared by execution (matcher.cpp) and by `?` and completion
// (help.cpp): walks the words of a line through every command of a mode at once, as IOS
// does, keeping at each word only the best kind of match:
//
//   exact keyword  >  unique keyword prefix  >  integer in range  >  variable / LINE
//
// Two different keywords matching a prefix make the line ambiguous. Internal header.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "cli/command_table.h"

namespace scepter::cli {

struct Word {
  std::string_view text;
  std::size_t offset = 0;  // in the line
};
// Splits on blanks (spaces, tabs); keeps each word's position.
std::vector<Word> split_words(std::string_view line);

struct Step {
  int gnode = 0;         // graph node of the token matched
  std::size_t word = 0;  // index of the word that matched it
  std::string value;     // the canonical value (full keyword, word, rest of the line)
};

struct Path {
  const Command* cmd = nullptr;
  int gnode = CommandGraph::kStart;  // last graph node matched
  bool consumed = false;             // a LINE token took the rest of the line
  bool no_form = false;              // the optional leading `no` was typed
  std::vector<Step> steps;

  const Token& token_at(const Step& s) const;
  bool can_end() const { return consumed || cmd->graph.can_end(gnode, no_form); }
};

enum class WalkStatus { kOk, kInvalid, kAmbiguous };

struct WalkResult {
  WalkStatus status = WalkStatus::kOk;
  std::size_t bad_word = 0;  // kInvalid, kAmbiguous: index of the word
  std::vector<Path> paths;   // kOk: the commands still possible
};

// Matches `words` against the commands of `node`. With `for_help`, hidden commands are
// left out. An empty `words` gives every command at its start.
WalkResult walk(const CommandTable& table, Node node, std::string_view line,
                const std::vector<Word>& words, bool for_help);

enum class Tier { kExact = 0, kPrefix = 1, kRange = 2, kVariable = 3, kNone = 4 };
// How well `word` matches `token`.
Tier match_token(const Token& token, std::string_view word);

}  // namespace scepter::cli
