#pragma once
// The Device is what a router is to IOS: its hostname, clock, file systems (nvram:,
// flash:), key pairs, trustpoints, certificate servers and HTTP server settings. The CLI
// operates on it; the daemon owns exactly one.
//
// Thread safety: configuration changes and reads made by CLI sessions take mutex();
// objects handed out (CertificateServer, KeyStore) are themselves thread-safe.

#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/status.h"

namespace scepter::ca {

struct DeviceOptions {
  std::string nvram_dir;          // plays the router's NVRAM; startup-config lives here
  std::string flash_dir;          // `flash:`; default <nvram_dir>/../flash
  std::string master_passphrase;  // encrypts private keys at rest
};

class Device {
 public:
  // Fails with kUnavailable if nvram_dir cannot be created or read.
  static Result<std::unique_ptr<Device>> create(DeviceOptions options, SystemClock& clock);
  ~Device();

  std::mutex& mutex() { return mu_; }

  const std::string& hostname() const { return hostname_; }
  void set_hostname(std::string name) { hostname_ = std::move(name); }

  SystemClock& clock() { return clock_; }
  // `clock set`: moves the server clock and persists the offset in nvram.
  Status set_clock(TimePoint t);

  const std::string& nvram_dir() const { return options_.nvram_dir; }
  const std::string& flash_dir() const { return options_.flash_dir; }
  std::string startup_config_path() const { return options_.nvram_dir + "/startup-config"; }

  // Resolves an IOS file-system URL to a local path: "nvram:x" -> <nvram>/x,
  // "flash:x" -> <flash>/x, "/abs/path" or "file:///abs" as is. Remote schemes
  // (tftp:, ftp:, http:, scp:, sftp:) fail with kInvalidArgument for now.
  Result<std::string> resolve_local_url(std::string_view url) const;

 private:
  Device(DeviceOptions options, SystemClock& clock);

  DeviceOptions options_;
  SystemClock& clock_;
  std::mutex mu_;
  std::string hostname_ = "Router";
};

}  // namespace scepter::ca
