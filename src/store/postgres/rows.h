#pragma once
// Rows of the PostgreSQL engine: records from result rows, and the write ops of a batch
// on a connection inside the batch's transaction. Same checks and codes as the SQLite
// engine's rows.h.

#include <optional>
#include <string>

#include "common/status.h"
#include "store/postgres/conn.h"
#include "store/postgres/pg.h"
#include "store/store.h"

namespace scepter::store::pg {

// Row `row` of a kCertColumns / kRequestColumns result (schema.cpp). A request whose
// state or kind this build does not know fails with kUnavailable (a damaged database).
CertRecord cert_from_row(const Rows& rows, int row);
Result<RequestRecord> request_from_row(const Rows& rows, int row);
Revocation revocation_from_row(const Rows& rows, int row);
// A row of kAcmeColumns; a kind this build does not know fails with kUnavailable.
Result<AcmeRecord> acme_from_row(const Rows& rows, int row);

// The ops of a batch whose outcome is their statement's (Conn::run(), or a pipeline).
// kInvalidArgument for a serial or predecessor above kMaxSerial or a bad revocation
// reason (before running), kAlreadyExists for a used serial.
Result<Step> put_certificate_step(const CertRecord& rec);
// Insert or replace; kInvalidArgument if it refers to an unknown certificate.
Result<Step> put_request_step(const RequestRecord& r);
Step delete_request_step(RequestId id);
Step put_meta_step(const std::string& key, const std::string& value);
Step delete_meta_step(const std::string& key);
// pg_notify on kEventChannel, sent when the transaction commits.
Step notify_step(std::string payload);
// put_acme of a record not stored yet (version 0): kAlreadyExists if it is;
// kInvalidArgument (before running) for a record over its bounds.
Result<Step> insert_acme_step(const AcmeRecord& rec);
Step delete_acme_step(AcmeKind kind, const std::string& id);
// Keeps a counter (schema.h) at least `value`; locks its row only when it goes up.
Step raise_counter_step(const char* counter, std::int64_t value);

// Ops that look at the rows they touched, run one at a time.
// kInvalidArgument for a reason that is not a CRLReason, kNotFound for an unknown serial,
// kAlreadyExists if already revoked.
Status revoke(Conn& c, Serial serial, TimePoint at, std::optional<int> reason);
// kNotFound for an unknown serial, kInvalidArgument if not revoked.
Status unrevoke(Conn& c, Serial serial);
// kNotFound unless `key` holds exactly `expected`.
Status delete_meta_if(Conn& c, const std::string& key, const std::string& expected);
// kAborted unless request `id` exists in `state`; locks its row for the transaction.
Status expect_request_state(Conn& c, RequestId id, RequestState state);
// put_acme of a stored record (version > 0): compare-and-set on the version, kAborted if
// the stored one differs, kNotFound if the record is gone.
Status update_acme(Conn& c, const AcmeRecord& rec);

}  // namespace scepter::store::pg
