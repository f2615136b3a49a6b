// EST load generator: simpleenroll requests per second of a running EST server over TLS
// with keep-alive (bench/run_est_bench.sh runs it against scepterd beside scep_load).
//
//   est_load --port P [--host 127.0.0.1] [--path /.well-known/est/simpleenroll]
//            --cert CLIENT.pem --key CLIENT.key [--n 2000] [--c 16]
//
// Before the clock starts: N PKCS#10 requests, each for a new ECDSA P-256 key and its own
// subject (CN=est-load-I), base64 on one line. Then C threads, each on one TLS connection
// (TLS 1.3, authenticated with the client certificate, the server's certificate not
// checked: the load is what is measured), POST them in turn until all N are answered.
// An answer counts as issued when it is 200 with a base64 certs-only PKCS#7 holding one
// certificate; each is checked after the clock stops, and serials must not repeat.
// Prints a report and one "RESULT key=value ..." line. Exit status 0 when the run
// completed, 1 on a setup error.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/pkcs7.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>

#include "pki/csr.h"
#include "pki/encoding.h"
#include "pki/key.h"
#include "pki/name.h"
#include "pki/ptr.h"
#include "pki/tls_context.h"

namespace {

using Clock = std::chrono::steady_clock;

[[noreturn]] void die(const std::string& why) {
  std::fprintf(stderr, "est_load: %s\n", why.c_str());
  std::exit(1);
}

struct Args {
  std::string host = "127.0.0.1";
  int port = 0;
  std::string path = "/.well-known/est/simpleenroll";
  std::string cert, key;
  int n = 2000;
  int c = 16;
};

struct Reply {
  int status = 0;
  std::string body;
};

// One TLS connection, kept alive; not thread-safe.
class TlsConn {
 public:
  TlsConn(SSL_CTX* ctx, const Args& a) : ctx_(ctx), a_(a) {}
  ~TlsConn() { close(); }

  std::optional<Reply> exchange(const std::string& request) {
    for (int attempt = 0; attempt < 2; ++attempt) {
      const bool fresh = ssl_ == nullptr;
      if (fresh && !connect()) return std::nullopt;
      if (write_all(request)) {
        if (auto r = read_reply()) return r;
      }
      close();
      if (fresh) return std::nullopt;
    }
    return std::nullopt;
  }

 private:
  bool connect() {
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(static_cast<std::uint16_t>(a_.port));
    if (inet_pton(AF_INET, a_.host.c_str(), &sa.sin_addr) != 1) return false;
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) return false;
    const int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) return false;
    ssl_ = SSL_new(ctx_);
    if (ssl_ == nullptr || SSL_set_fd(ssl_, fd_) != 1 || SSL_connect(ssl_) != 1) {
      ERR_clear_error();
      return false;
    }
    return true;
  }
  void close() {
    if (ssl_ != nullptr) SSL_free(ssl_);
    ssl_ = nullptr;
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    buf_.clear();
  }
  bool write_all(const std::string& s) {
    std::size_t off = 0;
    while (off < s.size()) {
      const int n = SSL_write(ssl_, s.data() + off, static_cast<int>(s.size() - off));
      if (n <= 0) return false;
      off += static_cast<std::size_t>(n);
    }
    return true;
  }
  bool fill() {
    char tmp[16384];
    const int n = SSL_read(ssl_, tmp, sizeof tmp);
    if (n <= 0) return false;
    buf_.append(tmp, static_cast<std::size_t>(n));
    return true;
  }
  std::optional<Reply> read_reply() {
    std::size_t end;
    while ((end = buf_.find("\r\n\r\n")) == std::string::npos) {
      if (!fill()) return std::nullopt;
    }
    const std::string head = buf_.substr(0, end);
    buf_.erase(0, end + 4);
    Reply r;
    if (head.size() < 12 || head.compare(0, 9, "HTTP/1.1 ") != 0) return std::nullopt;
    r.status = std::atoi(head.c_str() + 9);
    std::size_t length = 0;
    std::string lower = head;
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
    const std::size_t at = lower.find("\r\ncontent-length:");
    if (at == std::string::npos) return std::nullopt;
    length = std::strtoull(lower.c_str() + at + 17, nullptr, 10);
    while (buf_.size() < length) {
      if (!fill()) return std::nullopt;
    }
    r.body = buf_.substr(0, length);
    buf_.erase(0, length);
    return r;
  }

  SSL_CTX* ctx_;
  const Args& a_;
  int fd_ = -1;
  SSL* ssl_ = nullptr;
  std::string buf_;
};

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p / 100 * v.size()))];
}

