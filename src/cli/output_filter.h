#pragma once
// IOS output filters: `show ... | {include|exclude|begin|section|count} REGEX` and the
// same after `more URL`. The regular expression is POSIX extended (what IOS's regexps are
// close to), with IOS's `_` standing for a delimiter (start or end of line, space, comma,
// parentheses, braces). Only show and more take a filter, as on IOS; on any other command
// a '|' is left to the command (and is refused there).
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace scepter::cli {

// A show or more line with a filter: the command before '|', and the filter after it
// (`filter_column` is where the filter's first word starts in the line, for the '^'
// marker).
struct PipedLine {
  std::string_view command;
  std::string_view filter;
  std::size_t filter_column = 0;
};
std::optional<PipedLine> split_pipe(std::string_view line);

// True if `command` (the words before any '|') is one that takes a filter: show or more,
// also after `do`.
bool takes_output_filter(std::string_view command);

// `?` after '|': `after_bar` is what follows the '|' up to the '?'. The filter words with
// their help, the partial word's candidates, or `LINE` for the expression, as IOS lists
// them.
std::string output_filter_help(std::string_view after_bar);

class OutputFilter {
 public:
  enum class Kind { kInclude, kExclude, kBegin, kSection, kCount };

  // "include crypto", "s crypto pki" (words may be abbreviated). kInvalidArgument with
  // error_offset() set for an unknown word, or a message for a bad expression.
  static Result<OutputFilter> parse(std::string_view text, std::size_t* error_offset);

  OutputFilter(OutputFilter&&) noexcept;
  OutputFilter& operator=(OutputFilter&&) noexcept;
  ~OutputFilter();

  // `output` is whole lines, each ending with '\n'.
  std::string apply(std::string_view output) const;

 private:
  struct Regex;
  OutputFilter(Kind kind, std::unique_ptr<Regex> regex);
  bool matches(std::string_view line) const;

  Kind kind_;
  std::unique_ptr<Regex> regex_;
};

}  // namespace scepter::cli
