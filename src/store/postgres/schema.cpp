#include "store/postgres/schema.h"

#include <algorithm>
#include <array>
#include <iterator>
#include <optional>

#include <fmt/format.h>

#include "common/parse.h"

#include "store/postgres/conn.h"

namespace scepter::store::pg {
namespace {

// Version 1 as first released. Never edit it: later versions are migrations below, run
// on new and old databases alike.
constexpr const char* kSchemaV1 = R"sql(
CREATE TABLE meta(
  key TEXT PRIMARY KEY,
  value BYTEA NOT NULL
);
CREATE TABLE counters(
  name TEXT PRIMARY KEY,
  n BIGINT NOT NULL
);
INSERT INTO counters(name, n) VALUES ('last_serial', 1), ('last_request_id', 0);
CREATE TABLE certificates(
  serial BIGINT PRIMARY KEY CHECK (serial >= 0),
  der BYTEA NOT NULL,
  subject BYTEA NOT NULL,
  not_before BIGINT NOT NULL,
  not_after BIGINT NOT NULL,
  revoked_at BIGINT,
  request_id BIGINT NOT NULL DEFAULT 0,
  predecessor BIGINT,
  serial_entropy BIGINT
);
CREATE INDEX certificates_revoked ON certificates(serial) INCLUDE (revoked_at, serial_entropy)
  WHERE revoked_at IS NOT NULL;
CREATE TABLE requests(
  id BIGINT PRIMARY KEY,
  state INTEGER NOT NULL,
  kind INTEGER NOT NULL,
  transaction_id BYTEA NOT NULL,
  csr_der BYTEA NOT NULL,
  fingerprint BYTEA NOT NULL,
  subject BYTEA NOT NULL,
  created BIGINT NOT NULL,
  serial BIGINT REFERENCES certificates(serial),
  signer_cert_der BYTEA NOT NULL,
  flags INTEGER NOT NULL,
  reason BYTEA NOT NULL DEFAULT ''::bytea
);
CREATE INDEX requests_transaction ON requests(transaction_id, id);
CREATE INDEX requests_created ON requests(created);
CREATE INDEX requests_state ON requests(state);
)sql";

// Version 2: one request per SCEP transactionID, so that of two nodes storing a request
// for one transaction (a client resending through a balancer) one wins. An older
// database that got two keeps them; the older ones stop answering for the transaction,
// as request_by_transaction() already found the newest.
constexpr const char* kSchemaV2 = R"sql(
UPDATE requests SET transaction_id = ''::bytea
  WHERE transaction_id <> ''::bytea AND id < (
    SELECT max(newer.id) FROM requests newer WHERE newer.transaction_id = requests.transaction_id);
CREATE UNIQUE INDEX requests_one_per_transaction ON requests(transaction_id)
  WHERE transaction_id <> ''::bytea;
)sql";

// Version 3: the RFC 5280 CRLReason given at revocation, kept in the revocation index so
// that rebuilding the CRL stays an index-only scan.
constexpr const char* kSchemaV3 = R"sql(
ALTER TABLE certificates ADD COLUMN revocation_reason INTEGER;
DROP INDEX certificates_revoked;
CREATE INDEX certificates_revoked ON certificates(serial)
  INCLUDE (revoked_at, serial_entropy, revocation_reason)
  WHERE revoked_at IS NOT NULL;
)sql";

// Version 4: ACME records (Store::acme), keyed by kind and id; expires is Unix seconds,
// 0 for never (only the others are indexed). put_acme is a compare-and-set on version.
constexpr const char* kSchemaV4 = R"sql(
CREATE TABLE acme(
  kind INTEGER NOT NULL,
  id BYTEA NOT NULL,
  owner BYTEA NOT NULL,
  body BYTEA NOT NULL,
  expires BIGINT NOT NULL,
  version BIGINT NOT NULL,
  PRIMARY KEY (kind, id)
);
CREATE INDEX acme_owner ON acme(kind, owner, id);
CREATE INDEX acme_expires ON acme(expires) WHERE expires <> 0;
)sql";

struct Migration {
  int to;           // the version after `sql`
  const char* sql;  // runs inside the opening transaction
};

constexpr Migration kMigrations[] = {
    {1, kSchemaV1},
    {2, kSchemaV2},
    {3, kSchemaV3},
    {4, kSchemaV4},
};
static_assert(std::size(kMigrations) == kSchemaVersion, "one migration per version");