// The serial of the one certificate in a base64 certs-only PKCS#7; empty when it is not.
std::string issued_serial(const std::string& b64) {
  auto der = scepter::pki::base64_decode(b64);
  if (!der.has_value()) return "";
  const auto* p = reinterpret_cast<const unsigned char*>(der->data());
  scepter::pki::Ptr<PKCS7> p7(d2i_PKCS7(nullptr, &p, static_cast<long>(der->size())));
  if (!p7 || !PKCS7_type_is_signed(p7.get()) || p7->d.sign->cert == nullptr ||
      sk_X509_num(p7->d.sign->cert) != 1) {
    return "";
  }
  const ASN1_INTEGER* serial = X509_get0_serialNumber(sk_X509_value(p7->d.sign->cert, 0));
  return std::string(reinterpret_cast<const char*>(serial->data),
                     static_cast<std::size_t>(serial->length));
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  Args a;
  CLI::App app("EST simpleenroll load generator");
  app.add_option("--host", a.host, "numeric IPv4 address");
  app.add_option("--port", a.port, "HTTPS port")->required();
  app.add_option("--path", a.path, "simpleenroll path");
  app.add_option("--cert", a.cert, "client certificate (PEM) the server trusts")->required();
  app.add_option("--key", a.key, "its key (PEM)")->required();
  app.add_option("--n", a.n, "requests");
  app.add_option("--c", a.c, "connections");
  CLI11_PARSE(app, argc, argv);
  if (a.n < 1 || a.c < 1) die("--n and --c must be positive");

  scepter::pki::Ptr<SSL_CTX> ctx(SSL_CTX_new(TLS_client_method()));
  if (!ctx || SSL_CTX_use_certificate_chain_file(ctx.get(), a.cert.c_str()) != 1 ||
      SSL_CTX_use_PrivateKey_file(ctx.get(), a.key.c_str(), SSL_FILETYPE_PEM) != 1) {
    die("cannot load " + a.cert + " / " + a.key);
  }
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);

  std::printf("building %d requests (ECDSA P-256 keys)\n", a.n);
  std::vector<std::string> requests;
  requests.reserve(static_cast<std::size_t>(a.n));
  for (int i = 0; i < a.n; ++i) {
    auto key = scepter::pki::Key::generate_ec(256);
    auto subject = scepter::pki::parse_dn("CN=est-load-" + std::to_string(i));
    if (!key.has_value() || !subject.has_value()) die("cannot make a key");
    auto csr = scepter::pki::make_csr({.subject = subject->get(), .key = *key});
    if (!csr.has_value()) die("cannot make a request: " + csr.error().message());
    const std::string body = scepter::pki::base64_encode(csr->der(), 0);
    requests.push_back("POST " + a.path + " HTTP/1.1\r\nHost: " + a.host + ":" +
                       std::to_string(a.port) +
                       "\r\nUser-Agent: est_load\r\nContent-Type: application/pkcs10\r\n"
                       "Content-Length: " +
                       std::to_string(body.size()) + "\r\n\r\n" + body);
  }

  std::atomic<int> next{0};
  std::vector<std::vector<double>> lat(static_cast<std::size_t>(a.c));
  std::vector<std::vector<Reply>> replies(static_cast<std::size_t>(a.c));
  std::atomic<long> failed{0};
  std::mutex first_mu;
  std::string first_failure;
  std::vector<std::thread> clients;
  const auto start = Clock::now();
  for (int t = 0; t < a.c; ++t) {
    clients.emplace_back([&, t] {
      TlsConn conn(ctx.get(), a);
      for (int i = next++; i < a.n; i = next++) {
        const auto t0 = Clock::now();
        auto r = conn.exchange(requests[static_cast<std::size_t>(i)]);
        lat[static_cast<std::size_t>(t)].push_back(
            std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
        if (!r || r->status != 200) {
          if (failed++ == 0) {
            std::lock_guard<std::mutex> lock(first_mu);
            first_failure = r ? "HTTP " + std::to_string(r->status) + ": " + r->body.substr(0, 120)
                              : "no answer";
          }
          continue;
        }
        replies[static_cast<std::size_t>(t)].push_back(std::move(*r));
      }
    });
  }
  for (auto& th : clients) th.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();

  std::set<std::string> serials;
  long issued = 0, bad = 0;
  for (const auto& mine : replies) {
    for (const Reply& r : mine) {
      const std::string serial = issued_serial(r.body);
      if (serial.empty() || !serials.insert(serial).second) {
        ++bad;
      } else {
        ++issued;
      }
    }
  }
  std::vector<double> all;
  for (auto& v : lat) all.insert(all.end(), v.begin(), v.end());
  const double rate = static_cast<double>(issued) / elapsed;
  std::printf(
      "simpleenroll: n=%d c=%d TLS keep-alive, %.2f s: %ld issued, %ld failed, %ld bad "
      "answers, %.0f/s, p50 %.1f ms, p99 %.1f ms\n",
      a.n, a.c, elapsed, issued, failed.load(), bad, rate, percentile(all, 50),
      percentile(all, 99));
  if (failed > 0) std::printf("  first failure: %s\n", first_failure.c_str());
  std::printf(
      "RESULT mode=est n=%d c=%d seconds=%.3f issued=%ld failed=%ld bad=%ld rate=%.1f "
      "p50_ms=%.1f p99_ms=%.1f\n",
      a.n, a.c, elapsed, issued, failed.load(), bad, rate, percentile(all, 50),
      percentile(all, 99));
  return 0;
}
