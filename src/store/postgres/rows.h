#pragma once
// Rows of the PostgreSQL engine: records from result rows, and the write ops of a batch
// on a connection inside the batch's transaction. Same checks and codes as the SQLite
// engine's rows.h.

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

// kInvalidArgument for a serial or predecessor above kMaxSerial, kAlreadyExists for a
// used serial.
Status put_certificate(Conn& c, const CertRecord& rec);
// kNotFound for an unknown serial, kAlreadyExists if already revoked.
Status revoke(Conn& c, Serial serial, TimePoint at);
// kNotFound for an unknown serial, kInvalidArgument if not revoked.
Status unrevoke(Conn& c, Serial serial);
// Insert or replace; kInvalidArgument if it refers to an unknown certificate.
Status put_request(Conn& c, const RequestRecord& r);
Status delete_request(Conn& c, RequestId id);
Status put_meta(Conn& c, const std::string& key, const std::string& value);
Status delete_meta(Conn& c, const std::string& key);
// kNotFound unless `key` holds exactly `expected`.
Status delete_meta_if(Conn& c, const std::string& key, const std::string& expected);
// kAborted unless request `id` exists in `state`; locks its row for the transaction.
Status expect_request_state(Conn& c, RequestId id, RequestState state);
// pg_notify on kEventChannel, sent when the transaction commits.
Status notify(Conn& c, const std::string& payload);
// Keeps a counter (schema.h) at least `value`; locks its row only when it goes up.
Status raise_counter(Conn& c, const char* counter, std::int64_t value);

}  // namespace scepter::store::pg
