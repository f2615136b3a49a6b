#pragma once
// The HTTP side of scepterd: follows the device's `ip http server`, `ip http port` and
// `ip http bind-address` settings (starting, stopping or moving the listener when they
// change) and routes every path ending in pkiclient.exe to the SCEP service. Other paths
// answer 404, as on IOS. `ip http port 0` binds any free port; the port bound (with the
// settings it serves) is published through Device::set_http_listening() for
// `show ip http server status`, and cleared when the listener stops.
//
// Thread safety: reconcile() is called from the daemon's timer thread only.

#include <memory>
#include <string>

#include "ca/device.h"
#include "scep/service.h"

namespace scepter::http {
class HttpServer;
}

namespace scepter::daemon {

class HttpFrontend {
 public:
  explicit HttpFrontend(ca::Device& device);
  ~HttpFrontend();

  // Brings the listener in line with the configuration. A bind failure is logged and
  // retried on the next call.
  void reconcile();
  // The port actually bound (0 when not listening).
  int port() const;

 private:
  ca::Device& device_;
  scep::ScepService scep_;
  std::unique_ptr<http::HttpServer> server_;
  ca::HttpConfig running_;  // what server_ was started with
  std::string last_error_;
};

}  // namespace scepter::daemon
