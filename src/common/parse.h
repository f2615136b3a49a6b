#pragma once
// Strict decimal parsing for values read back from disk or the database: the whole text
// must be the number (no spaces, no trailing bytes, no overflow). A corrupt value is a
// nullopt for the caller to turn into a Status, never an exception.

#include <charconv>
#include <optional>
#include <string_view>
#include <type_traits>

namespace scepter {

template <class T>
std::optional<T> parse_decimal(std::string_view text) {
  static_assert(std::is_integral_v<T>);
  T value{};
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc() || ptr != end) return std::nullopt;
  return value;
}

}  // namespace scepter
