// crypto pki trustpoint, its subcommands, show crypto pki trustpoints, and the
// running-config round trip of trustpoints, certificate servers and the HTTP server.
#include <map>

#include <gtest/gtest.h>

#include "cli/commands/more_commands_testing.h"
#include "cli/config.h"
#include "pki/digest.h"
#include "pki/name.h"

namespace scepter::cli {
namespace {

constexpr std::string_view kConfigure =
    "Router#configure terminal\n"
    "Enter configuration commands, one per line.  End with CNTL/Z.\n";

class TrustpointCommandsTest : public testing::MoreCommandsTest {
 protected:
  // A copy of the device's trustpoints, by name.
  std::map<std::string, ca::TrustpointConfig> trustpoints() {
    std::map<std::string, ca::TrustpointConfig> out;
    for (auto& tp : dev_.device().trustpoints()) out.emplace(tp.name, tp);
    return out;
  }
  std::string running_config_of(ca::Device& device) { return running_config(table_, device); }
};

TEST_F(TrustpointCommandsTest, EnteringCreatesTheTrustpoint) {
  EXPECT_EQ(run("configure terminal\ncrypto pki trustpoint tp1\nexit"),
            std::string(kConfigure) +
                "Router(config)#crypto pki trustpoint tp1\n"
                "Router(ca-trustpoint)#exit\n");
  ASSERT_TRUE(trustpoints().count("tp1"));
  EXPECT_EQ(trustpoints().at("tp1").name, "tp1");
  EXPECT_EQ(exec("crypto pki trustpoint bad/name").output,
            "% Invalid trustpoint name bad/name: use 1 to 64 letters, digits, '.', '_' or '-'.\n");
}

TEST_F(TrustpointCommandsTest, SubcommandsAndTheirNoForms) {
  run("configure terminal\ncrypto pki trustpoint sub\n"
      " enrollment url http://192.0.2.6\n"
      " enrollment mode ra\n"
      " enrollment retry period 5\n"
      " enrollment retry count 20\n"
      " subject-name cn=myra, ou=ioscs RA, o=company, c=us\n"
      " revocation-check none\n"
      " rsakeypair ms2 2048\n"
      " hash sha384\n"
      "end");
  const ca::TrustpointConfig tp = trustpoints().at("sub");
  EXPECT_EQ(tp.enrollment_url, "http://192.0.2.6");
  EXPECT_TRUE(tp.enrollment_mode_ra);
  EXPECT_EQ(tp.retry_period_minutes, 5);
  EXPECT_EQ(tp.retry_count, 20);
  EXPECT_EQ(tp.subject_name, "CN=myra, OU=ioscs RA, O=company, C=us");
  EXPECT_EQ(tp.revocation_check, "none");
  EXPECT_EQ(tp.rsakeypair, "ms2");
  EXPECT_EQ(tp.hash, pki::Hash::kSha384);
  std::string config = exec("show running-config").output;
  EXPECT_NE(config.find("!\n"
                        "crypto pki trustpoint sub\n"
                        " enrollment url http://192.0.2.6\n"
                        " enrollment mode ra\n"
                        " enrollment retry period 5\n"
                        " enrollment retry count 20\n"
                        " subject-name CN=myra, OU=ioscs RA, O=company, C=us\n"
                        " revocation-check none\n"
                        " rsakeypair ms2 2048\n"
                        " hash sha384\n"
                        "!\n"),
            std::string::npos)
      << config;

  run("configure terminal\ncrypto pki trustpoint sub\n"
      "no enrollment url\nno enrollment mode ra\nno enrollment retry period\n"
      "no enrollment retry count\nno subject-name\nno revocation-check\nno rsakeypair\n"
      "no hash\nend");
  config = exec("show running-config").output;
  EXPECT_NE(config.find("!\ncrypto pki trustpoint sub\n!\n"), std::string::npos) << config;
}

TEST_F(TrustpointCommandsTest, EnrollmentUrls) {
  run("configure terminal\ncrypto pki trustpoint tp");
  for (std::string_view good :
       {"http://caserver.myexample.com", "http://[2001:DB8:1:1::1]:80", "HTTP://ca:8080/",
        "https://ca.example.com:8443/cgi-bin/pkiclient.exe", "http://192.0.2.6/scep?x=1"}) {
    Reply r = exec("enrollment url " + std::string(good));
    EXPECT_TRUE(r.ok) << good << ": " << r.output;
    EXPECT_EQ(trustpoints().at("tp").enrollment_url, good);
  }
  struct Bad {
    std::string_view url, why;
  };
  for (const Bad& bad : {
           Bad{"ftp://ca", "use http://host[:port][/path] or https://host[:port][/path]"},
           Bad{"caserver", "use http://host[:port][/path] or https://host[:port][/path]"},
           Bad{"http://", "the host is missing"},
           Bad{"http:///path", "the host is missing"},
           Bad{"http://ca:", "the port is missing"},
           Bad{"http://ca:0", "the port must be a number from 1 to 65535"},
           Bad{"http://ca:65536", "the port must be a number from 1 to 65535"},
           Bad{"http://ca:80x", "the port must be a number from 1 to 65535"},
           Bad{"http://c*a", "the host name has an invalid character"},
           Bad{"http://2001:db8::1/", "the port must be a number from 1 to 65535"},
           Bad{"http://[2001:db8::1", "the IPv6 address has no ']'"},
           Bad{"http://[2001:zz::1]:80", "the IPv6 address is invalid"},
           Bad{"http://[::1]x", "junk after the IPv6 address"},
           Bad{"http://ca vrf x", "it contains a blank"},
       }) {
    Reply r = exec("enrollment url " + std::string(bad.url));
    EXPECT_FALSE(r.ok) << bad.url;
    EXPECT_EQ(r.output, "% " + std::string(bad.url) +
                            " is not a valid enrollment URL: " + std::string(bad.why) + ".\n");
  }
  EXPECT_EQ(trustpoints().at("tp").enrollment_url, "http://192.0.2.6/scep?x=1");
  EXPECT_EQ(exec("enrollment url").output, "% Incomplete command.\n");

  // The guide's one-line form sets what the separate lines set.
  Reply r = exec("enrollment mode ra retry period 5 retry count 20 url http://[2001:DB8::1]:80");
  ASSERT_TRUE(r.ok) << r.output;
  ca::TrustpointConfig tp = trustpoints().at("tp");
  EXPECT_EQ(tp.enrollment_url, "http://[2001:DB8::1]:80");
  EXPECT_TRUE(tp.enrollment_mode_ra);
  EXPECT_EQ(tp.retry_period_minutes, 5);
  EXPECT_EQ(tp.retry_count, 20);
  ASSERT_TRUE(exec("enrollment retry count 7 url http://ca2").ok);
  EXPECT_EQ(trustpoints().at("tp").retry_count, 7);
  EXPECT_EQ(trustpoints().at("tp").retry_period_minutes, 5);
  EXPECT_EQ(trustpoints().at("tp").enrollment_url, "http://ca2");
  EXPECT_NE(exec("enrollment retry period 61 url http://ca3").output.find("% Invalid input"),
            std::string::npos);
  // `pem` is refused, not ignored, and changes nothing.
  r = exec("enrollment url http://ca4 pem");
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.output.find("pem keyword"), std::string::npos) << r.output;
  EXPECT_EQ(trustpoints().at("tp").enrollment_url, "http://ca2");
}

TEST_F(TrustpointCommandsTest, ValuesTheGrammarCannotCheck) {
  run("configure terminal\ncrypto pki trustpoint tp");
  Reply r = exec("subject-name cn=a, x=b");
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.output, "% cn=a, x=b is not a valid subject name\n");
  EXPECT_EQ(exec("subject-name c=USA").output, "% c=USA is not a valid subject name\n");
  EXPECT_EQ(trustpoints().at("tp").subject_name, "");
  EXPECT_EQ(exec("rsakeypair a/b").output,
            "% Invalid key label a/b: key label may only contain letters, digits, '.', '_', "
            "'-'.\n");
  // "Router(ca-trustpoint)#" is 22 columns.
  EXPECT_EQ(exec("hash md4").output,
            std::string(22 + 5, ' ') + "^\n% Invalid input detected at '^' marker.\n");
  EXPECT_EQ(exec("hash").output, "% Incomplete command.\n");
  EXPECT_EQ(exec("enrollment retry period 61").output,
            std::string(22 + 24, ' ') + "^\n% Invalid input detected at '^' marker.\n");
  EXPECT_EQ(exec("rsakeypair k 100").output,
            std::string(22 + 13, ' ') + "^\n% Invalid input detected at '^' marker.\n");
}

