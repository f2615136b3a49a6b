#pragma once
// Copies of a live database: `copy nvram:LABEL.ser ...` while the certificate server
// writes to it. A plain file copy of a WAL database misses what is still in its -wal
// file and can catch a page half written; SQLite's online backup reads one consistent
// snapshot instead, whoever writes meanwhile.

#include <cstdint>
#include <string>

#include "common/status.h"

namespace scepter::store::sqlite {

// True when the file at `path` starts with SQLite's header ("SQLite format 3").
bool is_database_file(const std::string& path);

// Writes a consistent copy of the SQLite database `src` to `dst`: into a temporary file
// beside it first, synced, then renamed over `dst`; the -wal and -shm files of an older
// `dst` are removed with it (they belong to the database being replaced). Returns the
// size of the copy. kUnavailable when `src` cannot be read as a database or `dst`
// cannot be written (SQLite's message).
Result<std::uint64_t> backup_database(const std::string& src, const std::string& dst);

}  // namespace scepter::store::sqlite
