#pragma once
// What scepterd shows at `/metrics` (Prometheus text format), and the counting of every
// request its HTTP listeners answer.
//
// Counted as requests are answered: scepter_http_requests_total{protocol,operation,code}
// and scepter_http_request_duration_seconds{protocol,operation} (from the moment the
// request was read whole, so the wait for a worker is included). Protocols and
// operations come from fixed lists: a path or operation a client makes up counts as
// "other", so no client can grow the metrics.
//
// Read at scrape time: each listener's connection counters (collect_listener), and each
// certificate server's state, database counts, CRL and CA certificate (collect_device).
// The other modules count their own (key operations, SCEP replies, database commits,
// certificates issued and revoked).
//
// Thread safety: everything here may be called from any thread.

#include <functional>
#include <string>
#include <string_view>

#include "ca/device.h"
#include "common/metrics.h"
#include "http/server.h"

namespace scepter::daemon {

// The labels a request is counted under.
struct RequestKind {
  std::string_view protocol;   // "scep", "ocsp", "est", "api", "console", "metrics", "other"
  std::string_view operation;  // "PKIOperation", "simpleenroll", "post", ... or "other"
};
// Whether a path is the web console's (web::Console::is_console_path), on the listener
// that serves it; empty elsewhere.
using PathTest = std::function<bool(std::string_view path)>;
// The web console's requests are protocol "console", operation "index" (its page, at "/"
// or "/index.html") or "asset" (the bundled files it loads).
RequestKind classify(const http::Request& req, const PathTest& is_console = {});

// Counts one answered request (its code, and its latency since req.received).
void count_request(const http::Request& req, int status, const PathTest& is_console = {});

// `inner`, counting every request it answers (500 when it throws, which it rethrows).
http::Handler counted(http::Handler inner, PathTest is_console = {});

inline constexpr std::string_view kMetricsPath = "/metrics";

// The answer at /metrics: the registry's text, or 404 under `no ip http metrics`.
http::Response metrics_response(const ca::Device& device);

// Adds each certificate server's gauges, and the process's start time, to every scrape
// while the registration lives.
[[nodiscard]] metrics::Registration collect_device(ca::Device& device);

// Adds the counters of one HTTP listener ("http" or "https") to every scrape while the
// registration lives; it must end before the server is destroyed.
[[nodiscard]] metrics::Registration collect_listener(const http::HttpServer& server,
                                                     std::string listener);

}  // namespace scepter::daemon
