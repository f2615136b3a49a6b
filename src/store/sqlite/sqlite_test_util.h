#pragma once
// Test helpers for the SQLite engine's tests (sqlite_store_test.cpp, group_commit_test.cpp).

#include <chrono>
#include <functional>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "common/testing.h"
#include "store/sqlite/db.h"

namespace scepter::store::testing {

// Polls until `cond` holds; false after 10 s (the test then fails instead of hanging).
inline bool eventually(const std::function<bool()>& cond) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!cond()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

// Another process's connection to the same file, as far as SQLite can tell.
class RawConnection {
 public:
  explicit RawConnection(const std::string& path) {
    sqlite3* db = nullptr;
    sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
    db_.reset(db);
  }
  Status exec(const char* sql) { return sqlite::exec(db_.get(), sql); }
  // The first column of the first row as text ("" when there is none).
  std::string query(const char* sql) {
    auto st = sqlite::Stmt::prepare(db_.get(), sql);
    EXPECT_OK(st);
    if (!st) return "(error)";
    sqlite::Query q(*st);
    return q.step() == SQLITE_ROW ? q.blob(0) : std::string();
  }
  // EXPLAIN QUERY PLAN: the detail column of every row, joined.
  std::string plan(const std::string& sql) {
    auto st = sqlite::Stmt::prepare(db_.get(), "EXPLAIN QUERY PLAN " + sql);
    EXPECT_OK(st);
    if (!st) return "(error)";
    sqlite::Query q(*st);
    std::string out;
    while (q.step() == SQLITE_ROW) out += q.blob(3) + "; ";
    return out;
  }

 private:
  sqlite::Db db_;
};

}  // namespace scepter::store::testing