// The column order of the row readers (rows.cpp).
constexpr const char* kCertColumns =
    "serial, der, subject, not_before, not_after, revoked_at, request_id, predecessor, "
    "serial_entropy, revocation_reason";
constexpr const char* kRequestColumns =
    "id, state, kind, transaction_id, csr_der, fingerprint, subject, created, serial, "
    "signer_cert_der, flags, reason";
constexpr const char* kAcmeColumns = "kind, id, owner, body, expires, version";

// 'SCPT', as the SQLite engine's application_id; the second key is the schema, so that
// schemas of one database (tests) do not wait for each other.
constexpr const char* kLockSql =
    "SELECT pg_advisory_xact_lock(1396920404, hashtext(COALESCE(current_schema(), '')))";

std::array<Statement, kSqlCount> make_statements() {
  std::array<Statement, kSqlCount> s;
  auto set = [&](Sql id, std::string sql, std::string types) {
    const auto i = static_cast<std::size_t>(id);
    s[i] = {fmt::format("scepter_{}", i), std::move(sql), std::move(types)};
  };
  set(Sql::kBegin, "BEGIN", "");
  set(Sql::kCommit, "COMMIT", "");
  set(Sql::kRollback, "ROLLBACK", "");
  set(Sql::kInsertCert,
      fmt::format("INSERT INTO certificates({}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, "
                  "$10)",
                  kCertColumns),
      "ibbiiiiiin");
  // Row-locking updates that check the state they change: of two transactions revoking
  // one certificate, the second waits for the first, re-reads the row and matches
  // nothing, so exactly one succeeds (READ COMMITTED re-evaluates WHERE on the row it
  // waited for).
  set(Sql::kRevoke,
      "UPDATE certificates SET revoked_at = $2, revocation_reason = $3 "
      "WHERE serial = $1 AND revoked_at IS NULL",
      "iin");
  set(Sql::kUnrevoke,
      "UPDATE certificates SET revoked_at = NULL, revocation_reason = NULL "
      "WHERE serial = $1 AND revoked_at IS NOT NULL",
      "i");
  set(Sql::kCertExists, "SELECT 1 FROM certificates WHERE serial = $1", "i");
  set(Sql::kUpsertRequest,
      fmt::format("INSERT INTO requests({}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, "
                  "$11, $12) ON CONFLICT (id) DO UPDATE SET state = EXCLUDED.state, kind = "
                  "EXCLUDED.kind, transaction_id = EXCLUDED.transaction_id, csr_der = "
                  "EXCLUDED.csr_der, fingerprint = EXCLUDED.fingerprint, subject = "
                  "EXCLUDED.subject, created = EXCLUDED.created, serial = EXCLUDED.serial, "
                  "signer_cert_der = EXCLUDED.signer_cert_der, flags = EXCLUDED.flags, "
                  "reason = EXCLUDED.reason",
                  kRequestColumns),
      "innbbbbiibnb");
  set(Sql::kDeleteRequest, "DELETE FROM requests WHERE id = $1", "i");
  set(Sql::kDeleteRequestsBefore, "DELETE FROM requests WHERE created < $1", "i");
  set(Sql::kUpsertMeta,
      "INSERT INTO meta(key, value) VALUES ($1, $2) "
      "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
      "tb");
  set(Sql::kDeleteMeta, "DELETE FROM meta WHERE key = $1", "t");
  // Of two transactions deleting one row, the second waits and then deletes nothing.
  set(Sql::kDeleteMetaIf, "DELETE FROM meta WHERE key = $1 AND value = $2", "tb");
  set(Sql::kGetMeta, "SELECT value FROM meta WHERE key = $1", "t");
  // Locks the row until the batch commits: of two transactions deciding one request, the
  // second waits and then reads the first one's decision.
  set(Sql::kRequestStateForUpdate, "SELECT state FROM requests WHERE id = $1 FOR UPDATE", "i");
  // Delivered to the listeners when (and only if) the transaction commits.
  set(Sql::kNotify, fmt::format("SELECT pg_notify('{}', $1)::text", kEventChannel), "t");
  // Inside a write transaction. The row is locked only when the value goes up (a WHERE
  // that is false locks nothing), so the usual batch, which stores values handed out by
  // the allocator, never makes an allocation wait for its commit.
  set(Sql::kRaiseCounter, "UPDATE counters SET n = $2 WHERE name = $1 AND n < $2", "ti");
  // A block of $2 values (reserve.h), a transaction of its own (autocommit), committed
  // like every transaction: once the block is used, the row is durable above it.
  set(Sql::kAllocate,
      "UPDATE counters SET n = n + $2 WHERE name = $1 AND n <= 9223372036854775807 - $2 "
      "RETURNING n",
      "ti");
  set(Sql::kGetCert, fmt::format("SELECT {} FROM certificates WHERE serial = $1", kCertColumns),
      "i");
  set(Sql::kCertsAfter,
      fmt::format("SELECT {} FROM certificates WHERE serial > $1 ORDER BY serial LIMIT $2",
                  kCertColumns),
      "ii");
  set(Sql::kRevocationsAfter,
      "SELECT serial, revoked_at, serial_entropy, revocation_reason FROM certificates "
      "WHERE revoked_at IS NOT NULL AND serial > $1 ORDER BY serial LIMIT $2",
      "ii");
  // A scan of the primary key (no counter row: one updated by every insert would make
  // concurrent issuers wait for each other's commits).
  set(Sql::kCountCerts, "SELECT count(*) FROM certificates", "");
  set(Sql::kMaxSerial, "SELECT max(serial) FROM certificates", "");
  set(Sql::kMaxRequestId, "SELECT max(id) FROM requests", "");
  set(Sql::kGetRequest, fmt::format("SELECT {} FROM requests WHERE id = $1", kRequestColumns), "i");
  set(Sql::kRequestByTid,
      fmt::format("SELECT {} FROM requests WHERE transaction_id = $1 ORDER BY id DESC LIMIT 1",
                  kRequestColumns),
      "b");
  set(Sql::kAllRequests, fmt::format("SELECT {} FROM requests ORDER BY id DESC", kRequestColumns),
      "");
  set(Sql::kRequestsAfter,
      fmt::format("SELECT {} FROM requests WHERE id > $1 ORDER BY id LIMIT $2", kRequestColumns),
      "ii");
  set(Sql::kRequestsBefore,
      fmt::format("SELECT {} FROM requests WHERE id < $1 ORDER BY id DESC LIMIT $2",
                  kRequestColumns),
      "ii");
  set(Sql::kCountRequests, "SELECT count(*) FROM requests", "");
  set(Sql::kCountRequestsIn, "SELECT count(*) FROM requests WHERE state = ANY($1)", "a");
  // Of two nodes inserting one record, the second waits for the first's commit on the
  // primary key, then fails with a unique violation.
  set(Sql::kInsertAcme,
      fmt::format("INSERT INTO acme({}) VALUES ($1, $2, $3, $4, $5, 1)", kAcmeColumns), "nbbbi");
  // Compare-and-set: of two transactions updating one record from the same version, the
  // second waits for the first, re-reads the row (READ COMMITTED) and matches nothing.
  set(Sql::kUpdateAcme,
      "UPDATE acme SET owner = $3, body = $4, expires = $5, version = $6 + 1 "
      "WHERE kind = $1 AND id = $2 AND version = $6",
      "nbbbii");
  set(Sql::kAcmeVersion, "SELECT version FROM acme WHERE kind = $1 AND id = $2", "nb");
  set(Sql::kDeleteAcme, "DELETE FROM acme WHERE kind = $1 AND id = $2", "nb");
  set(Sql::kDeleteAcmeExpired, "DELETE FROM acme WHERE expires <> 0 AND expires < $1", "i");
  set(Sql::kGetAcme, fmt::format("SELECT {} FROM acme WHERE kind = $1 AND id = $2", kAcmeColumns),
      "nb");
  set(Sql::kAcmeByOwner,
      fmt::format("SELECT {} FROM acme WHERE kind = $1 AND owner = $2 ORDER BY id LIMIT $3",
                  kAcmeColumns),
      "nbi");
  set(Sql::kAcmeFrom,
      fmt::format("SELECT {} FROM acme WHERE kind = $1 AND id >= $2 ORDER BY id LIMIT $3",
                  kAcmeColumns),
      "nbi");
  set(Sql::kAcmeAfter,
      fmt::format("SELECT {} FROM acme WHERE kind = $1 AND id > $2 ORDER BY id LIMIT $3",
                  kAcmeColumns),
      "nbi");
  set(Sql::kCountAcme, "SELECT count(*) FROM acme WHERE kind = $1", "n");
  return s;
}

