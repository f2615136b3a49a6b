// The server under hostile or unusual conditions: slow clients, too many connections,
// stop() with work in flight, ports in use, and servers replaced at runtime (the CLI's
// `ip http port N`). Nothing depends on how fast the machine is: handlers that must stay
// busy wait on a gate the test opens, and every wait is for an event, with a deadline only
// against a hung test.

#include <atomic>
#include <condition_variable>
#include <future>
#include <mutex>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "common/testing.h"
#include "http/server.h"
#include "http/test_client.h"

namespace scepter::http {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;
using testing::get_request;
using testing::RawClient;

// A deadline against a hung test, never a measure of speed.
constexpr milliseconds kPatience{30'000};

using testing::Gate;

Handler test_handler(std::shared_ptr<Gate> gate = std::make_shared<Gate>()) {
  Router router;
  router.add("/fast", [](const Request&) { return Response::text(200, "fast"); });
  router.add("/gated", [gate](const Request&) {
    gate->pass();
    return Response::text(200, "gated");
  });
  return router;
}

std::unique_ptr<HttpServer> start(ServerOptions options, std::uint16_t port = 0,
                                  std::shared_ptr<Gate> gate = std::make_shared<Gate>()) {
  options.bind_address = "127.0.0.1";
  options.port = port;
  auto created = HttpServer::create(options, test_handler(std::move(gate)));
  EXPECT_TRUE(created.has_value()) << created.error().to_string();
  if (!created.has_value()) {
    return nullptr;
  }
  EXPECT_OK((*created)->start());
  return std::move(*created);
}

bool served(std::uint16_t port, std::string_view host = "127.0.0.1") {
  RawClient c;
  if (!c.connect(std::string(host), port) || !c.send(get_request("/fast"))) {
    return false;
  }
  auto r = c.read_response(kPatience);
  return r.has_value() && r->status == 200;
}

// Polls `pred` until it holds: counters move just after the client sees the effect.
template <class Pred>
bool eventually(Pred pred) {
  const auto give_up = steady_clock::now() + kPatience;
  while (!pred()) {
    if (steady_clock::now() > give_up) {
      return false;
    }
    std::this_thread::sleep_for(milliseconds(5));
  }
  return true;
}

// Runs `f` on another thread and waits for it to return; false when it has not returned
// by the deadline (the test has failed; the destructor of the future still waits).
template <class F>
bool returns(std::future<void>& done, F f) {
  done = std::async(std::launch::async, std::move(f));
  return done.wait_for(kPatience) == std::future_status::ready;
}

double seconds_since(steady_clock::time_point t) {
  return std::chrono::duration<double>(steady_clock::now() - t).count();
}

TEST(ServerLifecycle, SlowlorisIsCutOffWhileOthersAreServed) {
  ServerOptions options;
  options.read_timeout = milliseconds(1000);
  auto server = start(options);
  ASSERT_TRUE(server);

  RawClient slow;
  ASSERT_TRUE(slow.connect("127.0.0.1", server->port()));
  const auto began = steady_clock::now();
  std::atomic<bool> cut{false};
  std::thread trickler([&] {
    // One byte at a time of a request that never ends.
    const std::string bytes = "GET /fast HTTP/1.1\r\nHost: t\r\nX-Long: " + std::string(100, 'a');
    for (char b : bytes) {
      if (!slow.send(std::string_view(&b, 1)) || slow.wait_closed(milliseconds(250))) {
        break;
      }
    }
    cut = true;
  });
  // Served meanwhile, more than once.
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(served(server->port()));
  }
  // The trickler would need some 30 s to send it all: the read timeout cuts it off first
  // (not before the timeout).
  trickler.join();
  const double lasted = seconds_since(began);
  EXPECT_TRUE(cut);
  EXPECT_TRUE(slow.closed());
  EXPECT_GE(lasted, 0.9);
  EXPECT_TRUE(eventually([&] { return server->stats().timeouts == 1; }));
}

TEST(ServerLifecycle, IdleKeepAliveConnectionsTimeOut) {
  ServerOptions options;
  options.idle_timeout = milliseconds(300);
  auto server = start(options);
  ASSERT_TRUE(server);
  RawClient c;
  ASSERT_TRUE(c.connect("127.0.0.1", server->port()));
  ASSERT_TRUE(c.send(get_request("/fast")));
  ASSERT_TRUE(c.read_response().has_value());
  const auto t = steady_clock::now();
  EXPECT_TRUE(c.wait_closed(kPatience));
  EXPECT_GE(seconds_since(t), 0.2);  // not before the idle timeout
  EXPECT_TRUE(eventually([&] { return server->stats().timeouts == 1; }));
}

TEST(ServerLifecycle, BlockedHandlersDoNotStallOtherConnections) {
  ServerOptions options;
  options.worker_threads = 4;
  auto gate = std::make_shared<Gate>();
  auto server = start(options, 0, gate);
  ASSERT_TRUE(server);
  std::vector<RawClient> blocked(3);
  for (RawClient& c : blocked) {
    ASSERT_TRUE(c.connect("127.0.0.1", server->port()));
    ASSERT_TRUE(c.send(get_request("/gated")));
  }
  ASSERT_TRUE(gate->wait_entered(3));
  // Served while three handlers are blocked.
  EXPECT_TRUE(served(server->port()));
  gate->open();
  for (RawClient& c : blocked) {
    auto r = c.read_response(kPatience);
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->body, "gated");
  }
}

