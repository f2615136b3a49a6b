// The server's defences against clients that ask too much: connections and requests per
// client address, the bounded queue of heavy requests and its deadline. Clients on
// 127.0.0.x stand for different addresses. Handlers that must stay busy wait on a gate the
// test opens; nothing depends on how fast the machine is.

#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "common/testing.h"
#include "http/server.h"
#include "http/test_client.h"

namespace scepter::http {
namespace {

using std::chrono::milliseconds;
using testing::get_request;
using testing::RawClient;
using testing::RawResponse;

using testing::Gate;

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

class LimitsTest : public ::testing::Test {
 protected:
  void TearDown() override {
    gate_.open();  // before the server waits for its handlers
    second_gate_.open();
    server_.reset();
  }

  void start(ServerOptions options) {
    options.bind_address = "127.0.0.1";
    options.port = 0;
    Router router;
    router.add("/light", [](const Request&) { return Response::text(200, "light"); });
    router.add("/heavy", [this](const Request&) {
      gate_.pass();
      return Response::text(200, "heavy");
    });
    router.add("/who", [](const Request& r) { return Response::text(200, r.remote_address); });
    router.add("/light-gated", [this](const Request&) {
      gate_.pass();
      return Response::text(200, "light-gated");
    });
    router.add("/inline", [](const Request&) { return Response::text(200, "inline"); });
    auto created = HttpServer::create(options, router);
    ASSERT_OK(created);
    server_ = std::move(*created);
    ASSERT_OK(server_->start());
  }

  static ServerOptions heavy_options() {
    ServerOptions o;
    o.is_heavy = [](const Request& r) { return r.path == "/heavy"; };
    o.worker_threads = 1;
    o.light_worker_threads = 1;
    return o;
  }

  RawClient connect(const std::string& source = "") {
    RawClient c;
    EXPECT_TRUE(c.connect("127.0.0.1", server_->port(), source));
    return c;
  }

  // Skips the test when this machine cannot send from 127.0.0.2.
  bool have_second_loopback() {
    RawClient probe;
    return probe.connect("127.0.0.1", server_->port(), "127.0.0.2");
  }

  std::optional<RawResponse> ask(RawClient& c, const std::string& target) {
    if (!c.send(get_request(target))) {
      return std::nullopt;
    }
    return c.read_response(std::chrono::seconds(30));
  }

  Gate gate_;
  Gate second_gate_;
  std::unique_ptr<HttpServer> server_;
};

TEST_F(LimitsTest, ConnectionCapPerAddress) {
  ServerOptions options;
  options.max_connections_per_address = 2;
  options.limit_loopback = true;
  start(options);
  RawClient a = connect(), b = connect();
  for (RawClient* c : {&a, &b}) {
    auto r = ask(*c, "/light");
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->status, 200);
  }
  // The third connection from the address: 503 at once, without a request being read.
  RawClient extra = connect();
  auto r = extra.read_response(std::chrono::seconds(30));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(r->header("Retry-After"), "1");
  EXPECT_EQ(r->header("Connection"), "close");
  EXPECT_TRUE(extra.wait_closed(std::chrono::seconds(30)));
  EXPECT_EQ(server_->stats().connections_rejected_per_address, 1u);
  EXPECT_EQ(server_->stats().connections_rejected, 0u);
  EXPECT_EQ(server_->stats().requests, 2u);

  // Another address is not affected.
  if (have_second_loopback()) {
    RawClient other = connect("127.0.0.2");
    auto o = ask(other, "/who");
    ASSERT_TRUE(o.has_value());
    EXPECT_EQ(o->status, 200);
    EXPECT_EQ(o->body, "127.0.0.2");
  }
  // The address gets its place back when a connection ends.
  a.close();
  ASSERT_TRUE(wait_until([&] {
    RawClient again = connect();
    auto x = ask(again, "/light");
    return x.has_value() && x->status == 200;
  }));
}

TEST_F(LimitsTest, LoopbackIsExemptByDefault) {
  ServerOptions options;
  options.max_connections_per_address = 1;
  options.max_requests_per_second_per_address = 0.001;
  options.request_burst_per_address = 1;
  start(options);
  RawClient a = connect(), b = connect();
  for (int i = 0; i < 3; ++i) {
    for (RawClient* c : {&a, &b}) {
      auto r = ask(*c, "/light");
      ASSERT_TRUE(r.has_value());
      EXPECT_EQ(r->status, 200);
    }
  }
  EXPECT_EQ(server_->stats().tracked_addresses, 0u);
  EXPECT_EQ(server_->stats().requests_rate_limited, 0u);
}

TEST_F(LimitsTest, RateCapPerAddress) {
  ServerOptions options;
  options.max_requests_per_second_per_address = 0.001;  // one token per 1000 s
  options.request_burst_per_address = 3;
  options.limit_loopback = true;
  start(options);
  RawClient c = connect();
  for (int i = 0; i < 3; ++i) {
    auto r = ask(c, "/light");
    ASSERT_TRUE(r.has_value()) << i;
    EXPECT_EQ(r->status, 200) << i;
  }
  // The fourth is refused before its body is read, and the connection closes.
  ASSERT_TRUE(c.send("POST /light HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\n"));
  auto r = c.read_response(std::chrono::seconds(30));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 429);
  EXPECT_EQ(r->header("Retry-After"), "1000");
  EXPECT_EQ(r->header("Connection"), "close");
  EXPECT_TRUE(c.wait_closed(std::chrono::seconds(30)));
  // A new connection from the same address is still over its rate.
  RawClient again = connect();
  r = ask(again, "/light");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 429);
  const ServerStats s = server_->stats();
  EXPECT_EQ(s.requests_rate_limited, 2u);
  EXPECT_EQ(s.requests, 3u);
  EXPECT_EQ(s.bad_requests, 0u);

  if (have_second_loopback()) {
    RawClient other = connect("127.0.0.2");
    r = ask(other, "/light");
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->status, 200);
  }
}

