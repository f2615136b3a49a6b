#include "cli/grammar.h"

#include <cctype>
#include <charconv>
#include <functional>

#include <fmt/format.h>

namespace scepter::cli {
namespace {

// The parsed grammar, before it becomes a graph.
struct Ast {
  enum class Kind { kToken, kSeq, kAlt, kOpt, kUnordered };
  Kind kind = Kind::kSeq;
  int token = -1;  // kToken
  std::vector<Ast> kids;
};

// 2^n states; IOS option lists are short (the longest, cs-server `eku`, has 9).
constexpr std::size_t kMaxUnordered = 9;

bool is_special(char c) {
  return c == '[' || c == ']' || c == '<' || c == '>' || c == '{' || c == '}' || c == '|' ||
         c == '(' || c == ')' || c == '$';
}
bool is_space(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }

bool parse_int(std::string_view s, std::int64_t& out) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

class Parser {
 public:
  explicit Parser(std::string_view text) : text_(text) {}

  Result<Ast> parse(std::vector<Token>& tokens) {
    tokens_ = &tokens;
    Ast root = parse_seq();
    if (!error_.empty()) return fail(invalid_argument(error_));
    if (pos_ != text_.size()) {
      return fail(invalid_argument(fmt::format("unexpected '{}' at {}", text_[pos_], pos_)));
    }
    if (root.kids.empty()) return fail(invalid_argument("empty grammar"));
    return root;
  }

 private:
  void skip_space() {
    while (pos_ < text_.size() && is_space(text_[pos_])) ++pos_;
  }
  bool at_end() const { return pos_ >= text_.size(); }
  char peek() const { return text_[pos_]; }
  void set_error(std::string msg) {
    if (error_.empty()) error_ = std::move(msg);
  }

  Ast parse_seq() {
    Ast seq;
    seq.kind = Ast::Kind::kSeq;
    while (error_.empty()) {
      skip_space();
      if (at_end()) break;
      char c = peek();
      if (c == '|' || c == ']' || c == '>' || c == '}') break;
      seq.kids.push_back(parse_item());
    }
    return seq;
  }

  std::vector<Ast> parse_alts(char close) {
    std::vector<Ast> alts;
    ++pos_;  // the opening bracket
    while (error_.empty()) {
      alts.push_back(parse_seq());
      skip_space();
      if (at_end()) {
        set_error(fmt::format("missing '{}'", close));
        break;
      }
      char c = peek();
      ++pos_;
      if (c == close) break;
      if (c != '|') set_error(fmt::format("'{}' where '{}' or '|' was expected", c, close));
    }
    for (const Ast& a : alts) {
      if (a.kids.empty()) set_error("empty alternative");
    }
    return alts;
  }

  Ast parse_item() {
    Ast item;
    char c = peek();
    std::size_t first_token = tokens_->size();
    if (c == '[') {
      auto alts = parse_alts(']');
      item.kind = Ast::Kind::kOpt;
      item.kids.push_back(alts.size() == 1 ? std::move(alts[0]) : alternatives(std::move(alts)));
    } else if (c == '<') {
      item = alternatives(parse_alts('>'));
    } else if (c == '{') {
      item.kind = Ast::Kind::kUnordered;
      item.kids = parse_alts('}');
      if (item.kids.size() > kMaxUnordered) set_error("too many options in {...}");
    } else if (c == '(') {
      item = parse_range();
    } else if (is_special(c)) {
      set_error(fmt::format("unexpected '{}'", c));
      return item;
    } else {
      item = parse_word();
    }
    if (!at_end() && peek() == '$') bind_name(item, first_token);
    return item;
  }

  static Ast alternatives(std::vector<Ast> alts) {
    Ast a;
    a.kind = Ast::Kind::kAlt;
    a.kids = std::move(alts);
    return a;
  }

  Ast token_node(Token t) {
    Ast a;
    a.kind = Ast::Kind::kToken;
    a.token = static_cast<int>(tokens_->size());
    tokens_->push_back(std::move(t));
    return a;
  }

