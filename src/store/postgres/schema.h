#pragma once
// The PostgreSQL engine's schema: the statements it prepares on every connection, and
// the migrations that create and upgrade its tables.
//
// The tables are the SQLite engine's (sqlite/connection.cpp), with the same columns and
// encodings: a TimePoint is a bigint of Unix seconds, serials and the entropy are
// bigints (the same 64 bits, signed), enums are their integer values. Every string of a
// record is bytea, where SQLite declares TEXT but keeps the bytes it is given: the
// contract round-trips bytes (a refusal reason may hold a NUL, a subject need not be
// UTF-8), which PostgreSQL's text refuses. Meta keys are text.
//
// `counters` holds the two allocators (Store::allocate_serial, next_request_id): rows
// "last_serial" and "last_request_id", each the largest value allocated or stored.

#include <cstddef>
#include <string>

#include "common/status.h"

namespace scepter::store::pg {

class Conn;

// The schema this code writes. Version 1 is the SQLite engine's version 3, plus the
// counters; version 2 allows one request per non-empty transactionID; version 3 adds
// certificates.revocation_reason (the SQLite engine's version 4); version 4 adds the
// table acme (the SQLite engine's version 5; ids and owners are bytea). An empty schema
// is brought to this version at open; a higher stored version is refused (kUnavailable).
inline constexpr int kSchemaVersion = 4;

// Names of the `counters` rows.
inline constexpr const char* kSerialCounter = "last_serial";
inline constexpr const char* kRequestCounter = "last_request_id";

// Every statement the engine runs more than once; each connection prepares a statement
// the first time it runs it.
enum class Sql : int {
  kBegin,
  kCommit,
  kRollback,
  kInsertCert,
  kRevoke,
  kUnrevoke,
  kCertExists,
  kUpsertRequest,
  kDeleteRequest,
  kDeleteRequestsBefore,
  kUpsertMeta,
  kDeleteMeta,
  kDeleteMetaIf,
  kGetMeta,
  kRaiseCounter,
  kAllocate,
  kGetCert,
  kCertsAfter,
  kRevocationsAfter,
  kCountCerts,
  kMaxSerial,
  kMaxRequestId,
  kGetRequest,
  kRequestByTid,
  kAllRequests,
  kRequestsAfter,
  kRequestsBefore,
  kCountRequests,
  kCountRequestsIn,
  kRequestStateForUpdate,
  kInsertAcme,
  kUpdateAcme,
  kAcmeVersion,
  kDeleteAcme,
  kDeleteAcmeExpired,
  kGetAcme,
  kAcmeByOwner,
  kAcmeFrom,
  kAcmeAfter,
  kCountAcme,
  kNotify,
};
inline constexpr std::size_t kSqlCount = static_cast<std::size_t>(Sql::kNotify) + 1;

// The channel every event of WriteBatch::notify goes out on; the payload is the sending
// store's id, a space, and the event.
inline constexpr const char* kEventChannel = "scepter_events";

struct Statement {
  std::string name;   // the prepared statement's name on every connection
  std::string sql;    // $1, $2, ... in the order of `types`
  std::string types;  // one letter per parameter (pg.h oid_of)
};
const Statement& statement(Sql s);

// Creates the schema or brings it up to kSchemaVersion, in one transaction holding an
// advisory lock (per database and schema), so that nodes starting together take turns;
// then raises the counters past the stored rows and the legacy meta keys "last_serial"
// and "last_request_id" (a database filled by other means). `c` must be idle. Fails
// with kUnavailable for a newer schema or tables that are not ours.
Status migrate(Conn& c);
// The SQL that brings a schema from version `to` - 1 to `to` (tests build old schemas
// with it), or null.
const char* migration_sql(int to);

}  // namespace scepter::store::pg
