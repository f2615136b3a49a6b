// ip http server, ip http port, ip http bind-address, their running-config lines and
// show ip http server status.
#include <gtest/gtest.h>

#include "cli/commands/more_commands_testing.h"

namespace scepter::cli {
namespace {

class HttpCommandsTest : public testing::MoreCommandsTest {
 protected:
  void SetUp() override { run("configure terminal"); }
  ca::HttpConfig http() { return dev_.device().http(); }
  // The HTTP lines of the running-config, which follow every other block.
  std::string http_config() {
    std::string config = exec("do show running-config").output;
    auto start = std::min(config.find("\nip http"), config.find("\nno ip http"));
    return start == std::string::npos ? "" : config.substr(start + 1);
  }
  // "Router(config)#" is 15 columns.
  static std::string marker(std::size_t column) {
    return std::string(15 + column, ' ') + "^\n% Invalid input detected at '^' marker.\n";
  }
};

TEST_F(HttpCommandsTest, OffByDefault) {
  EXPECT_FALSE(http().server);
  EXPECT_EQ(http().port, 80);
  EXPECT_EQ(http().bind_address, "");
  EXPECT_EQ(http_config(), "");
}

TEST_F(HttpCommandsTest, Server) {
  Reply r = exec("ip http server");
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(r.output, "");
  EXPECT_TRUE(http().server);
  EXPECT_EQ(http_config(), "ip http server\n!\nend\n");
  EXPECT_TRUE(exec("no ip http server").ok);
  EXPECT_FALSE(http().server);
  EXPECT_EQ(http_config(), "");
}

// Where IOS would not enable a certificate server, scepterd does and says what it means.
TEST_F(HttpCommandsTest, TurningItOffUnderAnEnabledServerIsSaid) {
  exec("ip http server");
  auto server = enabled_server("mycs");
  ASSERT_NE(server, nullptr);
  run("configure terminal");
  EXPECT_EQ(exec("no ip http server").output, kHttpOffNote);
  EXPECT_EQ(exec("no ip http server").output, "");  // already off
  server->shutdown();
  EXPECT_NE(run("crypto pki server mycs\nno shutdown\n")
                .find(std::string("% Certificate Server enabled.\n") + std::string(kHttpOffNote)),
            std::string::npos);
}

TEST_F(HttpCommandsTest, Port) {
  EXPECT_TRUE(exec("ip http port 8080").ok);
  EXPECT_EQ(http().port, 8080);
  EXPECT_TRUE(exec("ip http server").ok);
  EXPECT_EQ(http_config(), "ip http port 8080\nip http server\n!\nend\n");
  EXPECT_TRUE(exec("no ip http port").ok);
  EXPECT_EQ(http().port, 80);
  EXPECT_EQ(exec("ip http port 65536").output, marker(13));
  EXPECT_EQ(exec("ip http port -1").output, marker(13));
  EXPECT_EQ(exec("ip http port x").output, marker(13));
  EXPECT_EQ(exec("ip http port").output, "% Incomplete command.\n");
  EXPECT_EQ(http().port, 80);
}

// A Scepter extension: port 0 is any free port, saved as such.
TEST_F(HttpCommandsTest, PortZeroIsAnyFreePort) {
  Reply r = exec("ip http port 0");
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(r.output, "");
  EXPECT_EQ(http().port, 0);
  EXPECT_EQ(http_config(), "ip http port 0\n!\nend\n");
  EXPECT_NE(session_->help("ip http port ").find("0: any free port"), std::string::npos);
}

// What `show ip http server status` prints (the HTTPS lines: their defaults, unless given).
std::string status(std::string_view state, std::string_view port, std::string_view bind,
                   std::string_view secure_state = "Disabled", std::string_view secure_port = "443",
                   std::string_view trustpoint = "none (a certificate from the local CA)",
                   std::string_view metrics = "Enabled") {
  return fmt::format(
      "HTTP server status: {}\nHTTP server port: {}\nHTTP server bind address: {}\n"
      "HTTP secure server capability: Present\nHTTP secure server status: {}\n"
      "HTTP secure server port: {}\nHTTP secure server trustpoint: {}\n"
      "HTTP metrics (/metrics): {}\n",
      state, port, bind, secure_state, secure_port, trustpoint, metrics);
}

// `/metrics` is on by default; `no ip http metrics` is saved and shown.
TEST_F(HttpCommandsTest, MetricsLine) {
  EXPECT_TRUE(http().metrics);
  EXPECT_TRUE(exec("no ip http metrics").ok);
  EXPECT_FALSE(http().metrics);
  EXPECT_EQ(http_config(), "no ip http metrics\n!\nend\n");
  EXPECT_EQ(exec("do show ip http server status").output,
            status("Disabled", "80", "all addresses", "Disabled", "443",
                   "none (a certificate from the local CA)", "Disabled"));
  EXPECT_TRUE(exec("ip http metrics").ok);
  EXPECT_TRUE(http().metrics);
  EXPECT_EQ(http_config(), "");
}

// ip http secure-server, secure-port and secure-trustpoint: saved in loading order, shown
// with the port bound (or why not), and the certificate server's own trustpoint refused
// as the seed says.
TEST_F(HttpCommandsTest, SecureServerLines) {
  EXPECT_TRUE(exec("ip http secure-server").ok);
  EXPECT_TRUE(exec("ip http secure-port 8443").ok);
  EXPECT_EQ(http_config(), "ip http secure-port 8443\nip http secure-server\n!\nend\n");
  EXPECT_EQ(exec("do show ip http server status").output,
            status("Disabled", "80", "all addresses", "Enabled", "8443, not listening"));
  dev_.device().set_https_listening({http(), 0, "", "no enabled certificate server"});
  EXPECT_EQ(exec("do show ip http server status").output,
            status("Disabled", "80", "all addresses", "Enabled",
                   "8443, not listening: no enabled certificate server"));
  dev_.device().set_https_listening({http(), 8443, "", ""});
  EXPECT_EQ(exec("do show ip http server status").output,
            status("Disabled", "80", "all addresses", "Enabled", "8443"));

  EXPECT_EQ(exec("ip http secure-trustpoint nosuch").output,
            "% Trustpoint nosuch does not exist.\n");
  ASSERT_TRUE(exec("crypto pki server mycs").ok);
  ASSERT_TRUE(exec("exit").ok);
  Reply r = exec("ip http secure-trustpoint mycs");
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.output.find("% Trustpoint mycs belongs to the certificate server mycs"),
            std::string::npos)
      << r.output;
  ASSERT_TRUE(exec("crypto pki trustpoint web").ok);
  ASSERT_TRUE(exec("exit").ok);
  EXPECT_TRUE(exec("ip http secure-trustpoint web").ok);
  EXPECT_EQ(http().secure_trustpoint, "web");
  EXPECT_NE(http_config().find("ip http secure-trustpoint web\nip http secure-server\n"),
            std::string::npos);
  EXPECT_EQ(exec("ip http secure-port 65536").output, marker(20));
  for (const char* line :
       {"no ip http secure-server", "no ip http secure-port", "no ip http secure-trustpoint"}) {
    EXPECT_TRUE(exec(line).ok) << line;
  }
  EXPECT_EQ(http().secure_port, 443);
  EXPECT_EQ(http().secure_trustpoint, "");
  EXPECT_EQ(http_config().find("secure"), std::string::npos);
}

TEST_F(HttpCommandsTest, ShowStatusDisabled) {
  EXPECT_EQ(exec("do show ip http server status").output,
            status("Disabled", "80", "all addresses"));
  EXPECT_TRUE(exec("ip http port 0").ok);
  EXPECT_EQ(exec("do show ip http server status").output,
            status("Disabled", "0 (any free port)", "all addresses"));
  // A listener still up for settings that are no longer current does not count.
  dev_.device().set_http_listening({http(), 4242});
  EXPECT_EQ(exec("do show ip http server status").output,
            status("Disabled", "0 (any free port)", "all addresses"));
}

// The port shown is the one the front end bound, once it serves the current settings.
TEST_F(HttpCommandsTest, ShowStatusShowsTheBoundPort) {
  EXPECT_TRUE(exec("ip http port 0").ok);
  EXPECT_TRUE(exec("ip http bind-address 127.0.0.1").ok);
  EXPECT_TRUE(exec("ip http server").ok);
  EXPECT_EQ(exec("do show ip http server status").output,
            status("Enabled", "0 (any free port), not listening", "127.0.0.1"));
  dev_.device().set_http_listening({http(), 41234});
  EXPECT_EQ(exec("do show ip http server status").output, status("Enabled", "41234", "127.0.0.1"));
  // Exec mode too.
  EXPECT_TRUE(exec("end").ok);
  EXPECT_EQ(exec("show ip http server status").output, status("Enabled", "41234", "127.0.0.1"));
  EXPECT_TRUE(exec("configure terminal").ok);

  // New settings: not listening until the front end has moved the listener.
  EXPECT_TRUE(exec("ip http port 8080").ok);
  EXPECT_EQ(exec("do show ip http server status").output,
            status("Enabled", "8080, not listening", "127.0.0.1"));
  dev_.device().set_http_listening({http(), 8080});
  EXPECT_EQ(exec("do show ip http server status").output, status("Enabled", "8080", "127.0.0.1"));
  EXPECT_TRUE(exec("no ip http bind-address").ok);
  EXPECT_EQ(exec("do show ip http server status").output,
            status("Enabled", "8080, not listening", "all addresses"));
  EXPECT_TRUE(exec("no ip http server").ok);
  dev_.device().set_http_listening({});
  EXPECT_EQ(exec("do show ip http server status").output,
            status("Disabled", "8080", "all addresses"));
}

TEST_F(HttpCommandsTest, ShowStatusBadInput) {
  EXPECT_FALSE(exec("do show ip http server statu x").ok);
  EXPECT_EQ(exec("do show ip http server").output, "% Incomplete command.\n");
}

TEST_F(HttpCommandsTest, BindAddress) {
  EXPECT_TRUE(exec("ip http bind-address 192.0.2.1").ok);
  EXPECT_EQ(http().bind_address, "192.0.2.1");
  EXPECT_TRUE(exec("ip http bind-address 2001:DB8:0::0001").ok);
  EXPECT_EQ(http().bind_address, "2001:db8::1");
  EXPECT_EQ(http_config(), "ip http bind-address 2001:db8::1\n!\nend\n");
  for (std::string_view bad : {"300.1.1.1", "192.0.2", "[::1]", "ca.example.com", "::1%eth0"}) {
    Reply r = exec("ip http bind-address " + std::string(bad));
    EXPECT_FALSE(r.ok) << bad;
    EXPECT_EQ(r.output, marker(21)) << bad;
  }
  EXPECT_EQ(http().bind_address, "2001:db8::1");
  EXPECT_TRUE(exec("no ip http bind-address").ok);
  EXPECT_EQ(http().bind_address, "");
}

TEST_F(HttpCommandsTest, Help) {
  std::string help = session_->help("ip http ");
  for (std::string_view word : {"bind-address", "port", "server"}) {
    EXPECT_NE(help.find(word), std::string::npos) << help;
  }
}

}  // namespace
}  // namespace scepter::cli