TEST_F(LimitsTest, FullHeavyQueueIsRefusedAtOnceWhileLightIsServed) {
  ServerOptions options = heavy_options();
  options.max_queued_heavy = 1;
  start(options);
  // One heavy request runs (and blocks), one waits.
  RawClient running = connect(), waiting = connect();
  ASSERT_TRUE(running.send(get_request("/heavy")));
  ASSERT_TRUE(gate_.wait_entered(1));
  ASSERT_TRUE(waiting.send(get_request("/heavy")));
  ASSERT_TRUE(wait_until([&] { return server_->stats().heavy_queued == 1; }));

  // The next heavy request is refused without waiting for the blocked worker.
  RawClient refused = connect();
  auto r = ask(refused, "/heavy");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(r->header("Retry-After"), "1");
  EXPECT_EQ(r->header("Connection"), "close");
  EXPECT_TRUE(refused.wait_closed(std::chrono::seconds(30)));
  EXPECT_EQ(server_->stats().heavy_rejected_queue_full, 1u);

  // Light requests are answered while every heavy worker is blocked.
  RawClient light = connect();
  for (int i = 0; i < 3; ++i) {
    r = ask(light, "/light");
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, "light");
  }
  EXPECT_EQ(gate_.entered(), 1);

  gate_.open();
  for (RawClient* c : {&running, &waiting}) {
    r = c->read_response(std::chrono::seconds(30));
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, "heavy");
  }
  EXPECT_EQ(gate_.entered(), 2);
  EXPECT_EQ(server_->stats().heavy_queued, 0u);
  EXPECT_EQ(server_->stats().heavy_rejected_deadline, 0u);
}

// Inline requests need no worker: they are answered while every worker of both pools is
// blocked.
TEST_F(LimitsTest, InlineRequestsAreAnsweredWhileEveryWorkerIsBusy) {
  ServerOptions options = heavy_options();
  options.is_inline = [](const Request& r) { return r.path == "/inline"; };
  start(options);
  RawClient heavy = connect(), light = connect();
  ASSERT_TRUE(heavy.send(get_request("/heavy")));
  ASSERT_TRUE(light.send(get_request("/light-gated")));
  ASSERT_TRUE(gate_.wait_entered(2));

  RawClient c = connect();
  for (int i = 0; i < 3; ++i) {
    auto r = ask(c, "/inline");
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, "inline");
  }
  EXPECT_EQ(gate_.entered(), 2);

  gate_.open();
  for (RawClient* blocked : {&heavy, &light}) {
    auto r = blocked->read_response(std::chrono::seconds(30));
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->status, 200);
  }
  EXPECT_EQ(server_->stats().requests, 5u);
}

// Answers written at once on the network thread: a long pipeline of them is answered in
// order, each request through the loop rather than nested in the last one's answer.
TEST_F(LimitsTest, ALongPipelineOfInlineRequests) {
  ServerOptions options = heavy_options();
  options.is_inline = [](const Request& r) { return r.path == "/inline"; };
  start(options);
  RawClient c = connect();
  constexpr int kRequests = 2000;
  std::string batch;
  for (int i = 0; i < kRequests; ++i) batch += get_request("/inline");
  ASSERT_TRUE(c.send(batch));
  for (int i = 0; i < kRequests; ++i) {
    auto r = c.read_response(std::chrono::seconds(30));
    ASSERT_TRUE(r.has_value()) << i;
    ASSERT_EQ(r->body, "inline") << i;
  }
  EXPECT_EQ(server_->stats().requests, static_cast<std::uint64_t>(kRequests));
}

