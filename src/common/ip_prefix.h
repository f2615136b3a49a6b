#pragma once
// IP addresses and prefixes (CIDR) as operators write them: "192.0.2.0/24",
// "2001:db8::/32", and single addresses. One parser for the whole project.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace scepter {

struct IpAddress {
  bool v6 = false;
  std::array<std::uint8_t, 16> bytes{};  // IPv4: the first 4
  std::size_t size() const { return v6 ? 16 : 4; }
  // inet_ntop's form ("192.0.2.1", "2001:db8::1").
  std::string text() const;
  bool operator==(const IpAddress&) const = default;
};

// "192.0.2.1" or "2001:db8::1" (no brackets, no zone, no port); nullopt otherwise.
// An IPv4-mapped IPv6 address stays IPv6.
std::optional<IpAddress> parse_ip_address(std::string_view text);
// From 4 or 16 raw bytes (a certificate's iPAddress); nullopt for other sizes.
std::optional<IpAddress> ip_address_from_bytes(std::string_view bytes);

struct IpPrefix {
  IpAddress network;  // host bits zero
  int length = 0;     // 0..32 or 0..128
  bool contains(const IpAddress& a) const;
  std::string text() const;  // "192.0.2.0/24"
};

// "ADDR/LEN", or a bare address (a /32 or /128). Refuses host bits set ("192.0.2.1/24"),
// lengths out of range, and anything parse_ip_address refuses.
std::optional<IpPrefix> parse_ip_prefix(std::string_view text);

// Addresses that are not the public Internet's unicast: unspecified, loopback,
// link-local, multicast, broadcast, 0.0.0.0/8, IPv4-mapped/compatible forms of those,
// and the IPv6 unique-local and site-local ranges are NOT included (an internal PKI
// validates private addresses). What ACME validation refuses unless the operator
// allows it (acme/validation.h).
bool is_special_address(const IpAddress& a);

}  // namespace scepter
