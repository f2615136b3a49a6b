// The server over HTTPS on a loopback port: TLS 1.2 and 1.3 clients, client certificates
// passed up unjudged, clients that fail or stall the handshake, the identity replaced at
// run time, and the HTTP behaviours (limits, keep-alive, inline and pooled handlers) over
// TLS. Certificates come from a throw-away CA made for each test.

#include <random>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "common/testing.h"
#include "http/server.h"
#include "http/test_client.h"
#include "http/tls_testing.h"
#include "pki/test_support.h"

namespace scepter::http {
namespace {

using std::chrono::milliseconds;
using testing::get_request;
using testing::RawClient;
using testing::RawResponse;
using testing::TestCa;
using testing::TlsClient;
using testing::TlsClientOptions;

// Polls `pred` until it holds; the bound is only a safety net against a hung test.
template <class Pred>
bool wait_until(Pred pred) {
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!pred()) {
    if (std::chrono::steady_clock::now() > give_up) {
      return false;
    }
    std::this_thread::sleep_for(milliseconds(2));
  }
  return true;
}

std::string post_request(std::string_view target, std::string_view body) {
  return "POST " + std::string(target) +
         " HTTP/1.1\r\nHost: test\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" +
         std::string(body);
}

class TlsTest : public ::testing::Test {
 protected:
  TlsTest()
      : server_key_(pki::test::ec_key_256()),
        identity_(ca_.server_context("server-one", server_key_)) {}

  void start(ServerOptions options = {}) {
    options.bind_address = "127.0.0.1";
    options.port = 0;
    if (!options.tls) {
      options.tls = identity_;
    }
    Router router;
    router.add("/hello", [](const Request& r) {
      return Response::text(200, std::string("hello over ") + (r.tls ? "tls" : "plain"));
    });
    router.add("/peer", [](const Request& r) {
      Response res;
      res.content_type = "application/pkix-cert";
      res.body = r.peer_certificate_der;
      res.headers = {{"X-Tls", r.tls ? "1" : "0"}};
      return res;
    });
    router.add("/echo",
               [](const Request& r) {
                 Response res;
                 res.content_type = "application/octet-stream";
                 res.body = r.body;
                 return res;
               },
               {"POST"});
    router.add("/inline", [](const Request&) { return Response::text(200, "inline"); });
    router.add("/light", [](const Request&) { return Response::text(200, "light"); });
    router.add("/heavy", [](const Request&) { return Response::text(200, "heavy"); });
    router.add("/big", [](const Request&) {
      // Many TLS records, written by the network thread after a worker built it.
      std::string body(3u << 20, '\0');
      for (std::size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>('a' + i % 23);
      return Response::text(200, std::move(body));
    });
    auto created = HttpServer::create(options, router);
    ASSERT_OK(created);
    server_ = std::move(*created);
    ASSERT_OK(server_->start());
  }

  TlsClient connect(TlsClientOptions o = {}) {
    if (o.trust == nullptr) {
      o.trust = &ca_.certificate();
    }
    TlsClient c;
    EXPECT_TRUE(c.connect(server_->port(), o)) << c.error();
    EXPECT_TRUE(c.server_verified());
    return c;
  }

  static std::optional<RawResponse> ask(TlsClient& c, const std::string& request) {
    if (!c.send(request)) {
      return std::nullopt;
    }
    return c.read_response();
  }

  // A TLS 1.3 client still gets its answer: the server is serving.
  void expect_serving() {
    TlsClient c = connect();
    auto r = ask(c, get_request("/hello"));
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->body, "hello over tls");
  }

