#include "store/sqlite/connection.h"

#include <iterator>

#include <fmt/format.h>

namespace scepter::store::sqlite {
namespace {

// 'SCPT': lets `file` and our own open tell a scepter database from another SQLite file.
constexpr int kApplicationId = 0x53435054;

// Version 1 as first released. Never edit it: a new database is created at version 1
// and brought up to date by the same migrations as an old file, so both end up alike.
constexpr const char* kSchemaV1 = R"sql(
CREATE TABLE meta(
  key TEXT PRIMARY KEY NOT NULL,
  value BLOB NOT NULL
) WITHOUT ROWID;
CREATE TABLE counters(
  name TEXT PRIMARY KEY NOT NULL,
  n INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO counters VALUES ('certificates', 0);
CREATE TABLE certificates(
  serial INTEGER PRIMARY KEY CHECK (serial >= 0),
  der BLOB NOT NULL,
  subject TEXT NOT NULL,
  not_before INTEGER NOT NULL,
  not_after INTEGER NOT NULL,
  revoked_at INTEGER,
  request_id INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX certificates_revoked ON certificates(serial, revoked_at)
  WHERE revoked_at IS NOT NULL;
CREATE TRIGGER certificates_counted AFTER INSERT ON certificates BEGIN
  UPDATE counters SET n = n + 1 WHERE name = 'certificates';
END;
CREATE TRIGGER certificates_uncounted AFTER DELETE ON certificates BEGIN
  UPDATE counters SET n = n - 1 WHERE name = 'certificates';
END;
CREATE TABLE requests(
  id INTEGER PRIMARY KEY,
  state INTEGER NOT NULL,
  kind INTEGER NOT NULL,
  transaction_id TEXT NOT NULL,
  csr_der BLOB NOT NULL,
  fingerprint TEXT NOT NULL,
  subject TEXT NOT NULL,
  created INTEGER NOT NULL,
  serial INTEGER REFERENCES certificates(serial),
  signer_cert_der BLOB NOT NULL,
  flags INTEGER NOT NULL
);
CREATE INDEX requests_transaction ON requests(transaction_id, id);
)sql";

struct Migration {
  int to;           // the version after `sql`
  const char* sql;  // runs inside the writer's opening transaction
};

constexpr Migration kMigrations[] = {
    {2, R"sql(
ALTER TABLE certificates ADD COLUMN predecessor INTEGER;
ALTER TABLE requests ADD COLUMN reason TEXT NOT NULL DEFAULT '';
CREATE INDEX requests_created ON requests(created);
CREATE INDEX requests_state ON requests(state);
INSERT INTO meta(key, value)
  SELECT 'schema_last_request_id', CAST(COALESCE(MAX(id), 0) AS TEXT) FROM requests;
)sql"},
    {3, R"sql(
ALTER TABLE certificates ADD COLUMN serial_entropy INTEGER;
DROP INDEX certificates_revoked;
CREATE INDEX certificates_revoked ON certificates(serial, revoked_at, serial_entropy)
  WHERE revoked_at IS NOT NULL;
)sql"},
    {4, R"sql(
ALTER TABLE certificates ADD COLUMN revocation_reason INTEGER;
DROP INDEX certificates_revoked;
CREATE INDEX certificates_revoked
  ON certificates(serial, revoked_at, serial_entropy, revocation_reason)
  WHERE revoked_at IS NOT NULL;
)sql"},
    // ACME records: expires is Unix seconds, 0 for never (only the others are indexed).
    {5, R"sql(
CREATE TABLE acme(
  kind INTEGER NOT NULL,
  id TEXT NOT NULL,
  owner TEXT NOT NULL,
  body BLOB NOT NULL,
  expires INTEGER NOT NULL,
  version INTEGER NOT NULL,
  PRIMARY KEY(kind, id)
) WITHOUT ROWID;
CREATE INDEX acme_owner ON acme(kind, owner, id);
CREATE INDEX acme_expires ON acme(expires) WHERE expires <> 0;
)sql"},
};
static_assert(std::size(kMigrations) == kSchemaVersion - 1, "one migration per version");

// The column order the engine's row readers expect (sqlite_store.cpp).
constexpr const char* kCertColumns =
    "serial, der, subject, not_before, not_after, revoked_at, request_id, predecessor, "
    "serial_entropy, revocation_reason";
constexpr const char* kRequestColumns =
    "id, state, kind, transaction_id, csr_der, fingerprint, subject, created, serial, "
    "signer_cert_der, flags, reason";
constexpr const char* kAcmeColumns = "kind, id, owner, body, expires, version";

Status open_error(const std::string& path, const Status& s) {
  return Status(s.code() == Code::kInternal ? Code::kInternal : Code::kUnavailable,
                fmt::format("cannot open database '{}': {}", path, s.message()));
}

// Runs a one-row, one-column query (pragmas); an empty result reads as "".
Result<std::string> query_text(sqlite3* db, const char* sql) {
  ASSIGN_OR_RETURN(Stmt st, Stmt::prepare(db, sql));
  Query q(st);
  const int rc = q.step();
  if (rc == SQLITE_DONE) return std::string();
  if (rc != SQLITE_ROW) return fail(sqlite_error(db, rc, sql));
  return q.blob(0);
}

Status prepare_all(sqlite3* db, Statements& s) {
  struct Entry {
    Stmt* stmt;
    std::string sql;
  };
  const Entry entries[] = {
      {&s.begin, "BEGIN IMMEDIATE"},
      {&s.commit, "COMMIT"},
      {&s.rollback, "ROLLBACK"},
      {&s.savepoint, "SAVEPOINT batch"},
      {&s.release, "RELEASE batch"},
      {&s.rollback_to, "ROLLBACK TO batch"},
      {&s.insert_cert, fmt::format("INSERT INTO certificates({}) VALUES (?1, ?2, ?3, ?4, ?5, "
                                   "?6, ?7, ?8, ?9, ?10)",
                                   kCertColumns)},
      {&s.cert_revoked_at, "SELECT revoked_at FROM certificates WHERE serial = ?1"},
      {&s.revoke_cert,
       "UPDATE certificates SET revoked_at = ?2, revocation_reason = ?3 WHERE serial = ?1"},
      {&s.upsert_request,
       fmt::format("INSERT INTO requests({}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, "
                   "?11, ?12) ON CONFLICT(id) DO UPDATE SET state = excluded.state, kind = "
                   "excluded.kind, transaction_id = excluded.transaction_id, csr_der = "
                   "excluded.csr_der, fingerprint = excluded.fingerprint, subject = "
                   "excluded.subject, created = excluded.created, serial = excluded.serial, "
                   "signer_cert_der = excluded.signer_cert_der, flags = excluded.flags, "
                   "reason = excluded.reason",
                   kRequestColumns)},
      {&s.delete_request, "DELETE FROM requests WHERE id = ?1"},
      {&s.raise_request_mark,
       fmt::format("INSERT INTO meta(key, value) VALUES ('{0}', CAST(?1 AS TEXT)) "
                   "ON CONFLICT(key) DO UPDATE SET value = excluded.value "
                   "WHERE CAST(meta.value AS INTEGER) < CAST(excluded.value AS INTEGER)",
                   kRequestMarkKey)},
      {&s.delete_requests_before, "DELETE FROM requests WHERE created < ?1"},
      {&s.upsert_meta,
       "INSERT INTO meta(key, value) VALUES (?1, ?2) "
       "ON CONFLICT(key) DO UPDATE SET value = excluded.value"},
      {&s.delete_meta, "DELETE FROM meta WHERE key = ?1"},
      // Compared as bytes whatever the stored type (put_meta binds blobs; the engine's
      // own keys are text).
      {&s.delete_meta_if,
       "DELETE FROM meta WHERE key = ?1 AND CAST(value AS BLOB) = CAST(?2 AS BLOB)"},
      {&s.get_meta, "SELECT value FROM meta WHERE key = ?1"},
      {&s.get_cert, fmt::format("SELECT {} FROM certificates WHERE serial = ?1", kCertColumns)},
      {&s.certs_after, fmt::format("SELECT {} FROM certificates WHERE serial > ?1 "
                                   "ORDER BY serial LIMIT ?2",
                                   kCertColumns)},
      {&s.revocations_after,
       "SELECT serial, revoked_at, serial_entropy, revocation_reason FROM certificates "
       "INDEXED BY certificates_revoked "
       "WHERE revoked_at IS NOT NULL AND serial > ?1 ORDER BY serial LIMIT ?2"},
      {&s.count_certs, "SELECT n FROM counters WHERE name = 'certificates'"},
      {&s.max_serial, "SELECT MAX(serial) FROM certificates"},
      {&s.get_request, fmt::format("SELECT {} FROM requests WHERE id = ?1", kRequestColumns)},
      {&s.request_state, "SELECT state FROM requests WHERE id = ?1"},
      {&s.request_by_tid, fmt::format("SELECT {} FROM requests WHERE transaction_id = ?1 "
                                      "ORDER BY id DESC LIMIT 1",
                                      kRequestColumns)},
      {&s.all_requests, fmt::format("SELECT {} FROM requests ORDER BY id DESC", kRequestColumns)},
      {&s.requests_after, fmt::format("SELECT {} FROM requests WHERE id > ?1 "
                                      "ORDER BY id LIMIT ?2",
                                      kRequestColumns)},
      {&s.requests_before, fmt::format("SELECT {} FROM requests WHERE id < ?1 "
                                       "ORDER BY id DESC LIMIT ?2",
                                       kRequestColumns)},
      {&s.count_requests, "SELECT COUNT(*) FROM requests"},
      // Every state fits in the six slots; unused ones repeat a wanted state.
      {&s.count_requests_in,
       "SELECT COUNT(*) FROM requests WHERE state IN (?1, ?2, ?3, ?4, ?5, ?6)"},
      {&s.insert_acme,
       fmt::format("INSERT INTO acme({}) VALUES (?1, ?2, ?3, ?4, ?5, 1)", kAcmeColumns)},
      // Compare-and-set: changes nothing unless the stored version is ?6.
      {&s.update_acme,
       "UPDATE acme SET owner = ?3, body = ?4, expires = ?5, version = ?6 + 1 "
       "WHERE kind = ?1 AND id = ?2 AND version = ?6"},
      {&s.acme_version, "SELECT version FROM acme WHERE kind = ?1 AND id = ?2"},
      {&s.delete_acme, "DELETE FROM acme WHERE kind = ?1 AND id = ?2"},
      {&s.delete_acme_expired, "DELETE FROM acme WHERE expires <> 0 AND expires < ?1"},
      {&s.get_acme, fmt::format("SELECT {} FROM acme WHERE kind = ?1 AND id = ?2", kAcmeColumns)},
      {&s.acme_by_owner, fmt::format("SELECT {} FROM acme WHERE kind = ?1 AND owner = ?2 "
                                     "ORDER BY id LIMIT ?3",
                                     kAcmeColumns)},
      {&s.acme_from, fmt::format("SELECT {} FROM acme WHERE kind = ?1 AND id >= ?2 "
                                 "ORDER BY id LIMIT ?3",
                                 kAcmeColumns)},
      {&s.acme_after, fmt::format("SELECT {} FROM acme WHERE kind = ?1 AND id > ?2 "
                                  "ORDER BY id LIMIT ?3",
                                  kAcmeColumns)},
      {&s.count_acme, "SELECT COUNT(*) FROM acme WHERE kind = ?1"},
  };
  for (const Entry& e : entries) {
    ASSIGN_OR_RETURN(*e.stmt, Stmt::prepare(db, e.sql));
  }
  return ok_status();
}

}  // namespace

Result<std::unique_ptr<Connection>> Connection::open(const std::string& path, Role role,
                                                     int busy_timeout_ms) {
  std::unique_ptr<Connection> c(new Connection());
  Status s = c->configure(path, role, busy_timeout_ms);
  if (!s.ok()) return fail(open_error(path, s));
  if (role == Role::kWriter) {
    s = c->init_schema();
    if (!s.ok()) return fail(open_error(path, s));
  }
  {
    MutexLock lock(c->mu_);  // not shared yet; taken for the analysis
    s = prepare_all(c->db(), c->sql_);
  }
  if (!s.ok()) return fail(open_error(path, s));
  return c;
}

Status Connection::configure(const std::string& path, Role role, int busy_timeout_ms) {
  // NOMUTEX: the engine serialises each connection itself (mu_).
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
  if (role == Role::kWriter) flags |= SQLITE_OPEN_CREATE;
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  db_.reset(raw);  // SQLite returns a handle even on failure; it must still be closed
  if (rc != SQLITE_OK) return sqlite_error(raw, rc, "open");
  sqlite3* db = db_.get();
  sqlite3_extended_result_codes(db, 1);
  sqlite3_busy_timeout(db, busy_timeout_ms);
  // A file from disk is not trusted: no schema tricks, no functions called from it.
  sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, nullptr);
  sqlite3_db_config(db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, nullptr);
  if (sqlite3_db_readonly(db, "main") == 1) {
    return unavailable("the file is read-only (permission denied)");
  }

