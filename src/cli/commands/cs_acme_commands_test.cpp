// cs-server `acme ...` commands: their grammar, each refusal's message, the running-config
// lines and their round trip, and the EAB key shown once and hidden as type 7.
#include <regex>
#include <string>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "cli/commands/cs_server_config.h"
#include "cli/commands/more_commands_testing.h"
#include "cli/config.h"
#include "cli/type7.h"
#include "pki/encoding.h"

namespace scepter::cli {
namespace {

bool same(const ca::AcmeConfig& a, const ca::AcmeConfig& b) {
  return std::tie(a.enabled, a.dns_suffixes, a.ip_prefixes, a.connect_prefixes, a.http01, a.dns01,
                  a.tls_alpn01, a.lifetime_days, a.resolver, a.http_port, a.tls_port,
                  a.accounts_per_minute, a.orders_per_minute, a.eab_keys) ==
         std::tie(b.enabled, b.dns_suffixes, b.ip_prefixes, b.connect_prefixes, b.http01, b.dns01,
                  b.tls_alpn01, b.lifetime_days, b.resolver, b.http_port, b.tls_port,
                  b.accounts_per_minute, b.orders_per_minute, b.eab_keys);
}

class CsAcmeCommandsTest : public testing::MoreCommandsTest {
 protected:
  void SetUp() override {
    ASSERT_TRUE(exec("configure terminal").ok);
    ASSERT_TRUE(exec("crypto pki server mycs").ok);
  }
  ca::AcmeConfig acme() { return dev_.device().server("mycs")->config().acme; }
  std::string server_config() {
    const std::string all = running_config(table_, dev_.device());
    const auto start = all.find("crypto pki server mycs\n");
    if (start == std::string::npos) return "";
    return all.substr(start, all.find("!", start) - start);
  }
  bool has_line(const std::string& line) {
    return server_config().find("\n " + line + "\n") != std::string::npos;
  }
  std::string error(std::string_view line) {
    Reply r = exec(line);
    EXPECT_FALSE(r.ok) << line;
    return r.output;
  }
};

TEST_F(CsAcmeCommandsTest, DefaultsWriteNothing) {
  EXPECT_TRUE(same(acme(), ca::AcmeConfig{}));
  EXPECT_EQ(server_config().find("acme"), std::string::npos) << server_config();
}

TEST_F(CsAcmeCommandsTest, AcmeOnAndOff) {
  Reply r = exec("acme");
  ASSERT_TRUE(r.ok) << r.output;
  EXPECT_EQ(r.output, "");
  EXPECT_TRUE(acme().enabled);
  EXPECT_TRUE(has_line("acme")) << server_config();
  ASSERT_TRUE(exec("no acme").ok);
  EXPECT_FALSE(acme().enabled);
  EXPECT_EQ(server_config().find("acme"), std::string::npos) << server_config();
}

TEST_F(CsAcmeCommandsTest, AllowDnsNormalisesAndAccumulates) {
  ASSERT_TRUE(exec("acme allow dns Example.COM.").ok);
  ASSERT_TRUE(exec("acme allow dns lab.example.net").ok);
  ASSERT_TRUE(exec("acme allow dns example.com").ok);  // already there
  EXPECT_EQ(acme().dns_suffixes, (std::vector<std::string>{"example.com", "lab.example.net"}));
  EXPECT_NE(
      server_config().find("\n acme allow dns example.com\n acme allow dns lab.example.net\n"),
      std::string::npos)
      << server_config();
  ASSERT_TRUE(exec("no acme allow dns EXAMPLE.com").ok);
  EXPECT_EQ(acme().dns_suffixes, (std::vector<std::string>{"lab.example.net"}));
  ASSERT_TRUE(exec("no acme allow dns other.org").ok);  // not there: nothing to do
  EXPECT_EQ(acme().dns_suffixes, (std::vector<std::string>{"lab.example.net"}));
  EXPECT_TRUE(exec("acme allow dns a-1.b2").ok);
  EXPECT_TRUE(exec("acme allow dns " + std::string(63, 'a') + ".com").ok);
}

TEST_F(CsAcmeCommandsTest, AllowDnsRefusals) {
  EXPECT_EQ(error("acme allow dns *.example.com"),
            "% Invalid DNS suffix *.example.com: no wildcards (a suffix already allows the names "
            "below it).\n");
  EXPECT_EQ(error("acme allow dns ."),
            "% Invalid DNS suffix .: a DNS name has at least one label.\n");
  EXPECT_EQ(error("acme allow dns a..b"),
            "% Invalid DNS suffix a..b: each label has 1 to 63 characters.\n");
  EXPECT_EQ(error("acme allow dns a.b.."),
            "% Invalid DNS suffix a.b..: each label has 1 to 63 characters.\n");
  EXPECT_EQ(error("acme allow dns " + std::string(64, 'a') + ".com"),
            "% Invalid DNS suffix " + std::string(64, 'a') +
                ".com: each label has 1 to 63 characters.\n");
  std::string long_name;
  for (int i = 0; i < 4; ++i) long_name += std::string(63, 'a') + ".";
  long_name += "com";  // 4 * 64 + 3 = 259
  EXPECT_EQ(error("acme allow dns " + long_name),
            "% Invalid DNS suffix " + long_name + ": a DNS name has at most 253 characters.\n");
  EXPECT_EQ(error("acme allow dns ex_ample.com"),
            "% Invalid DNS suffix ex_ample.com: labels have letters, digits and hyphens only.\n");
  EXPECT_EQ(error("acme allow dns -a.com"),
            "% Invalid DNS suffix -a.com: a label neither starts nor ends with a hyphen.\n");
  EXPECT_EQ(error("acme allow dns a-.com"),
            "% Invalid DNS suffix a-.com: a label neither starts nor ends with a hyphen.\n");
  EXPECT_EQ(exec("acme allow dns").output, "% Incomplete command.\n");
  EXPECT_TRUE(acme().dns_suffixes.empty());
}

TEST_F(CsAcmeCommandsTest, AllowIpAndConnectStoreNormalisedPrefixes) {
  ASSERT_TRUE(exec("acme allow ip 192.0.2.0/24").ok);
  ASSERT_TRUE(exec("acme allow ip 2001:DB8:0::/32").ok);
  ASSERT_TRUE(exec("acme allow ip 198.51.100.7").ok);
  ASSERT_TRUE(exec("acme allow ip 192.0.2.0/24").ok);
  EXPECT_EQ(acme().ip_prefixes,
            (std::vector<std::string>{"192.0.2.0/24", "2001:db8::/32", "198.51.100.7/32"}));
  ASSERT_TRUE(exec("acme allow connect 127.0.0.0/8").ok);
  ASSERT_TRUE(exec("acme allow connect ::1").ok);
  EXPECT_EQ(acme().connect_prefixes, (std::vector<std::string>{"127.0.0.0/8", "::1/128"}));
  EXPECT_TRUE(has_line("acme allow ip 2001:db8::/32")) << server_config();
  EXPECT_TRUE(has_line("acme allow connect ::1/128")) << server_config();
  const std::string invalid =
      "% Invalid IP prefix {}: give ADDR/LENGTH with the host bits zero (192.0.2.0/24, "
      "2001:db8::/32) or one address.\n";
  for (const char* bad : {"192.0.2.1/24", "192.0.2.0/33", "example.com", "2001:db8::/129"}) {
    EXPECT_EQ(error(fmt::format("acme allow ip {}", bad)), fmt::format(fmt::runtime(invalid), bad));
    EXPECT_EQ(error(fmt::format("acme allow connect {}", bad)),
              fmt::format(fmt::runtime(invalid), bad));
  }
  ASSERT_TRUE(exec("no acme allow ip 2001:db8::0/32").ok);
  ASSERT_TRUE(exec("no acme allow connect 127.0.0.0/8").ok);
  EXPECT_EQ(acme().ip_prefixes, (std::vector<std::string>{"192.0.2.0/24", "198.51.100.7/32"}));
  EXPECT_EQ(acme().connect_prefixes, (std::vector<std::string>{"::1/128"}));
}

TEST_F(CsAcmeCommandsTest, ChallengesKeepOne) {
  ASSERT_TRUE(exec("no acme challenge http-01").ok);
  ASSERT_TRUE(exec("no acme challenge tls").ok);  // abbreviated
  EXPECT_FALSE(acme().http01);
  EXPECT_TRUE(acme().dns01);
  EXPECT_FALSE(acme().tls_alpn01);
  EXPECT_NE(server_config().find("\n no acme challenge http-01\n no acme challenge tls-alpn-01\n"),
            std::string::npos)
      << server_config();
  EXPECT_EQ(error("no acme challenge dns-01"), "% At least one challenge type must stay offered\n");
  EXPECT_TRUE(acme().dns01);
  ASSERT_TRUE(exec("acme challenge http-01").ok);
  ASSERT_TRUE(exec("no acme challenge dns-01").ok);
  EXPECT_TRUE(acme().http01);
  EXPECT_FALSE(acme().dns01);
  ASSERT_TRUE(exec("acme challenge dns-01").ok);
  ASSERT_TRUE(exec("acme challenge tls-alpn-01").ok);
  EXPECT_EQ(server_config().find("challenge"), std::string::npos) << server_config();
  EXPECT_NE(exec("acme challenge x").output.find("% Invalid input detected"), std::string::npos);
}

TEST_F(CsAcmeCommandsTest, LifetimeAtMostTheCertificateLifetime) {
  ASSERT_TRUE(exec("acme lifetime 30").ok);
  EXPECT_EQ(acme().lifetime_days, 30);
  EXPECT_TRUE(has_line("acme lifetime 30")) << server_config();
  EXPECT_EQ(error("acme lifetime 366"),
            "% The ACME certificate lifetime (366 days) cannot exceed the server's certificate "
            "lifetime (365 days, lifetime certificate).\n");
  EXPECT_TRUE(exec("acme lifetime 365").ok);
  ASSERT_TRUE(exec("lifetime certificate 500").ok);
  EXPECT_TRUE(exec("acme lifetime 500").ok);
  // A lower `lifetime certificate` later keeps it (the smaller applies).
  ASSERT_TRUE(exec("lifetime certificate 200").ok);
  EXPECT_EQ(acme().lifetime_days, 500);
  // "Router(cs-server)#" is 18 columns; the value starts 14 further.
  EXPECT_EQ(exec("acme lifetime 1826").output,
            std::string(18 + 14, ' ') + "^\n% Invalid input detected at '^' marker.\n");
  EXPECT_EQ(exec("acme lifetime").output, "% Incomplete command.\n");
  ASSERT_TRUE(exec("no acme lifetime").ok);
  EXPECT_EQ(acme().lifetime_days, ca::kDefaultAcmeLifetimeDays);
  EXPECT_EQ(server_config().find("acme lifetime"), std::string::npos) << server_config();
}

TEST_F(CsAcmeCommandsTest, Resolver) {
  const std::vector<std::pair<std::string, std::string>> good = {
      {"192.0.2.53", "192.0.2.53"},
      {"192.0.2.53:5353", "192.0.2.53:5353"},
      {"2001:db8::53", "2001:db8::53"},
      {"[2001:DB8::53]:53", "[2001:db8::53]:53"},
      {"[::1]", "::1"},
  };
  for (const auto& [typed, stored] : good) {
    Reply r = exec("acme resolver " + typed);
    EXPECT_TRUE(r.ok) << typed << ": " << r.output;
    EXPECT_EQ(acme().resolver, stored) << typed;
  }
  EXPECT_TRUE(has_line("acme resolver ::1")) << server_config();
  for (const char* bad :
       {"ns.example.com", "192.0.2.53:0", "192.0.2.53:65536", "192.0.2.53:", "[192.0.2.53]:53",
        "[2001:db8::53", "[2001:db8::53]53", "192.0.2.53:5x", "2001:db8::53:99999"}) {
    EXPECT_EQ(error(fmt::format("acme resolver {}", bad)),
              fmt::format("% Invalid resolver {}: give ADDR, ADDR:PORT or [IPv6-ADDR]:PORT (port "
                          "1-65535).\n",
                          bad));
  }
  EXPECT_EQ(exec("acme resolver").output, "% Incomplete command.\n");
  ASSERT_TRUE(exec("no acme resolver").ok);
  EXPECT_EQ(acme().resolver, "");
  EXPECT_EQ(server_config().find("resolver"), std::string::npos) << server_config();
}

TEST_F(CsAcmeCommandsTest, Ports) {
  ASSERT_TRUE(exec("acme http-port 8080").ok);
  ASSERT_TRUE(exec("acme tls-port 8443").ok);
  EXPECT_EQ(acme().http_port, 8080);
  EXPECT_EQ(acme().tls_port, 8443);
  EXPECT_NE(server_config().find("\n acme http-port 8080\n acme tls-port 8443\n"),
            std::string::npos)
      << server_config();
  EXPECT_NE(exec("acme http-port 0").output.find("% Invalid input detected"), std::string::npos);
  EXPECT_NE(exec("acme tls-port 65536").output.find("% Invalid input detected"), std::string::npos);
  EXPECT_EQ(exec("acme http-port").output, "% Incomplete command.\n");
  ASSERT_TRUE(exec("no acme http-port").ok);
  ASSERT_TRUE(exec("no acme tls-port 8443").ok);
  EXPECT_EQ(acme().http_port, 80);
  EXPECT_EQ(acme().tls_port, 443);
  EXPECT_EQ(server_config().find("port"), std::string::npos) << server_config();
}

TEST_F(CsAcmeCommandsTest, RateLimits) {
  EXPECT_EQ(acme().accounts_per_minute, 20);
  EXPECT_EQ(acme().orders_per_minute, 300);
  ASSERT_TRUE(exec("acme rate-limit accounts 500").ok);
  ASSERT_TRUE(exec("acme rate-limit orders 6000").ok);
  EXPECT_EQ(acme().accounts_per_minute, 500);
  EXPECT_EQ(acme().orders_per_minute, 6000);
  EXPECT_NE(server_config().find("\n acme rate-limit accounts 500\n acme rate-limit orders 6000\n"),
            std::string::npos)
      << server_config();
  EXPECT_NE(exec("acme rate-limit orders 0").output.find("% Invalid input detected"),
            std::string::npos);
  EXPECT_NE(exec("acme rate-limit nonces 5").output.find("% Invalid input detected"),
            std::string::npos);
  EXPECT_EQ(exec("acme rate-limit orders").output, "% Incomplete command.\n");
  ASSERT_TRUE(exec("no acme rate-limit accounts").ok);
  ASSERT_TRUE(exec("no acme rate-limit orders 6000").ok);
  EXPECT_EQ(acme().accounts_per_minute, 20);
  EXPECT_EQ(acme().orders_per_minute, 300);
  EXPECT_EQ(server_config().find("rate-limit"), std::string::npos) << server_config();
}

TEST_F(CsAcmeCommandsTest, EabKeyShownOnceAndHidden) {
  Reply r = exec("acme eab client-1.lab_A");
  ASSERT_TRUE(r.ok) << r.output;
  std::smatch m;
  const std::regex shown(
      "EAB key id client-1\\.lab_A: HMAC key \\(base64url\\) ([A-Za-z0-9_-]{43})\n"
      "Shown only now: give both to the ACME client\\.\n");
  ASSERT_TRUE(std::regex_match(r.output, m, shown)) << r.output;
  const std::string text = m[1];
  const auto keys = acme().eab_keys;
  ASSERT_EQ(keys.size(), 1U);
  const std::string key = keys.at("client-1.lab_A");
  EXPECT_EQ(key.size(), 32U);
  EXPECT_EQ(pki::base64url_encode(key), text);
  auto decoded = pki::base64url_decode(text);
  ASSERT_TRUE(decoded.has_value());
  EXPECT_EQ(*decoded, key);

  const std::string config = server_config();
  EXPECT_EQ(config.find(text), std::string::npos) << config;
  EXPECT_EQ(config.find(key), std::string::npos);
  const std::string line = " acme eab client-1.lab_A hmac 7 " + type7_encode(text) + "\n";
  EXPECT_NE(config.find(line), std::string::npos) << config;
  EXPECT_EQ(mask_passwords(line.substr(1, line.size() - 2)),
            "acme eab client-1.lab_A hmac 7 *****");
  // Shown only once: the running-config and a second command do not show it.
  EXPECT_EQ(error("acme eab client-1.lab_A"),
            "% EAB key client-1.lab_A exists; remove it with no acme eab client-1.lab_A first\n");
  EXPECT_EQ(acme().eab_keys.at("client-1.lab_A"), key);

  // A second key is another random one.
  ASSERT_TRUE(exec("acme eab k2").ok);
  EXPECT_NE(acme().eab_keys.at("k2"), key);
  ASSERT_TRUE(exec("no acme eab client-1.lab_A").ok);
  EXPECT_EQ(acme().eab_keys.count("client-1.lab_A"), 0U);
  EXPECT_EQ(server_config().find("client-1.lab_A"), std::string::npos) << server_config();
}

TEST_F(CsAcmeCommandsTest, EabRefusals) {
  EXPECT_EQ(error("acme eab bad/id"),
            "% Invalid EAB key id bad/id: 1 to 64 letters, digits, '.', '_' and '-'.\n");
  EXPECT_EQ(error("acme eab " + std::string(65, 'k')),
            "% Invalid EAB key id " + std::string(65, 'k') +
                ": 1 to 64 letters, digits, '.', '_' and '-'.\n");
  EXPECT_TRUE(exec("acme eab " + std::string(64, 'k')).ok);
  EXPECT_EQ(error("acme eab k1 hmac 7 XYZ"), "% Invalid hidden EAB key for key id k1.\n");
  // Type 7 of a base64url text that is too short a key (8 bytes).
  EXPECT_EQ(error("acme eab k1 hmac 7 " + type7_encode(pki::base64url_encode("12345678"))),
            "% Invalid hidden EAB key for key id k1.\n");
  EXPECT_EQ(error("acme eab k1 hmac 7 " + type7_encode("not+base64url")),
            "% Invalid hidden EAB key for key id k1.\n");
  EXPECT_EQ(exec("acme eab k1 hmac 7").output, "% Incomplete command.\n");
  EXPECT_EQ(acme().eab_keys.count("k1"), 0U);
  // The hidden form takes a key and prints nothing.
  const std::string key(32, '\x07');
  Reply r = exec("acme eab k1 hmac 7 " + type7_encode(pki::base64url_encode(key)));
  ASSERT_TRUE(r.ok) << r.output;
  EXPECT_EQ(r.output, "");
  EXPECT_EQ(acme().eab_keys.at("k1"), key);
}

TEST_F(CsAcmeCommandsTest, LinesComeAfterEstInOrder) {
  for (const char* line :
       {"acme eab k1", "acme tls-port 8443", "acme http-port 8080", "acme resolver 192.0.2.53",
        "acme lifetime 30", "no acme challenge dns-01", "acme allow connect 127.0.0.0/8",
        "acme allow ip 192.0.2.0/24", "acme allow dns example.com", "acme", "est"}) {
    ASSERT_TRUE(exec(line).ok) << line;
  }
  const std::string config = server_config();
  const std::regex order(
      "(.|\n)*\n est\n acme\n acme allow dns example.com\n acme allow ip 192.0.2.0/24\n"
      " acme allow connect 127.0.0.0/8\n no acme challenge dns-01\n acme lifetime 30\n"
      " acme resolver 192.0.2.53\n acme http-port 8080\n acme tls-port 8443\n"
      " acme eab k1 hmac 7 [0-9A-F]+\n shutdown\n");
  EXPECT_TRUE(std::regex_match(config, order)) << config;
}

TEST(CsAcmeConfig, RoundTrip) {
  CommandTable table;
  testing::build_full_table(table);
  const std::string key(32, 'k');
  const std::string text = fmt::format(
      "crypto pki server mycs\n"
      " lifetime certificate 300\n"
      " acme\n"
      " acme allow dns example.com\n"
      " acme allow dns lab.example.net\n"
      " acme allow ip 192.0.2.0/24\n"
      " acme allow ip 2001:db8::/32\n"
      " acme allow connect 127.0.0.0/8\n"
      " no acme challenge http-01\n"
      " no acme challenge tls-alpn-01\n"
      " acme lifetime 400\n"  // loaded: kept above the certificate lifetime
      " acme resolver [2001:db8::53]:5353\n"
      " acme http-port 5002\n"
      " acme tls-port 5001\n"
      " acme rate-limit accounts 100\n"
      " acme rate-limit orders 1000\n"
      " acme eab k1 hmac 7 {}\n"
      "end\n",
      type7_encode(pki::base64url_encode(key)));
  testing::TempDevice first;
  LoadResult r = load_config(table, first.device(), text);
  EXPECT_EQ(r.errors, 0) << r.output;
  const ca::AcmeConfig loaded = first.device().server("mycs")->config().acme;
  EXPECT_TRUE(loaded.enabled);
  EXPECT_EQ(loaded.lifetime_days, 400);
  EXPECT_FALSE(loaded.http01);
  EXPECT_TRUE(loaded.dns01);
  EXPECT_EQ(loaded.resolver, "[2001:db8::53]:5353");
  EXPECT_EQ(loaded.accounts_per_minute, 100);
  EXPECT_EQ(loaded.orders_per_minute, 1000);
  EXPECT_EQ(loaded.eab_keys.at("k1"), key);
  const std::string body = running_config(table, first.device());
  EXPECT_EQ(body.find(pki::base64url_encode(key)), std::string::npos) << body;
  testing::TempDevice second;
  r = load_config(table, second.device(), body);
  EXPECT_EQ(r.errors, 0) << r.output;
  EXPECT_EQ(running_config(table, second.device()), body);
  EXPECT_TRUE(same(second.device().server("mycs")->config().acme, loaded));
}

}  // namespace
}  // namespace scepter::cli