  TestCa ca_;
  pki::Key server_key_;
  std::shared_ptr<const pki::TlsServerContext> identity_;
  std::unique_ptr<HttpServer> server_;
};

TEST_F(TlsTest, GetAndPostOverTls13) {
  start();
  TlsClient c = connect();
  EXPECT_EQ(c.version(), "TLSv1.3");
  EXPECT_EQ(c.server_certificate_der(), identity_->certificate().der());
  auto r = ask(c, get_request("/hello"));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "hello over tls");
  EXPECT_EQ(r->header("Server"), "scepterd");
  const std::string body(5000, 'x');
  r = ask(c, post_request("/echo", body));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, body);
}

TEST_F(TlsTest, GetAndPostOverTls12WithForwardSecretAead) {
  start();
  TlsClient c = connect({.max_version = TLS1_2_VERSION});
  EXPECT_EQ(c.version(), "TLSv1.2");
  EXPECT_EQ(c.cipher().rfind("ECDHE-ECDSA-", 0), 0u) << c.cipher();
  auto r = ask(c, get_request("/hello"));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->body, "hello over tls");
  r = ask(c, post_request("/echo", "payload"));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->body, "payload");
}

TEST_F(TlsTest, RsaServerKeyOverTls12) {
  const pki::Key& rsa = pki::test::rsa_key_2048();
  ServerOptions o;
  o.tls = ca_.server_context("server-rsa", rsa);
  start(o);
  TlsClient c = connect({.max_version = TLS1_2_VERSION});
  EXPECT_EQ(c.cipher().rfind("ECDHE-RSA-", 0), 0u) << c.cipher();
  auto r = ask(c, get_request("/hello"));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200);
}

TEST_F(TlsTest, ThreeRequestsOnOneKeepAliveConnectionAndPipelined) {
  start();
  TlsClient c = connect();
  for (int i = 0; i < 3; ++i) {
    auto r = ask(c, get_request("/hello"));
    ASSERT_TRUE(r.has_value()) << i;
    EXPECT_EQ(r->body, "hello over tls");
  }
  ASSERT_TRUE(c.send(get_request("/hello") + post_request("/echo", "two")));
  auto first = c.read_response();
  auto second = c.read_response();
  ASSERT_TRUE(first.has_value() && second.has_value());
  EXPECT_EQ(first->body, "hello over tls");
  EXPECT_EQ(second->body, "two");
  EXPECT_EQ(server_->stats().connections_accepted, 1u);
  EXPECT_EQ(server_->stats().requests, 5u);
}

// strongSwan's EST client reads 1024 bytes and wants the whole header in them: a small
// answer arrives in one TLS record, header and body together.
TEST_F(TlsTest, SmallAnswerIsOneRecord) {
  start();
  for (const int version : {TLS1_2_VERSION, TLS1_3_VERSION}) {
    TlsClient c = connect({.max_version = version});
    ASSERT_TRUE(c.send(get_request("/hello")));
    const std::string first = c.read_some(1024);
    EXPECT_EQ(first.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << first;
    EXPECT_NE(first.find("\r\n\r\nhello over tls"), std::string::npos) << first;
    EXPECT_EQ(first.size(), first.find("hello over tls") + 14);
  }
}

TEST_F(TlsTest, ClientCertificatePassedUpByteForByte) {
  start();
  const pki::Key& client_key = pki::test::rsa_key_2048();
  const pki::Certificate client_cert = ca_.issue("client-one", client_key);
  TlsClient c = connect({.certificate = &client_cert, .key = &client_key});
  auto r = ask(c, get_request("/peer"));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->header("X-Tls"), "1");
  EXPECT_EQ(r->body, client_cert.der());
  // The same on every request of the connection.
  r = ask(c, get_request("/peer"));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->body, client_cert.der());
}

TEST_F(TlsTest, NoClientCertificateIsServedWithAnEmptyOne) {
  start();
  for (const int version : {TLS1_2_VERSION, TLS1_3_VERSION}) {
    TlsClient c = connect({.max_version = version});
    auto r = ask(c, get_request("/peer"));
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->header("X-Tls"), "1");
    EXPECT_EQ(r->body, "");
  }
}

