#pragma once
// Where scepterd gets the master passphrase that encrypts private keys at rest:
// --password-file PATH, else the SCEPTER_PASSWORD environment variable, else
// <nvram>/private-config (created with a random passphrase, mode 0600, the way IOS
// keeps secrets in its private-config).
//
// SCEPTER_PASSWORD is read once: its value is overwritten in the environment block and
// the variable is removed (unsetenv) before load_master_passphrase returns, so child
// processes and /proc/<pid>/environ (readable by the same user, and by root) do not
// carry it. Passing secrets in the environment stays weaker than --password-file.

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

// Overwrites the bytes of a secret (in a way the compiler may not drop) and empties it.
// For copies that are no longer needed; it cannot reach copies made before.
void wipe(std::string& secret);

}  // namespace scepter::daemon
