#include "common/ip_prefix.h"

#include <gtest/gtest.h>

namespace scepter {
namespace {

IpAddress ip(std::string_view text) {
  auto a = parse_ip_address(text);
  EXPECT_TRUE(a.has_value()) << text;
  return a.value_or(IpAddress{});
}

TEST(IpAddress, ParsesAndPrints) {
  EXPECT_EQ(ip("192.0.2.1").text(), "192.0.2.1");
  EXPECT_FALSE(ip("192.0.2.1").v6);
  EXPECT_EQ(ip("2001:DB8:0::1").text(), "2001:db8::1");
  EXPECT_TRUE(ip("::ffff:192.0.2.1").v6);
  for (const char* bad : {"", "192.0.2", "192.0.2.256", "[::1]", "::1%eth0", "192.0.2.1:80",
                          "fe80::1/64", " 192.0.2.1", "1:2:3:4:5:6:7:8:9", "host"}) {
    EXPECT_FALSE(parse_ip_address(bad).has_value()) << bad;
  }
}

TEST(IpAddress, FromBytes) {
  EXPECT_EQ(ip_address_from_bytes(std::string("\xC0\x00\x02\x01", 4))->text(), "192.0.2.1");
  EXPECT_EQ(ip_address_from_bytes(std::string(15, '\0') + "\x01")->text(), "::1");
  EXPECT_FALSE(ip_address_from_bytes("abc").has_value());
  EXPECT_FALSE(ip_address_from_bytes("").has_value());
}

TEST(IpPrefix, Parses) {
  auto p = parse_ip_prefix("192.0.2.0/24");
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->length, 24);
  EXPECT_EQ(p->text(), "192.0.2.0/24");
  EXPECT_EQ(parse_ip_prefix("192.0.2.7")->text(), "192.0.2.7/32");
  EXPECT_EQ(parse_ip_prefix("2001:db8::/32")->text(), "2001:db8::/32");
  EXPECT_EQ(parse_ip_prefix("::1")->length, 128);
  EXPECT_EQ(parse_ip_prefix("0.0.0.0/0")->length, 0);
  for (const char* bad :
       {"192.0.2.1/24", "192.0.2.0/33", "2001:db8::/129", "192.0.2.0/", "192.0.2.0/-1",
        "192.0.2.0/+8", "192.0.2.0/24x", "/24", "x/8", "2001:db8::1/32", "10.0.0.0/0008"}) {
    EXPECT_FALSE(parse_ip_prefix(bad).has_value()) << bad;
  }
}

TEST(IpPrefix, Contains) {
  const IpPrefix p = *parse_ip_prefix("172.16.0.0/12");
  EXPECT_TRUE(p.contains(ip("172.16.0.1")));
  EXPECT_TRUE(p.contains(ip("172.31.255.255")));
  EXPECT_FALSE(p.contains(ip("172.32.0.0")));
  EXPECT_FALSE(p.contains(ip("::ffff:172.16.0.1")));  // families never mix
  const IpPrefix v6 = *parse_ip_prefix("2001:db8::/33");
  EXPECT_TRUE(v6.contains(ip("2001:db8:7fff::1")));
  EXPECT_FALSE(v6.contains(ip("2001:db8:8000::1")));
  EXPECT_TRUE(parse_ip_prefix("0.0.0.0/0")->contains(ip("203.0.113.9")));
  EXPECT_TRUE(parse_ip_prefix("::/0")->contains(ip("2001:db8::1")));
  EXPECT_FALSE(parse_ip_prefix("::/0")->contains(ip("192.0.2.1")));
}

TEST(IsSpecialAddress, SpecialRanges) {
  for (const char* a : {"0.0.0.0",
                        "0.1.2.3",
                        "127.0.0.1",
                        "127.255.255.254",
                        "169.254.169.254",
                        "224.0.0.1",
                        "239.255.255.255",
                        "240.0.0.1",
                        "255.255.255.255",
                        "::",
                        "::1",
                        "fe80::1",
                        "febf:ffff::1",
                        "ff02::1",
                        "ff00::",
                        "::ffff:127.0.0.1",
                        "::ffff:169.254.1.1",
                        "::ffff:0.0.0.0",
                        "::ffff:255.255.255.255",
                        "::127.0.0.1"}) {
    EXPECT_TRUE(is_special_address(ip(a))) << a;
  }
}

TEST(IsSpecialAddress, OrdinaryAndPrivate) {
  for (const char* a :
       {"10.0.0.1", "172.16.0.1", "192.168.1.1", "192.0.2.1", "8.8.8.8", "126.255.255.255",
        "128.0.0.1", "169.253.0.1", "223.255.255.255", "fc00::1", "fd12:3456::1", "2001:db8::1",
        "fec0::1", "fe7f::1", "::ffff:10.0.0.1", "::ffff:192.0.2.1", "64:ff9b::192.0.2.1"}) {
    EXPECT_FALSE(is_special_address(ip(a))) << a;
  }
}

}  // namespace
}  // namespace scepter
