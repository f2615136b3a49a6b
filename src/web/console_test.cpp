#include "web/console.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <optional>

namespace scepter::web {
namespace {

const Asset kFiles[] = {
    {"index.html", "text/html; charset=utf-8", "\"aaaa\"", false, "<!doctype html>"},
    {"main-ABCD1234.js", "text/javascript; charset=utf-8", "\"bbbb\"", true, "let x=1;"},
    {"style-WXYZ5678.css", "text/css; charset=utf-8", "\"cccc\"", true, "body{}"},
};

http::Request get(std::string path, std::string method = "GET") {
  http::Request req;
  req.method = std::move(method);
  req.path = std::move(path);
  return req;
}

std::optional<std::string> header(const http::Response& r, std::string_view name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) return v;
  }
  return std::nullopt;
}

void expect_security_headers(const http::Response& r) {
  EXPECT_EQ(header(r, "Content-Security-Policy"),
            "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'");
  EXPECT_EQ(header(r, "X-Content-Type-Options"), "nosniff");
  EXPECT_EQ(header(r, "Referrer-Policy"), "no-referrer");
}

TEST(Console, RootIsIndexRevalidatedEachTime) {
  const Console console(kFiles);
  const http::Response r = console.serve(get("/"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "text/html; charset=utf-8");
  EXPECT_EQ(r.payload(), "<!doctype html>");
  EXPECT_EQ(header(r, "Cache-Control"), "no-cache");
  EXPECT_EQ(header(r, "ETag"), "\"aaaa\"");
  expect_security_headers(r);
  EXPECT_EQ(console.serve(get("/index.html")).payload(), "<!doctype html>");
}

TEST(Console, HashedFilesAreImmutableWithTheirType) {
  const Console console(kFiles);
  const http::Response js = console.serve(get("/main-ABCD1234.js"));
  EXPECT_EQ(js.status, 200);
  EXPECT_EQ(js.content_type, "text/javascript; charset=utf-8");
  EXPECT_EQ(js.payload(), "let x=1;");
  EXPECT_EQ(header(js, "Cache-Control"), "public, max-age=31536000, immutable");
  const http::Response css = console.serve(get("/style-WXYZ5678.css", "HEAD"));
  EXPECT_EQ(css.status, 200);  // the connection leaves the body out for HEAD
  EXPECT_EQ(css.content_type, "text/css; charset=utf-8");
  expect_security_headers(css);
}

TEST(Console, OnlyItsOwnPaths) {
  const Console console(kFiles);
  EXPECT_TRUE(console.is_console_path("/"));
  EXPECT_TRUE(console.is_console_path("/main-ABCD1234.js"));
  EXPECT_FALSE(console.is_console_path("/main.js"));
  EXPECT_FALSE(console.is_console_path("/api/v1/servers"));
  EXPECT_FALSE(console.is_console_path("/../index.html"));
  EXPECT_FALSE(console.is_console_path("/cgi-bin/pkiclient.exe"));
  const http::Response r = console.serve(get("/nothing.js"));
  EXPECT_EQ(r.status, 404);
  expect_security_headers(r);
}

TEST(Console, IfNoneMatchAnswers304) {
  const Console console(kFiles);
  http::Request req = get("/");
  req.headers.push_back({"If-None-Match", "\"zzzz\", W/\"aaaa\""});
  const http::Response r = console.serve(req);
  EXPECT_EQ(r.status, 304);
  EXPECT_TRUE(r.payload().empty());
  EXPECT_EQ(header(r, "ETag"), "\"aaaa\"");
  expect_security_headers(r);
  req.headers = {{"If-None-Match", "\"bbbb\""}};
  EXPECT_EQ(console.serve(req).status, 200);
  req.headers = {{"If-None-Match", "*"}};
  EXPECT_EQ(console.serve(req).status, 304);
}

TEST(Console, NoneMatch) {
  EXPECT_TRUE(none_match("\"a\"", "\"a\""));
  EXPECT_TRUE(none_match(" \"b\" ,\"a\"", "\"a\""));
  EXPECT_FALSE(none_match("\"ab\"", "\"a\""));
  EXPECT_FALSE(none_match("", "\"a\""));
  EXPECT_FALSE(none_match(" , ", "\"a\""));
}

TEST(Console, NotBuilt) {
  const Console console({});
  EXPECT_TRUE(console.is_console_path("/"));
  EXPECT_FALSE(console.is_console_path("/index.html"));
  const http::Response r = console.serve(get("/"));
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body, kNotBuilt);
  expect_security_headers(r);
}

TEST(Console, BuiltAssetsHaveAnIndex) {
  const auto assets = built_assets();
  if (assets.empty()) GTEST_SKIP() << "configured with -DSCEPTER_WEB=OFF";
  EXPECT_TRUE(std::any_of(assets.begin(), assets.end(),
                          [](const Asset& a) { return a.name == "index.html" && !a.immutable; }));
  for (const Asset& a : assets) EXPECT_FALSE(a.bytes.empty()) << a.name;
}

}  // namespace
}  // namespace scepter::web
