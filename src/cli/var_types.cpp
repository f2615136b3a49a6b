#include "cli/var_types.h"

#include <array>
#include <cctype>

namespace scepter::cli {
namespace {

constexpr std::array<std::string_view, 12> kMonthNames = {
    "january", "february", "march",     "april",   "may",      "june",
    "july",    "august",   "september", "october", "november", "december"};

bool any_word(std::string_view) { return true; }
bool is_time(std::string_view w) { return parse_time_of_day(w).has_value(); }
bool is_month(std::string_view w) { return parse_month(w).has_value(); }

std::optional<int> small_number(std::string_view s, int max_digits) {
  if (s.empty() || static_cast<int>(s.size()) > max_digits) return std::nullopt;
  int v = 0;
  for (char c : s) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return v;
}

bool is_ipv4(std::string_view w) {
  int parts = 0;
  while (true) {
    auto dot = w.find('.');
    auto n = small_number(w.substr(0, dot), 3);
    if (!n || *n > 255) return false;
    ++parts;
    if (dot == std::string_view::npos) break;
    w.remove_prefix(dot + 1);
  }
  return parts == 4;
}

struct NamedCheck {
  std::string_view name;
  VarCheck check;
  std::string_view display;
};
constexpr NamedCheck kChecks[] = {
    {"WORD", &any_word, "WORD"},
    {"HH:MM:SS", &is_time, "hh:mm:ss"},
    {"MONTH", &is_month, "MONTH"},
    {"A.B.C.D", &is_ipv4, "A.B.C.D"},
};

}  // namespace

VarCheck var_check(std::string_view name) {
  for (const auto& c : kChecks) {
    if (c.name == name) return c.check;
  }
  return &any_word;
}

std::string_view var_display(std::string_view name) {
  for (const auto& c : kChecks) {
    if (c.name == name) return c.display;
  }
  return name;
}

std::optional<TimeOfDay> parse_time_of_day(std::string_view word) {
  // IOS wants two digits per field only for minutes and seconds; "9:05:00" is accepted.
  auto c1 = word.find(':');
  if (c1 == std::string_view::npos) return std::nullopt;
  auto c2 = word.find(':', c1 + 1);
  if (c2 == std::string_view::npos) return std::nullopt;
  auto h = small_number(word.substr(0, c1), 2);
  auto m = small_number(word.substr(c1 + 1, c2 - c1 - 1), 2);
  auto s = small_number(word.substr(c2 + 1), 2);
  if (!h || !m || !s || *h > 23 || *m > 59 || *s > 59) return std::nullopt;
  return TimeOfDay{*h, *m, *s};
}

std::optional<int> parse_month(std::string_view word) {
  if (word.size() < 3) return std::nullopt;
  for (std::size_t i = 0; i < kMonthNames.size(); ++i) {
    std::string_view name = kMonthNames[i];
    if (word.size() > name.size()) continue;
    bool match = true;
    for (std::size_t k = 0; k < word.size(); ++k) {
      if (std::tolower(static_cast<unsigned char>(word[k])) != name[k]) {
        match = false;
        break;
      }
    }
    if (match) return static_cast<int>(i) + 1;
  }
  return std::nullopt;
}

}  // namespace scepter::cli
