// The server on a loopback port with raw-socket clients: request parsing, framing,
// keep-alive, pipelining and the answers the server gives by itself.

#include "http/server.h"

#include <memory>
#include <stdexcept>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "common/testing.h"
#include "http/test_client.h"

namespace scepter::http {
namespace {

using std::chrono::milliseconds;
using testing::get_request;
using testing::RawClient;
using testing::RawResponse;

// Describes the request back, one "key=value" line each, so tests can check parsing.
Response describe(const Request& r) {
  std::string out;
  out += "method=" + r.method + "\n";
  out += "path=" + r.path + "\n";
  out += "query=" + r.query + "\n";
  for (const QueryParam& p : r.params.items()) {
    out += "param:" + p.name + "=" + p.value + "\n";
    out += "raw:" + p.name + "=" + p.raw_value + "\n";
  }
  out += "version=" + std::to_string(r.version) + "\n";
  out += "remote=" + r.remote_address + "\n";
  out += "ua=" + std::string(r.header("user-agent").value_or("")) + "\n";
  return Response::text(200, out);
}

Router test_router() {
  Router router;
  router.add("/echo", describe);
  router.add("/body",
             [](const Request& r) {
               Response res;
               res.content_type = "application/octet-stream";
               res.body = r.body;
               return res;
             },
             {"POST"});
  router.add("/shared", [](const Request&) {
    static const auto kBytes = std::make_shared<const std::string>(std::string("\0shared\r\n", 9));
    Response r;
    r.content_type = "application/octet-stream";
    r.body = "not sent";
    r.shared_body = kBytes;
    return r;
  });
  router.add("/big", [](const Request&) {
    // More than a socket takes at once: the worker sends the start, the network thread
    // the rest.
    std::string body(8u << 20, '\0');
    for (std::size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>('a' + i % 23);
    Response r;
    r.content_type = "application/octet-stream";
    r.body = std::move(body);
    return r;
  });
  router.add("/throw", [](const Request&) -> Response { throw std::runtime_error("boom"); });
  router.add("/bad-status", [](const Request&) {
    Response r;
    r.status = 42;
    return r;
  });
  router.add("/injected", [](const Request&) {
    Response r = Response::text(200, "ok");
    r.headers = {{"X-Good", "yes"}, {"X-Bad", "a\r\nX-Evil: 1"}, {"Content-Length", "99"}};
    return r;
  });
  router.add_if(is_pkiclient_path, [](const Request& r) {
    Response res;
    res.content_type = "text/plain";
    res.body = "scep " + std::string(r.params.get("operation").value_or("-"));
    res.headers = {{"Cache-Control", "no-store, no-cache, must-revalidate"},
                   {"Pragma", "no-cache"}};
    return res;
  });
  return router;
}

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override { start({}); }

  void start(ServerOptions options) {
    server_.reset();
    options.bind_address = options.bind_address == "0.0.0.0" ? "127.0.0.1" : options.bind_address;
    options.port = 0;
    auto created = HttpServer::create(options, test_router());
    ASSERT_OK(created);
    server_ = std::move(*created);
    ASSERT_OK(server_->start());
  }

  RawClient connect() {
    RawClient c;
    EXPECT_TRUE(c.connect("127.0.0.1", server_->port()));
    return c;
  }

  // One request on a fresh connection.
  RawResponse exchange(const std::string& raw) {
    RawClient c = connect();
    EXPECT_TRUE(c.send(raw));
    auto r = c.read_response();
    EXPECT_TRUE(r.has_value());
    return r.value_or(RawResponse{});
  }

  std::unique_ptr<HttpServer> server_;
};

TEST_F(ServerTest, GetWithQuery) {
  const RawResponse r =
      exchange(get_request("/echo?operation=GetCACert&message=a+b%2Bc%0A",
                           "User-Agent: Mozilla/4.0 (compatible; MSIE 5.0; Cisco PKI)\r\n"));
  EXPECT_EQ(r.status_line, "HTTP/1.1 200 OK");
  EXPECT_NE(r.body.find("method=GET\n"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("path=/echo\n"), std::string::npos);
  EXPECT_NE(r.body.find("query=operation=GetCACert&message=a+b%2Bc%0A\n"), std::string::npos);
  EXPECT_NE(r.body.find("param:operation=GetCACert\n"), std::string::npos);
  EXPECT_NE(r.body.find("param:message=a+b+c\n\n"), std::string::npos);
  EXPECT_NE(r.body.find("raw:message=a+b%2Bc%0A\n"), std::string::npos);
  EXPECT_NE(r.body.find("version=11\n"), std::string::npos);
  EXPECT_NE(r.body.find("remote=127.0.0.1\n"), std::string::npos);
  EXPECT_NE(r.body.find("ua=Mozilla/4.0 (compatible; MSIE 5.0; Cisco PKI)\n"), std::string::npos);
  EXPECT_EQ(r.header("Content-Length"), std::to_string(r.body.size()));
  EXPECT_EQ(r.header("Content-Type"), "text/plain; charset=utf-8");
  EXPECT_EQ(r.header("Server"), "scepterd");
  ASSERT_TRUE(r.header("Date").has_value());
  EXPECT_TRUE(r.header("Date")->ends_with(" GMT"));
}

TEST_F(ServerTest, PostBinaryBody) {
  std::string body;
  for (int round = 0; round < 8; ++round) {
    for (int b = 0; b < 256; ++b) {
      body.push_back(static_cast<char>(b));
    }
  }
  const RawResponse r = exchange(
      "POST /body HTTP/1.1\r\nHost: t\r\nContent-Type: "
      "application/x-pki-message\r\nContent-Length: " +
      std::to_string(body.size()) + "\r\n\r\n" + body);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("Content-Type"), "application/octet-stream");
  EXPECT_EQ(r.body, body);
}

TEST_F(ServerTest, ChunkedAndExpectContinueBodies) {
  RawResponse r = exchange(
      "POST /body HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
      "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n");
  EXPECT_EQ(r.body, "abcde");

  // curl sends "Expect: 100-continue" for larger bodies and waits for the 100 first.
  RawClient c = connect();
  ASSERT_TRUE(
      c.send("POST /body HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\n"
             "Content-Length: 5\r\n\r\n"));
  auto cont = c.read_response();
  ASSERT_TRUE(cont.has_value());
  EXPECT_EQ(cont->status, 100);
  ASSERT_TRUE(c.send("hello"));
  auto done = c.read_response();
  ASSERT_TRUE(done.has_value());
  EXPECT_EQ(done->status, 200);
  EXPECT_EQ(done->body, "hello");
}

TEST_F(ServerTest, Http10ClosesAfterResponse) {
  RawClient c = connect();
  // What Cisco IOS sends.
  ASSERT_TRUE(c.send(
      "GET /cgi-bin/pkiclient.exe?operation=GetCACaps&message=ca HTTP/1.0\r\n"
      "User-Agent: Mozilla/4.0 (compatible; MSIE 5.0; Cisco PKI)\r\nHost: 127.0.0.1\r\n\r\n"));
  auto r = c.read_response();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status_line, "HTTP/1.0 200 OK");
  EXPECT_EQ(r->body, "scep GetCACaps");
  EXPECT_EQ(r->header("Content-Length"), "14");
  EXPECT_EQ(r->header("Cache-Control"), "no-store, no-cache, must-revalidate");
  EXPECT_EQ(r->header("Pragma"), "no-cache");
  EXPECT_TRUE(c.wait_closed(milliseconds(30'000)));
}

TEST_F(ServerTest, Http10KeepAliveWhenAsked) {
  RawClient c = connect();
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(c.send(get_request("/echo", "Connection: keep-alive\r\n", "HTTP/1.0")));
    auto r = c.read_response();
    ASSERT_TRUE(r.has_value()) << i;
    EXPECT_EQ(r->header("Connection"), "keep-alive");
    EXPECT_NE(r->body.find("version=10\n"), std::string::npos);
  }
}

TEST_F(ServerTest, Http11KeepAlive) {
  RawClient c = connect();
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(c.send(get_request("/echo?i=" + std::to_string(i))));
    auto r = c.read_response();
    ASSERT_TRUE(r.has_value()) << i;
    EXPECT_NE(r->body.find("param:i=" + std::to_string(i) + "\n"), std::string::npos);
    EXPECT_FALSE(r->header("Connection").has_value());
  }
  EXPECT_EQ(server_->stats().connections_accepted, 1u);
  // "Connection: close" on 1.1 ends the connection after the answer.
  ASSERT_TRUE(c.send(get_request("/echo", "Connection: close\r\n")));
  auto r = c.read_response();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->header("Connection"), "close");
  EXPECT_TRUE(c.wait_closed(milliseconds(30'000)));
}

TEST_F(ServerTest, PipelinedRequestsAnsweredInOrder) {
  RawClient c = connect();
  std::string batch;
  for (int i = 0; i < 10; ++i) {
    batch += i % 2 == 0 ? get_request("/echo?n=" + std::to_string(i))
                        : "POST /body HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\n" +
                              std::to_string(10 + i);
  }
  ASSERT_TRUE(c.send(batch));
  for (int i = 0; i < 10; ++i) {
    auto r = c.read_response();
    ASSERT_TRUE(r.has_value()) << i;
    if (i % 2 == 0) {
      EXPECT_NE(r->body.find("param:n=" + std::to_string(i) + "\n"), std::string::npos);
    } else {
      EXPECT_EQ(r->body, std::to_string(10 + i));
    }
  }
}

TEST_F(ServerTest, HeadSendsLengthWithoutBody) {
  RawClient c = connect();
  ASSERT_TRUE(
      c.send("HEAD /anything/pkiclient.exe?operation=GetCACaps HTTP/1.1\r\nHost: t\r\n\r\n"));
  auto r = c.read_response(milliseconds(30'000), /*head=*/true);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->header("Content-Length"), "14");
  // The next answer on the connection must start right after the header.
  ASSERT_TRUE(c.send(get_request("/echo")));
  auto next = c.read_response();
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(next->status, 200);
}

TEST_F(ServerTest, SharedBodyIsSentInsteadOfBody) {
  RawClient c = connect();
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(c.send(get_request("/shared")));
    auto r = c.read_response();
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->header("Content-Length"), "9");
    EXPECT_EQ(r->body, std::string("\0shared\r\n", 9));
  }
  ASSERT_TRUE(c.send("HEAD /shared HTTP/1.1\r\nHost: t\r\n\r\n"));
  auto head = c.read_response(milliseconds(30'000), /*head=*/true);
  ASSERT_TRUE(head.has_value());
  EXPECT_EQ(head->header("Content-Length"), "9");
  EXPECT_TRUE(head->body.empty());
}

// The answer is written partly by the worker thread that ran the handler and partly by
// the connection's network thread; the client gets it whole, in order, and the
// connection stays usable.
TEST_F(ServerTest, AnswerLargerThanTheSocketTakesAtOnceArrivesWhole) {
  RawClient c = connect();
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(c.send(get_request("/big")));
    std::this_thread::sleep_for(milliseconds(100));  // let the socket's buffer fill
    auto r = c.read_response();
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->status, 200);
    ASSERT_EQ(r->body.size(), 8u << 20);
    bool same = true;
    for (std::size_t k = 0; k < r->body.size() && same; ++k) {
      same = r->body[k] == static_cast<char>('a' + k % 23);
    }
    EXPECT_TRUE(same) << "the body arrived out of order or damaged";
  }
  ASSERT_TRUE(c.send(get_request("/echo")));
  auto r = c.read_response();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200);
}

TEST_F(ServerTest, NotFoundAndPkiclientPredicate) {
  RawResponse r = exchange(get_request("/nothing/here"));
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body, "Not Found\n");
  r = exchange(get_request("/anything/pkiclient.exe?operation=GetCACert&message=x"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "scep GetCACert");
  // Absolute-form target, as proxies and a few clients send it.
  r = exchange(get_request("http://ca:80/cgi-bin/pkiclient.exe?operation=GetCACaps"));
  EXPECT_EQ(r.body, "scep GetCACaps");
}

TEST_F(ServerTest, MethodNotAllowed) {
  const RawResponse r = exchange(get_request("/body"));
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.header("Allow"), "POST");
}

TEST_F(ServerTest, BodyOverLimitIs413AndCloses) {
  ServerOptions options;
  options.max_body_bytes = 1000;
  start(options);
  RawClient c = connect();
  const std::string body(100'000, 'x');
  ASSERT_TRUE(c.send("POST /body HTTP/1.1\r\nHost: t\r\nContent-Length: " +
                     std::to_string(body.size()) + "\r\n\r\n"));
  c.send(body);  // the server may close before all of it is read
  auto r = c.read_response();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 413);
  EXPECT_EQ(r->header("Connection"), "close");
  EXPECT_TRUE(c.wait_closed(milliseconds(30'000)));  // at the latest after the drain time

  // Chunked bodies are held to the same limit.
  c = connect();
  ASSERT_TRUE(c.send("POST /body HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n" +
                     std::string("7d0\r\n") + std::string(2000, 'y') + "\r\n0\r\n\r\n"));
  r = c.read_response();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 413);

  // With "Expect: 100-continue" the answer comes before the body is sent.
  c = connect();
  ASSERT_TRUE(
      c.send("POST /body HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\n"
             "Content-Length: 5000\r\n\r\n"));
  r = c.read_response();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 413);
  EXPECT_GE(server_->stats().bad_requests, 3u);
  EXPECT_EQ(server_->stats().requests, 0u);

  // At the limit is fine.
  const RawResponse ok = exchange("POST /body HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n" +
                                  std::string(1000, 'z'));
  EXPECT_EQ(ok.status, 200);
}

// A client that writes a whole body far over the limit before it reads (as simple SCEP
// clients do) still reads the 413: the server answers as soon as the header is in. Its
// send may fail once the server has closed; Linux keeps the answer readable.
TEST_F(ServerTest, WholeBodyOverLimitStillGets413) {
  ServerOptions options;
  options.max_body_bytes = 64 << 10;
  start(options);
  for (std::size_t size : {(64u << 10) + 1, 200u << 10, 1u << 20, 3u << 20}) {
    RawClient c = connect();
    c.send("POST /body HTTP/1.1\r\nHost: t\r\nContent-Length: " + std::to_string(size) +
           "\r\n\r\n" + std::string(size, 'x'));
    auto r = c.read_response(milliseconds(30'000));
    ASSERT_TRUE(r.has_value()) << size;
    EXPECT_EQ(r->status, 413) << size;
    EXPECT_EQ(r->body, "Payload Too Large\n");
    EXPECT_TRUE(c.wait_closed(milliseconds(30'000))) << size;
  }
  EXPECT_EQ(server_->stats().requests, 0u);
}

// Refusing a huge body costs little: the server reads at most 64 KiB of it after the
// answer, then closes, however much more the client would send.
TEST_F(ServerTest, RefusalDrainsAtMost4MiB) {
  ServerOptions options;
  options.max_body_bytes = 1000;
  start(options);
  RawClient c = connect();
  ASSERT_TRUE(c.send("POST /body HTTP/1.1\r\nHost: t\r\nContent-Length: 104857600\r\n\r\n"));
  auto r = c.read_response(milliseconds(30'000));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 413);
  // Keeps sending, as a client that does not read would, until the server cuts it off.
  const std::string chunk(16 << 10, 'x');
  std::size_t sent = 0;
  while (sent < (100u << 20) && c.send(chunk)) {
    sent += chunk.size();
  }
  EXPECT_LT(sent, 100u << 20) << "the server read the whole body";
  EXPECT_TRUE(c.wait_closed(milliseconds(30'000)));
  for (int i = 0; i < 3000 && server_->stats().active_connections != 0; ++i) {
    std::this_thread::sleep_for(milliseconds(10));
  }
  EXPECT_EQ(server_->stats().active_connections, 0u);
  EXPECT_GT(server_->stats().bytes_drained, 0u);
  EXPECT_LE(server_->stats().bytes_drained, 4u << 20);
}

TEST_F(ServerTest, HeaderOverLimitIs431) {
  ServerOptions options;
  options.max_header_bytes = 2048;
  start(options);
  const RawResponse r = exchange(get_request("/echo?message=" + std::string(4000, 'A')));
  EXPECT_EQ(r.status, 431);
  // A GET PKIOperation of a few KB fits the default limit.
  start({});
  const RawResponse ok = exchange(get_request("/echo?message=" + std::string(20'000, 'A')));
  EXPECT_EQ(ok.status, 200);
}

TEST_F(ServerTest, MalformedRequestIs400) {
  RawResponse r = exchange("GARBAGE\r\n\r\n");
  EXPECT_EQ(r.status, 400);
  r = exchange("GET /echo HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab");
  EXPECT_EQ(r.status, 400);
  r = exchange("GET /echo HTTP/2.0\r\n\r\n");  // Beast parses HTTP/1.0 and 1.1 only
  EXPECT_EQ(r.status, 400);
}

TEST_F(ServerTest, ThrowingHandlerIs500AndServerKeepsWorking) {
  RawClient c = connect();
  ASSERT_TRUE(c.send(get_request("/throw")));
  auto r = c.read_response();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 500);
  EXPECT_EQ(r->body, "Internal Server Error\n");
  // Same connection, then a new one.
  ASSERT_TRUE(c.send(get_request("/echo")));
  r = c.read_response();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(exchange(get_request("/echo")).status, 200);
  EXPECT_EQ(server_->stats().handler_failures, 1u);
  EXPECT_EQ(exchange(get_request("/bad-status")).status, 500);
}

TEST_F(ServerTest, UnsafeHandlerHeadersAreDropped) {
  const RawResponse r = exchange(get_request("/injected"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("X-Good"), "yes");
  EXPECT_FALSE(r.header("X-Bad").has_value());
  EXPECT_FALSE(r.header("X-Evil").has_value());
  EXPECT_EQ(r.header("Content-Length"), "2");
  EXPECT_EQ(r.body, "ok");
}

TEST_F(ServerTest, ServerWideResponseHeaders) {
  ServerOptions options;
  options.response_headers = {{"X-Frame-Options", "DENY"}};
  start(options);
  EXPECT_EQ(exchange(get_request("/echo")).header("X-Frame-Options"), "DENY");
}

TEST(ServerIpv6, LoopbackV6) {
  ServerOptions options;
  options.bind_address = "::1";
  options.port = 0;
  auto server = HttpServer::create(options, test_router());
  if (!server.has_value()) {
    GTEST_SKIP() << "no IPv6 loopback: " << server.error().to_string();
  }
  ASSERT_OK((*server)->start());
  RawClient c;
  ASSERT_TRUE(c.connect("::1", (*server)->port()));
  ASSERT_TRUE(c.send(get_request("/echo")));
  auto r = c.read_response();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200);
  EXPECT_NE(r->body.find("remote=::1\n"), std::string::npos) << r->body;
}

}  // namespace
}  // namespace scepter::http
