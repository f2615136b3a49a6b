#pragma once
// A blocking HTTP/1.1 client on POSIX sockets for the SCEP load generator: one keep-alive
// connection to a numeric IPv4 address, complete requests written as given, answers
// framed by Content-Length, chunked transfer coding or the end of the connection.
// Not thread-safe: one HttpConn per thread.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cctype>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

namespace scepter::bench {

struct HttpReply {
  int status = 0;
  std::string content_type;
  std::string body;
};

class HttpConn {
 public:
  HttpConn(std::string host, int port) : host_(std::move(host)), port_(port) {}
  ~HttpConn() { close(); }
  HttpConn(const HttpConn&) = delete;
  HttpConn& operator=(const HttpConn&) = delete;

  // Sends `request` (a complete HTTP/1.1 message) and reads the answer. Reconnects once
  // when a kept-alive connection turns out closed. nullopt on failure.
  std::optional<HttpReply> exchange(const std::string& request) {
    for (int attempt = 0; attempt < 2; ++attempt) {
      const bool fresh = fd_ < 0;
      if (fresh && !connect()) return std::nullopt;
      if (send_all(request)) {
        if (auto r = read_reply()) return r;
      }
      close();
      if (fresh) return std::nullopt;  // a new connection failed: do not retry
    }
    return std::nullopt;
  }
  int reconnects() const { return connects_ > 0 ? connects_ - 1 : 0; }

 private:
  bool connect() {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<std::uint16_t>(port_));
    if (inet_pton(AF_INET, host_.c_str(), &a.sin_addr) != 1) return false;
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) return false;
    const int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    timeval tv{120, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      close();
      return false;
    }
    ++connects_;
    return true;
  }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    buf_.clear();
  }
  bool send_all(std::string_view d) {
    while (!d.empty()) {
      const ssize_t n = ::send(fd_, d.data(), d.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      d.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }
  bool fill() {
    char tmp[65536];
    const ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
    if (n <= 0) return false;
    buf_.append(tmp, static_cast<size_t>(n));
    return true;
  }
  // The position after the next CRLF at or after `from`, reading as needed.
  std::optional<size_t> line_end(size_t from) {
    size_t p;
    while ((p = buf_.find("\r\n", from)) == std::string::npos) {
      if (!fill()) return std::nullopt;
    }
    return p + 2;
  }
  bool need(size_t bytes) {
    while (buf_.size() < bytes) {
      if (!fill()) return false;
    }
    return true;
  }

  std::optional<HttpReply> read_reply() {
    size_t end;
    while ((end = buf_.find("\r\n\r\n")) == std::string::npos) {
      if (!fill()) return std::nullopt;
    }
    HttpReply r;
    const std::string head = buf_.substr(0, end + 2);
    buf_.erase(0, end + 4);
    if (head.size() < 12 || head.compare(0, 5, "HTTP/") != 0) return std::nullopt;
    r.status = std::atoi(head.c_str() + 9);
    std::optional<size_t> length;
    bool chunked = false, close_after = head.compare(0, 8, "HTTP/1.0") == 0;
    for (size_t pos = head.find("\r\n") + 2; pos < head.size();) {
      const size_t eol = head.find("\r\n", pos);
      const std::string line = head.substr(pos, eol - pos);
      pos = eol + 2;
      const size_t colon = line.find(':');
      if (colon == std::string::npos) continue;
      std::string name = line.substr(0, colon), value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.erase(0, 1);
      for (char& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      std::string lower = value;
      for (char& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      if (name == "content-length") length = std::strtoull(value.c_str(), nullptr, 10);
      if (name == "content-type") r.content_type = value;
      if (name == "transfer-encoding" && lower.find("chunked") != std::string::npos) chunked = true;
      if (name == "connection" && lower.find("close") != std::string::npos) close_after = true;
      if (name == "connection" && lower.find("keep-alive") != std::string::npos)
        close_after = false;
    }
    if (chunked) {
      for (;;) {
        auto eol = line_end(0);
        if (!eol) return std::nullopt;
        const size_t size = std::strtoull(buf_.c_str(), nullptr, 16);
        buf_.erase(0, *eol);
        if (size == 0) {
          // Trailers, if any, then the final CRLF.
          for (;;) {
            auto t = line_end(0);
            if (!t) return std::nullopt;
            const bool last = *t == 2;
            buf_.erase(0, *t);
            if (last) break;
          }
          break;
        }
        if (!need(size + 2)) return std::nullopt;
        r.body.append(buf_, 0, size);
        buf_.erase(0, size + 2);
      }
    } else if (length) {
      if (!need(*length)) return std::nullopt;
      r.body = buf_.substr(0, *length);
      buf_.erase(0, *length);
    } else {
      while (fill()) {
      }
      r.body = std::move(buf_);
      buf_.clear();
      close_after = true;
    }
    if (close_after) close();
    return r;
  }

  std::string host_;
  int port_;
  int fd_ = -1;
  int connects_ = 0;
  std::string buf_;
};

}  // namespace scepter::bench