// The TLS layer does not judge: a self-signed certificate no one trusts, from a key
// this server has never seen, reaches the handler like any other.
TEST_F(TlsTest, SelfSignedClientCertificateFromUnknownCaIsPassedUp) {
  start();
  const pki::Key& stranger_key = pki::test::ec_key_256();
  const pki::Certificate stranger = pki::test::make_test_ca(stranger_key, "stranger");
  for (const int version : {TLS1_2_VERSION, TLS1_3_VERSION}) {
    TlsClient c = connect({.max_version = version, .certificate = &stranger, .key = &stranger_key});
    auto r = ask(c, get_request("/peer"));
    ASSERT_TRUE(r.has_value()) << version;
    EXPECT_EQ(r->body, stranger.der());
  }
  EXPECT_EQ(server_->stats().tls_handshake_failures, 0u);
}

// Resumption skips the certificate work; the resumed connection still knows the client.
TEST_F(TlsTest, SessionResumesWithItsClientCertificate) {
  start();
  const pki::Key& client_key = pki::test::ec_key_256();
  const pki::Certificate client_cert = ca_.issue("client-two", client_key);
  for (const int version : {TLS1_2_VERSION, TLS1_3_VERSION}) {
    pki::Ptr<SSL_SESSION> session;
    {
      TlsClient c =
          connect({.max_version = version, .certificate = &client_cert, .key = &client_key});
      // TLS 1.3 tickets come after the handshake: a request and its answer bring them.
      ASSERT_TRUE(ask(c, get_request("/hello")).has_value());
      session = c.session();
      ASSERT_TRUE(session);
    }
    TlsClient again;
    ASSERT_TRUE(again.connect(server_->port(), {.max_version = version, .session = session.get()}))
        << again.error();
    EXPECT_TRUE(again.session_reused()) << version;
    auto r = ask(again, get_request("/peer"));
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->body, client_cert.der()) << version;
  }
}

TEST_F(TlsTest, Tls11ClientIsRefused) {
  start();
  TlsClient old;
  EXPECT_FALSE(old.connect(
      server_->port(),
      {.min_version = TLS1_1_VERSION, .max_version = TLS1_1_VERSION, .security_level = 0}));
  EXPECT_TRUE(wait_until([&] { return server_->stats().tls_handshake_failures == 1; }));
  TlsClient tls10;
  EXPECT_FALSE(tls10.connect(
      server_->port(),
      {.min_version = TLS1_VERSION, .max_version = TLS1_VERSION, .security_level = 0}));
  EXPECT_TRUE(wait_until([&] { return server_->stats().tls_handshake_failures == 2; }));
  expect_serving();
  EXPECT_EQ(server_->stats().bad_requests, 0u);
}

TEST_F(TlsTest, PlainHttpToTheTlsPortGetsNoAnswer) {
  start();
  RawClient plain;
  ASSERT_TRUE(plain.connect("127.0.0.1", server_->port()));
  ASSERT_TRUE(plain.send(get_request("/hello")));
  EXPECT_FALSE(plain.read_response(std::chrono::seconds(30)).has_value());
  EXPECT_TRUE(plain.closed());
  EXPECT_TRUE(wait_until([&] { return server_->stats().tls_handshake_failures == 1; }));
  EXPECT_EQ(server_->stats().bad_requests, 0u);
  EXPECT_EQ(server_->stats().requests, 0u);
  expect_serving();
}

TEST_F(TlsTest, GarbageIsClosed) {
  start();
  std::mt19937 rng(7);
  std::string garbage(4096, '\0');
  for (char& ch : garbage) ch = static_cast<char>(rng());
  RawClient c;
  ASSERT_TRUE(c.connect("127.0.0.1", server_->port()));
  c.send(garbage);  // the server may close before it has read it all
  EXPECT_TRUE(c.wait_closed(std::chrono::seconds(30)));
  EXPECT_TRUE(wait_until([&] { return server_->stats().tls_handshake_failures == 1; }));
  expect_serving();
}

