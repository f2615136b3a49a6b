#pragma once
// The web console's static files (web/ in the source tree, bundled by esbuild at build
// time and compiled in), served by scepterd on its HTTPS listener: `/` is index.html, and
// each bundled file is at `/NAME`. The console itself talks to /api/v1 (api/service.h).
//
// Files whose names carry esbuild's content hash (main-ABCD1234.js) may be cached for a
// year; index.html, which names them, is revalidated on every load (strong ETags, 304 on
// a matching If-None-Match). Every answer carries the console's security headers
// (kSecurityHeaders), a 404 too.
//
// Thread safety: a Console is immutable after construction; serve() may be called from
// any thread.

#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "http/server.h"

namespace scepter::web {

// One file of the console as compiled in.
struct Asset {
  std::string_view name;          // "index.html", "main-ABCD1234.js"
  std::string_view content_type;  // "text/html; charset=utf-8"
  std::string_view etag;          // a strong validator with its quotes: "\"3fa4...\""
  bool immutable = false;         // a content-hashed name: never changes
  std::string_view bytes;
};

// What the build compiled in: empty when configured with -DSCEPTER_WEB=OFF.
std::span<const Asset> built_assets();

// Content-Security-Policy, X-Content-Type-Options, Referrer-Policy.
extern const std::vector<http::Header> kSecurityHeaders;
inline constexpr std::string_view kNotBuilt = "The web console was not built (SCEPTER_WEB=OFF).\n";

class Console {
 public:
  // Serves `assets` (built_assets() in scepterd); the bytes are copied once.
  explicit Console(std::span<const Asset> assets);

  // Whether `path` is the console's: "/" always (404 when nothing was built), and each
  // file's "/NAME". Every other path is left to the other routes (404 when none).
  bool is_console_path(std::string_view path) const;

  // The answer to a GET or HEAD of a console path: the file (200), 304 when the
  // request's If-None-Match names its ETag, or 404.
  http::Response serve(const http::Request& req) const;

 private:
  struct File {
    std::string path;  // "/main-ABCD1234.js"
    std::string content_type;
    std::string etag;
    bool immutable = false;
    std::shared_ptr<const std::string> bytes;
  };
  const File* find(std::string_view path) const;

  std::vector<File> files_;
};

// Whether an If-None-Match header value matches `etag` ("*", or any of a list of tags
// compared weakly, as RFC 9110 13.1.2 asks for GET and HEAD).
bool none_match(std::string_view if_none_match, std::string_view etag);

}  // namespace scepter::web
