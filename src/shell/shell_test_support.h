#pragma once
// Test fixture for the shell: a real ControlServer with scripted sessions on a socket
// in a fresh temporary directory. Header-only; not part of the shell.

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "common/testing.h"
#include "daemon/control_fake_session.h"
#include "daemon/control_server.h"

namespace scepter::shell::testing {

class ShellServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/scepter-sh-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/scepterd.sock";
    daemon::ControlServerOptions options;
    options.path = path_;
    server_ = std::make_unique<daemon::ControlServer>(options, hub_.factory());
    ASSERT_OK(server_->start());
  }
  void TearDown() override {
    server_.reset();
    std::filesystem::remove_all(dir_);
  }

  template <class Pred>
  static bool wait_until(Pred pred, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!pred()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return true;
  }

  std::string dir_;
  std::string path_;
  daemon::testing::FakeSessionHub hub_;
  std::unique_ptr<daemon::ControlServer> server_;
};

}  // namespace scepter::shell::testing