TEST_F(TlsTest, SilentOrTricklingClientIsCutOffByTheReadTimeout) {
  ServerOptions o;
  o.read_timeout = milliseconds(300);
  start(o);
  RawClient silent;
  ASSERT_TRUE(silent.connect("127.0.0.1", server_->port()));
  EXPECT_TRUE(silent.wait_closed(std::chrono::seconds(30)));
  EXPECT_TRUE(wait_until([&] { return server_->stats().timeouts == 1; }));

  // A ClientHello record header announcing 512 bytes, then one byte every 20 ms: the
  // connection ends at the read timeout although bytes keep coming.
  RawClient trickle;
  ASSERT_TRUE(trickle.connect("127.0.0.1", server_->port()));
  const auto began = std::chrono::steady_clock::now();
  ASSERT_TRUE(trickle.send(std::string("\x16\x03\x01\x02\x00", 5)));
  bool cut_off = false;
  for (int i = 0; i < 500 && !cut_off; ++i) {
    std::this_thread::sleep_for(milliseconds(20));
    cut_off = !trickle.send(std::string(1, '\x01')) || trickle.wait_closed(milliseconds(1));
  }
  EXPECT_TRUE(cut_off || trickle.wait_closed(std::chrono::seconds(30)));
  EXPECT_LT(std::chrono::steady_clock::now() - began, std::chrono::seconds(9));
  EXPECT_TRUE(wait_until([&] { return server_->stats().timeouts == 2; }));
  EXPECT_EQ(server_->stats().tls_handshake_failures, 0u);
  expect_serving();
}

TEST_F(TlsTest, OverLimitBodyGets413) {
  ServerOptions o;
  o.max_body_bytes = 1024;
  start(o);
  TlsClient c = connect();
  // The declared length is refused before the body is sent.
  ASSERT_TRUE(c.send("POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 5000\r\n\r\n"));
  auto r = c.read_response();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 413);
  EXPECT_EQ(r->header("Connection"), "close");
  bool clean = false;
  EXPECT_TRUE(c.wait_closed(&clean));
  EXPECT_TRUE(clean);  // close_notify came before the TCP close
  EXPECT_EQ(server_->stats().bad_requests, 1u);
  expect_serving();
}

// A client that writes its whole body before it reads still gets the 413: after
// close_notify the server reads and drops what comes (the lingering close of plain HTTP).
TEST_F(TlsTest, ClientThatSendsItsWholeBodyFirstStillGets413) {
  ServerOptions o;
  o.max_body_bytes = 1024;
  start(o);
  TlsClient c = connect();
  ASSERT_TRUE(c.send(post_request("/echo", std::string(256 << 10, 'b'))));
  auto r = c.read_response();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 413);
  EXPECT_TRUE(c.wait_closed());
  EXPECT_TRUE(wait_until([&] { return server_->stats().bytes_drained > 0; }));
  expect_serving();
}

TEST_F(TlsTest, ConnectionCloseEndsWithCloseNotify) {
  start();
  TlsClient c = connect();
  auto r = ask(c, get_request("/hello", "Connection: close\r\n"));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->body, "hello over tls");
  bool clean = false;
  EXPECT_TRUE(c.wait_closed(&clean));
  EXPECT_TRUE(clean);
}

TEST_F(TlsTest, SetTlsServesNewConnectionsWithTheNewIdentity) {
  start();
  TlsClient before = connect();
  ASSERT_TRUE(ask(before, get_request("/hello")).has_value());
  EXPECT_EQ(before.server_certificate_der(), identity_->certificate().der());

  const pki::Key& new_key = pki::test::rsa_key_2048();
  const auto renewed = ca_.server_context("server-two", new_key);
  ASSERT_OK(server_->set_tls(renewed));
  TlsClient after = connect();
  EXPECT_EQ(after.server_certificate_der(), renewed->certificate().der());
  auto r = ask(after, get_request("/hello"));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->body, "hello over tls");
  // The connection opened before keeps its identity and keeps working.
  r = ask(before, get_request("/hello"));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->body, "hello over tls");
  EXPECT_EQ(before.server_certificate_der(), identity_->certificate().der());

  EXPECT_CODE(server_->set_tls(nullptr), Code::kInvalidArgument);
}

