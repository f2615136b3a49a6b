#pragma once
// Rows of the SQLite engine: reading records from a result row and the write ops of a
// batch, each on the write connection's prepared statements. Callers hold the
// connection's mutex; the write ops run inside the batch's savepoint.

#include <optional>
#include <string>

#include "common/status.h"
#include "store/sqlite/connection.h"
#include "store/sqlite/db.h"
#include "store/store.h"

namespace scepter::store::sqlite {

// A row of kCertColumns / kRequestColumns (connection.cpp). A request whose state or
// kind this build does not know fails with kUnavailable (a damaged file).
CertRecord cert_from_row(const Query& q);
Result<RequestRecord> request_from_row(const Query& q);
// A row of kAcmeColumns; a kind this build does not know fails with kUnavailable.
Result<AcmeRecord> acme_from_row(const Query& q);
// Binds `serial` as ?1 of `q`, a query for one certificate, and steps to its row:
// kNotFound if no certificate has this serial, else sqlite_error() of a failed step.
Status step_to_certificate(Query& q, Serial serial);

// kInvalidArgument for a serial or predecessor above kMaxSerial or a bad revocation
// reason, kAlreadyExists for a used serial.
Status put_certificate(const Statements& sql, const CertRecord& c);
// kInvalidArgument for a reason that is not a CRLReason, kNotFound for an unknown serial,
// kAlreadyExists if already revoked.
Status revoke(const Statements& sql, Serial serial, TimePoint at, std::optional<int> reason);
// kNotFound for an unknown serial, kInvalidArgument if not revoked.
Status unrevoke(const Statements& sql, Serial serial);
// Insert or replace; kInvalidArgument if it refers to an unknown certificate.
Status put_request(const Statements& sql, const RequestRecord& r);
// `stmt` takes the key as ?1.
Status delete_by_key(const Stmt& stmt, std::string_view key, std::string_view what);
// kNotFound unless `key` holds exactly `expected`.
Status delete_meta_if(const Statements& sql, const std::string& key, const std::string& expected);
// kAborted unless request `id` exists in `state`.
Status expect_request_state(const Statements& sql, RequestId id, RequestState state);
// WriteBatch::put_acme: insert (version 0) or compare-and-set on the version;
// kInvalidArgument, kAlreadyExists, kAborted or kNotFound as store.h says.
Status put_acme(const Statements& sql, const AcmeRecord& rec);
// Removing an unknown record is not an error.
Status delete_acme(const Statements& sql, AcmeKind kind, const std::string& id);
// Keeps the request id high-water mark (kRequestMarkKey) at least `id`.
Status raise_request_mark(const Statements& sql, RequestId id);

}  // namespace scepter::store::sqlite
