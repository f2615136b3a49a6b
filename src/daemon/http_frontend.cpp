#include "daemon/http_frontend.h"

#include "common/log.h"
#include "daemon/http_metrics.h"
#include "http/server.h"
#include "pki/encoding.h"
#include "pki/tls_context.h"
#include "scep/request.h"

namespace scepter::daemon {
namespace {

bool same(const ca::HttpConfig& a, const ca::HttpConfig& b) {
  return a.server == b.server && a.port == b.port && a.bind_address == b.bind_address;
}

bool same_secure(const ca::HttpConfig& a, const ca::HttpConfig& b) {
  return a.secure_server == b.secure_server && a.secure_port == b.secure_port &&
         a.bind_address == b.bind_address && a.secure_trustpoint == b.secure_trustpoint;
}

// How often the HTTPS identity is looked at again (renewal, host name, trustpoint).
constexpr std::chrono::seconds kIdentityCheck{60};

// An enrolment signs and commits: it waits in the bounded heavy queue, as PKIOperation;
// so do the REST API's logins and actions (api::is_heavy_api_request).
bool is_heavy_secure(const http::Request& req) {
  return req.method == "POST" || api::is_heavy_api_request(req);
}

// PKIOperation signs and commits to the database: it waits in the server's bounded queue.
// So does an OCSP request that reaches a worker (answer_ready had no answer for it): it
// reads the database, which may hang, and the light pool has only a few threads that
// /metrics and GetNextCACert need. GetCACert, GetCACaps, GetCRL and everything else are
// light and never wait behind them.
bool is_heavy_request(const http::Request& req) {
  if (is_ocsp_path(req.path)) return true;
  return http::is_pkiclient_path(req.path) && req.params.get("operation") == "PKIOperation";
}

// GET GetCACaps, GetCACert and GetCRL are answered from memory (the capabilities, the CA
// certificate and the CRL as published; for a subordinate CA or an RA the chain is
// encoded, without a key operation), taking only locks that are never held across I/O
// or cryptography: answered on the network thread, they cost a fraction of a hand-off to
// a worker. GetNextCACert may sign, and stays on the light pool.
bool is_inline_request(const http::Request& req) {
  if (req.method != "GET" && req.method != "HEAD") return false;
  if (!http::is_pkiclient_path(req.path)) return false;
  const auto op = req.params.get("operation");
  return op == "GetCACaps" || op == "GetCACert" || op == "GetCRL";
}

// The DER request of a GET, or nullopt when the path is not base64.
std::optional<std::string> ocsp_get_der(const http::Request& req) {
  std::string_view rest = req.path;
  rest.remove_prefix(std::min(rest.size(), std::string_view("/ocsp/").size()));
  auto der = pki::base64_decode(rest);
  if (!der.has_value()) return std::nullopt;
  return std::move(*der);
}

http::Response ocsp_http_response(const ca::OcspAnswer& answer, TimePoint now) {
  http::Response resp;
  resp.content_type = "application/ocsp-response";
  resp.shared_body = answer.der;
  if (answer.this_update && answer.next_update && answer.fresh_until) {
    // RFC 5019 6.2: caches along the way may keep a response without a nonce until the
    // responder would sign it again.
    const auto max_age = std::max<std::int64_t>(0, (*answer.fresh_until - now).count());
    resp.headers = {{"Cache-Control",
                     fmt::format("max-age={}, public, no-transform, must-revalidate", max_age)},
                    {"Last-Modified", http::format_http_date(to_unix(*answer.this_update))},
                    {"Expires", http::format_http_date(to_unix(*answer.next_update))}};
  } else {
    resp.headers = {{"Cache-Control", "no-store"}};
  }
  return resp;
}

// An EST or ACME answer (est::EstHttpResponse, acme::AcmeHttpResponse) as an HTTP
// response: `headers` first, then the service's own.
template <class ServiceResponse>
http::Response service_http_response(ServiceResponse out, std::vector<http::Header> headers = {}) {
  http::Response resp;
  resp.status = out.status;
  resp.content_type = std::move(out.content_type);
  resp.body = std::move(out.body);
  resp.headers = std::move(headers);
  for (auto& header : out.headers) resp.headers.push_back(std::move(header));
  return resp;
}

// The answer to /metrics, on both listeners.
void add_metrics_route(http::Router& router, const ca::Device& device) {
  router.add(std::string(kMetricsPath),
             [&device](const http::Request&) { return metrics_response(device); }, {"GET"});
}

}  // namespace

bool is_ocsp_path(std::string_view path) { return path == "/ocsp" || path.starts_with("/ocsp/"); }

namespace {

// With several certificate servers, one may hold three quarters of a listener's heavy
// workers: one whose storage hangs leaves the rest to the others (docs/decisions.md).
unsigned max_requests_per_server() { return http::default_worker_threads() * 3 / 4; }

}  // namespace

HttpFrontend::HttpFrontend(ca::Device& device)
    : device_(device),
      device_metrics_(collect_device(device)),
      scep_(device),
      est_(device),
      acme_(device),
      api_(device),
      console_(web::built_assets()) {
  device_.set_max_requests_per_server(max_requests_per_server());
}

HttpFrontend::~HttpFrontend() {
  device_.set_http_listening({});
  device_.set_https_listening({});
  server_metrics_.reset();
  secure_metrics_.reset();
  if (server_) server_->stop();
  if (secure_) secure_->stop();
}

int HttpFrontend::port() const { return server_ ? server_->port() : 0; }

int HttpFrontend::secure_port() const { return secure_ ? secure_->port() : 0; }

void HttpFrontend::reconcile() {
  reconcile_plain();
  reconcile_secure();
}

void HttpFrontend::stop_secure(const ca::HttpConfig& want, const std::string& problem) {
  device_.set_https_listening({want, 0, want.secure_trustpoint, problem});
  if (secure_) {
    secure_metrics_.reset();
    secure_->stop();
    secure_.reset();
    secure_leaf_.clear();
    log::info("HTTPS server stopped");
  }
}

void HttpFrontend::reconcile_secure() {
  const ca::HttpConfig want = device_.http();
  if (!want.secure_server) {
    if (secure_) stop_secure(want, "");
    device_.set_https_listening({});
    secure_error_.clear();
    return;
  }
  const auto now = std::chrono::steady_clock::now();
  if (secure_ && same_secure(want, secure_running_) && now - identity_checked_ < kIdentityCheck) {
    return;
  }
  identity_checked_ = now;
  auto identity = device_.https_identity();
  std::shared_ptr<const pki::TlsServerContext> context;
  if (identity.has_value()) {
    auto made = pki::TlsServerContext::create({identity->chain, identity->key});
    if (made.has_value()) {
      context = std::move(*made);
    } else {
      identity = fail(made.error());
    }
  }
  if (!context) {
    const std::string problem = identity.error().message();
    if (problem != secure_error_) {
      log::error("HTTPS server: {}", problem);
      secure_error_ = problem;
    }
    // A listener that still has a valid certificate keeps serving with it.
    if (!secure_ || !same_secure(want, secure_running_)) stop_secure(want, problem);
    return;
  }
  secure_error_.clear();
  const std::string leaf(context->certificate().der());
  if (secure_ && same_secure(want, secure_running_)) {
    if (leaf != secure_leaf_) {
      if (Status s = secure_->set_tls(context); !s.ok()) {
        log::error("HTTPS server: {}", s.message());
        return;
      }
      secure_leaf_ = leaf;
      log::info("HTTPS server: now presents a new certificate, serial {}",
                context->certificate().serial().has_value() ? context->certificate().serial()->hex()
                                                            : std::string("?"));
    }
    return;
  }
  stop_secure(want, "");
  http::Router router;
  router.add_if([](std::string_view path) { return est::parse_path(path).has_value(); },
                [this](const http::Request& req) {
                  est::EstHttpRequest in;
                  in.method = req.method;
                  in.path = req.path;
                  if (auto auth = req.header("Authorization"))
                    in.authorization = std::string(*auth);
                  in.body = req.body;
                  in.peer_certificate_der = req.peer_certificate_der;
                  return service_http_response(est_.handle(in), {{"Cache-Control", "no-store"}});
                },
                {"GET", "POST"});
  router.add_if(acme::is_acme_path,
                [this](const http::Request& req) {
                  acme::AcmeHttpRequest in;
                  in.method = req.method;
                  in.path = req.path;
                  in.host = std::string(req.header("Host").value_or(""));
                  in.content_type = std::string(req.header("Content-Type").value_or(""));
                  in.body = req.body;
                  in.peer_address = req.remote_address;
                  return service_http_response(acme_.handle(in));
                },
                {"GET", "HEAD", "POST"});
  router.add_if(api::is_api_path, [this](const http::Request& req) { return api_.handle(req); },
                {"GET", "HEAD", "POST", "DELETE"});
  add_metrics_route(router, device_);
  // The web console: `/` and its bundled files only; any other path is still a 404.
  router.add_if([this](std::string_view path) { return console_.is_console_path(path); },
                [this](const http::Request& req) { return console_.serve(req); }, {"GET", "HEAD"});
  http::ServerOptions options;
  options.bind_address = want.bind_address.empty() ? "::" : want.bind_address;
  options.port = static_cast<std::uint16_t>(want.secure_port);  // 0: any free port
  options.tls = context;
  options.is_heavy = is_heavy_secure;
  // A base64 PKCS#10 of the largest request SCEP takes, with line breaks.
  options.max_body_bytes = scep::kMaxPkiMessageSize * 3 / 2;
  // ACME answers every error with a problem document, a body over the limit too.
  options.too_large_answer =
      [](std::string_view path) -> std::optional<std::pair<std::string, std::string>> {
    if (!acme::is_acme_path(path)) return std::nullopt;
    acme::AcmeHttpResponse answer = acme::too_large_answer();
    return std::make_pair(std::move(answer.content_type), std::move(answer.body));
  };
  const http::Handler handler =
      counted(router, [this](std::string_view path) { return console_.is_console_path(path); });
  auto server = http::HttpServer::create(options, handler);
  if (!server.has_value() && want.bind_address.empty()) {
    options.bind_address = "0.0.0.0";  // no IPv6 on this machine
    server = http::HttpServer::create(options, handler);
  }
  Status started = server.has_value() ? (*server)->start() : server.error();
  if (!started.ok()) {
    if (started.message() != secure_error_) {
      log::error("HTTPS server: {}", started.message());
      secure_error_ = started.message();
    }
    stop_secure(want, started.message());
    identity_checked_ = {};  // try again on the next call
    return;
  }
  secure_ = std::move(*server);
  secure_metrics_ = collect_listener(*secure_, "https");
  secure_running_ = want;
  secure_leaf_ = leaf;
  device_.set_https_listening({want, secure_->port(), identity->trustpoint, ""});
  log::info("HTTPS server listening on {} port {}{}", options.bind_address, secure_->port(),
            identity->trustpoint.empty() ? "" : " with trustpoint " + identity->trustpoint);
}

void HttpFrontend::reconcile_plain() {
  const ca::HttpConfig want = device_.http();
  if (server_ && same(want, running_)) return;
  if (!server_ && !want.server) return;
  if (server_ && want.server && running_.port == 0 && want.port == server_->port() &&
      want.bind_address == running_.bind_address) {
    // `ip http port N` for the port that `ip http port 0` bound: the listener stays.
    running_ = want;
    device_.set_http_listening({want, server_->port()});
    return;
  }
  if (server_) {
    // Cleared first: once a client sees the port closed, `show ip http server status`
    // no longer shows it.
    device_.set_http_listening({});
    server_metrics_.reset();
    server_->stop();
    server_.reset();
    log::info("HTTP server stopped");
  }
  running_ = want;
  if (!want.server) return;

  http::Router router;
  router.add_if(http::is_pkiclient_path,
                [this](const http::Request& req) {
                  scep::ScepHttpRequest in;
                  in.method = req.method == "HEAD" ? "GET" : req.method;
                  in.operation = std::string(req.params.get("operation").value_or(""));
                  if (auto raw = req.params.raw("message")) {
                    in.message_raw = std::string(*raw);
                    in.has_message = true;
                  }
                  in.body = req.body;
                  scep::ScepHttpResponse out = scep_.handle(in);
                  http::Response resp;
                  resp.status = out.status;
                  resp.content_type = std::move(out.content_type);
                  resp.body = std::move(out.body);
                  resp.shared_body = std::move(out.shared_body);
                  resp.headers = {{"Cache-Control", "no-store, no-cache, must-revalidate"},
                                  {"Pragma", "no-cache"}};
                  for (auto& header : out.headers) resp.headers.push_back(std::move(header));
                  return resp;
                },
                {"GET", "POST"});
  using OcspWork = ca::Device::OcspWork;
  const auto answer_ocsp = [this](const http::Request& req,
                                  OcspWork work) -> std::optional<http::Response> {
    const TimePoint now = device_.clock().now();
    std::optional<ca::OcspAnswer> answer;
    if (req.method == "POST") {
      answer = device_.answer_ocsp(req.body, work);
    } else if (std::optional<std::string> der = ocsp_get_der(req)) {
      answer = device_.answer_ocsp(*der, work);
    } else {
      answer = ca::ocsp_error(pki::ocsp::ResponseStatus::kMalformedRequest);
    }
    if (!answer) return std::nullopt;
    return ocsp_http_response(*answer, now);
  };
  router.add_if(
      is_ocsp_path,
      [answer_ocsp](const http::Request& req) { return *answer_ocsp(req, OcspWork::kAnyway); },
      {"GET", "POST"});
  add_metrics_route(router, device_);
  http::ServerOptions options;
  // An answer already signed is sent at once; one that needs only a signature with a
  // status the responder knows is signed by the network thread after its other work
  // (http::ReadyAnswer::soon); the rest (a database read, a token) goes to a worker.
  options.answer_ready = [answer_ocsp](const http::Request& req) -> http::ReadyAnswer {
    if (!is_ocsp_path(req.path) || (req.method != "GET" && req.method != "POST")) {
      return {};
    }
    http::ReadyAnswer ready = answer_ocsp(req, OcspWork::kReady);
    if (ready.now) {
      count_request(req, ready.now->status);
    } else {
      ready.soon = [answer_ocsp](const http::Request& same) {
        std::optional<http::Response> answer = answer_ocsp(same, OcspWork::kCpu);
        if (answer) count_request(same, answer->status);
        return answer;
      };
    }
    return ready;
  };
  options.bind_address = want.bind_address.empty() ? "::" : want.bind_address;
  options.port = static_cast<std::uint16_t>(want.port);  // 0: any free port
  options.is_heavy = is_heavy_request;  // the other limits keep their defaults (server.h)
  options.is_inline = is_inline_request;
  // The only body SCEP takes is a POST PKIOperation: a declared Content-Length over its
  // cap is refused with 413 before the body is read, instead of after.
  options.max_body_bytes = scep::kMaxPkiMessageSize;
  const http::Handler handler = counted(router);
  auto server = http::HttpServer::create(options, handler);
  if (!server.has_value() && want.bind_address.empty()) {
    // No IPv6 on this machine: all IPv4 addresses then.
    options.bind_address = "0.0.0.0";
    server = http::HttpServer::create(options, handler);
  }
  if (!server.has_value()) {
    if (server.error().message() != last_error_) {
      log::error("HTTP server: {}", server.error().message());
      last_error_ = server.error().message();
    }
    running_ = {};  // retry on the next call
    return;
  }
  if (Status s = (*server)->start(); !s.ok()) {
    log::error("HTTP server: {}", s.message());
    running_ = {};
    return;
  }
  last_error_.clear();
  server_ = std::move(*server);
  server_metrics_ = collect_listener(*server_, "http");
  device_.set_http_listening({want, server_->port()});
  log::info("HTTP server listening on {} port {}", options.bind_address, server_->port());
}

}  // namespace scepter::daemon
