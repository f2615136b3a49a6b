#pragma once
// Test-only: a ca::Device in a scratch directory with one enabled certificate server
// ("ca"), the setup the protocol services (REST API, EST, ACME) are tested and fuzzed
// against. No gtest here, so that the fuzz targets can use it too: failures come back
// as a Status for the caller's ASSERT_OK or CA_ASSERT.

#include <chrono>
#include <functional>
#include <memory>

#include "ca/certificate_server.h"
#include "ca/device.h"
#include "common/clock.h"
#include "common/status.h"
#include "store/test_util.h"

namespace scepter::ca::testing {

// Derive a test fixture (or a fuzz target's state) from it. Nothing exists but the
// directory and the clock until open_device(). Members die in reverse order: a service
// the derived class holds over device_ goes before the device, the directory last.
class DeviceWithServer {
 public:
  // The clock starts at `start` and stands still unless the test moves it.
  explicit DeviceWithServer(TimePoint start = std::chrono::floor<Seconds>(SysClock::now()))
      : clock_(start) {}
  DeviceWithServer(const DeviceWithServer&) = delete;
  DeviceWithServer& operator=(const DeviceWithServer&) = delete;

  // Creates the Device on <dir>/nvram (master passphrase "passphrase") and its server
  // "ca", lets `configure` adjust the server's configuration, stores it and enables the
  // server (`no shutdown`: the CA key and certificate are made here, which takes
  // seconds under the sanitizers). Fails with the first step that fails.
  Status open_device(const std::function<void(ServerConfig&)>& configure) {
    if (!tmp_.ok()) return internal_error("no temporary directory");
    auto device = Device::create({tmp_.file("nvram"), "", "passphrase"}, clock_);
    if (!device.has_value()) return device.error();
    device_ = std::move(*device);
    auto server = device_->create_server("ca");
    if (!server.has_value()) return server.error();
    server_ = *server;
    RETURN_IF_ERROR(edit_config(configure));
    auto enabled = server_->enable({});
    if (!enabled.has_value()) return enabled.error();
    return ok_status();
  }

  // Applies `edit` to the server's configuration (after open_device()).
  Status edit_config(const std::function<void(ServerConfig&)>& edit) const {
    ServerConfig c = server_->config();
    edit(c);
    return server_->set_config(c);
  }

  store::testing::TempDir tmp_;
  FakeClock clock_;
  std::unique_ptr<Device> device_;
  std::shared_ptr<CertificateServer> server_;
};

}  // namespace scepter::ca::testing
