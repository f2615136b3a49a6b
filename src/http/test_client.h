#pragma once
// A tiny blocking HTTP/1.x client on POSIX sockets, for the server's tests: it writes raw
// bytes (so tests control every byte on the wire) and reads responses framed by
// Content-Length. Not thread-safe; one client per thread.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace scepter::http::testing {

// Handlers of a test server wait in pass() until the test opens the gate; the test waits
// for them to enter or leave. Waits give up after 30 s (a hung test, never a measure of
// speed) and say whether the event happened.
class Gate {
 public:
  static constexpr std::chrono::milliseconds kPatience{30'000};

  void pass() {
    std::unique_lock<std::mutex> lock(mu_);
    ++entered_;
    cv_.notify_all();
    cv_.wait(lock, [&] { return open_; });
    ++left_;
    cv_.notify_all();
  }
  void open() {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = true;
    cv_.notify_all();
  }
  bool wait_entered(int n) { return wait_count(entered_, n); }
  bool wait_left(int n) { return wait_count(left_, n); }
  int entered() {
    std::lock_guard<std::mutex> lock(mu_);
    return entered_;
  }

 private:
  bool wait_count(const int& count, int n) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, kPatience, [&] { return count >= n; });
  }

  std::mutex mu_;
  std::condition_variable cv_;
  int entered_ = 0;
  int left_ = 0;
  bool open_ = false;
};

struct RawResponse {
  std::string status_line;  // "HTTP/1.1 200 OK"
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  std::optional<std::string> header(std::string_view name) const {
    for (const auto& [k, v] : headers) {
      if (k.size() == name.size() && strncasecmp(k.data(), name.data(), k.size()) == 0) {
        return v;
      }
    }
    return std::nullopt;
  }
};

// Takes one response off the front of `buf`, calling `fill()` (which appends what it
// reads to `buf`, false on timeout, EOF or error) until the response is complete.
// `head` true: the response to a HEAD request (no body follows).
template <class Fill>
std::optional<RawResponse> read_response_from(std::string& buf, bool head, Fill fill) {
  std::size_t end;
  while ((end = buf.find("\r\n\r\n")) == std::string::npos) {
    if (!fill()) {
      return std::nullopt;
    }
  }
  RawResponse r;
  std::string_view head_text(buf.data(), end);
  std::size_t line_end = head_text.find("\r\n");
  r.status_line = std::string(head_text.substr(0, line_end));
  if (r.status_line.size() < 12) {
    return std::nullopt;
  }
  r.status = std::atoi(r.status_line.c_str() + 9);
  while (line_end != std::string_view::npos) {
    const std::size_t start = line_end + 2;
    line_end = head_text.find("\r\n", start);
    std::string_view line = head_text.substr(start, line_end - start);
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) {
      continue;
    }
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') {
      value.remove_prefix(1);
    }
    r.headers.emplace_back(std::string(line.substr(0, colon)), std::string(value));
  }
  buf.erase(0, end + 4);
  std::size_t length = 0;
  if (auto cl = r.header("Content-Length")) {
    length = std::strtoull(cl->c_str(), nullptr, 10);
  }
  if (head || r.status == 100) {
    length = 0;
  }
  while (buf.size() < length) {
    if (!fill()) {
      return std::nullopt;
    }
  }
  r.body = buf.substr(0, length);
  buf.erase(0, length);
  return r;
}

class RawClient {
 public:
  RawClient() = default;
  RawClient(RawClient&& o) noexcept : fd_(std::exchange(o.fd_, -1)), buf_(std::move(o.buf_)) {}
  RawClient& operator=(RawClient&& o) noexcept {
    std::swap(fd_, o.fd_);
    std::swap(buf_, o.buf_);
    return *this;
  }
  ~RawClient() { close(); }

  // Connects to a numeric IPv4 or IPv6 address; false on failure. `source`, when given,
  // is the numeric IPv4 address to connect from (any of 127.0.0.0/8 for loopback tests).
  bool connect(const std::string& host, std::uint16_t port, const std::string& source = "") {
    close();
    closed_ = false;
    sockaddr_storage ss{};
    socklen_t len = 0;
    if (host.find(':') != std::string::npos) {
      auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
      a->sin6_family = AF_INET6;
      a->sin6_port = htons(port);
      if (inet_pton(AF_INET6, host.c_str(), &a->sin6_addr) != 1) {
        return false;
      }
      len = sizeof(*a);
    } else {
      auto* a = reinterpret_cast<sockaddr_in*>(&ss);
      a->sin_family = AF_INET;
      a->sin_port = htons(port);
      if (inet_pton(AF_INET, host.c_str(), &a->sin_addr) != 1) {
        return false;
      }
      len = sizeof(*a);
    }
    fd_ = ::socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) {
      return false;
    }
    const int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (!source.empty()) {
      sockaddr_in from{};
      from.sin_family = AF_INET;
      if (ss.ss_family != AF_INET || inet_pton(AF_INET, source.c_str(), &from.sin_addr) != 1 ||
          ::bind(fd_, reinterpret_cast<sockaddr*>(&from), sizeof from) != 0) {
        close();
        return false;
      }
    }
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
      close();
      return false;
    }
    return true;
  }

  void close() {
    if (fd_ >= 0) {
      ::close(fd_);
      fd_ = -1;
    }
    buf_.clear();
  }

  bool send(std::string_view data) {
    while (!data.empty()) {
      const ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) {
        return false;
      }
      data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }

  // Reads one response. `head` true: the response to a HEAD request (no body follows).
  std::optional<RawResponse> read_response(
      std::chrono::milliseconds timeout = std::chrono::seconds(30), bool head = false) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    return read_response_from(buf_, head, [&] { return fill(deadline); });
  }

  // True when the server closes (EOF or reset) within `timeout` with no further data.
  bool wait_closed(std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (fill(deadline)) {
    }
    return closed_;
  }

  bool closed() const { return closed_; }
  // Whether it closed by a reset (the server dropped what it had not sent).
  bool reset() const { return reset_; }
  int fd() const { return fd_; }

  // Reads until the bytes after the last response contain `needle`; returns them all
  // (they stay buffered), or nullopt on timeout, EOF or error. For streamed bodies.
  std::optional<std::string> read_until(
      std::string_view needle, std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (buf_.find(needle) == std::string::npos) {
      if (!fill(deadline)) {
        return std::nullopt;
      }
    }
    return buf_;
  }

 private:
  // Reads what is available; false on timeout, EOF or error.
  bool fill(std::chrono::steady_clock::time_point deadline) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 || fd_ < 0) {
      return false;
    }
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) {
      return false;
    }
    char tmp[16384];
    const ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
    if (n <= 0) {
      closed_ = true;
      reset_ = n < 0 && errno == ECONNRESET;
      return false;
    }
    buf_.append(tmp, static_cast<std::size_t>(n));
    return true;
  }

  int fd_ = -1;
  std::string buf_;
  bool closed_ = false;
  bool reset_ = false;
};

// "GET <target> HTTP/1.1" with Host and any extra header lines ("Name: value\r\n").
inline std::string get_request(std::string_view target, std::string_view extra = "",
                               std::string_view version = "HTTP/1.1") {
  return std::string("GET ") + std::string(target) + " " + std::string(version) +
         "\r\nHost: test\r\n" + std::string(extra) + "\r\n";
}

}  // namespace scepter::http::testing
