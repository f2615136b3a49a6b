#pragma once
// Small file helpers used by every module that writes state: atomic replacement
// (write to a temporary, fsync, rename, fsync the directory) so a crash leaves either
// the old or the new file, never a torn one.

#include <string>
#include <string_view>

#include "common/status.h"

namespace scepter::fs {

// Writes `data` to `path` atomically with the given permission bits.
Status write_atomic(const std::string& path, std::string_view data, int mode = 0644);
Result<std::string> read_file(const std::string& path);
bool exists(const std::string& path);
// Creates `path` and its parents (mode 0700 for new directories).
Status make_dirs(const std::string& path);
Status remove_file(const std::string& path);  // OK when the file is already gone
Status fsync_dir(const std::string& dir);

}  // namespace scepter::fs