TEST_F(TrustpointCommandsTest, RemovingATrustpoint) {
  run("configure terminal\ncrypto pki trustpoint tp1\nexit");
  EXPECT_EQ(run("no crypto pki trustpoint tp1\nno"),
            "Router(config)#no crypto pki trustpoint tp1\n"
            "% Removing an enrolled trustpoint will destroy all certificates\n"
            " received from the related Certificate Authority.\n"
            "\n"
            "Are you sure you want to do this? [yes/no]: no\n");
  EXPECT_TRUE(trustpoints().count("tp1"));
  run("no crypto pki trustpoint tp1\nyes");
  EXPECT_FALSE(trustpoints().count("tp1"));
  EXPECT_EQ(exec("no crypto pki trustpoint tp1").output, "% Trustpoint tp1 does not exist.\n");

  run("crypto pki server cs1\nexit");
  ASSERT_TRUE(trustpoints().count("cs1"));
  Reply r = exec("no crypto pki trustpoint cs1");
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.output,
            "% The trustpoint cs1 is used by certificate server cs1; remove the server first (no "
            "crypto pki server cs1).\n");
  EXPECT_TRUE(trustpoints().count("cs1"));
}

TEST_F(TrustpointCommandsTest, ShowUnauthenticatedTrustpoints) {
  run("configure terminal\ncrypto pki trustpoint b\nrsakeypair bkey\n"
      "crypto pki trustpoint a\nexit\nip domain name example.com\n"
      "crypto key generate rsa modulus 512 exportable\nend");
  // IOS leaves two blank lines between trustpoints.
  EXPECT_EQ(exec("show crypto pki trustpoints").output,
            "Trustpoint a:\n    Not authenticated.\n\n\nTrustpoint b:\n    Not authenticated.\n");
  // Trustpoint a has no rsakeypair: it uses the default key, named after the FQDN
  // (Router.example.com).
  EXPECT_EQ(exec("show crypto pki trustpoints status").output,
            "Trustpoint a:\n"
            "  State:\n"
            "    Keys generated ............. Yes (General Purpose, exportable)\n"
            "    Issuing CA authenticated ....... No\n"
            "    Certificate request(s) ..... None\n"
            "\n"
            "\n"
            "Trustpoint b:\n"
            "  State:\n"
            "    Keys generated ............. No\n"
            "    Issuing CA authenticated ....... No\n"
            "    Certificate request(s) ..... None\n");
  EXPECT_EQ(exec("show crypto pki trustpoints b").output,
            "Trustpoint b:\n    Not authenticated.\n");
  Reply r = exec("show crypto pki trustpoints c");
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.output, "% Trustpoint c does not exist.\n");
}

