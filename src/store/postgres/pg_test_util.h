#pragma once
// Helpers for the PostgreSQL engine's tests: the test server comes from the environment
// variable SCEPTER_TEST_POSTGRES (a libpq URL of a role allowed to create schemas), and
// every test works in a fresh schema of its own, dropped at the end.
//
//   SCEPTER_TEST_POSTGRES=postgresql://scepter:scepter-test@127.0.0.1:5432/scepter_test
//
// Without the variable the tests skip (GTEST_SKIP, saying how to set it); with it, a
// server that cannot be reached fails them.

#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <stdlib.h>

#include <memory>
#include <random>
#include <string>

#include <fmt/format.h>

#include "common/status.h"
#include "store/postgres/pg.h"

namespace scepter::store::testing {

inline constexpr const char* kPostgresEnv = "SCEPTER_TEST_POSTGRES";

// The test server's URL, or "" when none is configured.
inline std::string postgres_test_url() {
  const char* v = ::getenv(kPostgresEnv);
  return v != nullptr ? v : "";
}

// Records the skip of the current test (call it, then return, from a test or SetUp()).
inline void skip_without_postgres() {
  GTEST_SKIP() << "no PostgreSQL server for the tests: set " << kPostgresEnv
               << " to a libpq URL of a role that may create schemas, e.g. "
                  "postgresql://scepter:scepter-test@127.0.0.1:5432/scepter_test "
                  "(scripts/bootstrap.sh test sets one up)";
}

// A schema "t_<random>" on the test server, created on construction and dropped with
// everything in it on destruction; url() reaches it through search_path.
class PgSchema {
 public:
  static Result<std::unique_ptr<PgSchema>> create(const std::string& base_url) {
    std::unique_ptr<PgSchema> s(new PgSchema());
    s->admin_.reset(PQconnectdb(with_param(base_url, "connect_timeout", "10").c_str()));
    if (PQstatus(s->admin_.get()) != CONNECTION_OK) {
      return fail(unavailable(
          fmt::format("cannot reach {}: {}", kPostgresEnv, pg::message_of(s->admin_.get()))));
    }
    PQsetNoticeProcessor(
        s->admin_.get(), [](void*, const char*) {}, nullptr);  // "drop cascades"
    std::random_device rd;
    s->name_ = fmt::format("t_{:08x}{:08x}", rd(), rd());
    RETURN_IF_ERROR(s->exec("CREATE SCHEMA " + s->name_));
    s->created_ = true;
    s->url_ = with_param(base_url, "options", "-csearch_path=" + s->name_);
    return s;
  }
  ~PgSchema() {
    if (created_) (void)exec("DROP SCHEMA " + name_ + " CASCADE");
  }
  PgSchema(const PgSchema&) = delete;
  PgSchema& operator=(const PgSchema&) = delete;

  const std::string& name() const { return name_; }
  const std::string& url() const { return url_; }
  // url() with one more parameter.
  std::string url_with(const std::string& key, const std::string& value) const {
    return with_param(url_, key, value);
  }

  // Runs SQL on a connection of its own (not the store's); unqualified names are in
  // this test's schema.
  Status exec(const std::string& sql) const {
    const std::string full = "SET search_path TO " + name_ + "; " + sql;
    pg::ResultPtr r(PQexec(admin_.get(), created_ ? full.c_str() : sql.c_str()));
    const ExecStatusType st = PQresultStatus(r.get());
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) return ok_status();
    return pg::error_of(admin_.get(), r.get(), sql);
  }
  // The first column of the first row of a query's text result ("" if none).
  std::string value(const std::string& sql) const {
    pg::ResultPtr r(PQexec(admin_.get(), sql.c_str()));
    if (PQresultStatus(r.get()) != PGRES_TUPLES_OK || PQntuples(r.get()) == 0) return "";
    return PQgetvalue(r.get(), 0, 0);
  }

 private:
  PgSchema() = default;
  // Values here are names and options: only '=' and ' ' need encoding in a URL.
  static std::string with_param(const std::string& url, const std::string& key,
                                const std::string& value) {
    if (url.starts_with("postgresql://") || url.starts_with("postgres://")) {
      std::string encoded;
      for (char c : value) {
        encoded += c == '='   ? std::string("%3D")
                   : c == ' ' ? std::string("%20")
                              : std::string(1, c);
      }
      return url + (url.find('?') == std::string::npos ? "?" : "&") + key + "=" + encoded;
    }
    return url + " " + key + "='" + value + "'";  // a "key=value" string
  }

  pg::ConnPtr admin_;
  std::string name_;
  std::string url_;
  bool created_ = false;
};

}  // namespace scepter::store::testing
