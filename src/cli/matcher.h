#pragma once
// Matching a typed line against the commands of one mode, as IOS does: any unique prefix
// of a keyword ("sh cry pki ser"), an exact keyword before a longer one that starts with
// it, a keyword before a variable, ranges checked. Also the `?` listing and completion.
// Pure functions of the table: safe on any thread.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "cli/args.h"
#include "cli/command_table.h"

namespace scepter::cli {

enum class MatchStatus {
  kOk,          // one command matched: `command` and `args` are set
  kEmpty,       // no words
  kInvalid,     // a word matches nothing: `error_offset` is where it starts
  kIncomplete,  // the words are right so far but the command needs more
  kAmbiguous,   // a prefix matches several keywords, or several commands match
};

struct MatchResult {
  MatchStatus status = MatchStatus::kEmpty;
  const Command* command = nullptr;
  Args args;
  std::size_t error_offset = 0;

  // How far matching got in the line; picks the error to show when a line fails in a
  // mode and in its parents (the deepest failure wins).
  std::size_t progress() const;
};

MatchResult match_command(const CommandTable& table, Node node, std::string_view line);

// The IOS error text for a failed match (status other than kOk/kEmpty). `prompt_width` is
// the length of the prompt the line was typed after: the '^' goes under the bad word.
std::string match_error_text(const MatchResult& m, std::string_view line, std::size_t prompt_width);

// The `?` listing for `line` (the text before the '?') in one mode. After a blank (or on
// an empty line), the tokens that may come next with their help and "<cr>" when the
// command may end; after a partial word, the keywords it may start. Sets `recognized` to
// false (and returns "% Unrecognized command\n") when the line does not match.
std::string help_listing(const CommandTable& table, Node node, std::string_view line,
                         bool& recognized);

// The keywords that may complete the last word of `line` ("" when `line` ends in a
// blank), sorted and unique.
std::vector<std::string> completions(const CommandTable& table, Node node, std::string_view line);

}  // namespace scepter::cli