  Ast parse_range() {
    std::size_t close = text_.find(')', pos_);
    if (close == std::string_view::npos) {
      set_error("missing ')'");
      pos_ = text_.size();
      return {};
    }
    std::string_view body = text_.substr(pos_ + 1, close - pos_ - 1);
    Token t;
    t.kind = TokenKind::kRange;
    t.text = std::string(text_.substr(pos_, close - pos_ + 1));
    pos_ = close + 1;
    // "lo-hi"; either bound may be negative ("(-5-5)").
    std::size_t dash = body.find('-', 1);
    if (dash == std::string_view::npos || !parse_int(body.substr(0, dash), t.min) ||
        !parse_int(body.substr(dash + 1), t.max) || t.min > t.max) {
      set_error(fmt::format("bad range {}", t.text));
    }
    return token_node(std::move(t));
  }

  Ast parse_word() {
    std::size_t start = pos_;
    while (!at_end() && !is_space(peek()) && !is_special(peek())) ++pos_;
    std::string_view word = text_.substr(start, pos_ - start);
    Token t;
    bool has_upper = false;
    bool has_lower = false;
    for (char ch : word) {
      has_upper |= std::isupper(static_cast<unsigned char>(ch)) != 0;
      has_lower |= std::islower(static_cast<unsigned char>(ch)) != 0;
    }
    t.text = std::string(word);
    if (word == "LINE") {
      t.kind = TokenKind::kLine;
    } else if (has_upper && !has_lower) {
      t.kind = TokenKind::kVariable;
      t.check = var_check(word);
    } else if (has_upper) {
      set_error(fmt::format("'{}' mixes cases: keywords are lower case, variables upper", word));
    } else {
      t.kind = TokenKind::kLiteral;
    }
    return token_node(std::move(t));
  }

  void bind_name(Ast& item, std::size_t first_token) {
    std::size_t start = ++pos_;
    while (!at_end() &&
           (std::isalnum(static_cast<unsigned char>(peek())) || peek() == '_' || peek() == '-')) {
      ++pos_;
    }
    std::string name(text_.substr(start, pos_ - start));
    if (name.empty()) {
      set_error("'$' without a name");
      return;
    }
    if (item.kind == Ast::Kind::kToken) {
      (*tokens_)[static_cast<std::size_t>(item.token)].bind = name;
      return;
    }
    // <a|b>$name: every alternative must be a single token.
    if (item.kind != Ast::Kind::kAlt) {
      set_error("'$name' may follow a token or <...> only");
      return;
    }
    for (const Ast& alt : item.kids) {
      if (alt.kids.size() != 1 || alt.kids[0].kind != Ast::Kind::kToken) {
        set_error("'<...>$name' needs one token per alternative");
        return;
      }
    }
    for (std::size_t i = first_token; i < tokens_->size(); ++i) (*tokens_)[i].bind = name;
  }

  std::string_view text_;
  std::size_t pos_ = 0;
  std::vector<Token>* tokens_ = nullptr;
  std::string error_;
};

class GraphBuilder {
 public:
  explicit GraphBuilder(CommandGraph& g) : g_(g) {}

  int add(int token) {
    g_.nodes.push_back(GraphNode{token, {}});
    return static_cast<int>(g_.nodes.size()) - 1;
  }
  void link(int from, int to) { g_.nodes[static_cast<std::size_t>(from)].next.push_back(to); }

  // Compiles `a` starting at node `from`; returns the node the rest follows.
  int compile(const Ast& a, int from) {
    switch (a.kind) {
      case Ast::Kind::kToken: {
        int n = add(a.token);
        link(from, n);
        return n;
      }
      case Ast::Kind::kSeq: {
        int cur = from;
        for (const Ast& k : a.kids) cur = compile(k, cur);
        return cur;
      }
      case Ast::Kind::kAlt: {
        int join = add(GraphNode::kEpsilon);
        for (const Ast& k : a.kids) link(compile(k, from), join);
        return join;
      }
      case Ast::Kind::kOpt: {
        int join = add(GraphNode::kEpsilon);
        link(compile(a.kids[0], from), join);
        link(from, join);
        return join;
      }
      case Ast::Kind::kUnordered:
        return compile_unordered(a, from);
    }
    return from;
  }

