#include "cli/type7.h"

#include <cstdint>

#include <fmt/format.h>

namespace scepter::cli {
namespace {

// The key stream of IOS type 7, as published by every decoder since 1995.
constexpr std::string_view kXlat = "dsfd;kfoA,.iyewrkldJKDHSUBsgvca69834ncxv9873254k;fg87";
constexpr std::size_t kMaxPasswordBytes = 256;
constexpr std::string_view kMask = "*****";

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i] >= 'A' && a[i] <= 'Z' ? static_cast<char>(a[i] - 'A' + 'a') : a[i];
    if (x != b[i]) return false;
  }
  return true;
}

}  // namespace

std::string type7_encode(std::string_view clear) {
  unsigned sum = 0;
  for (char c : clear) sum += static_cast<unsigned char>(c);
  const std::size_t seed = sum % 16;
  std::string out = fmt::format("{:02d}", seed);
  for (std::size_t i = 0; i < clear.size(); ++i) {
    const auto k = static_cast<unsigned char>(kXlat[(seed + i) % kXlat.size()]);
    out += fmt::format("{:02X}", static_cast<unsigned char>(clear[i]) ^ k);
  }
  return out;
}

Result<std::string> type7_decode(std::string_view hidden) {
  const auto bad = [] { return fail(invalid_argument("Invalid encrypted password.")); };
  if (hidden.size() < 4 || hidden.size() % 2 != 0 || hidden.size() > 2 + 2 * kMaxPasswordBytes) {
    return bad();
  }
  if (hidden[0] < '0' || hidden[0] > '9' || hidden[1] < '0' || hidden[1] > '9') return bad();
  const std::size_t seed = static_cast<std::size_t>((hidden[0] - '0') * 10 + (hidden[1] - '0'));
  if (seed >= kXlat.size()) return bad();
  std::string clear;
  clear.reserve((hidden.size() - 2) / 2);
  for (std::size_t i = 2; i < hidden.size(); i += 2) {
    const int hi = hex_value(hidden[i]);
    const int lo = hex_value(hidden[i + 1]);
    if (hi < 0 || lo < 0) return bad();
    const auto k = static_cast<unsigned char>(kXlat[(seed + clear.size()) % kXlat.size()]);
    const auto c = static_cast<unsigned char>((hi << 4 | lo) ^ k);
    if (c < 0x20 || c == 0x7F) return bad();
    clear.push_back(static_cast<char>(c));
  }
  return clear;
}

Result<std::string> password_argument(const Args& a, std::string_view enc, std::string_view word) {
  const std::string_view text = a.word(word);
  if (a.choice(enc) == "7") return type7_decode(text);
  return std::string(text);
}

std::string mask_passwords(std::string_view line) {
  // The password is the last word of every command that takes one, so everything after
  // the keyword goes: that also covers a password with a typo around it, and keywords
  // abbreviated ("pass") or mistyped ("passwd").
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    std::size_t end = i;
    while (end < line.size() && line[end] != ' ' && line[end] != '\t') ++end;
    const std::string_view w = line.substr(i, end - i);
    const bool keyword =
        (w.size() >= 2 && iequals(w, std::string_view("password").substr(0, w.size()))) ||
        (w.size() > 4 && iequals(w.substr(0, 4), "pass")) ||
        (w.size() >= 6 && iequals(w, std::string_view("user-pin").substr(0, w.size()))) ||
        (w.size() >= 2 && iequals(w, std::string_view("hmac").substr(0, w.size())));
    if (keyword) {
      std::string out(line.substr(0, end));
      std::size_t rest = end;
      while (rest < line.size() && (line[rest] == ' ' || line[rest] == '\t')) ++rest;
      if (rest == line.size()) return out;
      // Keep the IOS type keyword when there is one.
      if (rest + 1 < line.size() && (line[rest] == '0' || line[rest] == '7') &&
          (line[rest + 1] == ' ' || line[rest + 1] == '\t')) {
        out += ' ';
        out += line[rest];
      }
      out += ' ';
      out += kMask;
      return out;
    }
    i = end;
  }
  return std::string(line);
}

}  // namespace scepter::cli