// A predicate that throws puts nothing on the network thread: the request goes to a pool.
TEST_F(LimitsTest, ThrowingInlinePredicateMeansAPool) {
  ServerOptions options = heavy_options();
  options.is_inline = [](const Request&) -> bool { throw std::runtime_error("broken"); };
  start(options);
  RawClient light = connect();
  ASSERT_TRUE(light.send(get_request("/light-gated")));
  ASSERT_TRUE(gate_.wait_entered(1));
  gate_.open();
  auto r = light.read_response(std::chrono::seconds(30));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "light-gated");
}

// Answers ready in memory are given on the network thread; the others go to the pools
// (here: past a blocked light worker), as does a request whose check throws.
TEST_F(LimitsTest, ReadyAnswersNeedNoWorker) {
  ServerOptions options = heavy_options();
  options.answer_ready = [](const Request& r) -> std::optional<Response> {
    if (r.path == "/throws") throw std::runtime_error("broken");
    if (r.path == "/light-ready") return Response::text(200, "ready");
    return std::nullopt;
  };
  start(options);
  RawClient heavy = connect(), light = connect();
  ASSERT_TRUE(heavy.send(get_request("/heavy")));
  ASSERT_TRUE(light.send(get_request("/light-gated")));
  ASSERT_TRUE(gate_.wait_entered(2));

  RawClient c = connect();
  for (int i = 0; i < 3; ++i) {
    auto r = ask(c, "/light-ready");
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, "ready");
  }
  RawClient waiting = connect();
  ASSERT_TRUE(waiting.send(get_request("/throws")));
  gate_.open();
  for (RawClient* blocked : {&heavy, &light}) {
    auto r = blocked->read_response(std::chrono::seconds(30));
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->status, 200);
  }
  auto routed = waiting.read_response(std::chrono::seconds(30));
  ASSERT_TRUE(routed.has_value());
  EXPECT_EQ(routed->status, 404);  // the router's answer: it went to a pool
  EXPECT_EQ(server_->stats().requests, 6u);
}

// ReadyAnswer::soon runs on the network thread that read the request, after what is ready
// there: a request that arrives while one such job runs waits for it and at most one more,
// not for the whole queue. One network thread; the order is what the handlers log.
TEST_F(LimitsTest, LaterAnswersRunOnTheNetworkThreadBetweenTheRest) {
  std::mutex mu;
  std::vector<std::string> log;  // GUARDED_BY(mu)
  std::thread::id network_thread, soon_thread;
  const auto note = [&](const std::string& what) {
    std::lock_guard<std::mutex> lock(mu);
    log.push_back(what);
  };
  ServerOptions options = heavy_options();
  options.io_threads = 1;
  options.is_inline = [&](const Request& r) {
    if (r.path != "/inline") return false;
    network_thread = std::this_thread::get_id();
    if (r.query == "log") note("inline");
    return true;
  };
  options.answer_ready = [&](const Request& r) -> ReadyAnswer {
    if (r.path == "/hold") {
      gate_.pass();  // the network thread, busy while the next requests arrive
      return Response::text(200, "held");
    }
    if (r.path != "/soon") return {};
    ReadyAnswer ready;
    ready.soon = [&](const Request& same) -> std::optional<Response> {
      soon_thread = std::this_thread::get_id();
      if (same.query == "decline") return std::nullopt;  // on to the pools
      if (same.query == "throw") throw std::runtime_error("broken");
      if (same.query == "A") second_gate_.pass();
      note(same.query);
      return Response::text(200, "soon " + same.query);
    };
    return ready;
  };
  start(options);

  // Connections accepted and idle first (accepting is the network thread's work too).
  RawClient x = connect(), a = connect(), b = connect(), c = connect(), d = connect(),
            e = connect();
  for (RawClient* client : {&x, &a, &b, &c, &d, &e}) {
    auto r = ask(*client, "/inline");
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->status, 200);
  }
  // A, B, C and E are read in one trip through the loop, while /hold keeps the thread.
  ASSERT_TRUE(x.send(get_request("/hold")));
  ASSERT_TRUE(gate_.wait_entered(1));
  ASSERT_TRUE(a.send(get_request("/soon?A")));
  ASSERT_TRUE(b.send(get_request("/soon?B")));
  ASSERT_TRUE(c.send(get_request("/soon?C")));
  ASSERT_TRUE(e.send(get_request("/soon?E")));
  gate_.open();
  // A's job holds the thread; D arrives meanwhile.
  ASSERT_TRUE(second_gate_.wait_entered(1));
  ASSERT_TRUE(d.send(get_request("/inline?log")));
  second_gate_.open();
  for (auto [client, body] :
       {std::pair{&x, "held"}, std::pair{&a, "soon A"}, std::pair{&b, "soon B"},
        std::pair{&c, "soon C"}, std::pair{&d, "inline"}, std::pair{&e, "soon E"}}) {
    auto r = client->read_response(std::chrono::seconds(30));
    ASSERT_TRUE(r.has_value()) << body;
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, body);
  }
  {
    std::lock_guard<std::mutex> lock(mu);
    EXPECT_EQ(log, (std::vector<std::string>{"A", "B", "inline", "C", "E"}));
  }
  EXPECT_EQ(soon_thread, network_thread);

  // A job that declines, or throws, sends its request on to the pools' handler.
  for (const char* target : {"/soon?decline", "/soon?throw"}) {
    auto r = ask(b, target);
    ASSERT_TRUE(r.has_value()) << target;
    EXPECT_EQ(r->status, 404) << target;  // the router's answer: it went to a pool
  }
}