 private:
  // One epsilon per subset of options already given; each option is compiled once per
  // subset that lacks it, leading to the subset that has it. Any subset may end the group.
  int compile_unordered(const Ast& a, int from) {
    std::size_t n = a.kids.size();
    std::size_t subsets = std::size_t{1} << n;
    std::vector<int> state(subsets);
    for (auto& s : state) s = add(GraphNode::kEpsilon);
    int join = add(GraphNode::kEpsilon);
    link(from, state[0]);
    for (std::size_t s = 0; s < subsets; ++s) {
      link(state[s], join);
      for (std::size_t i = 0; i < n; ++i) {
        if (s & (std::size_t{1} << i)) continue;
        link(compile(a.kids[i], state[s]), state[s | (std::size_t{1} << i)]);
      }
    }
    return join;
  }

  CommandGraph& g_;
};

bool starts_with_optional_no(const Ast& root, const std::vector<Token>& tokens) {
  if (root.kids.empty() || root.kids[0].kind != Ast::Kind::kOpt) return false;
  const Ast& opt = root.kids[0].kids[0];
  const Ast* tok = &opt;
  if (opt.kind == Ast::Kind::kSeq) {
    if (opt.kids.size() != 1) return false;
    tok = &opt.kids[0];
  }
  return tok->kind == Ast::Kind::kToken &&
         tokens[static_cast<std::size_t>(tok->token)].kind == TokenKind::kLiteral &&
         tokens[static_cast<std::size_t>(tok->token)].text == "no";
}

}  // namespace

std::string Token::display() const {
  if (kind == TokenKind::kRange) return fmt::format("<{}-{}>", min, max);
  if (kind == TokenKind::kVariable) return std::string(var_display(text));
  return text;
}

std::vector<int> CommandGraph::successors(int node) const {
  std::vector<int> out;
  std::vector<char> seen(nodes.size(), 0);
  std::function<void(int)> visit = [&](int n) {
    for (int m : nodes[static_cast<std::size_t>(n)].next) {
      if (seen[static_cast<std::size_t>(m)]) continue;
      seen[static_cast<std::size_t>(m)] = 1;
      if (nodes[static_cast<std::size_t>(m)].token == GraphNode::kEpsilon) {
        visit(m);
      } else {
        out.push_back(m);
      }
    }
  };
  visit(node);
  return out;
}

bool CommandGraph::can_end(int node, bool relaxed) const {
  for (int m : successors(node)) {
    int t = nodes[static_cast<std::size_t>(m)].token;
    if (t == GraphNode::kEnd) return true;
    if (relaxed && tokens[static_cast<std::size_t>(t)].kind != TokenKind::kLiteral &&
        can_end(m, relaxed)) {
      return true;
    }
  }
  return false;
}

Result<CommandGraph> compile_grammar(std::string_view grammar, std::span<const std::string> helps) {
  CommandGraph g;
  auto ast = Parser(grammar).parse(g.tokens);
  if (!ast.has_value()) {
    return fail(invalid_argument(fmt::format("\"{}\": {}", grammar, ast.error().message())));
  }
  if (helps.size() != g.tokens.size()) {
    return fail(invalid_argument(fmt::format("\"{}\": {} tokens but {} help lines", grammar,
                                             g.tokens.size(), helps.size())));
  }
  for (std::size_t i = 0; i < helps.size(); ++i) {
    Token& t = g.tokens[i];
    t.help = helps[i];
    if (t.bind.empty()) t.bind = t.text;
  }
  g.optional_no = starts_with_optional_no(*ast, g.tokens);

  GraphBuilder b(g);
  b.add(GraphNode::kEpsilon);  // kStart
  int last = b.compile(*ast, CommandGraph::kStart);
  b.link(last, b.add(GraphNode::kEnd));

  // LINE swallows the rest of the line, so nothing may follow it.
  for (std::size_t n = 0; n < g.nodes.size(); ++n) {
    int t = g.nodes[n].token;
    if (t < 0 || g.tokens[static_cast<std::size_t>(t)].kind != TokenKind::kLine) continue;
    for (int m : g.successors(static_cast<int>(n))) {
      if (g.nodes[static_cast<std::size_t>(m)].token != GraphNode::kEnd) {
        return fail(invalid_argument(fmt::format("\"{}\": LINE must come last", grammar)));
      }
    }
  }
  // A command that can end before its first token would match an empty line.
  if (g.can_end(CommandGraph::kStart, false)) {
    return fail(invalid_argument(fmt::format("\"{}\": every token is optional", grammar)));
  }
  return g;
}

}  // namespace scepter::cli
