// The request labels of /metrics: from fixed lists whatever a client sends, and a handler
// that throws counted as the 500 the server answers.

#include "daemon/http_metrics.h"

#include <stdexcept>
#include <string>

#include <gtest/gtest.h>

namespace scepter::daemon {
namespace {

http::Request request(std::string method, std::string target) {
  http::Request req;
  req.method = std::move(method);
  req.target = target;
  const auto q = target.find('?');
  req.path = target.substr(0, q);
  req.query = q == std::string::npos ? "" : target.substr(q + 1);
  req.params = http::QueryParams::parse(req.query);
  return req;
}

std::string kind(const std::string& method, const std::string& target) {
  const RequestKind k = classify(request(method, target));
  return std::string(k.protocol) + " " + std::string(k.operation);
}

TEST(HttpMetrics, LabelsComeFromFixedLists) {
  EXPECT_EQ(kind("GET", "/cgi-bin/pkiclient.exe?operation=GetCACaps"), "scep GetCACaps");
  EXPECT_EQ(kind("POST", "/scep/pkiclient.exe?operation=PKIOperation"), "scep PKIOperation");
  EXPECT_EQ(kind("GET", "/cgi-bin/pkiclient.exe?operation=Anything%20At%20All"), "scep other");
  EXPECT_EQ(kind("GET", "/cgi-bin/pkiclient.exe"), "scep other");
  EXPECT_EQ(kind("POST", "/ocsp"), "ocsp post");
  EXPECT_EQ(kind("GET", "/ocsp/MEIwQDA-"), "ocsp get");
  EXPECT_EQ(kind("PUT", "/ocsp"), "ocsp other");
  EXPECT_EQ(kind("POST", "/.well-known/est/simpleenroll"), "est simpleenroll");
  EXPECT_EQ(kind("GET", "/.well-known/est/mycs/cacerts"), "est cacerts");
  EXPECT_EQ(kind("GET", "/.well-known/est/madeup"), "est other");
  EXPECT_EQ(kind("GET", "/metrics"), "metrics scrape");
  EXPECT_EQ(kind("GET", "/anything/else"), "other other");
  EXPECT_EQ(kind("POST", "/api/v1/session"), "api session");
  EXPECT_EQ(kind("GET", "/api/v1/openapi.json"), "api openapi.json");
  EXPECT_EQ(kind("GET", "/api/v1/events"), "api events");
  EXPECT_EQ(kind("GET", "/api/v1/servers"), "api servers");
  EXPECT_EQ(kind("GET", "/api/v1/servers/ca"), "api servers");
  EXPECT_EQ(kind("POST", "/api/v1/servers/ca/requests/7/grant"), "api requests");
  EXPECT_EQ(kind("GET", "/api/v1/servers/ca/crl/info"), "api crl");
  EXPECT_EQ(kind("GET", "/api/v1/servers/ca/madeup"), "api other");
  EXPECT_EQ(kind("GET", "/api/v1/madeup/x"), "api other");
  EXPECT_EQ(kind("GET", "/api/v1"), "api other");
}

std::uint64_t requests(const std::string& labels) {
  const std::string text = metrics::Registry::global().render();
  const std::string key = "scepter_http_requests_total{" + labels + "} ";
  const auto at = text.find(key);
  return at == std::string::npos ? 0 : std::stoull(text.substr(at + key.size()));
}

TEST(HttpMetrics, CountedCountsAnswersAndFailures) {
  const std::string ok = R"(protocol="metrics",operation="scrape",code="200")";
  const std::string failed = R"(protocol="metrics",operation="scrape",code="500")";
  const std::uint64_t ok_before = requests(ok);
  const std::uint64_t failed_before = requests(failed);
  const http::Handler answers = counted([](const http::Request&) { return http::Response{}; });
  const http::Handler throws =
      counted([](const http::Request&) -> http::Response { throw std::runtime_error("x"); });
  answers(request("GET", "/metrics"));
  answers(request("GET", "/metrics"));
  EXPECT_THROW(throws(request("GET", "/metrics")), std::runtime_error);
  EXPECT_EQ(requests(ok), ok_before + 2);
  EXPECT_EQ(requests(failed), failed_before + 1);
}

// The web console's page and files, on the listener that serves it; any other path
// there, and every path on a listener without it, stays "other".
TEST(HttpMetrics, TheConsoleIsItsOwnProtocol) {
  const PathTest is_console = [](std::string_view path) {
    return path == "/" || path == "/index.html" || path == "/main-ABCD1234.js";
  };
  const auto kind_at = [&](const std::string& target) {
    const RequestKind k = classify(request("GET", target), is_console);
    return std::string(k.protocol) + " " + std::string(k.operation);
  };
  EXPECT_EQ(kind_at("/"), "console index");
  EXPECT_EQ(kind_at("/index.html"), "console index");
  EXPECT_EQ(kind_at("/main-ABCD1234.js"), "console asset");
  EXPECT_EQ(kind_at("/main-EFGH5678.js"), "other other");
  EXPECT_EQ(kind_at("/api/v1/session"), "api session");
  EXPECT_EQ(kind_at("/metrics"), "metrics scrape");
  EXPECT_EQ(kind("GET", "/"), "other other");

  const std::string page = R"(protocol="console",operation="index",code="200")";
  const std::uint64_t before = requests(page);
  const http::Handler answers =
      counted([](const http::Request&) { return http::Response{}; }, is_console);
  answers(request("GET", "/"));
  EXPECT_EQ(requests(page), before + 1);
}

TEST(HttpMetrics, AcmeIsCountedByResource) {
  EXPECT_EQ(kind("GET", "/acme/ca/directory"), "acme directory");
  EXPECT_EQ(kind("HEAD", "/acme/ca/new-nonce"), "acme new-nonce");
  EXPECT_EQ(kind("POST", "/acme/ca/order/abc"), "acme order");
  EXPECT_EQ(kind("POST", "/acme/ca/order/abc/finalize"), "acme finalize");
  EXPECT_EQ(kind("POST", "/acme/ca/chall/abc/http-01"), "acme chall");
  EXPECT_EQ(kind("GET", "/acme/ca/renewal-info/a.b"), "acme renewal-info");
  EXPECT_EQ(kind("POST", "/acme/ca/whatever"), "acme other");
  EXPECT_EQ(kind("GET", "/acme/ca"), "acme other");
}

}  // namespace
}  // namespace scepter::daemon