// A meta value, or nullopt when absent.
Result<std::optional<std::string>> read_meta(Conn& c, const char* key) {
  Params p;
  p.bytes(key);
  ASSIGN_OR_RETURN(Rows rows, c.run(Sql::kGetMeta, p, fmt::format("reading '{}'", key)));
  if (rows.size() == 0) return std::optional<std::string>();
  return std::optional<std::string>(rows.bytes(0, 0));
}

Result<std::int64_t> read_max(Conn& c, Sql s, const char* what) {
  ASSIGN_OR_RETURN(Rows rows, c.run(s, Params(), what));
  return rows.size() == 0 || rows.is_null(0, 0) ? 0 : rows.int64(0, 0);
}

// Past the stored rows and the legacy key (ignored when damaged, as by SQLite).
Status raise_from_data(Conn& c, const char* counter, Sql max_stored, const char* legacy_key) {
  ASSIGN_OR_RETURN(std::int64_t floor, read_max(c, max_stored, "reading the largest key"));
  ASSIGN_OR_RETURN(std::optional<std::string> legacy, read_meta(c, legacy_key));
  if (legacy) floor = std::max(floor, parse_decimal<std::int64_t>(*legacy).value_or(0));
  Params p;
  p.bytes(counter).int8(floor);
  return status_of(c.run(Sql::kRaiseCounter, p, "raising the counters"));
}

