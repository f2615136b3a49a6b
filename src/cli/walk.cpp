#include "cli/walk.h"

#include <algorithm>
#include <cctype>
#include <charconv>

namespace scepter::cli {
namespace {

bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

char lower(char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); }

// Case-insensitive: "SH" matches "show".
bool keyword_starts_with(std::string_view keyword, std::string_view word) {
  if (word.size() > keyword.size()) return false;
  for (std::size_t i = 0; i < word.size(); ++i) {
    if (lower(word[i]) != keyword[i]) return false;
  }
  return true;
}

std::string_view rest_of_line(std::string_view line, std::size_t from) {
  std::string_view rest = line.substr(from);
  while (!rest.empty() && is_blank(rest.back())) rest.remove_suffix(1);
  return rest;
}

}  // namespace

std::vector<Word> split_words(std::string_view line) {
  std::vector<Word> words;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && is_blank(line[i])) ++i;
    if (i >= line.size()) break;
    std::size_t start = i;
    while (i < line.size() && !is_blank(line[i])) ++i;
    words.push_back(Word{line.substr(start, i - start), start});
  }
  return words;
}

const Token& Path::token_at(const Step& s) const {
  const CommandGraph& g = cmd->graph;
  return g.tokens[static_cast<std::size_t>(g.nodes[static_cast<std::size_t>(s.gnode)].token)];
}

Tier match_token(const Token& token, std::string_view word) {
  switch (token.kind) {
    case TokenKind::kLiteral:
      if (word.size() == token.text.size() && keyword_starts_with(token.text, word)) {
        return Tier::kExact;
      }
      return keyword_starts_with(token.text, word) ? Tier::kPrefix : Tier::kNone;
    case TokenKind::kRange: {
      std::int64_t v = 0;
      auto [p, ec] = std::from_chars(word.data(), word.data() + word.size(), v);
      if (ec != std::errc() || p != word.data() + word.size()) return Tier::kNone;
      return v >= token.min && v <= token.max ? Tier::kRange : Tier::kNone;
    }
    case TokenKind::kVariable:
      return token.check(word) ? Tier::kVariable : Tier::kNone;
    case TokenKind::kLine:
      return Tier::kVariable;
  }
  return Tier::kNone;
}

WalkResult walk(const CommandTable& table, Node node, std::string_view line,
                const std::vector<Word>& words, bool for_help) {
  WalkResult r;
  for (const auto& cmd : table.commands(node)) {
    if (for_help && cmd->options.hidden) continue;
    r.paths.push_back(Path{cmd.get(), CommandGraph::kStart, false, false, {}});
  }
  for (std::size_t w = 0; w < words.size(); ++w) {
    const Word& word = words[w];
    std::vector<Path> next;
    std::vector<Path> carried;  // LINE already took this word
    Tier best = Tier::kNone;
    for (Path& p : r.paths) {
      if (p.consumed) {
        carried.push_back(std::move(p));
        continue;
      }
      const CommandGraph& g = p.cmd->graph;
      for (int succ : g.successors(p.gnode)) {
        int t = g.nodes[static_cast<std::size_t>(succ)].token;
        if (t == GraphNode::kEnd) continue;
        const Token& token = g.tokens[static_cast<std::size_t>(t)];
        Tier tier = match_token(token, word.text);
        if (tier == Tier::kNone || tier > best) continue;
        if (tier < best) {
          next.clear();
          best = tier;
        }
        Path q = p;
        q.gnode = succ;
        std::string value;
        if (token.kind == TokenKind::kLiteral) {
          value = token.text;
          if (p.steps.empty() && g.optional_no && token.text == "no") q.no_form = true;
        } else if (token.kind == TokenKind::kLine) {
          value = std::string(rest_of_line(line, word.offset));
          q.consumed = true;
        } else {
          value = std::string(word.text);
        }
        q.steps.push_back(Step{succ, w, std::move(value)});
        next.push_back(std::move(q));
      }
    }
    if (best == Tier::kPrefix) {
      // Different keywords sharing the prefix: IOS refuses to guess.
      const std::string* first = nullptr;
      for (const Path& p : next) {
        const std::string& kw = p.steps.back().value;
        if (first && *first != kw) {
          r.status = WalkStatus::kAmbiguous;
          r.bad_word = w;
          r.paths.clear();
          return r;
        }
        first = &kw;
      }
    }
    if (next.empty() && carried.empty()) {
      r.status = WalkStatus::kInvalid;
      r.bad_word = w;
      r.paths.clear();
      return r;
    }
    for (Path& p : carried) next.push_back(std::move(p));
    r.paths = std::move(next);
  }
  return r;
}

}  // namespace scepter::cli