// Without rsakeypair, a trustpoint's key is the one named after the router's FQDN at the
// time, or after the hostname alone while no domain name is set.
TEST_F(TrustpointCommandsTest, DefaultKeyFollowsTheFqdn) {
  const std::string yes =
      "    Keys generated ............. Yes (General Purpose, non-exportable)\n";
  const std::string no = "    Keys generated ............. No\n";
  run("configure terminal\ncrypto pki trustpoint a\nexit\n"
      "crypto key generate rsa label Router modulus 512\nend");
  EXPECT_NE(exec("show crypto pki trustpoints a status").output.find(yes), std::string::npos);
  run("configure terminal\nip domain name example.com\nend");
  EXPECT_NE(exec("show crypto pki trustpoints a status").output.find(no), std::string::npos);
  run("configure terminal\ncrypto key generate rsa modulus 512\nend");
  ASSERT_TRUE(dev_.device().keys().get("Router.example.com").has_value());
  EXPECT_NE(exec("show crypto pki trustpoints a status").output.find(yes), std::string::npos);
}

TEST_F(TrustpointCommandsTest, ACertificateServersTrustpoint) {
  run("configure terminal\ncrypto pki server ca\nexit\nend");
  EXPECT_EQ(exec("show crypto pki trustpoints ca").output,
            "Trustpoint ca:\n    Not authenticated.\n");
  auto server = enabled_server("ca");
  ASSERT_TRUE(server);
  const pki::Certificate cert = *server->info().ca_certificate;
  EXPECT_EQ(exec("show crypto pki trustpoints").output,
            "Trustpoint ca:\n"
            "    Subject Name:\n"
            "    cn=ca\n"
            "          Serial Number (hex): 01\n"
            "    Certificate configured.\n");
  EXPECT_EQ(exec("show crypto pki trustpoints ca status").output,
            "Trustpoint ca:\n"
            "  Issuing CA certificate configured:\n"
            "    Subject Name:\n"
            "     cn=ca\n"
            "    Fingerprint MD5: " +
                pki::ios_fingerprint(cert.md5_fingerprint()) +
                " \n"
                "    Fingerprint SHA1: " +
                pki::ios_fingerprint(cert.sha1_fingerprint()) +
                " \n"
                "  State:\n"
                "    Keys generated ............. Yes (General Purpose, non-exportable)\n"
                "    Issuing CA authenticated ....... Yes\n"
                "    Certificate request(s) ..... None\n");

  // A rollover (shadow) CA certificate, as the guide's example shows it.
  ASSERT_TRUE(exec("crypto pki server ca rollover").ok);
  EXPECT_EQ(exec("show crypto pki trustpoints ca").output,
            "Trustpoint ca:\n"
            "    Subject Name:\n"
            "    cn=ca\n"
            "          Serial Number (hex): 01\n"
            "    Certificate configured.\n"
            "    Rollover certificate configured.\n");

  // The trustpoint holding the CA certificate is locked; its own values may be re-entered.
  run("configure terminal\ncrypto pki trustpoint ca");
  Reply r = exec("enrollment url http://other");
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.output,
            "% Trustpoint ca is locked: it holds the CA certificate of certificate server ca.\n");
  EXPECT_TRUE(exec("revocation-check crl").ok);
  // Refused rather than stored: nothing would check.
  EXPECT_EQ(exec("revocation-check ocsp").output,
            "% OCSP revocation checking is not supported; use \"revocation-check crl\".\n");
  EXPECT_TRUE(exec("rsakeypair ca").ok);
  EXPECT_FALSE(exec("no rsakeypair").ok);
  EXPECT_EQ(trustpoints().at("ca").rsakeypair, "ca");
}