TEST(TlsPlainServer, SetTlsFailsOnAPlainServer) {
  TestCa ca;
  ServerOptions o;
  o.bind_address = "127.0.0.1";
  o.port = 0;
  auto server = HttpServer::create(
      o, [](const Request& r) { return Response::text(200, r.tls ? "tls" : "plain"); });
  ASSERT_OK(server);
  ASSERT_OK((*server)->start());
  EXPECT_CODE((*server)->set_tls(ca.server_context("late", pki::test::ec_key_256())),
              Code::kInvalidArgument);
  RawClient c;
  ASSERT_TRUE(c.connect("127.0.0.1", (*server)->port()));
  ASSERT_TRUE(c.send(get_request("/")));
  auto r = c.read_response();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->body, "plain");
}

TEST_F(TlsTest, InlineLightAndHeavyHandlersAnswerOverTls) {
  ServerOptions o;
  o.is_inline = [](const Request& r) { return r.path == "/inline"; };
  o.is_heavy = [](const Request& r) { return r.path == "/heavy" || r.path == "/big"; };
  o.worker_threads = 2;
  o.light_worker_threads = 1;
  start(o);
  TlsClient c = connect();
  for (int round = 0; round < 3; ++round) {
    for (const char* path : {"/inline", "/light", "/heavy"}) {
      auto r = ask(c, get_request(path));
      ASSERT_TRUE(r.has_value()) << path;
      EXPECT_EQ(r->body, std::string(path + 1)) << path;
    }
  }
  auto big = ask(c, get_request("/big"));
  ASSERT_TRUE(big.has_value());
  ASSERT_EQ(big->body.size(), 3u << 20);
  EXPECT_EQ(big->body[(3u << 20) - 1], static_cast<char>('a' + ((3u << 20) - 1) % 23));
  auto after = ask(c, get_request("/inline"));
  ASSERT_TRUE(after.has_value());
  EXPECT_EQ(after->body, "inline");
}

// Several clients at once, each on its own connection, against handlers on the pools
// and inline: the writes from worker threads never touch a TLS stream (see TSan).
TEST_F(TlsTest, ConcurrentClients) {
  ServerOptions o;
  o.is_inline = [](const Request& r) { return r.path == "/inline"; };
  o.is_heavy = [](const Request& r) { return r.path == "/heavy"; };
  o.io_threads = 2;
  o.worker_threads = 4;
  start(o);
  std::vector<std::thread> clients;
  std::atomic<int> answered{0};
  for (int i = 0; i < 6; ++i) {
    clients.emplace_back([&, i] {
      TlsClient c;
      if (!c.connect(server_->port(),
                     {.max_version = i % 2 == 0 ? TLS1_3_VERSION : TLS1_2_VERSION})) {
        return;
      }
      for (int n = 0; n < 20; ++n) {
        const char* path = n % 3 == 0 ? "/inline" : n % 3 == 1 ? "/light" : "/heavy";
        auto r = ask(c, get_request(path));
        if (r && r->body == path + 1) {
          ++answered;
        }
      }
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_EQ(answered.load(), 6 * 20);
}

TEST_F(TlsTest, StopClosesIdleTlsConnections) {
  start();
  TlsClient idle = connect();
  ASSERT_TRUE(ask(idle, get_request("/hello")).has_value());
  server_->stop();
  EXPECT_TRUE(idle.wait_closed());
  EXPECT_EQ(server_->stats().active_connections, 0u);
}

}  // namespace
}  // namespace scepter::http
