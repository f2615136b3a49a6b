#include <algorithm>

#include "http/message.h"
#include "http/server.h"

namespace scepter::http {
namespace {

bool method_allowed(const std::vector<std::string>& methods, std::string_view method) {
  if (methods.empty()) {
    return true;
  }
  const auto has = [&](std::string_view m) {
    return std::find(methods.begin(), methods.end(), m) != methods.end();
  };
  return has(method) || (method == "HEAD" && has("GET"));
}

std::string allow_header(const std::vector<std::string>& methods) {
  std::string allow;
  const bool has_head = std::find(methods.begin(), methods.end(), "HEAD") != methods.end();
  for (const std::string& m : methods) {
    allow += allow.empty() ? "" : ", ";
    allow += m;
    if (m == "GET" && !has_head) {
      allow += ", HEAD";
    }
  }
  return allow;
}

}  // namespace

void Router::add(std::string path, Handler handler, std::vector<std::string> methods) {
  exact_.push_back(Route{std::move(path), nullptr, std::move(handler), std::move(methods)});
}

void Router::add_if(PathPredicate matches, Handler handler, std::vector<std::string> methods) {
  predicates_.push_back(Route{"", std::move(matches), std::move(handler), std::move(methods)});
}

Response Router::dispatch(const Route& route, const Request& request) {
  if (!method_allowed(route.methods, request.method)) {
    Response r = Response::text(405, "Method Not Allowed\n");
    r.headers.emplace_back("Allow", allow_header(route.methods));
    return r;
  }
  return route.handler(request);
}

Response Router::operator()(const Request& request) const {
  for (const Route& route : exact_) {
    if (route.path == request.path) {
      return dispatch(route, request);
    }
  }
  for (const Route& route : predicates_) {
    if (route.matches(request.path)) {
      return dispatch(route, request);
    }
  }
  return Response::text(404, "Not Found\n");
}

std::string format_http_date(std::time_t t) { return detail::http_date(t); }

bool is_pkiclient_path(std::string_view path) {
  constexpr std::string_view kName = "pkiclient.exe";
  if (path.size() < kName.size() + 1) {
    return false;
  }
  const std::string_view tail = path.substr(path.size() - kName.size());
  return path[path.size() - kName.size() - 1] == '/' && detail::iequals(tail, kName);
}

}  // namespace scepter::http