  // The first statements read the header: "file is not a database" shows up here.
  ASSIGN_OR_RETURN(std::string mode, query_text(db, "PRAGMA journal_mode=WAL"));
  const bool in_memory = path.empty() || path == ":memory:";
  if (mode != "wal" && !in_memory) {
    return unavailable(fmt::format("cannot use write-ahead logging (journal mode '{}')", mode));
  }
  RETURN_IF_ERROR(exec(db, "PRAGMA synchronous=FULL"));
  if (role == Role::kWriter) {
    RETURN_IF_ERROR(exec(db, "PRAGMA foreign_keys=ON"));
    // After a checkpoint the WAL is reused; past this size it is also truncated, so one
    // large batch does not leave a large file behind.
    RETURN_IF_ERROR(exec(db, "PRAGMA journal_size_limit=67108864"));
  } else {
    RETURN_IF_ERROR(exec(db, "PRAGMA query_only=ON"));
  }
  return ok_status();
}

Status Connection::init_schema() {
  sqlite3* db = db_.get();
  RETURN_IF_ERROR(exec(db, "BEGIN IMMEDIATE"));
  auto body = [&]() -> Status {
    ASSIGN_OR_RETURN(std::string app, query_text(db, "PRAGMA application_id"));
    ASSIGN_OR_RETURN(std::string tables,
                     query_text(db, "SELECT count(*) FROM sqlite_master WHERE type = 'table'"));
    if (tables == "0" && (app == "0" || app.empty())) {
      RETURN_IF_ERROR(exec(db, kSchemaV1));
      RETURN_IF_ERROR(exec(db, fmt::format("PRAGMA application_id={}", kApplicationId).c_str()));
      RETURN_IF_ERROR(exec(db, "INSERT INTO meta VALUES ('schema_version', '1')"));
    } else if (app != std::to_string(kApplicationId)) {
      return unavailable("not a scepter database (another application's SQLite file)");
    }
    ASSIGN_OR_RETURN(std::string version,
                     query_text(db, "SELECT value FROM meta WHERE key = 'schema_version'"));
    int from = 0;
    for (int v = 1; v <= kSchemaVersion; ++v) {
      if (version == std::to_string(v)) from = v;
    }
    if (from == 0) {
      return unavailable(fmt::format("schema version '{}' is not supported (this build: {})",
                                     version, kSchemaVersion));
    }
    for (const Migration& m : kMigrations) {
      if (m.to <= from) continue;
      RETURN_IF_ERROR(exec(db, m.sql));
      RETURN_IF_ERROR(exec(
          db,
          fmt::format("UPDATE meta SET value = '{}' WHERE key = 'schema_version'", m.to).c_str()));
    }
    return ok_status();
  };
  Status s = body();
  if (!s.ok()) {
    (void)exec(db, "ROLLBACK");
    return s;
  }
  return exec(db, "COMMIT");
}

}  // namespace scepter::store::sqlite
