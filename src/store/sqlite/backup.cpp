#include "store/sqlite/backup.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>

#include "common/fs.h"
#include "store/sqlite/db.h"

namespace scepter::store::sqlite {
namespace {

constexpr char kHeader[] = "SQLite format 3";  // with its NUL: the 16 bytes of the header

Status sync_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return unavailable(fmt::format("cannot open {}: {}", path, std::strerror(errno)));
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0) return unavailable(fmt::format("cannot sync {}: {}", path, std::strerror(err)));
  return ok_status();
}

}  // namespace

bool is_database_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char head[sizeof(kHeader)] = {};
  if (!in.read(head, sizeof(head))) return false;
  return std::equal(head, head + sizeof(head), kHeader);
}

Result<std::uint64_t> backup_database(const std::string& src, const std::string& dst) {
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(src.c_str(), &raw, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nullptr);
  Db from(raw);
  if (rc != SQLITE_OK) return fail(sqlite_error(raw, rc, "open " + src));
  // A file from disk is not trusted: no schema tricks, no functions called from it.
  sqlite3_db_config(raw, SQLITE_DBCONFIG_DEFENSIVE, 1, nullptr);
  sqlite3_db_config(raw, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, nullptr);
  sqlite3_busy_timeout(raw, 5000);

  const std::string tmp = dst + ".copy-tmp";
  (void)fs::remove_file(tmp);
  raw = nullptr;
  rc = sqlite3_open_v2(tmp.c_str(), &raw,
                       SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  Db to(raw);
  if (rc != SQLITE_OK) return fail(sqlite_error(raw, rc, "create " + tmp));
  sqlite3_backup* backup = sqlite3_backup_init(to.get(), "main", from.get(), "main");
  if (backup == nullptr) {
    Status s = sqlite_error(to.get(), sqlite3_errcode(to.get()), "backup of " + src);
    to.reset();
    (void)fs::remove_file(tmp);
    return fail(s);
  }
  // Every page in one step: one read transaction on the source, so one snapshot.
  rc = sqlite3_backup_step(backup, -1);
  const int finished = sqlite3_backup_finish(backup);
  if (rc != SQLITE_DONE || finished != SQLITE_OK) {
    Status s = sqlite_error(to.get(), rc != SQLITE_DONE ? rc : finished, "backup of " + src);
    to.reset();
    (void)fs::remove_file(tmp);
    return fail(s);
  }
  to.reset();  // closed: the copy is complete in its one file
  from.reset();
  RETURN_IF_ERROR(sync_file(tmp));
  std::error_code ec;
  const auto size = std::filesystem::file_size(tmp, ec);
  if (ec) return fail(unavailable(fmt::format("cannot read {}: {}", tmp, ec.message())));
  // The old database's journal must not be applied to the new file.
  RETURN_IF_ERROR(fs::remove_file(dst + "-wal"));
  RETURN_IF_ERROR(fs::remove_file(dst + "-shm"));
  if (std::rename(tmp.c_str(), dst.c_str()) != 0) {
    const int err = errno;
    (void)fs::remove_file(tmp);
    return fail(unavailable(fmt::format("cannot write {}: {}", dst, std::strerror(err))));
  }
  const std::string dir = std::filesystem::path(dst).parent_path().string();
  RETURN_IF_ERROR(fs::fsync_dir(dir.empty() ? "." : dir));
  return static_cast<std::uint64_t>(size);
}

}  // namespace scepter::store::sqlite