TEST_F(TrustpointCommandsTest, RunningConfigRoundTrip) {
  run("configure terminal\nhostname ca1\n"
      "crypto pki trustpoint sub\n"
      " enrollment url http://[2001:DB8:1:1::1]:80/cgi-bin\n"
      " enrollment mode ra\n"
      " enrollment retry period 2\n"
      " enrollment retry count 7\n"
      " subject-name CN=ra\\, one, O=Example+OU=PKI, C=US\n"
      " revocation-check none\n"
      " rsakeypair ra-key\n"
      " hash sha512\n"
      "crypto pki trustpoint empty\n"
      "crypto pki server cs1\n"
      " grant auto\n"
      "ip http server\n"
      "ip http port 8080\n"
      "ip http bind-address 2001:DB8::0001\n"
      "end");
  const std::string config = running_config_of(dev_.device());
  EXPECT_NE(config.find("crypto pki trustpoint cs1\n revocation-check crl\n rsakeypair cs1\n!\n"),
            std::string::npos)
      << config;
  EXPECT_NE(config.find("crypto pki trustpoint empty\n!\n"), std::string::npos) << config;
  EXPECT_NE(config.find("ip http port 8080\nip http bind-address 2001:db8::1\nip http server\n"),
            std::string::npos)
      << config;

  testing::KeyDevice fresh;
  LoadResult loaded = load_config(table_, fresh.device(), config);
  EXPECT_EQ(loaded.errors, 0) << loaded.output;
  EXPECT_EQ(running_config_of(fresh.device()), config);
}

}  // namespace
}  // namespace scepter::cli
