#include <string>

#include <gtest/gtest.h>

#include "http/server.h"

namespace scepter::http {
namespace {

Request request(std::string method, std::string path) {
  Request r;
  r.method = std::move(method);
  r.path = std::move(path);
  return r;
}

Handler answer(std::string text) {
  return [text](const Request&) { return Response::text(200, text); };
}

TEST(Router, ExactRoutesBeatPredicates) {
  Router router;
  router.add_if(is_pkiclient_path, answer("scep"));
  router.add("/cgi-bin/pkiclient.exe", answer("exact"));
  EXPECT_EQ(router(request("GET", "/cgi-bin/pkiclient.exe")).body, "exact");
  EXPECT_EQ(router(request("GET", "/scep/pkiclient.exe")).body, "scep");
}

TEST(Router, PredicatesInOrder) {
  Router router;
  router.add_if([](std::string_view p) { return p.starts_with("/a"); }, answer("first"));
  router.add_if([](std::string_view p) { return p.starts_with("/ab"); }, answer("second"));
  EXPECT_EQ(router(request("GET", "/abc")).body, "first");
}

TEST(Router, UnknownPathIs404) {
  Router router;
  router.add("/x", answer("x"));
  const Response r = router(request("GET", "/y"));
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body, "Not Found\n");
  EXPECT_EQ(r.content_type, "text/plain; charset=utf-8");
}

TEST(Router, MethodsAndHead) {
  Router router;
  router.add("/get", answer("g"), {"GET"});
  router.add("/post", answer("p"), {"POST"});
  router.add("/any", answer("a"));
  EXPECT_EQ(router(request("GET", "/get")).status, 200);
  EXPECT_EQ(router(request("HEAD", "/get")).status, 200);
  const Response r = router(request("POST", "/get"));
  EXPECT_EQ(r.status, 405);
  ASSERT_EQ(r.headers.size(), 1u);
  EXPECT_EQ(r.headers[0].first, "Allow");
  EXPECT_EQ(r.headers[0].second, "GET, HEAD");
  EXPECT_EQ(router(request("HEAD", "/post")).status, 405);
  EXPECT_EQ(router(request("DELETE", "/any")).status, 200);
}

TEST(Router, PkiclientPath) {
  EXPECT_TRUE(is_pkiclient_path("/cgi-bin/pkiclient.exe"));
  EXPECT_TRUE(is_pkiclient_path("/anything/pkiclient.exe"));
  EXPECT_TRUE(is_pkiclient_path("/pkiclient.exe"));
  EXPECT_TRUE(is_pkiclient_path("/scep:8081/PKIClient.EXE"));
  EXPECT_FALSE(is_pkiclient_path("/cgi-bin/xpkiclient.exe"));
  EXPECT_FALSE(is_pkiclient_path("pkiclient.exe"));
  EXPECT_FALSE(is_pkiclient_path("/pkiclient.exe/"));
  EXPECT_FALSE(is_pkiclient_path("/"));
}

TEST(RequestHeader, CaseInsensitiveFirstMatch) {
  Request r;
  r.headers = {
      {"User-Agent", "Mozilla/4.0 (compatible; MSIE 5.0; Cisco PKI)"}, {"x-a", "1"}, {"X-A", "2"}};
  EXPECT_EQ(r.header("user-agent"), "Mozilla/4.0 (compatible; MSIE 5.0; Cisco PKI)");
  EXPECT_EQ(r.header("X-a"), "1");
  EXPECT_FALSE(r.header("Host").has_value());
}

}  // namespace
}  // namespace scepter::http
