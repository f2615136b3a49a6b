// Event streams (Response::stream) on a loopback port: the header, chunks in order, the
// heartbeat, a slow reader cut off, the server-wide cap, stop() with streams open, TLS.

#include "http/event_stream.h"

#include <sys/socket.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
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

// Hands the streams the handler opens to the test, in order.
class Streams {
 public:
  Handler handler() {
    Router router;
    router.add("/events", [this](const Request&) {
      Response r;
      r.stream = std::make_shared<EventStream>();
      r.stream->push("event: hello\ndata: 1\n\n");  // queued before the connection has it
      r.stream->keep_going = [this] { return keep_going_.load(); };
      std::lock_guard<std::mutex> lock(mu_);
      opened_.push_back(r.stream);
      cv_.notify_all();
      return r;
    });
    router.add("/fast", [](const Request&) { return Response::text(200, "fast"); });
    return router;
  }

  // The n-th stream opened (from 0), once the handler made it.
  std::shared_ptr<EventStream> get(std::size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, std::chrono::seconds(30), [&] { return opened_.size() > n; });
    return opened_.size() > n ? opened_[n] : nullptr;
  }

  std::atomic<bool> keep_going_{true};

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::shared_ptr<EventStream>> opened_;
};

ServerOptions local_options() {
  ServerOptions o;
  o.bind_address = "127.0.0.1";
  o.port = 0;
  o.worker_threads = 2;
  o.io_threads = 2;
  return o;
}

std::unique_ptr<HttpServer> start(Streams& streams, ServerOptions o) {
  auto created = HttpServer::create(o, streams.handler());
  EXPECT_TRUE(created.has_value());
  if (!created.has_value()) {
    return nullptr;
  }
  EXPECT_OK((*created)->start());
  return std::move(*created);
}

// Waits (bounded) until the server's stats satisfy `pred`.
template <class Pred>
bool eventually(const HttpServer& server, Pred pred) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred(server.stats())) {
      return true;
    }
    std::this_thread::sleep_for(milliseconds(5));
  }
  return false;
}

TEST(EventStreamTest, HeaderThenChunksInOrderThenCloseEndsTheConnection) {
  Streams streams;
  auto server = start(streams, local_options());
  RawClient c;
  ASSERT_TRUE(c.connect("127.0.0.1", server->port()));
  ASSERT_TRUE(c.send(get_request("/events")));
  auto head = c.read_response();
  ASSERT_TRUE(head.has_value());
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->header("Content-Type"), "text/event-stream");
  EXPECT_EQ(head->header("Cache-Control"), "no-store");
  EXPECT_EQ(head->header("Connection"), "close");
  EXPECT_FALSE(head->header("Content-Length").has_value());

  auto stream = streams.get(0);
  ASSERT_NE(stream, nullptr);
  // Pushed from several threads in turn; each thread's chunks keep their order.
  std::string expected = "event: hello\ndata: 1\n\n";
  for (int i = 0; i < 200; ++i) {
    expected += "data: " + std::to_string(i) + "\n\n";
  }
  std::thread producer([&] {
    for (int i = 0; i < 200; ++i) {
      ASSERT_TRUE(stream->push("data: " + std::to_string(i) + "\n\n"));
    }
  });
  producer.join();
  auto got = c.read_until("data: 199\n\n");
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(*got, expected);
  EXPECT_EQ(server->stats().event_streams, 1u);

  stream->close();
  EXPECT_TRUE(c.wait_closed());
  EXPECT_FALSE(stream->push("late"));
  EXPECT_TRUE(eventually(*server, [](const ServerStats& s) { return s.event_streams == 0; }));
}

TEST(EventStreamTest, ClientLeavingEndsTheStream) {
  Streams streams;
  auto server = start(streams, local_options());
  RawClient c;
  ASSERT_TRUE(c.connect("127.0.0.1", server->port()));
  ASSERT_TRUE(c.send(get_request("/events")));
  ASSERT_TRUE(c.read_response().has_value());
  auto stream = streams.get(0);
  ASSERT_NE(stream, nullptr);
  c.close();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!stream->closed() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(5));
  }
  EXPECT_TRUE(stream->closed());
  EXPECT_TRUE(eventually(*server, [](const ServerStats& s) { return s.event_streams == 0; }));
}

