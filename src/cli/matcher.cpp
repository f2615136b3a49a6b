#include "cli/matcher.h"

#include <charconv>

#include <fmt/format.h>

#include "cli/walk.h"

namespace scepter::cli {
namespace {

Args build_args(const Path& p, const std::vector<Word>& words) {
  Args args;
  for (const Step& s : p.steps) {
    const Token& t = p.token_at(s);
    std::size_t offset = words[s.word].offset;
    switch (t.kind) {
      case TokenKind::kLiteral:
        args.add(t.text, s.value, offset);
        if (t.bind != t.text) args.add(t.bind, s.value, offset);
        break;
      case TokenKind::kRange: {
        std::int64_t v = 0;
        std::from_chars(s.value.data(), s.value.data() + s.value.size(), v);
        args.add(t.bind, s.value, offset, v);
        break;
      }
      case TokenKind::kVariable:
      case TokenKind::kLine:
        args.add(t.bind, s.value, offset);
        break;
    }
  }
  return args;
}

}  // namespace

std::size_t MatchResult::progress() const {
  if (status == MatchStatus::kInvalid) return error_offset;
  return std::string_view::npos;
}

namespace {

// IOS 12.3(7)T renamed `crypto ca ...` to `crypto pki ...` and still accepts the old
// words (the guide's restore example uses them); the configuration is written with the new.
// Only the word is replaced: offsets stay those of the line as typed.
void apply_aliases(std::vector<Word>& words) {
  std::size_t i = 0;
  if (i < words.size() && (words[i].text == "no" || words[i].text == "do")) ++i;
  if (i + 1 < words.size() && words[i].text.size() >= 3 &&
      std::string_view("crypto").starts_with(words[i].text) && words[i + 1].text == "ca") {
    words[i + 1].text = "pki";
  }
}

}  // namespace

MatchResult match_command(const CommandTable& table, Node node, std::string_view line) {
  MatchResult m;
  std::vector<Word> words = split_words(line);
  if (words.empty()) return m;
  apply_aliases(words);
  WalkResult w = walk(table, node, line, words, false);
  if (w.status == WalkStatus::kInvalid) {
    m.status = MatchStatus::kInvalid;
    m.error_offset = words[w.bad_word].offset;
    return m;
  }
  if (w.status == WalkStatus::kAmbiguous) {
    m.status = MatchStatus::kAmbiguous;
    return m;
  }
  // A command that may end here as written beats one that may end only because its `no`
  // form lets trailing values go ("no database url" over "[no] database url WORD").
  const Path* chosen = nullptr;
  for (bool relaxed : {false, true}) {
    for (const Path& p : w.paths) {
      bool ends = relaxed ? p.can_end() : p.consumed || p.cmd->graph.can_end(p.gnode, false);
      if (!ends) continue;
      if (chosen && chosen->cmd != p.cmd) {
        m.status = MatchStatus::kAmbiguous;
        return m;
      }
      if (!chosen) chosen = &p;
    }
    if (chosen) break;
  }
  if (!chosen) {
    m.status = MatchStatus::kIncomplete;
    return m;
  }
  m.status = MatchStatus::kOk;
  m.command = chosen->cmd;
  m.args = build_args(*chosen, words);
  return m;
}

std::string match_error_text(const MatchResult& m, std::string_view line,
                             std::size_t prompt_width) {
  switch (m.status) {
    case MatchStatus::kInvalid:
      return fmt::format("{:>{}}\n% Invalid input detected at '^' marker.\n", "^",
                         prompt_width + m.error_offset + 1);
    case MatchStatus::kIncomplete:
      return "% Incomplete command.\n";
    case MatchStatus::kAmbiguous:
      return fmt::format("% Ambiguous command:  \"{}\"\n", line);
    case MatchStatus::kOk:
    case MatchStatus::kEmpty:
      break;
  }
  return "";
}

}  // namespace scepter::cli
