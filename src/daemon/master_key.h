#pragma once
// Where scepterd gets the master passphrase that encrypts private keys at rest:
// --password-file PATH, else the SCEPTER_PASSWORD environment variable, else
// <nvram>/private-config (created with a random passphrase, mode 0600, the way IOS
// keeps secrets in its private-config).

#include <string>

#include "common/status.h"

namespace scepter::daemon {

struct MasterPassphrase {
  std::string passphrase;
  std::string source;  // for the log: "--password-file /x", "SCEPTER_PASSWORD", ...
  bool generated = false;
};

Result<MasterPassphrase> load_master_passphrase(const std::string& password_file,
                                                const std::string& nvram_dir);

}  // namespace scepter::daemon
