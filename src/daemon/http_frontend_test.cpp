// The HTTP front end on a real Device and loopback sockets: `ip http port 0` binds a free
// port and publishes it (Device::http_listening), moves and stops follow the settings, and
// a body over the PKIOperation cap is refused before it is read.

#include "daemon/http_frontend.h"

#include <cstdlib>
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "common/clock.h"
#include "http/test_client.h"
#include "scep/request.h"

namespace scepter::daemon {
namespace {

using http::testing::get_request;
using http::testing::RawClient;
using std::chrono::milliseconds;

class HttpFrontendTest : public ::testing::Test {
 protected:
  HttpFrontendTest() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "scepter-http-XXXXXX").string();
    EXPECT_NE(::mkdtemp(tmpl.data()), nullptr);
    root_ = tmpl;
    std::filesystem::create_directories(root_ / "flash");
    auto d = ca::Device::create(
        ca::DeviceOptions{(root_ / "nvram").string(), (root_ / "flash").string(), "master-pass"},
        clock_);
    EXPECT_TRUE(d.has_value()) << d.error().to_string();
    device_ = std::move(*d);
    frontend_ = std::make_unique<HttpFrontend>(*device_);
  }
  ~HttpFrontendTest() override {
    frontend_.reset();
    device_.reset();
    std::error_code ec;
    std::filesystem::remove_all(root_, ec);
  }

  void configure(bool server, int port, std::string address = "127.0.0.1") {
    device_->edit_http([&](ca::HttpConfig& h) {
      h.server = server;
      h.port = port;
      h.bind_address = address;
    });
    frontend_->reconcile();
  }

  int status_of(const std::string& raw) {
    RawClient c;
    if (!c.connect("127.0.0.1", static_cast<std::uint16_t>(device_->http_listening().port))) {
      return -1;
    }
    c.send(raw);  // may fail once the server refused and closed; the answer is still there
    auto r = c.read_response(milliseconds(30'000));
    return r ? r->status : 0;
  }

  std::filesystem::path root_;
  SystemClock clock_;
  std::unique_ptr<ca::Device> device_;
  std::unique_ptr<HttpFrontend> frontend_;
};

TEST_F(HttpFrontendTest, PortZeroBindsAFreePortAndPublishesIt) {
  EXPECT_EQ(device_->http_listening().port, 0);
  configure(true, 0);
  const ca::Device::HttpListening l = device_->http_listening();
  ASSERT_NE(l.port, 0);
  EXPECT_EQ(l.port, frontend_->port());
  EXPECT_TRUE(l.config.server);
  EXPECT_EQ(l.config.port, 0);
  EXPECT_EQ(l.config.bind_address, "127.0.0.1");
  EXPECT_EQ(status_of(get_request("/cgi-bin/pkiclient.exe?operation=GetCACaps")), 200);
  EXPECT_EQ(status_of(get_request("/other")), 404);

  // Reconciling unchanged settings keeps the listener.
  frontend_->reconcile();
  EXPECT_EQ(device_->http_listening().port, l.port);
}

TEST_F(HttpFrontendTest, MovesAndStopsFollowTheSettings) {
  configure(true, 0);
  const int first = device_->http_listening().port;
  ASSERT_NE(first, 0);

  // Explicitly onto the port it has: the settings change, the listener stays (a kept-alive
  // connection still works).
  RawClient kept;
  ASSERT_TRUE(kept.connect("127.0.0.1", static_cast<std::uint16_t>(first)));
  const std::string caps = get_request("/cgi-bin/pkiclient.exe?operation=GetCACaps");
  ASSERT_TRUE(kept.send(caps));
  ASSERT_TRUE(kept.read_response(milliseconds(30'000)).has_value());
  configure(true, first);
  EXPECT_EQ(device_->http_listening().port, first);
  EXPECT_EQ(device_->http_listening().config.port, first);
  ASSERT_TRUE(kept.send(caps));
  auto again = kept.read_response(milliseconds(30'000));
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->status, 200);

  configure(true, first, "::1");
  if (device_->http_listening().port != 0) {  // machines without IPv6 cannot bind ::1
    EXPECT_EQ(device_->http_listening().config.bind_address, "::1");
  }

  configure(false, first);
  EXPECT_EQ(device_->http_listening().port, 0);
  EXPECT_EQ(frontend_->port(), 0);
  RawClient c;
  EXPECT_FALSE(c.connect("127.0.0.1", static_cast<std::uint16_t>(first)));
}

TEST_F(HttpFrontendTest, DestructionClearsTheListener) {
  configure(true, 0);
  EXPECT_NE(device_->http_listening().port, 0);
  frontend_.reset();
  EXPECT_EQ(device_->http_listening().port, 0);
}

// A declared body over the PKIOperation cap gets 413 from the HTTP layer before the body
// is read, also when the client writes the whole body before it reads; at the cap the
// SCEP service sees it (no certificate server: 503).
TEST_F(HttpFrontendTest, BodyOverThePkiOperationCapIs413) {
  configure(true, 0);
  const auto post = [](std::size_t size) {
    return "POST /cgi-bin/pkiclient.exe?operation=PKIOperation HTTP/1.1\r\nHost: t\r\n"
           "Content-Type: application/x-pki-message\r\nContent-Length: " +
           std::to_string(size) + "\r\n\r\n" + std::string(size, '\x30');
  };
  for (std::size_t size :
       {scep::kMaxPkiMessageSize + 1, std::size_t{1} << 20, std::size_t{3} << 20}) {
    EXPECT_EQ(status_of(post(size)), 413) << size;
  }
  const int at_cap = status_of(post(scep::kMaxPkiMessageSize));
  EXPECT_NE(at_cap, 413);
  EXPECT_GE(at_cap, 400);
}

}  // namespace
}  // namespace scepter::daemon
