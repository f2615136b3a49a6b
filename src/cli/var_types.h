#pragma once
// Typed variables of the command grammar. A grammar token written in capitals is a
// variable; its name picks the check the matcher applies to the word typed in its place,
// so a bad value is reported with the '^' marker under it, as IOS does:
//
//   WORD      any word                      LINE     the rest of the line (see grammar.h)
//   HH:MM:SS  a time of day, 00:00:00-23:59:59 (`?` shows it as "hh:mm:ss", as IOS)
//   MONTH     a month name or its first three or more letters, any case ("Nov", "november")
//   A.B.C.D   an IPv4 address
//
// Any other capitalised name (LABEL, URL, ...) accepts any word, like WORD.

#include <optional>
#include <string_view>

namespace scepter::cli {

// Returns true when `word` is acceptable for a variable named `name`.
using VarCheck = bool (*)(std::string_view word);

// The check for a variable name; never null (unknown names accept any word).
VarCheck var_check(std::string_view name);
// How `?` shows the variable: IOS writes some in lower case ("hh:mm:ss").
std::string_view var_display(std::string_view name);

struct TimeOfDay {
  int hour = 0;
  int minute = 0;
  int second = 0;
};
// "12:05:00" -> {12, 5, 0}; nullopt when malformed or out of range.
std::optional<TimeOfDay> parse_time_of_day(std::string_view word);
// "Nov", "november", "NOV" -> 11; nullopt when no month starts with the word (three
// letters at least).
std::optional<int> parse_month(std::string_view word);

}  // namespace scepter::cli
