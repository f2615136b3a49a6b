// `?` listings and completion, on top of walk().
#include <algorithm>
#include <set>

#include <fmt/format.h>

#include "cli/matcher.h"
#include "cli/output_filter.h"
#include "cli/walk.h"

namespace scepter::cli {
namespace {

constexpr std::string_view kUnrecognized = "% Unrecognized command\n";

bool ends_in_blank(std::string_view line) {
  return line.empty() || line.back() == ' ' || line.back() == '\t';
}

// A line split into the complete words and the partial word being typed (if any).
struct SplitLine {
  std::vector<Word> complete;
  std::optional<Word> partial;
};

SplitLine split_for_help(std::string_view line) {
  SplitLine s;
  s.complete = split_words(line);
  if (!ends_in_blank(line) && !s.complete.empty()) {
    s.partial = s.complete.back();
    s.complete.pop_back();
  }
  return s;
}

// When the line has reached a LINE argument that stands for a command line of another
// mode (`do show ...`), the rest is listed or completed in that mode.
struct Delegate {
  Node node;
  std::size_t offset;
};

std::optional<Delegate> delegate_of(const WalkResult& w, const std::vector<Word>& words,
                                    const std::optional<Word>& partial) {
  for (const Path& p : w.paths) {
    if (!p.cmd->options.line_node) continue;
    if (p.consumed) {
      return Delegate{*p.cmd->options.line_node, words[p.steps.back().word].offset};
    }
    if (!partial) continue;
    const CommandGraph& g = p.cmd->graph;
    for (int succ : g.successors(p.gnode)) {
      int t = g.nodes[static_cast<std::size_t>(succ)].token;
      if (t >= 0 && g.tokens[static_cast<std::size_t>(t)].kind == TokenKind::kLine) {
        return Delegate{*p.cmd->options.line_node, partial->offset};
      }
    }
  }
  return std::nullopt;
}

// Calls fn(token) for every token that may come next on a path still being matched.
template <class Fn>
void for_each_next(const WalkResult& w, Fn fn) {
  for (const Path& p : w.paths) {
    if (p.consumed) continue;
    const CommandGraph& g = p.cmd->graph;
    for (int succ : g.successors(p.gnode)) {
      int t = g.nodes[static_cast<std::size_t>(succ)].token;
      if (t >= 0) fn(g.tokens[static_cast<std::size_t>(t)]);
    }
  }
}

// `pipe`: the command takes an output filter, so where it may end, `|` may follow.
std::string format_entries(const WalkResult& w, bool pipe) {
  // Variables and ranges first as declared, then keywords alphabetically (as IOS).
  std::vector<std::pair<std::string, std::string>> vars;
  std::vector<std::pair<std::string, std::string>> keywords;
  std::set<std::string> seen;
  for_each_next(w, [&](const Token& t) {
    std::string shown = t.display();
    if (!seen.insert(shown).second) return;
    (t.kind == TokenKind::kLiteral ? keywords : vars).emplace_back(shown, t.help);
  });
  std::sort(keywords.begin(), keywords.end());
  bool cr = std::any_of(w.paths.begin(), w.paths.end(), [](const Path& p) { return p.can_end(); });
  if (vars.empty() && keywords.empty() && !cr) return std::string(kUnrecognized);
  if (cr && pipe) keywords.emplace_back("|", "Output modifiers");  // last, as IOS
  std::size_t width = 0;
  for (const auto* list : {&vars, &keywords}) {
    for (const auto& e : *list) width = std::max(width, e.first.size());
  }
  std::string out;
  for (const auto* list : {&vars, &keywords}) {
    for (const auto& [shown, help] : *list) {
      if (help.empty()) {
        out += fmt::format("  {}\n", shown);
      } else {
        out += fmt::format("  {:<{}}  {}\n", shown, width, help);
      }
    }
  }
  if (cr) out += "  <cr>\n";
  return out;
}

std::string format_partial(const WalkResult& w, std::string_view partial) {
  std::set<std::string> names;
  for_each_next(w, [&](const Token& t) {
    if (match_token(t, partial) != Tier::kNone) names.insert(t.display());
  });
  for (const Path& p : w.paths) {
    if (p.consumed) names.insert(p.token_at(p.steps.back()).display());  // LINE goes on
  }
  if (names.empty()) return std::string(kUnrecognized);
  std::string out;
  for (const std::string& n : names) {
    if (!out.empty()) out += "  ";
    out += n;
  }
  return out + "\n";
}

}  // namespace

std::string help_listing(const CommandTable& table, Node node, std::string_view line,
                         bool& recognized) {
  recognized = false;
  SplitLine s = split_for_help(line);
  WalkResult w = walk(table, node, line, s.complete, true);
  if (w.status == WalkStatus::kAmbiguous) {
    return fmt::format("% Ambiguous command:  \"{}\"\n", line);
  }
  if (w.status == WalkStatus::kInvalid) return std::string(kUnrecognized);
  if (auto d = delegate_of(w, s.complete, s.partial)) {
    return help_listing(table, d->node, line.substr(d->offset), recognized);
  }
  std::string out =
      s.partial ? format_partial(w, s.partial->text) : format_entries(w, takes_output_filter(line));
  recognized = out != kUnrecognized;
  return out;
}

std::vector<std::string> completions(const CommandTable& table, Node node, std::string_view line) {
  SplitLine s = split_for_help(line);
  WalkResult w = walk(table, node, line, s.complete, true);
  if (w.status != WalkStatus::kOk) return {};
  if (auto d = delegate_of(w, s.complete, s.partial)) {
    return completions(table, d->node, line.substr(d->offset));
  }
  std::string_view partial = s.partial ? s.partial->text : std::string_view();
  std::set<std::string> names;
  for_each_next(w, [&](const Token& t) {
    if (t.kind == TokenKind::kLiteral && match_token(t, partial) != Tier::kNone) {
      names.insert(t.text);
    }
  });
  return {names.begin(), names.end()};
}

}  // namespace scepter::cli
