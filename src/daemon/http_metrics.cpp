#include "daemon/http_metrics.h"

#include <array>
#include <chrono>
#include <map>
#include <tuple>

#include "acme/service.h"
#include "api/service.h"
#include "ca/life_cycle.h"
#include "daemon/http_frontend.h"
#include "est/service.h"
#include "scep/request.h"

namespace scepter::daemon {
namespace {

constexpr std::array<std::string_view, 5> kScepOperations{"GetCACaps", "GetCACert", "GetNextCACert",
                                                          "PKIOperation", "GetCRL"};
constexpr std::array<std::string_view, 6> kEstOperations{
    "cacerts", "csrattrs", "simpleenroll", "simplereenroll", "serverkeygen", "fullcmc"};

// ACME by resource: "/acme/L/order/ID/finalize" is "finalize", "/acme/L/order/ID" "order".
constexpr std::array<std::string_view, 13> kAcmeResources{
    "directory", "new-nonce", "new-account", "new-order",   "account",    "order",       "finalize",
    "authz",     "chall",     "cert",        "revoke-cert", "key-change", "renewal-info"};

// `value` when it is one of `known`, else "other": the label is one of a fixed list.
template <std::size_t N>
std::string_view known_or_other(const std::array<std::string_view, N>& known,
                                std::string_view value) {
  for (std::string_view k : known) {
    if (k == value) return k;
  }
  return "other";
}

// The codes a handler may answer, as label values, without formatting one per request.
std::string_view code_label(int status) {
  static const auto kCodes = [] {
    std::array<std::string, 600> codes;
    for (int i = 0; i < 600; ++i) codes[static_cast<std::size_t>(i)] = std::to_string(i);
    return codes;
  }();
  return status >= 100 && status < 600 ? std::string_view(kCodes[static_cast<std::size_t>(status)])
                                       : std::string_view("other");
}

double unix_seconds(TimePoint t) { return static_cast<double>(to_unix(t)); }

constexpr std::array<ca::ServerState, 7> kStates{
    ca::ServerState::kDisabled,       ca::ServerState::kChecking,
    ca::ServerState::kWaitingForTime, ca::ServerState::kWaitingForOperator,
    ca::ServerState::kCheckFailed,    ca::ServerState::kWaitingForSuperior,
    ca::ServerState::kEnabled};

void write_server(metrics::Exposition& out, const ca::CertificateServer& server, TimePoint now) {
  const ca::ServerGauges g = server.gauges();
  const metrics::Labels ca{{"ca", server.label()}};
  for (ca::ServerState s : kStates) {
    out.gauge("scepter_ca_state", "1 for the state the certificate server is in, by CA.",
              {{"ca", server.label()}, {"state", ca::server_state_name(s)}}, s == g.state ? 1 : 0);
  }
  if (g.ca_not_after) {
    out.gauge("scepter_ca_certificate_not_after_timestamp_seconds",
              "When the CA certificate (an RA's own certificate) expires, by CA.", ca,
              unix_seconds(*g.ca_not_after));
  }
  if (g.certificates) {
    out.gauge("scepter_ca_certificates", "Certificates in the CA's database, by CA.", ca,
              static_cast<double>(*g.certificates));
  }
  if (g.pending) {
    out.gauge("scepter_ca_requests_pending", "Requests waiting for the operator (pending), by CA.",
              ca, static_cast<double>(*g.pending));
  }
  if (g.authorized) {
    out.gauge("scepter_ca_requests_authorized",
              "An RA's requests granted here and waiting at the issuing CA, by CA.", ca,
              static_cast<double>(*g.authorized));
  }
  if (g.crl) {
    out.gauge("scepter_crl_entries", "Serial numbers on the current CRL, by CA.", ca,
              static_cast<double>(g.crl->entries));
    out.gauge("scepter_crl_size_bytes", "Size of the current CRL (DER), by CA.", ca,
              static_cast<double>(g.crl->der_bytes));
    out.gauge("scepter_crl_age_seconds", "Seconds since the current CRL's thisUpdate, by CA.", ca,
              static_cast<double>(to_unix(now) - to_unix(g.crl->this_update)));
    out.gauge("scepter_crl_next_update_timestamp_seconds", "The current CRL's nextUpdate, by CA.",
              ca, unix_seconds(g.crl->next_update));
  }
}

}  // namespace

// The REST API by resource: "/api/v1/servers/L/requests/7/grant" is "requests".
constexpr std::array<std::string_view, 4> kApiServerResources{"requests", "certificates", "crl",
                                                              "otp"};
constexpr std::array<std::string_view, 3> kApiRootResources{"session", "openapi.json", "events"};
std::string_view api_operation(std::string_view path) {
  path.remove_prefix(std::min(path.size(), api::kApiRoot.size() + 1));
  const std::string_view first = path.substr(0, path.find('/'));
  if (first != "servers") return known_or_other(kApiRootResources, first);
  const std::size_t label = path.find('/');
  if (label == std::string_view::npos) return "servers";
  const std::size_t resource = path.find('/', label + 1);
  if (resource == std::string_view::npos) return "servers";
  path.remove_prefix(resource + 1);
  return known_or_other(kApiServerResources, path.substr(0, path.find('/')));
}

std::string_view acme_operation(std::string_view path) {
  path.remove_prefix(std::min(path.size(), std::string_view("/acme/").size()));
  const std::size_t label = path.find('/');
  if (label == std::string_view::npos) return "other";
  path.remove_prefix(label + 1);
  if (path.starts_with("order/") && path.ends_with("/finalize")) return "finalize";
  return known_or_other(kAcmeResources, path.substr(0, path.find('/')));
}

RequestKind classify(const http::Request& req, const PathTest& is_console) {
  if (api::is_api_path(req.path)) return {"api", api_operation(req.path)};
  if (http::is_pkiclient_path(req.path)) {
    return {"scep", known_or_other(kScepOperations, req.params.get("operation").value_or(""))};
  }
  if (is_ocsp_path(req.path)) {
    return {"ocsp", req.method == "POST" ? "post" : req.method == "GET" ? "get" : "other"};
  }
  if (auto est = est::parse_path(req.path)) {
    return {"est", known_or_other(kEstOperations, est->operation)};
  }
  if (acme::is_acme_path(req.path)) return {"acme", acme_operation(req.path)};
  if (req.path == kMetricsPath) return {"metrics", "scrape"};
  if (is_console && is_console(req.path)) {
    return {"console", req.path == "/" || req.path == "/index.html" ? "index" : "asset"};
  }
  return {"other", "other"};
}

void count_request(const http::Request& req, int status, const PathTest& is_console) {
  static metrics::Family<metrics::Counter>& requests = metrics::Registry::global().counter(
      "scepter_http_requests_total",
      "HTTP requests answered by a handler, by protocol, operation and status code.",
      {"protocol", "operation", "code"});
  static metrics::Family<metrics::Histogram>& latency = metrics::Registry::global().histogram(
      "scepter_http_request_duration_seconds",
      "From a request read whole to its answer ready (the wait for a worker included), by "
      "protocol and operation.",
      {"protocol", "operation"});
  // Every label value is a view of static storage, so its address names it: each thread
  // keeps the children it has used by address and takes no lock once it has them.
  struct Cached {
    metrics::Counter* count;
    metrics::Histogram* time;
  };
  thread_local std::map<std::tuple<const char*, const char*, const char*>, Cached> cache;
  const RequestKind kind = classify(req, is_console);
  const std::string_view code = code_label(status);
  auto [it, added] = cache.try_emplace({kind.protocol.data(), kind.operation.data(), code.data()});
  if (added) {
    it->second = {&requests.with({kind.protocol, kind.operation, code}),
                  &latency.with({kind.protocol, kind.operation})};
  }
  it->second.count->add();
  if (req.received != std::chrono::steady_clock::time_point{}) {
    it->second.time->observe(std::chrono::steady_clock::now() - req.received);
  }
}

http::Handler counted(http::Handler inner, PathTest is_console) {
  return [inner = std::move(inner), is_console = std::move(is_console)](const http::Request& req) {
    try {
      http::Response resp = inner(req);
      count_request(req, resp.status, is_console);
      return resp;
    } catch (...) {
      count_request(req, 500, is_console);
      throw;
    }
  };
}

http::Response metrics_response(const ca::Device& device) {
  http::Response resp;
  if (!device.http().metrics) {
    resp.status = 404;
    resp.body = "Not Found\n";
    return resp;
  }
  resp.content_type = std::string(metrics::kContentType);
  resp.headers = {{"Cache-Control", "no-store"}};
  resp.body = metrics::Registry::global().render();
  return resp;
}

metrics::Registration collect_device(ca::Device& device) {
  const double started =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  return metrics::Registry::global().add_collector([&device, started](metrics::Exposition& out) {
    out.gauge("process_start_time_seconds", "Start time of the process since the Unix epoch.", {},
              started);
    out.gauge("scepter_build_info", "1, labelled with the version of scepterd.",
              {{"version", SCEPTER_VERSION}}, 1);
    const TimePoint now = device.clock().now();
    for (const auto& server : device.servers()) write_server(out, *server, now);
  });
}

metrics::Registration collect_listener(const http::HttpServer& server, std::string listener) {
  return metrics::Registry::global().add_collector([&server, listener = std::move(listener)](
                                                       metrics::Exposition& out) {
    const http::ServerStats s = server.stats();
    const metrics::Labels l{{"listener", listener}};
    const auto counter = [&](std::string_view name, std::string_view help, std::uint64_t v,
                             const metrics::Labels& labels) {
      out.counter(name, help, labels, static_cast<double>(v));
    };
    counter("scepter_http_connections_accepted_total", "Connections accepted, by listener.",
            s.connections_accepted, l);
    counter("scepter_http_connections_refused_total",
            "Connections refused at once, by listener and reason.", s.connections_rejected,
            {{"listener", listener}, {"reason", "max_connections"}});
    counter("scepter_http_connections_refused_total",
            "Connections refused at once, by listener and reason.",
            s.connections_rejected_per_address,
            {{"listener", listener}, {"reason", "max_connections_per_address"}});
    out.gauge("scepter_http_connections_open", "Connections open now, by listener.", l,
              static_cast<double>(s.active_connections));
    const auto refused = [&](std::string_view reason, std::uint64_t v) {
      counter("scepter_http_requests_refused_total",
              "Requests the server answered itself without a handler, by listener and reason.", v,
              {{"listener", listener}, {"reason", std::string(reason)}});
    };
    refused("bad_request", s.bad_requests);
    refused("rate_limited", s.requests_rate_limited);
    refused("queue_full", s.heavy_rejected_queue_full);
    refused("queue_deadline", s.heavy_rejected_deadline);
    counter("scepter_http_handler_failures_total",
            "Requests whose handler failed (answered 500), by listener.", s.handler_failures, l);
    counter("scepter_http_timeouts_total",
            "Connections closed by a read, idle or write timeout, by listener.", s.timeouts, l);
    counter("scepter_http_tls_handshake_failures_total",
            "TLS handshakes that failed (not timeouts), by listener.", s.tls_handshake_failures, l);
    out.gauge("scepter_http_heavy_queued", "Heavy requests waiting for a worker now, by listener.",
              l, static_cast<double>(s.heavy_queued));
  });
}

}  // namespace scepter::daemon
