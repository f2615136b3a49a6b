#pragma once
// The running-config (built from the table's config writers, see config_text.h), saving
// it to the startup-config, and loading configuration text into the device.

#include <string>
#include <string_view>

#include "cli/command_table.h"
#include "common/status.h"

namespace scepter::ca {
class Device;
}

namespace scepter::cli {

// The configuration body: "!\n" ... "end\n", as `write memory` saves it. Each object
// is read as one snapshot under its own lock; another shell's edit made meanwhile may
// show on one side of it, as on IOS.
std::string running_config(const CommandTable& table, ca::Device& device);

// What `show running-config` prints around the body:
// "Building configuration...\n\nCurrent configuration : <N> bytes\n" + body.
std::string frame_running_config(std::string_view body);

// Writes the body atomically to `path`, mode 0600: it holds passwords (see type7.h).
Status save_config(std::string_view body, const std::string& path);

struct LoadResult {
  int errors = 0;      // lines that failed
  std::string output;  // what the commands printed; failing lines are named, with
                       // anything after a `password` keyword masked (mask_passwords)
};

// Runs configuration text in config mode in a non-interactive session, as scepterd does
// with its startup-config at start-up: questions take their defaults, lines that fail are
// reported and skipped.
LoadResult load_config(const CommandTable& table, ca::Device& device, std::string_view text);

}  // namespace scepter::cli
