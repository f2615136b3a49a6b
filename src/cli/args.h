#pragma once
// The arguments a matched command line hands its handler. Handlers read canonical values:
// a keyword the user abbreviated ("gen") is stored as its full text ("general-keys").
//
//   [no] lifetime crl (1-336)$hours    a.has("no"), a.integer("hours")
//   hostname WORD$name                 a.word("name")
//   issuer-name LINE$dn                a.line("dn")      (the rest of the line, trimmed)
//   grant <auto|none|ra-auto>$mode     a.choice("mode") == "ra-auto"; a.has("ra-auto")
//
// Lookups of names that were not matched return "" / the fallback. Cheap to copy.

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace scepter::cli {

class Args {
 public:
  // True when the keyword `name` was typed, or an argument is bound to `name`.
  bool has(std::string_view name) const { return find(name) != nullptr; }
  // The word typed for a variable ("" when absent).
  std::string_view word(std::string_view name) const;
  // The value typed for a range (the fallback when absent).
  std::int64_t integer(std::string_view name, std::int64_t fallback = 0) const;
  // The text taken by LINE ("" when absent).
  std::string_view line(std::string_view name) const { return word(name); }
  // The full keyword matched by <a|b|c>$name ("" when absent).
  std::string_view choice(std::string_view name) const { return word(name); }
  // Where the word for `name` starts in the line, for an error marker.
  std::optional<std::size_t> offset(std::string_view name) const;

  // `line` (the one these arguments were matched in) with the words bound to any of
  // `names` replaced by "*****": a command line fit for the audit log.
  std::string masked(std::string_view line, std::initializer_list<std::string_view> names) const;

  // Used by the matcher.
  void add(std::string name, std::string value, std::size_t offset,
           std::optional<std::int64_t> number = std::nullopt);

 private:
  struct Entry {
    std::string name;
    std::string value;
    std::size_t offset = 0;
    std::optional<std::int64_t> number;
  };
  const Entry* find(std::string_view name) const;

  std::vector<Entry> entries_;
};

}  // namespace scepter::cli
