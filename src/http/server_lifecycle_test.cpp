// The server under hostile or unusual conditions: slow clients, too many connections,
// stop() with work in flight, ports in use, and servers replaced at runtime (the CLI's
// `ip http port N`).

#include <atomic>
#include <future>
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

Handler slow_handler() {
  Router router;
  router.add("/fast", [](const Request&) { return Response::text(200, "fast"); });
  router.add("/slow", [](const Request& r) {
    const int ms = std::stoi(std::string(r.params.get("ms").value_or("300")));
    std::this_thread::sleep_for(milliseconds(ms));
    return Response::text(200, "slow");
  });
  return router;
}

std::unique_ptr<HttpServer> start(ServerOptions options, std::uint16_t port = 0) {
  options.bind_address = "127.0.0.1";
  options.port = port;
  auto created = HttpServer::create(options, slow_handler());
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
  auto r = c.read_response(milliseconds(2000));
  return r.has_value() && r->status == 200;
}

// Polls `pred` for up to two seconds: counters move just after the client sees the effect.
template <class Pred>
bool eventually(Pred pred) {
  for (int i = 0; i < 200; ++i) {
    if (pred()) {
      return true;
    }
    std::this_thread::sleep_for(milliseconds(10));
  }
  return pred();
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
  // Served meanwhile, promptly, more than once.
  for (int i = 0; i < 3; ++i) {
    const auto t = steady_clock::now();
    EXPECT_TRUE(served(server->port()));
    EXPECT_LT(seconds_since(t), 0.5);
    std::this_thread::sleep_for(milliseconds(200));
  }
  trickler.join();
  const double lasted = seconds_since(began);
  EXPECT_TRUE(cut);
  EXPECT_TRUE(slow.closed());
  EXPECT_GE(lasted, 0.9);
  EXPECT_LT(lasted, 3.0);
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
  EXPECT_TRUE(c.wait_closed(milliseconds(3000)));
  EXPECT_GE(seconds_since(t), 0.2);
}

TEST(ServerLifecycle, BlockedHandlersDoNotStallOtherConnections) {
  ServerOptions options;
  options.worker_threads = 4;
  auto server = start(options);
  ASSERT_TRUE(server);
  std::vector<std::thread> slow;
  for (int i = 0; i < 3; ++i) {
    slow.emplace_back([&] {
      RawClient c;
      ASSERT_TRUE(c.connect("127.0.0.1", server->port()));
      ASSERT_TRUE(c.send(get_request("/slow?ms=1000")));
      EXPECT_TRUE(c.read_response().has_value());
    });
  }
  std::this_thread::sleep_for(milliseconds(100));
  const auto t = steady_clock::now();
  EXPECT_TRUE(served(server->port()));
  EXPECT_LT(seconds_since(t), 0.5);
  for (auto& th : slow) {
    th.join();
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
  auto r = extra.read_response(milliseconds(2000));
  if (r.has_value()) {
    EXPECT_EQ(r->status, 503);
  }
  EXPECT_TRUE(extra.wait_closed(milliseconds(2000)));
  EXPECT_EQ(server->stats().connections_rejected, 1u);
  EXPECT_EQ(server->stats().active_connections, 2u);

  // Capacity comes back when a client leaves.
  a.close();
  EXPECT_TRUE(eventually([&] { return server->stats().active_connections < 2; }));
  EXPECT_TRUE(served(server->port()));
}

TEST(ServerLifecycle, StopWithOpenConnectionsIsPromptAndFreesThePort) {
  auto server = start({});
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
  std::this_thread::sleep_for(milliseconds(50));

  const auto t = steady_clock::now();
  server->stop();
  EXPECT_LT(seconds_since(t), 0.5);
  for (RawClient& c : clients) {
    EXPECT_TRUE(c.wait_closed(milliseconds(1000)));
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
  auto server = start({});
  ASSERT_TRUE(server);
  RawClient c;
  ASSERT_TRUE(c.connect("127.0.0.1", server->port()));
  ASSERT_TRUE(c.send(get_request("/slow?ms=400")));
  std::this_thread::sleep_for(milliseconds(100));
  const auto t = steady_clock::now();
  server->stop();
  const double took = seconds_since(t);
  EXPECT_GE(took, 0.2);
  EXPECT_LT(took, 2.0);
  auto r = c.read_response(milliseconds(1000));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->body, "slow");
  EXPECT_EQ(r->header("Connection"), "close");
  EXPECT_TRUE(c.wait_closed(milliseconds(1000)));
}

TEST(ServerLifecycle, StopGivesUpOnAHandlerPastTheDeadline) {
  ServerOptions options;
  options.stop_timeout = milliseconds(200);
  auto server = start(options);
  ASSERT_TRUE(server);
  RawClient c;
  ASSERT_TRUE(c.connect("127.0.0.1", server->port()));
  ASSERT_TRUE(c.send(get_request("/slow?ms=1500")));
  std::this_thread::sleep_for(milliseconds(100));
  const auto t = steady_clock::now();
  server.reset();  // the handler finishes later, on its own
  EXPECT_LT(seconds_since(t), 1.0);
  EXPECT_TRUE(c.wait_closed(milliseconds(1000)));
  std::this_thread::sleep_for(milliseconds(1600));  // let it finish before the test ends
}

TEST(ServerLifecycle, BusyPortIsUnavailable) {
  auto first = start({});
  ASSERT_TRUE(first);
  ServerOptions options;
  options.bind_address = "127.0.0.1";
  options.port = first->port();
  auto second = HttpServer::create(options, slow_handler());
  ASSERT_FALSE(second.has_value());
  EXPECT_EQ(second.error().code(), Code::kUnavailable);
  EXPECT_EQ(second.error().message(),
            "cannot bind 127.0.0.1:" + std::to_string(first->port()) + ": Address already in use");
}

TEST(ServerLifecycle, BadBindAddress) {
  ServerOptions options;
  options.bind_address = "not-an-address";
  auto server = HttpServer::create(options, slow_handler());
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
  auto created = HttpServer::create(options, slow_handler());
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
