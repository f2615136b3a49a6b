#include "web/console.h"

#include <algorithm>

namespace scepter::web {

const std::vector<http::Header> kSecurityHeaders = {
    {"Content-Security-Policy",
     "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"},
    {"X-Content-Type-Options", "nosniff"},
    {"Referrer-Policy", "no-referrer"},
};

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::string_view without_weak(std::string_view tag) {
  return tag.starts_with("W/") ? tag.substr(2) : tag;
}

}  // namespace

bool none_match(std::string_view if_none_match, std::string_view etag) {
  while (!if_none_match.empty()) {
    const std::size_t comma = if_none_match.find(',');
    const std::string_view tag = trim(if_none_match.substr(0, comma));
    if (tag == "*" || (!tag.empty() && without_weak(tag) == without_weak(etag))) return true;
    if (comma == std::string_view::npos) break;
    if_none_match.remove_prefix(comma + 1);
  }
  return false;
}

Console::Console(std::span<const Asset> assets) {
  for (const Asset& a : assets) {
    files_.push_back({"/" + std::string(a.name), std::string(a.content_type), std::string(a.etag),
                      a.immutable, std::make_shared<const std::string>(a.bytes)});
  }
}

const Console::File* Console::find(std::string_view path) const {
  if (path == "/") path = "/index.html";
  const auto it =
      std::find_if(files_.begin(), files_.end(), [&](const File& f) { return f.path == path; });
  return it == files_.end() ? nullptr : &*it;
}

bool Console::is_console_path(std::string_view path) const {
  return path == "/" || find(path) != nullptr;
}

http::Response Console::serve(const http::Request& req) const {
  http::Response resp;
  resp.headers = kSecurityHeaders;
  const File* file = find(req.path);
  if (!file) {
    resp.status = 404;
    resp.body = files_.empty() ? std::string(kNotBuilt) : "Not Found\n";
    resp.headers.push_back({"Cache-Control", "no-store"});
    return resp;
  }
  resp.headers.push_back({"ETag", file->etag});
  // index.html names the hashed files: browsers ask again each time (a 304 mostly).
  resp.headers.push_back(
      {"Cache-Control", file->immutable ? "public, max-age=31536000, immutable" : "no-cache"});
  const auto condition = req.header("If-None-Match");
  if (condition && none_match(*condition, file->etag)) {
    resp.status = 304;
    return resp;
  }
  resp.content_type = file->content_type;
  resp.shared_body = file->bytes;
  return resp;
}

}  // namespace scepter::web
