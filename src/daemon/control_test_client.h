#pragma once
// A raw control-socket client for tests: sends bytes, reads JSON lines with a deadline.
// Header-only; not used by the daemon.

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/unique_fd.h"

namespace scepter::daemon::testing {

class RawControlClient {
 public:
  // Connects to `path`; valid() is false when that fails.
  explicit RawControlClient(const std::string& path) {
    fd_.reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
    if (::connect(fd_.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
      fd_.reset();
    }
  }
  bool valid() const { return fd_.valid(); }
  void close() { fd_.reset(); }

  bool send_raw(std::string_view data) {
    while (!data.empty()) {
      ssize_t n = ::send(fd_.get(), data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }
  bool send_json(const nlohmann::json& j) { return send_raw(j.dump() + "\n"); }
  bool exec(std::string_view line) { return send_json({{"op", "exec"}, {"line", line}}); }

  // The next line, or nullopt on end-of-file or after `timeout`.
  std::optional<std::string> read_line(
      std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      auto nl = buffer_.find('\n');
      if (nl != std::string::npos) {
        std::string line = buffer_.substr(0, nl);
        buffer_.erase(0, nl + 1);
        return line;
      }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return std::nullopt;
      pollfd p{fd_.get(), POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      char chunk[4096];
      ssize_t n = ::read(fd_.get(), chunk, sizeof chunk);
      if (n <= 0) return std::nullopt;
      buffer_.append(chunk, static_cast<std::size_t>(n));
    }
  }
  // The next line parsed as JSON; a discarded value when there is none or it is not JSON.
  nlohmann::json read_json(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    auto line = read_line(timeout);
    if (!line) return nlohmann::json(nlohmann::json::value_t::discarded);
    return nlohmann::json::parse(*line, nullptr, false);
  }
  // True when the daemon closed the connection (end-of-file within `timeout`).
  bool at_eof(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    pollfd p{fd_.get(), POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return false;
    char c;
    return ::read(fd_.get(), &c, 1) == 0;
  }

 private:
  UniqueFd fd_;
  std::string buffer_;
};

}  // namespace scepter::daemon::testing
