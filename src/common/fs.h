#pragma once
// Small file helpers used by every module that writes state: atomic replacement
// (write to a temporary, fsync, rename, fsync the directory) so a crash leaves either
// the old or the new file, never a torn one.
//
// The daemon runs as root or as a service user and writes into directories an operator
// names (`database url`, `file-system nvram:`). Nothing here trusts a name another user
// could have prepared: temporaries are created with O_EXCL under a random name in the
// target directory, never through a symlink, and carry their final permission bits
// before the first byte is written. check_private_dir() refuses directories that other
// users can write to. Thread-safe: no shared state.

#include <string>
#include <string_view>

#include "common/status.h"

namespace scepter::fs {

// Writes `data` to `path` atomically with the given permission bits (use 0600 for
// anything holding keys or passwords). The temporary "<dir>/.<name>.XXXXXX" is made with
// mkostemp (O_CREAT|O_EXCL, so a planted file or symlink makes it pick another name),
// set to `mode` before any data is written, fsynced, renamed over `path` (a symlink at
// `path` is replaced, not followed) and the directory is fsynced. Fails with kNotFound
// when the directory is missing, kPermissionDenied or kUnavailable on other I/O errors;
// the temporary is removed on failure.
Status write_atomic(const std::string& path, std::string_view data, int mode = 0644);
Result<std::string> read_file(const std::string& path);
bool exists(const std::string& path);
// Creates `path` and its parents (mode 0700 for new directories).
Status make_dirs(const std::string& path);
Status remove_file(const std::string& path);  // OK when the file is already gone
Status fsync_dir(const std::string& dir);
// Clears the permission bits of an existing regular file that `mode` does not allow
// (restrict_mode(p, 0600) on a 0644 file gives 0600; on a 0400 file it stays 0400).
// Does not follow a symlink at `path` (kPermissionDenied/kUnavailable); kNotFound when
// the file does not exist.
Status restrict_mode(const std::string& path, int mode);

// Refuses a directory that a user other than us (or root) could change: `dir` (symlinks
// resolved) and each of its ancestors must be owned by root or by our effective uid, and
// must not be group- or world-writable unless the sticky bit is set (as on /tmp, where
// others cannot rename or delete our entries). `what` names the directory in the
// message, e.g. "Storage directory":
//   "Storage directory /x is writable by other users; fix its permissions (chmod go-w /x)"
// Fails with kPermissionDenied for such a directory, kNotFound/kUnavailable when it
// cannot be examined.
Status check_private_dir(const std::string& dir, std::string_view what = "Directory");

}  // namespace scepter::fs
