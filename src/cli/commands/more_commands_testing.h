#pragma once
// Test fixture for the key, trustpoint and HTTP commands: the real command table (every
// register_* function, each once), an interactive session on a Device in a temporary
// directory whose KeyStore has a master passphrase, and helpers to run transcripts and
// enable a certificate server. Tests only.

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <regex>
#include <string>
#include <string_view>

#include <gtest/gtest.h>

#include "ca/device.h"
#include "cli/cli_testing.h"
#include "cli/commands/commands.h"
#include "cli/commands/more_commands.h"
#include "cli/session.h"

namespace scepter::cli::testing {

// True when some command of `node` has a grammar starting with `prefix`.
inline bool has_command(const CommandTable& t, Node node, std::string_view prefix) {
  for (const auto& c : t.commands(node)) {
    if (c->grammar.starts_with(prefix)) return true;
  }
  return false;
}

// register_all_commands() plus the key, trustpoint and HTTP commands when it does not
// register them itself.
inline void build_full_table(CommandTable& t) {
  register_all_commands(t);
  if (!has_command(t, Node::kConfig, "crypto key generate rsa")) register_key_commands(t);
  if (!has_command(t, Node::kConfig, "crypto pki trustpoint")) register_trustpoint_commands(t);
  if (!has_command(t, Node::kConfig, "[no] ip http server")) register_http_commands(t);
  if (!has_command(t, Node::kConfig, "crypto pki token")) register_token_commands(t);
}

// A Device in a fresh temporary directory, with a master passphrase so keys can be
// stored; reopen() makes a new Device on the same directories (a daemon restart).
class KeyDevice {
 public:
  KeyDevice() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "scepter-keys-XXXXXX").string();
    EXPECT_NE(::mkdtemp(tmpl.data()), nullptr);
    root_ = tmpl;
    std::filesystem::create_directories(root_ / "flash");
    reopen();
  }
  ~KeyDevice() {
    device_.reset();
    std::error_code ec;
    std::filesystem::remove_all(root_, ec);
  }
  KeyDevice(const KeyDevice&) = delete;
  KeyDevice& operator=(const KeyDevice&) = delete;

  void reopen() {
    device_.reset();
    auto d =
        ca::Device::create(ca::DeviceOptions{(root_ / "nvram").string(), (root_ / "flash").string(),
                                             "master-pass", upstream_},
                           clock_);
    ASSERT_TRUE(d.has_value()) << d.error().to_string();
    device_ = std::move(*d);
  }

  // The SCEP client the device's trustpoints use (none by default); reopens the device.
  void set_upstream(std::shared_ptr<ca::UpstreamCa> upstream) {
    upstream_ = std::move(upstream);
    reopen();
  }

  ca::Device& device() { return *device_; }
  const std::filesystem::path& root() const { return root_; }
  std::string nvram(std::string_view name) const { return (root_ / "nvram" / name).string(); }

 private:
  std::filesystem::path root_;
  SystemClock clock_;
  std::shared_ptr<ca::UpstreamCa> upstream_;
  std::unique_ptr<ca::Device> device_;
};

class MoreCommandsTest : public ::testing::Test {
 protected:
  MoreCommandsTest() { build_full_table(table_); }

  // Replays `input` (see cli_testing.h) and returns the transcript, with the elapsed
  // time of key generation replaced by "N".
  std::string run(std::string_view input) {
    std::string out = run_transcript(*session_, input);
    static const std::regex kElapsed(R"(elapsed time was \d+ seconds)");
    return std::regex_replace(out, kElapsed, "elapsed time was N seconds");
  }
  Reply exec(std::string_view line) { return session_->execute(line); }
  // A new interactive session in exec mode (e.g. after dev_.reopen()).
  void new_session() { session_ = std::make_unique<Session>(table_, dev_.device()); }

  // Creates certificate server `label` and enables it (no archive, so no passphrase is
  // asked); the server generates its key when `label` has none.
  std::shared_ptr<ca::CertificateServer> enabled_server(const std::string& label) {
    auto server = dev_.device().server(label);
    if (!server) {
      auto created = dev_.device().create_server(label);
      EXPECT_TRUE(created.has_value()) << created.error().to_string();
      if (!created.has_value()) return nullptr;
      server = *created;
    }
    ca::ServerConfig cfg = server->config();
    cfg.archive_enabled = false;
    EXPECT_TRUE(server->set_config(cfg).ok());
    auto report = server->enable({});
    EXPECT_TRUE(report.has_value()) << report.error().to_string();
    return server;
  }

  CommandTable table_;
  KeyDevice dev_;
  std::unique_ptr<Session> session_ = std::make_unique<Session>(table_, dev_.device());
};

}  // namespace scepter::cli::testing
