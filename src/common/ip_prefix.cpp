#include "common/ip_prefix.h"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

namespace scepter {
namespace {

// The first `bits` bits of a and b agree.
bool same_prefix(const std::uint8_t* a, const std::uint8_t* b, int bits) {
  const int whole = bits / 8;
  if (std::memcmp(a, b, static_cast<std::size_t>(whole)) != 0) return false;
  const int rest = bits % 8;
  if (rest == 0) return true;
  const auto mask = static_cast<std::uint8_t>(0xFF << (8 - rest));
  return (a[whole] & mask) == (b[whole] & mask);
}

bool special_v4(const std::uint8_t* b) {
  return b[0] == 0                        // 0.0.0.0/8 ("this network")
         || b[0] == 127                   // loopback
         || (b[0] == 169 && b[1] == 254)  // link-local
         || b[0] >= 224;                  // multicast 224/4, reserved 240/4, broadcast
}

}  // namespace

std::string IpAddress::text() const {
  char buf[INET6_ADDRSTRLEN] = {};
  if (inet_ntop(v6 ? AF_INET6 : AF_INET, bytes.data(), buf, sizeof buf) == nullptr) return {};
  return buf;
}

std::optional<IpAddress> parse_ip_address(std::string_view text) {
  // inet_pton needs a terminated string; longer text cannot be an address.
  if (text.empty() || text.size() >= INET6_ADDRSTRLEN) return std::nullopt;
  const std::string s(text);
  IpAddress a;
  if (s.find(':') == std::string::npos) {
    if (inet_pton(AF_INET, s.c_str(), a.bytes.data()) != 1) return std::nullopt;
    return a;
  }
  a.v6 = true;
  if (inet_pton(AF_INET6, s.c_str(), a.bytes.data()) != 1) return std::nullopt;
  return a;
}

std::optional<IpAddress> ip_address_from_bytes(std::string_view bytes) {
  if (bytes.size() != 4 && bytes.size() != 16) return std::nullopt;
  IpAddress a;
  a.v6 = bytes.size() == 16;
  std::memcpy(a.bytes.data(), bytes.data(), bytes.size());
  return a;
}

bool IpPrefix::contains(const IpAddress& a) const {
  return a.v6 == network.v6 && same_prefix(a.bytes.data(), network.bytes.data(), length);
}

std::string IpPrefix::text() const { return network.text() + "/" + std::to_string(length); }

std::optional<IpPrefix> parse_ip_prefix(std::string_view text) {
  const auto slash = text.find('/');
  const auto address = parse_ip_address(text.substr(0, slash));
  if (!address) return std::nullopt;
  const int max = address->v6 ? 128 : 32;
  int length = max;
  if (slash != std::string_view::npos) {
    const std::string_view digits = text.substr(slash + 1);
    if (digits.empty() || digits.size() > 3) return std::nullopt;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), length);
    if (ec != std::errc() || end != digits.data() + digits.size() || length < 0 || length > max) {
      return std::nullopt;
    }
  }
  IpPrefix p{*address, length};
  // Host bits must be zero: the network masked to its length is itself.
  IpAddress masked;
  masked.v6 = address->v6;
  for (int bit = 0; bit < length; ++bit) {
    const auto i = static_cast<std::size_t>(bit / 8);
    masked.bytes[i] |= static_cast<std::uint8_t>(address->bytes[i] & (0x80 >> (bit % 8)));
  }
  if (!(masked == *address)) return std::nullopt;
  return p;
}

bool is_special_address(const IpAddress& a) {
  const std::uint8_t* b = a.bytes.data();
  if (!a.v6) return special_v4(b);
  static constexpr std::uint8_t kZero[16] = {};
  // ::/96 covers :: (unspecified), ::1 (loopback) and the deprecated IPv4-compatible
  // ::a.b.c.d; ::ffff:0:0/96 is IPv4-mapped.
  // (:: and ::1 are 0.0.0.0/8 seen that way).
  if (same_prefix(b, kZero, 96)) return special_v4(b + 12);
  static constexpr std::uint8_t kMapped[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
  if (same_prefix(b, kMapped, 96)) return special_v4(b + 12);
  if (b[0] == 0xFE && (b[1] & 0xC0) == 0x80) return true;  // fe80::/10 link-local
  if (b[0] == 0xFF) return true;                           // ff00::/8 multicast
  return false;
}

}  // namespace scepter
