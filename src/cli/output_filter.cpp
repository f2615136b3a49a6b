#include "cli/output_filter.h"

#include <regex.h>

#include <algorithm>
#include <array>
#include <vector>

#include <fmt/format.h>

#include "common/parse.h"

namespace scepter::cli {
namespace {

// Longer expressions are refused: a filter is typed by hand.
constexpr std::size_t kMaxExpression = 256;

bool abbreviates(std::string_view word, std::string_view keyword, std::size_t min) {
  return word.size() >= min && word.size() <= keyword.size() &&
         keyword.substr(0, word.size()) == word;
}

std::string_view first_word(std::string_view s) { return s.substr(0, s.find(' ')); }

// IOS's `_` (outside brackets, not escaped) as a POSIX group.
std::string translate(std::string_view ios) {
  std::string out;
  bool in_brackets = false;
  for (std::size_t i = 0; i < ios.size(); ++i) {
    const char c = ios[i];
    if (c == '\\' && i + 1 < ios.size()) {
      out += c;
      out += ios[++i];
      continue;
    }
    if (c == '[') in_brackets = true;
    if (c == ']') in_brackets = false;
    if (c == '_' && !in_brackets) {
      out += "(^|$|[ ,(){}])";
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

struct OutputFilter::Regex {
  regex_t compiled{};
  ~Regex() { regfree(&compiled); }
};

bool takes_output_filter(std::string_view command) {
  command = trim_space(command);
  std::string_view word = first_word(command);
  if (word == "do") word = first_word(trim_space(command.substr(2)));
  return abbreviates(word, "show", 2) || abbreviates(word, "more", 2);
}

std::optional<PipedLine> split_pipe(std::string_view line) {
  const std::size_t bar = line.find('|');
  if (bar == std::string_view::npos) return std::nullopt;
  std::string_view command = trim_space(line.substr(0, bar));
  if (!takes_output_filter(command)) return std::nullopt;
  PipedLine p;
  p.command = command;
  std::string_view rest = line.substr(bar + 1);
  const std::size_t start = rest.find_first_not_of(' ');
  p.filter = start == std::string_view::npos ? std::string_view() : trim_space(rest.substr(start));
  p.filter_column = bar + 1 + (start == std::string_view::npos ? rest.size() : start);
  return p;
}

OutputFilter::OutputFilter(Kind kind, std::unique_ptr<Regex> regex)
    : kind_(kind), regex_(std::move(regex)) {}
OutputFilter::OutputFilter(OutputFilter&&) noexcept = default;
OutputFilter& OutputFilter::operator=(OutputFilter&&) noexcept = default;
OutputFilter::~OutputFilter() = default;

namespace {

struct FilterWord {
  std::string_view name;
  OutputFilter::Kind kind;
  std::string_view help;
};
constexpr std::array<FilterWord, 5> kFilterWords = {{
    {"begin", OutputFilter::Kind::kBegin, "Begin with the line that matches"},
    {"count", OutputFilter::Kind::kCount, "Count number of lines which match regexp"},
    {"exclude", OutputFilter::Kind::kExclude, "Exclude lines that match"},
    {"include", OutputFilter::Kind::kInclude, "Include lines that match"},
    {"section", OutputFilter::Kind::kSection, "Filter a section of output"},
}};

}  // namespace

std::string output_filter_help(std::string_view after_bar) {
  constexpr std::string_view kUnrecognized = "% Unrecognized command\n";
  const std::string_view text =
      after_bar.substr(std::min(after_bar.size(), after_bar.find_first_not_of(' ')));
  const std::string_view word = first_word(text);
  const bool word_done = word.size() < text.size();  // a space after the filter word
  if (word.empty()) {
    std::string out;
    for (const FilterWord& f : kFilterWords) out += fmt::format("  {:<7}  {}\n", f.name, f.help);
    return out;
  }
  if (!word_done) {
    std::string out;
    for (const FilterWord& f : kFilterWords) {
      if (abbreviates(word, f.name, 1)) out += (out.empty() ? "" : "  ") + std::string(f.name);
    }
    return out.empty() ? std::string(kUnrecognized) : out + "\n";
  }
  const bool known = std::any_of(kFilterWords.begin(), kFilterWords.end(),
                                 [&](const FilterWord& f) { return abbreviates(word, f.name, 1); });
  if (!known) return std::string(kUnrecognized);
  const std::string_view expression = text.substr(word.size());
  if (trim_space(expression).empty()) return "  LINE  Regular Expression\n";
  // The expression is a LINE: it goes on, and the command may end after any of it.
  return expression.back() == ' ' ? "  LINE  Regular Expression\n  <cr>\n" : "LINE\n";
}

Result<OutputFilter> OutputFilter::parse(std::string_view text, std::size_t* error_offset) {
  *error_offset = std::string_view::npos;
  const std::string_view word = first_word(text);
  std::optional<Kind> kind;
  for (const FilterWord& f : kFilterWords) {
    if (abbreviates(word, f.name, 1)) kind = f.kind;
  }
  if (word.empty()) return fail(invalid_argument("Incomplete command."));
  if (!kind) {
    *error_offset = 0;
    return fail(invalid_argument("Invalid input detected at '^' marker."));
  }
  const std::string_view expression = trim_space(text.substr(word.size()));
  if (expression.empty()) return fail(invalid_argument("Incomplete command."));
  if (expression.size() > kMaxExpression) {
    return fail(invalid_argument(
        fmt::format("The regular expression is longer than {} characters.", kMaxExpression)));
  }
  auto regex = std::make_unique<Regex>();
  const std::string posix = translate(expression);
  if (int rc = regcomp(&regex->compiled, posix.c_str(), REG_EXTENDED | REG_NOSUB); rc != 0) {
    std::array<char, 128> why{};
    regerror(rc, &regex->compiled, why.data(), why.size());
    // regcomp left nothing to free on failure.
    regex->compiled = regex_t{};
    return fail(invalid_argument(
        fmt::format("Invalid regular expression \"{}\": {}", expression, why.data())));
  }
  return OutputFilter(*kind, std::move(regex));
}

bool OutputFilter::matches(std::string_view line) const {
  const std::string text(line);  // regexec needs a terminated string
  return regexec(&regex_->compiled, text.c_str(), 0, nullptr, 0) == 0;
}

std::string OutputFilter::apply(std::string_view output) const {
  std::vector<std::string_view> lines;
  for (std::size_t at = 0; at < output.size();) {
    std::size_t end = output.find('\n', at);
    if (end == std::string_view::npos) end = output.size();
    lines.push_back(output.substr(at, end - at));
    at = end + 1;
  }
  std::string out;
  auto put = [&out](std::string_view line) {
    out += line;
    out += '\n';
  };
  switch (kind_) {
    case Kind::kInclude:
    case Kind::kExclude:
      for (std::string_view line : lines) {
        if (matches(line) == (kind_ == Kind::kInclude)) put(line);
      }
      break;
    case Kind::kBegin: {
      bool on = false;
      for (std::string_view line : lines) {
        on = on || matches(line);
        if (on) put(line);
      }
      break;
    }
    case Kind::kCount: {
      std::size_t n = 0;
      for (std::string_view line : lines) n += matches(line) ? 1 : 0;
      out = fmt::format("Number of lines which match regexp = {}\n", n);
      break;
    }
    case Kind::kSection:
      // A section is a line that does not start with a space and the indented lines
      // after it; it is printed whole when one of its lines matches.
      for (std::size_t i = 0; i < lines.size();) {
        std::size_t end = i + 1;
        while (end < lines.size() && !lines[end].empty() && lines[end].front() == ' ') ++end;
        bool hit = false;
        for (std::size_t j = i; j < end && !hit; ++j) hit = matches(lines[j]);
        if (hit) {
          for (std::size_t j = i; j < end; ++j) put(lines[j]);
        }
        i = end;
      }
      break;
  }
  return out;
}

}  // namespace scepter::cli