TEST_F(LimitsTest, WithoutPredicateEveryRequestIsHeavy) {
  ServerOptions options;
  options.worker_threads = 1;
  options.max_queued_heavy = 0;
  start(options);
  RawClient running = connect();
  ASSERT_TRUE(running.send(get_request("/heavy")));
  ASSERT_TRUE(gate_.wait_entered(1));
  RawClient other = connect();
  auto r = ask(other, "/light");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 503);
  gate_.open();
  r = running.read_response(std::chrono::seconds(30));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200);
}

TEST_F(LimitsTest, HeavyRequestPastItsDeadlineIsNotRun) {
  ServerOptions options = heavy_options();
  options.queue_deadline = milliseconds(20);
  start(options);
  RawClient running = connect(), late = connect();
  ASSERT_TRUE(running.send(get_request("/heavy")));
  ASSERT_TRUE(gate_.wait_entered(1));
  ASSERT_TRUE(late.send(get_request("/heavy")));
  ASSERT_TRUE(wait_until([&] { return server_->stats().heavy_queued == 1; }));
  std::this_thread::sleep_for(milliseconds(60));  // at least the deadline, queued
  gate_.open();

  auto r = running.read_response(std::chrono::seconds(30));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200);
  r = late.read_response(std::chrono::seconds(30));
  ASSERT_TRUE(r.has_value());
  ASSERT_EQ(r->status, 503);
  EXPECT_EQ(r->header("Retry-After"), "1");
  EXPECT_TRUE(late.wait_closed(std::chrono::seconds(30)));
  EXPECT_EQ(gate_.entered(), 1);  // the handler did not run for it
  const ServerStats s = server_->stats();
  EXPECT_EQ(s.heavy_rejected_deadline, 1u);
  EXPECT_EQ(s.requests, 1u);
  EXPECT_EQ(s.heavy_queued, 0u);

  // A request that did not wait runs as usual.
  RawClient fresh = connect();
  r = ask(fresh, "/heavy");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200);
}

TEST_F(LimitsTest, AddressTableIsBounded) {
  ServerOptions options;
  options.max_connections_per_address = 1;
  options.max_requests_per_second_per_address = 0.001;  // every address keeps a spent bucket
  options.request_burst_per_address = 5;
  options.max_tracked_addresses = 4;
  options.limit_loopback = true;
  start(options);
  if (!have_second_loopback()) {
    GTEST_SKIP() << "cannot connect from 127.0.0.2";
  }
  ASSERT_TRUE(wait_until([&] { return server_->stats().active_connections == 0; }));
  RawClient held = connect("127.0.0.1");  // open throughout: never forgotten
  auto r = ask(held, "/light");
  ASSERT_TRUE(r.has_value());
  ASSERT_EQ(r->status, 200);
  for (int i = 2; i < 42; ++i) {
    const std::string source = "127.0.0." + std::to_string(i);
    RawClient c = connect(source);
    r = ask(c, "/who");
    ASSERT_TRUE(r.has_value()) << source;
    EXPECT_EQ(r->body, source);
    c.close();
    ASSERT_TRUE(wait_until([&] { return server_->stats().active_connections == 1; })) << i;
    EXPECT_LE(server_->stats().tracked_addresses, 4u) << i;
  }
  const ServerStats s = server_->stats();
  EXPECT_EQ(s.tracked_addresses, 4u);
  EXPECT_EQ(s.address_evictions, 40u - 3u);
  // The held address is still counted: a second connection from it is refused.
  RawClient second = connect("127.0.0.1");
  r = second.read_response(std::chrono::seconds(30));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 503);
}

}  // namespace
}  // namespace scepter::http
