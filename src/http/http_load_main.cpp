// http_load: requests/s of the HTTP server with a trivial GET handler (the cost of the
// server itself, as for SCEP GetCACaps/GetCACert, whose answers are cached bytes).
//
//   http_load [--connections 16] [--seconds 5] [--io N] [--workers N] [--tls]
//       runs the server in-process on 127.0.0.1 and drives it with keep-alive clients
//       (one blocking thread per connection), then prints requests/s. --tls: HTTPS (TLS
//       1.3, an EC P-256 server key from a throw-away CA); each client does one handshake
//       and then sends all its requests over it.
//   http_load --serve PORT [--seconds N] [--io N] [--workers N] [--tls]
//       only serves (for an external load tool such as wrk) until N seconds pass.

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "http/server.h"
#include "http/test_client.h"
#include "http/tls_testing.h"

namespace {

using scepter::http::HttpServer;
using scepter::http::Request;
using scepter::http::Response;
using scepter::http::ServerOptions;

struct Args {
  int connections = 16;
  int seconds = 5;
  int serve_port = -1;
  unsigned io = 0;
  unsigned workers = 0;
  bool tls = false;
};

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--tls") {
      a.tls = true;
      --i;  // no value
      continue;
    }
    if (i + 1 >= argc) {
      std::fprintf(stderr, "%s needs a value\n", flag.c_str());
      std::exit(2);
    }
    const int v = std::atoi(argv[i + 1]);
    if (flag == "--connections") {
      a.connections = v;
    } else if (flag == "--seconds") {
      a.seconds = v;
    } else if (flag == "--serve") {
      a.serve_port = v;
    } else if (flag == "--io") {
      a.io = static_cast<unsigned>(v);
    } else if (flag == "--workers") {
      a.workers = static_cast<unsigned>(v);
    } else {
      std::fprintf(stderr, "unknown flag %s\n", flag.c_str());
      std::exit(2);
    }
  }
  return a;
}

Response caps(const Request&) {
  Response r;
  r.content_type = "text/plain";
  r.body = "GetNextCACert\nPOSTPKIOperation\nRenewal\nSHA-256\nSHA-512\nAES\n";
  r.headers = {{"Cache-Control", "no-store, no-cache, must-revalidate"}, {"Pragma", "no-cache"}};
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  const Args args = parse(argc, argv);
  ServerOptions options;
  options.bind_address = "127.0.0.1";
  options.port = static_cast<std::uint16_t>(args.serve_port > 0 ? args.serve_port : 0);
  options.io_threads = args.io;
  options.worker_threads = args.workers;
  scepter::http::testing::TestCa ca;
  if (args.tls) {
    auto key = scepter::pki::Key::generate_ec(256);
    if (!key.has_value()) {
      std::fprintf(stderr, "%s\n", key.error().to_string().c_str());
      return 1;
    }
    options.tls = ca.server_context("127.0.0.1", *key);
  }
  auto server = HttpServer::create(options, caps);
  if (!server.has_value()) {
    std::fprintf(stderr, "%s\n", server.error().to_string().c_str());
    return 1;
  }
  if (auto s = (*server)->start(); !s.ok()) {
    std::fprintf(stderr, "%s\n", s.to_string().c_str());
    return 1;
  }
  const std::uint16_t port = (*server)->port();
  if (args.serve_port >= 0) {
    std::printf("serving on 127.0.0.1:%u for %d s\n", port, args.seconds);
    std::fflush(stdout);
    std::this_thread::sleep_for(std::chrono::seconds(args.seconds));
    return 0;
  }

  const std::string request =
      "GET /cgi-bin/pkiclient.exe?operation=GetCACaps&message=ca HTTP/1.1\r\nHost: "
      "127.0.0.1\r\n\r\n";
  std::atomic<bool> done{false};
  std::atomic<std::uint64_t> completed{0}, failed{0};
  const auto drive = [&](auto& client) {
    while (!done) {
      if (!client.send(request) || !client.read_response().has_value()) {
        ++failed;
        return;
      }
      ++completed;
    }
  };
  std::vector<std::thread> clients;
  for (int i = 0; i < args.connections; ++i) {
    clients.emplace_back([&] {
      if (args.tls) {
        scepter::http::testing::TlsClient c;
        if (!c.connect(port)) {
          ++failed;
          return;
        }
        drive(c);
      } else {
        scepter::http::testing::RawClient c;
        if (!c.connect("127.0.0.1", port)) {
          ++failed;
          return;
        }
        drive(c);
      }
    });
  }
  const auto start = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(std::chrono::seconds(args.seconds));
  const std::uint64_t n = completed;
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  done = true;
  for (auto& t : clients) {
    t.join();
  }
  std::printf(
      "%s, %d keep-alive connections, %.1f s: %llu requests, %.0f requests/s, %llu failed\n",
      args.tls ? "HTTPS" : "HTTP", args.connections, elapsed, static_cast<unsigned long long>(n),
      n / elapsed, static_cast<unsigned long long>(failed.load()));
  return 0;
}