TEST(ServerLifecycle, ConnectionCap) {
  ServerOptions options;
  options.max_connections = 2;
  auto server = start(options);
  ASSERT_TRUE(server);
  RawClient a, b;
  for (RawClient* c : {&a, &b}) {
    ASSERT_TRUE(c->connect("127.0.0.1", server->port()));
    ASSERT_TRUE(c->send(get_request("/fast")));
    ASSERT_TRUE(c->read_response().has_value());
  }
  RawClient extra;
  ASSERT_TRUE(extra.connect("127.0.0.1", server->port()));
  extra.send(get_request("/fast"));
  auto r = extra.read_response(kPatience);
  if (r.has_value()) {
    EXPECT_EQ(r->status, 503);
  }
  EXPECT_TRUE(extra.wait_closed(kPatience));
  EXPECT_EQ(server->stats().connections_rejected, 1u);
  EXPECT_EQ(server->stats().active_connections, 2u);

  // Capacity comes back when a client leaves.
  a.close();
  EXPECT_TRUE(eventually([&] { return server->stats().active_connections < 2; }));
  EXPECT_TRUE(served(server->port()));
}

// Prompt: stop() does not wait for connections that are idle, half-read or silent. With a
// stop timeout far beyond the test's patience, waiting for them would fail the test.
TEST(ServerLifecycle, StopWithOpenConnectionsIsPromptAndFreesThePort) {
  ServerOptions options;
  options.stop_timeout = std::chrono::hours(1);
  auto server = start(options);
  ASSERT_TRUE(server);
  const std::uint16_t port = server->port();
  std::vector<RawClient> clients(4);
  for (RawClient& c : clients) {
    ASSERT_TRUE(c.connect("127.0.0.1", port));
  }
  ASSERT_TRUE(clients[0].send(get_request("/fast")));
  ASSERT_TRUE(clients[0].read_response().has_value());       // idle keep-alive
  ASSERT_TRUE(clients[1].send("GET /fast HTTP/1.1\r\nHo"));  // half a request
  // clients[2..3]: connected, nothing sent.
  ASSERT_TRUE(eventually([&] { return server->stats().active_connections == 4; }));

  std::future<void> stopped;
  EXPECT_TRUE(returns(stopped, [&] { server->stop(); }));
  for (RawClient& c : clients) {
    EXPECT_TRUE(c.wait_closed(kPatience));
  }
  // The CLI's `ip http port N`: a new server on the same port at once.
  auto again = start({}, port);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->port(), port);
  EXPECT_TRUE(served(port));
  EXPECT_FALSE(server->start().ok());  // a stopped server stays stopped
  server.reset();
  EXPECT_TRUE(served(port));
}

