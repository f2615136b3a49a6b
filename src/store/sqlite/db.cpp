#include "store/sqlite/db.h"

#include <fmt/format.h>

namespace scepter::store::sqlite {

Status sqlite_error(sqlite3* db, int rc, std::string_view what) {
  // The connection's message belongs to the last failing call; when rc came from
  // elsewhere (a bind recorded earlier) fall back to the generic text for the code.
  const char* msg =
      db != nullptr && sqlite3_extended_errcode(db) == rc ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  std::string text = fmt::format("{}: {} (sqlite code {})", what, msg, rc);
  switch (rc & 0xff) {
    case SQLITE_FULL:
    case SQLITE_IOERR:
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_AUTH:
    case SQLITE_PROTOCOL:
    case SQLITE_NOLFS:
      return unavailable(std::move(text));
    default:
      return internal_error(std::move(text));
  }
}

Status exec(sqlite3* db, const char* sql) {
  char* err = nullptr;
  const int rc = sqlite3_exec(db, sql, nullptr, nullptr, &err);
  if (rc == SQLITE_OK) return ok_status();
  std::string msg = err != nullptr ? err : sqlite3_errstr(rc);
  sqlite3_free(err);
  Status s = sqlite_error(nullptr, rc, sql);
  return Status(s.code(), fmt::format("{}: {} (sqlite code {})", sql, msg, rc));
}

Result<Stmt> Stmt::prepare(sqlite3* db, std::string_view sql) {
  sqlite3_stmt* st = nullptr;
  const int rc = sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()),
                                    SQLITE_PREPARE_PERSISTENT, &st, nullptr);
  Stmt out(st);  // owns it even on failure (SQLite may hand back a statement)
  if (rc != SQLITE_OK) return fail(sqlite_error(db, rc, fmt::format("preparing '{}'", sql)));
  if (st == nullptr) return fail(internal_error(fmt::format("empty statement '{}'", sql)));
  return out;
}

Query::~Query() {
  sqlite3_reset(st_);
  sqlite3_clear_bindings(st_);
}

Query& Query::bind(int i, std::int64_t v) {
  note(sqlite3_bind_int64(st_, i, v));
  return *this;
}

Query& Query::bind_blob(int i, std::string_view v) {
  // A zero-length blob must stay a blob, not NULL: pass a non-null pointer.
  static const char kEmpty = 0;
  note(sqlite3_bind_blob64(st_, i, v.empty() ? &kEmpty : v.data(), v.size(), SQLITE_STATIC));
  return *this;
}

Query& Query::bind_text(int i, std::string_view v) {
  static const char kEmpty = 0;
  note(sqlite3_bind_text64(st_, i, v.empty() ? &kEmpty : v.data(), v.size(), SQLITE_STATIC,
                           SQLITE_UTF8));
  return *this;
}

Query& Query::bind_null(int i) {
  note(sqlite3_bind_null(st_, i));
  return *this;
}

int Query::step() {
  if (bind_rc_ != SQLITE_OK) return bind_rc_;
  return sqlite3_step(st_);
}

std::string Query::blob(int col) const {
  const void* p = sqlite3_column_blob(st_, col);
  const int n = sqlite3_column_bytes(st_, col);
  if (p == nullptr || n <= 0) return {};
  return std::string(static_cast<const char*>(p), static_cast<std::size_t>(n));
}

Status run(const Stmt& stmt, std::string_view what) {
  Query q(stmt);
  const int rc = q.step();
  if (rc == SQLITE_DONE || rc == SQLITE_ROW) return ok_status();
  return sqlite_error(q.db(), rc, what);
}

}  // namespace scepter::store::sqlite