TEST(EventStreamTest, HeartbeatIsSentAndItsCheckCanEndTheStream) {
  Streams streams;
  ServerOptions o = local_options();
  o.event_stream_heartbeat = milliseconds(50);
  o.read_timeout = milliseconds(100);  // a stream is exempt from it
  o.idle_timeout = milliseconds(100);
  auto server = start(streams, o);
  RawClient c;
  ASSERT_TRUE(c.connect("127.0.0.1", server->port()));
  ASSERT_TRUE(c.send(get_request("/events")));
  ASSERT_TRUE(c.read_response().has_value());
  auto got = c.read_until(":\n\n:\n\n:\n\n");  // three heartbeats: past both timeouts
  ASSERT_TRUE(got.has_value());
  EXPECT_FALSE(c.closed());
  streams.keep_going_ = false;
  EXPECT_TRUE(c.wait_closed());
}

TEST(EventStreamTest, SlowReaderIsCutOff) {
  Streams streams;
  ServerOptions o = local_options();
  o.max_event_stream_queue_bytes = 64 << 10;
  auto server = start(streams, o);
  RawClient c;
  ASSERT_TRUE(c.connect("127.0.0.1", server->port()));
  const int small = 4096;
  ::setsockopt(c.fd(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  ASSERT_TRUE(c.send(get_request("/events")));
  ASSERT_TRUE(c.read_response().has_value());
  auto stream = streams.get(0);
  ASSERT_NE(stream, nullptr);
  // The client reads nothing more: the socket's buffers fill, then the stream's queue.
  const std::string chunk(8 << 10, 'x');
  bool refused = false;
  for (int i = 0; i < 10'000 && !refused; ++i) {
    refused = !stream->push(chunk);
    if (i % 64 == 0) {
      std::this_thread::sleep_for(milliseconds(1));  // let the connection write meanwhile
    }
  }
  EXPECT_TRUE(refused);
  EXPECT_TRUE(stream->closed());
  EXPECT_TRUE(eventually(*server, [](const ServerStats& s) {
    return s.event_streams_overflowed == 1 && s.event_streams == 0;
  }));
  // Cut off with a reset: what the server's socket still held for the client is dropped,
  // not sent at the pace of a reader that does not keep up (which took minutes for the
  // megabytes a loopback socket buffers, and longer than wait_closed() under ASan).
  EXPECT_TRUE(c.wait_closed());
  EXPECT_TRUE(c.reset());
}

TEST(EventStreamTest, OverTheCapGets503AndOthersAreStillServed) {
  Streams streams;
  ServerOptions o = local_options();
  o.max_event_streams = 2;
  auto server = start(streams, o);
  RawClient a, b, third;
  for (RawClient* c : {&a, &b}) {
    ASSERT_TRUE(c->connect("127.0.0.1", server->port()));
    ASSERT_TRUE(c->send(get_request("/events")));
    auto r = c->read_response();
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->status, 200);
  }
  ASSERT_TRUE(third.connect("127.0.0.1", server->port()));
  ASSERT_TRUE(third.send(get_request("/events")));
  auto refused = third.read_response();
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->status, 503);
  EXPECT_EQ(refused->header("Retry-After"), "1");
  EXPECT_TRUE(third.wait_closed());
  EXPECT_EQ(server->stats().event_streams_rejected, 1u);

  RawClient plain;
  ASSERT_TRUE(plain.connect("127.0.0.1", server->port()));
  ASSERT_TRUE(plain.send(get_request("/fast")));
  auto r = plain.read_response();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->body, "fast");

  // A slot freed is a slot for the next client.
  a.close();
  ASSERT_TRUE(eventually(*server, [](const ServerStats& s) { return s.event_streams == 1; }));
  RawClient again;
  ASSERT_TRUE(again.connect("127.0.0.1", server->port()));
  ASSERT_TRUE(again.send(get_request("/events")));
  auto ok = again.read_response();
  ASSERT_TRUE(ok.has_value());
  EXPECT_EQ(ok->status, 200);
}

