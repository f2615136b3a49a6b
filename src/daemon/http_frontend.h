#pragma once
// The HTTP side of scepterd: follows the device's `ip http server`, `ip http port` and
// `ip http bind-address` settings (starting, stopping or moving the listener when they
// change) and routes every path ending in pkiclient.exe to the SCEP service, /ocsp to the
// OCSP responder, /.well-known/est/ (HTTPS) to EST, /acme/ (HTTPS) to ACME, /api/v1/
// (HTTPS) to the REST API and /metrics to the metrics (http_metrics.h). Other paths
// answer 404, as on IOS. `ip http port 0` binds any free port; the port bound (with the
// settings it serves) is published through Device::set_http_listening() for `show ip
// http server status`, and cleared when the listener stops.
//
// Thread safety: reconcile() is called from the daemon's timer thread only.

#include <chrono>
#include <memory>
#include <string>

#include "acme/service.h"
#include "api/service.h"
#include "ca/device.h"
#include "common/metrics.h"
#include "est/service.h"
#include "scep/service.h"
#include "web/console.h"

namespace scepter::http {
class HttpServer;
}

namespace scepter::daemon {

// OCSP (RFC 6960 appendix A): POST /ocsp with the DER request as the body, or GET
// /ocsp/BASE64 (the server has percent-decoded the path). Clients given the URL
// http://host/ocsp/ also POST to /ocsp/.
bool is_ocsp_path(std::string_view path);

class HttpFrontend {
 public:
  explicit HttpFrontend(ca::Device& device);
  ~HttpFrontend();

  // Brings the listener in line with the configuration. A bind failure is logged and
  // retried on the next call.
  void reconcile();
  // The port actually bound (0 when not listening).
  int port() const;
  // The HTTPS port bound (0 when not listening).
  int secure_port() const;

 private:
  void reconcile_plain();
  void reconcile_secure();
  // Stops the HTTPS listener, recording `problem` for `show ip http server status`.
  void stop_secure(const ca::HttpConfig& want, const std::string& problem);

  ca::Device& device_;
  metrics::Registration device_metrics_;
  scep::ScepService scep_;
  est::EstService est_;
  acme::AcmeService acme_;
  api::ApiService api_;
  const web::Console console_;  // the web console's files, on the HTTPS listener
  std::unique_ptr<http::HttpServer> server_;
  metrics::Registration server_metrics_;  // ends before server_ stops
  ca::HttpConfig running_;                // what server_ was started with
  std::string last_error_;
  std::unique_ptr<http::HttpServer> secure_;
  metrics::Registration secure_metrics_;  // ends before secure_ stops
  ca::HttpConfig secure_running_;         // what secure_ was started with
  std::string secure_leaf_;               // the DER of the certificate it presents
  std::chrono::steady_clock::time_point identity_checked_{};
  std::string secure_error_;
};

}  // namespace scepter::daemon