TEST(ServerLifecycle, StopLetsInFlightRequestsFinish) {
  ServerOptions options;
  options.stop_timeout = std::chrono::hours(1);
  auto gate = std::make_shared<Gate>();
  auto server = start(options, 0, gate);
  ASSERT_TRUE(server);
  const std::uint16_t port = server->port();
  RawClient c;
  ASSERT_TRUE(c.connect("127.0.0.1", port));
  ASSERT_TRUE(c.send(get_request("/gated")));
  ASSERT_TRUE(gate->wait_entered(1));
  auto stopped = std::async(std::launch::async, [&] { server->stop(); });
  // stop() has begun (no new connections) and waits for the handler.
  EXPECT_TRUE(eventually([&] {
    RawClient probe;
    return !probe.connect("127.0.0.1", port);
  }));
  EXPECT_EQ(stopped.wait_for(milliseconds(0)), std::future_status::timeout);
  gate->open();
  EXPECT_EQ(stopped.wait_for(kPatience), std::future_status::ready);
  auto r = c.read_response(kPatience);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->body, "gated");
  EXPECT_EQ(r->header("Connection"), "close");
  EXPECT_TRUE(c.wait_closed(kPatience));
}

TEST(ServerLifecycle, StopGivesUpOnAHandlerPastTheDeadline) {
  ServerOptions options;
  options.stop_timeout = milliseconds(200);
  auto gate = std::make_shared<Gate>();
  auto server = start(options, 0, gate);
  ASSERT_TRUE(server);
  RawClient c;
  ASSERT_TRUE(c.connect("127.0.0.1", server->port()));
  ASSERT_TRUE(c.send(get_request("/gated")));
  ASSERT_TRUE(gate->wait_entered(1));
  // The gate stays shut until stop() has returned: it can only return by giving up.
  std::future<void> stopped;
  EXPECT_TRUE(returns(stopped, [&] { server.reset(); }));
  EXPECT_TRUE(c.wait_closed(kPatience));
  gate->open();  // the handler finishes on its own; its answer is dropped
  EXPECT_TRUE(gate->wait_left(1));
}

TEST(ServerLifecycle, BusyPortIsUnavailable) {
  auto first = start({});
  ASSERT_TRUE(first);
  ServerOptions options;
  options.bind_address = "127.0.0.1";
  options.port = first->port();
  auto second = HttpServer::create(options, test_handler());
  ASSERT_FALSE(second.has_value());
  EXPECT_EQ(second.error().code(), Code::kUnavailable);
  EXPECT_EQ(second.error().message(),
            "cannot bind 127.0.0.1:" + std::to_string(first->port()) + ": Address already in use");
}

TEST(ServerLifecycle, BadBindAddress) {
  ServerOptions options;
  options.bind_address = "not-an-address";
  auto server = HttpServer::create(options, test_handler());
  ASSERT_FALSE(server.has_value());
  EXPECT_EQ(server.error().code(), Code::kInvalidArgument);
  options.bind_address = "127.0.0.1";
  options.port = 0;
  EXPECT_FALSE(HttpServer::create(options, Handler()).has_value());
}

TEST(ServerLifecycle, StopBeforeStartAndTwice) {
  ServerOptions options;
  options.bind_address = "127.0.0.1";
  options.port = 0;
  auto created = HttpServer::create(options, test_handler());
  ASSERT_OK(created);
  const std::uint16_t port = (*created)->port();
  EXPECT_NE(port, 0);
  (*created)->stop();
  (*created)->stop();
  EXPECT_FALSE((*created)->start().ok());
  EXPECT_TRUE(start({}, port));
}

TEST(ServerLifecycle, ManyConcurrentClients) {
  auto server = start({});
  ASSERT_TRUE(server);
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      RawClient c;
      if (!c.connect("127.0.0.1", server->port())) {
        return;
      }
      for (int i = 0; i < 50; ++i) {
        if (!c.send(get_request("/fast"))) {
          return;
        }
        auto r = c.read_response();
        if (r.has_value() && r->body == "fast") {
          ++ok;
        }
      }
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  EXPECT_EQ(ok, 400);
  EXPECT_EQ(server->stats().requests, 400u);
}

}  // namespace
}  // namespace scepter::http