TEST(EventStreamTest, HeadGetsTheHeaderOnly) {
  Streams streams;
  auto server = start(streams, local_options());
  RawClient c;
  ASSERT_TRUE(c.connect("127.0.0.1", server->port()));
  ASSERT_TRUE(c.send("HEAD /events HTTP/1.1\r\nHost: t\r\n\r\n"));
  auto r = c.read_response(std::chrono::seconds(30), /*head=*/true);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200);
  EXPECT_TRUE(streams.get(0)->closed());
  EXPECT_EQ(server->stats().event_streams, 0u);
}

TEST(EventStreamTest, StopWithOpenStreamsReturnsPromptly) {
  Streams streams;
  ServerOptions o = local_options();
  o.stop_timeout = std::chrono::seconds(20);
  auto server = start(streams, o);
  std::vector<RawClient> clients(5);
  for (std::size_t i = 0; i < clients.size(); ++i) {
    ASSERT_TRUE(clients[i].connect("127.0.0.1", server->port()));
    ASSERT_TRUE(clients[i].send(get_request("/events")));
    ASSERT_TRUE(clients[i].read_response().has_value());
    ASSERT_NE(streams.get(i), nullptr);
  }
  const auto before = std::chrono::steady_clock::now();
  server->stop();
  EXPECT_LT(std::chrono::steady_clock::now() - before, std::chrono::seconds(5));
  for (std::size_t i = 0; i < clients.size(); ++i) {
    EXPECT_TRUE(clients[i].wait_closed());
    EXPECT_TRUE(streams.get(i)->closed());
  }
}

class EventStreamTlsTest : public ::testing::Test {
 protected:
  EventStreamTlsTest() : server_key_(pki::test::ec_key_256()) {}

  void SetUp() override {
    ServerOptions o = local_options();
    o.tls = ca_.server_context("server-one", server_key_);
    o.event_stream_heartbeat = milliseconds(50);
    server_ = start(streams_, o);
    ASSERT_NE(server_, nullptr);
  }

  testing::TestCa ca_;
  pki::Key server_key_;
  Streams streams_;
  std::unique_ptr<HttpServer> server_;
};

TEST_F(EventStreamTlsTest, ChunksArriveInOrderAndCloseEndsIt) {
  testing::TlsClient c;
  testing::TlsClientOptions co;
  co.trust = &ca_.certificate();
  ASSERT_TRUE(c.connect(server_->port(), co)) << c.error();
  ASSERT_TRUE(c.send(get_request("/events")));
  auto head = c.read_response();
  ASSERT_TRUE(head.has_value());
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->header("Content-Type"), "text/event-stream");
  auto stream = streams_.get(0);
  ASSERT_NE(stream, nullptr);
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(stream->push("data: " + std::to_string(i) + "\n\n"));
  }
  // Heartbeats come between the events, never inside them.
  std::string got = c.take_buffered();
  while (got.find("data: 49\n\n") == std::string::npos) {
    const std::string more = c.read_some(16384);
    ASSERT_FALSE(more.empty());
    got += more;
  }
  std::string data;
  std::size_t at = 0;
  while (at < got.size()) {
    const std::size_t end = got.find("\n\n", at);
    ASSERT_NE(end, std::string::npos);
    const std::string event = got.substr(at, end + 2 - at);
    if (event != ":\n\n") {
      data += event;
    }
    at = end + 2;
  }
  std::string expected = "event: hello\ndata: 1\n\n";
  for (int i = 0; i < 50; ++i) {
    expected += "data: " + std::to_string(i) + "\n\n";
  }
  EXPECT_EQ(data, expected);
  stream->close();
  EXPECT_TRUE(c.wait_closed());
  EXPECT_TRUE(eventually(*server_, [](const ServerStats& s) { return s.event_streams == 0; }));
}

TEST_F(EventStreamTlsTest, StopWithAnOpenTlsStreamReturnsPromptly) {
  testing::TlsClient c;
  testing::TlsClientOptions co;
  co.trust = &ca_.certificate();
  ASSERT_TRUE(c.connect(server_->port(), co)) << c.error();
  ASSERT_TRUE(c.send(get_request("/events")));
  ASSERT_TRUE(c.read_response().has_value());
  ASSERT_NE(streams_.get(0), nullptr);
  const auto before = std::chrono::steady_clock::now();
  server_->stop();
  EXPECT_LT(std::chrono::steady_clock::now() - before, std::chrono::seconds(5));
  EXPECT_TRUE(c.wait_closed());
}

}  // namespace
}  // namespace scepter::http