// The schema's version: 0 for an empty schema.
Result<int> stored_version(Conn& c) {
  ASSIGN_OR_RETURN(Rows found, c.query("SELECT (to_regclass('meta') IS NOT NULL)::integer", "",
                                       Params(), "looking for the tables"));
  if (found.int64(0, 0) == 0) return 0;
  ASSIGN_OR_RETURN(std::optional<std::string> text, read_meta(c, "schema_version"));
  if (!text) return fail(unavailable("not a scepter database (table meta has no schema_version)"));
  const auto v = parse_decimal<std::int64_t>(*text);
  if (!v || *v < 1) {
    return fail(unavailable(fmt::format("schema version '{}' is not a version", *text)));
  }
  if (*v > kSchemaVersion) {
    return fail(unavailable(
        fmt::format("schema version {} is newer than this build supports ({}): upgrade scepterd",
                    *v, kSchemaVersion)));
  }
  return static_cast<int>(*v);
}

Status migrate_in_transaction(Conn& c) {
  RETURN_IF_ERROR(status_of(c.query(kLockSql, "", Params(), "waiting for the schema lock")));
  ASSIGN_OR_RETURN(const int from, stored_version(c));
  for (const Migration& m : kMigrations) {
    if (m.to <= from) continue;
    RETURN_IF_ERROR(c.script(m.sql, fmt::format("migrating to schema version {}", m.to)));
    const std::string version = std::to_string(m.to);
    Params p;
    p.bytes("schema_version").bytes(version);
    RETURN_IF_ERROR(status_of(c.run(Sql::kUpsertMeta, p, "recording the schema version")));
  }
  RETURN_IF_ERROR(raise_from_data(c, kSerialCounter, Sql::kMaxSerial, "last_serial"));
  return raise_from_data(c, kRequestCounter, Sql::kMaxRequestId, "last_request_id");
}

}  // namespace

const char* migration_sql(int to) {
  for (const Migration& m : kMigrations) {
    if (m.to == to) return m.sql;
  }
  return nullptr;
}

const Statement& statement(Sql s) {
  static const std::array<Statement, kSqlCount> kStatements = make_statements();
  return kStatements[static_cast<std::size_t>(s)];
}

Status migrate(Conn& c) {
  // A migration may rewrite big tables, and waits for another node's: no answer timeout.
  const std::chrono::milliseconds timeout = c.timeout();
  c.set_timeout(std::chrono::milliseconds(0));
  Status s = status_of(c.run(Sql::kBegin, Params(), "beginning the schema check"));
  if (s.ok()) s = migrate_in_transaction(c);
  if (s.ok()) s = status_of(c.run(Sql::kCommit, Params(), "committing the schema"));
  if (!s.ok() && !c.broken()) (void)c.run(Sql::kRollback, Params(), "rolling back");
  c.set_timeout(timeout);
  return s;
}

}  // namespace scepter::store::pg
