#pragma once
// RAII over the SQLite C API for the SQLite engine (the only place <sqlite3.h> is seen):
// Db owns a connection, Stmt a prepared statement, Query one execution of a statement.
// None of these types is thread-safe; the engine serialises use of a connection.

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/status.h"

namespace scepter::store::sqlite {

struct CloseDb {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
struct FinalizeStmt {
  void operator()(sqlite3_stmt* st) const { sqlite3_finalize(st); }
};
using Db = std::unique_ptr<sqlite3, CloseDb>;

// Maps an SQLite result code to our codes: a full disk, I/O error, busy or locked
// database, corrupt file or non-database file is kUnavailable; constraint failures are
// left to the caller (they are kInternal here); anything else is kInternal. The message
// carries `what`, SQLite's message for `db` and the extended code.
Status sqlite_error(sqlite3* db, int rc, std::string_view what);

// Runs SQL without results (pragmas, schema).
Status exec(sqlite3* db, const char* sql);

// A statement prepared once with SQLITE_PREPARE_PERSISTENT and reused.
class Stmt {
 public:
  Stmt() = default;
  static Result<Stmt> prepare(sqlite3* db, std::string_view sql);
  sqlite3_stmt* get() const { return st_.get(); }

 private:
  explicit Stmt(sqlite3_stmt* st) : st_(st) {}
  std::unique_ptr<sqlite3_stmt, FinalizeStmt> st_;
};

// One use of a Stmt: bind, step, read columns. The destructor resets the statement and
// clears its bindings, which also ends its implicit read transaction (a WAL reader that
// stays open would pin an old snapshot and stop checkpoints).
class Query {
 public:
  explicit Query(const Stmt& stmt) : st_(stmt.get()) {}
  ~Query();
  Query(const Query&) = delete;
  Query& operator=(const Query&) = delete;

  // Parameters count from 1 as in SQLite. A failed bind is reported by step().
  Query& bind(int i, std::int64_t v);
  Query& bind_blob(int i, std::string_view v);
  Query& bind_text(int i, std::string_view v);
  Query& bind_null(int i);

  // SQLITE_ROW, SQLITE_DONE or an error code (a bind error comes back here).
  int step();

  std::int64_t int64(int col) const { return sqlite3_column_int64(st_, col); }
  bool is_null(int col) const { return sqlite3_column_type(st_, col) == SQLITE_NULL; }
  std::string blob(int col) const;
  sqlite3* db() const { return sqlite3_db_handle(st_); }

 private:
  void note(int rc) {
    if (rc != SQLITE_OK && bind_rc_ == SQLITE_OK) bind_rc_ = rc;
  }
  sqlite3_stmt* st_;
  int bind_rc_ = SQLITE_OK;
};

// Runs a statement that returns no rows (transaction control, writes); errors as
// sqlite_error() with `what`.
Status run(const Stmt& stmt, std::string_view what);

}  // namespace scepter::store::sqlite
