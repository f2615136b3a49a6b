#pragma once
// One SQLite connection of the engine with its prepared statements, opened with the
// engine's pragmas; the writer also creates or checks the schema. Not thread-safe: hold
// mu() while using db() or the statements.

#include <memory>
#include <string>

#include "common/mutex.h"
#include "common/status.h"
#include "store/sqlite/db.h"

namespace scepter::store::sqlite {

// The schema this code writes. An older file is migrated when the writer opens it (in
// one transaction, keeping its data); a file with a higher version is refused
// (kUnavailable). Version 2 added certificates.predecessor, requests.reason, the
// request indexes on created and state, and meta "schema_last_request_id". Version 3
// added certificates.serial_entropy (kept in the revocation index). Version 4 added
// certificates.revocation_reason (kept in the revocation index too). Version 5 added the
// table acme (ACME records, keyed by kind and id) with its indexes on (kind, owner) and
// on expires.
inline constexpr int kSchemaVersion = 5;

// The engine's meta key for the request id high-water mark (see Store::next_request_id).
inline constexpr const char* kRequestMarkKey = "schema_last_request_id";

// Every statement the engine runs more than once, prepared when the connection opens.
struct Statements {
  Stmt begin, commit, rollback, savepoint, release, rollback_to;
  Stmt insert_cert, cert_revoked_at, revoke_cert;
  Stmt upsert_request, delete_request, raise_request_mark, delete_requests_before;
  Stmt upsert_meta, delete_meta, delete_meta_if, get_meta;
  Stmt get_cert, certs_after, revocations_after, count_certs, max_serial;
  Stmt get_request, request_state, request_by_tid, all_requests, requests_after, requests_before;
  Stmt count_requests, count_requests_in;
  Stmt insert_acme, update_acme, acme_version, delete_acme, delete_acme_expired;
  Stmt get_acme, acme_by_owner, acme_from, acme_after, count_acme;
};

class Connection {
 public:
  enum class Role {
    kWriter,  // creates the file and schema; synchronous=FULL, foreign keys on
    kReader,  // the file must exist; query_only
  };
  // Fails with kUnavailable (path and SQLite's message) when the file cannot be opened or
  // created, is read-only, is not a SQLite database or not ours, or has a newer schema.
  static Result<std::unique_ptr<Connection>> open(const std::string& path, Role role,
                                                  int busy_timeout_ms);

  sqlite3* db() const { return db_.get(); }
  const Statements& sql() const REQUIRES(mu_) { return sql_; }
  Mutex& mu() const RETURN_CAPABILITY(mu_) { return mu_; }

 private:
  Connection() = default;
  Status configure(const std::string& path, Role role, int busy_timeout_ms);
  Status init_schema();

  mutable Mutex mu_;
  Db db_;  // declared before sql_: the statements are finalised first
  Statements sql_ GUARDED_BY(mu_);
};

}  // namespace scepter::store::sqlite
