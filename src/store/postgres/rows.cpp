#include "store/postgres/rows.h"

#include <fmt/format.h>

#include "store/acme_check.h"

namespace scepter::store::pg {
namespace {

Params& optional_int8(Params& p, const std::optional<std::int64_t>& v) {
  return v ? p.int8(*v) : p.null();
}

Params& optional_int4(Params& p, const std::optional<int>& v) { return v ? p.int4(*v) : p.null(); }

// Whether a certificate with this serial is stored (seen by this transaction).
Result<bool> cert_exists(Conn& c, Serial serial) {
  Params p;
  p.int8(static_cast<std::int64_t>(serial));
  ASSIGN_OR_RETURN(Rows rows,
                   c.run(Sql::kCertExists, p, fmt::format("reading certificate {:#x}", serial)));
  return rows.size() > 0;
}

}  // namespace

CertRecord cert_from_row(const Rows& rows, int row) {
  CertRecord c;
  c.serial = static_cast<Serial>(rows.int64(row, 0));
  c.der = rows.bytes(row, 1);
  c.subject = rows.bytes(row, 2);
  c.not_before = from_unix(rows.int64(row, 3));
  c.not_after = from_unix(rows.int64(row, 4));
  if (!rows.is_null(row, 5)) c.revoked_at = from_unix(rows.int64(row, 5));
  c.request_id = rows.int64(row, 6);
  if (!rows.is_null(row, 7)) c.predecessor = static_cast<Serial>(rows.int64(row, 7));
  // Kept as the same 64 bits in a signed column.
  if (!rows.is_null(row, 8)) c.serial_entropy = static_cast<std::uint64_t>(rows.int64(row, 8));
  if (!rows.is_null(row, 9)) c.revocation_reason = static_cast<int>(rows.int64(row, 9));
  return c;
}

// The enums come from the database: a value this build does not know means damage.
Result<RequestRecord> request_from_row(const Rows& rows, int row) {
  RequestRecord r;
  r.id = rows.int64(row, 0);
  const std::int64_t state = rows.int64(row, 1);
  const std::int64_t kind = rows.int64(row, 2);
  if (state < 0 || state > static_cast<int>(RequestState::kPending) || kind < 0 ||
      kind > static_cast<int>(RequestKind::kRaRollover)) {
    return fail(unavailable(
        fmt::format("request {} has state {} and kind {}: corrupt database", r.id, state, kind)));
  }
  r.state = static_cast<RequestState>(state);
  r.kind = static_cast<RequestKind>(kind);
  r.transaction_id = rows.bytes(row, 3);
  r.csr_der = rows.bytes(row, 4);
  r.fingerprint = rows.bytes(row, 5);
  r.subject = rows.bytes(row, 6);
  r.created = from_unix(rows.int64(row, 7));
  if (!rows.is_null(row, 8)) r.serial = static_cast<Serial>(rows.int64(row, 8));
  r.signer_cert_der = rows.bytes(row, 9);
  r.flags = static_cast<int>(rows.int64(row, 10));
  r.reason = rows.bytes(row, 11);
  return r;
}

Revocation revocation_from_row(const Rows& rows, int row) {
  Revocation r;
  r.serial = static_cast<Serial>(rows.int64(row, 0));
  r.at = from_unix(rows.int64(row, 1));
  if (!rows.is_null(row, 2)) r.serial_entropy = static_cast<std::uint64_t>(rows.int64(row, 2));
  if (!rows.is_null(row, 3)) r.reason = static_cast<int>(rows.int64(row, 3));
  return r;
}

Result<AcmeRecord> acme_from_row(const Rows& rows, int row) {
  AcmeRecord r;
  const std::int64_t kind = rows.int64(row, 0);
  r.id = rows.bytes(row, 1);
  if (!is_acme_kind(kind)) {
    return fail(
        unavailable(fmt::format("ACME record '{}' has kind {}: corrupt database", r.id, kind)));
  }
  r.kind = static_cast<AcmeKind>(kind);
  r.owner = rows.bytes(row, 2);
  r.body = rows.bytes(row, 3);
  r.expires = from_unix(rows.int64(row, 4));
  r.version = rows.int64(row, 5);
  return r;
}

Result<Step> insert_acme_step(const AcmeRecord& rec) {
  if (Status s = check_acme_record(rec); !s.ok()) return fail(std::move(s));
  const char* what = acme_kind_name(rec.kind);
  Step step{Sql::kInsertAcme, Params(), fmt::format("storing {} '{}'", what, rec.id),
            kUniqueViolation, already_exists(fmt::format("{} '{}' already exists", what, rec.id))};
  step.params.int4(static_cast<std::int32_t>(rec.kind))
      .bytes(rec.id)
      .bytes(rec.owner)
      .bytes(rec.body)
      .int8(to_unix(rec.expires));
  return step;
}

Step delete_acme_step(AcmeKind kind, const std::string& id) {
  Step step{Sql::kDeleteAcme, Params(), fmt::format("deleting {} '{}'", acme_kind_name(kind), id)};
  step.params.int4(static_cast<std::int32_t>(kind)).bytes(id);
  return step;
}

Status update_acme(Conn& c, const AcmeRecord& rec) {
  RETURN_IF_ERROR(check_acme_record(rec));
  const char* what = acme_kind_name(rec.kind);
  Params p;
  p.int4(static_cast<std::int32_t>(rec.kind))
      .bytes(rec.id)
      .bytes(rec.owner)
      .bytes(rec.body)
      .int8(to_unix(rec.expires))
      .int8(rec.version);
  ASSIGN_OR_RETURN(Rows rows,
                   c.run(Sql::kUpdateAcme, p, fmt::format("storing {} '{}'", what, rec.id)));
  if (rows.affected() == 1) return ok_status();
  // Nothing changed: the record is gone, or another transaction stored another version.
  Params q;
  q.int4(static_cast<std::int32_t>(rec.kind)).bytes(rec.id);
  ASSIGN_OR_RETURN(Rows found,
                   c.run(Sql::kAcmeVersion, q, fmt::format("reading {} '{}'", what, rec.id)));
  if (found.size() == 0) return not_found(fmt::format("no {} '{}'", what, rec.id));
  return aborted(fmt::format("{} '{}' is at version {}, not {}", what, rec.id, found.int64(0, 0),
                             rec.version));
}

Result<Step> put_certificate_step(const CertRecord& rec) {
  if (rec.serial > kMaxSerial) {
    return fail(invalid_argument(fmt::format("serial {:#x} is too large", rec.serial)));
  }
  if (rec.predecessor && *rec.predecessor > kMaxSerial) {
    return fail(invalid_argument(fmt::format("predecessor {:#x} is too large", *rec.predecessor)));
  }
  if (rec.revocation_reason && (!rec.revoked_at || !is_crl_reason(*rec.revocation_reason))) {
    return fail(invalid_argument(fmt::format(
        "certificate {:#x}: revocation reason {} {}", rec.serial, *rec.revocation_reason,
        rec.revoked_at ? "is not a CRLReason" : "without a revocation")));
  }
  Step step{
      Sql::kInsertCert, Params(), fmt::format("storing certificate {:#x}", rec.serial),
      kUniqueViolation,
      already_exists(fmt::format("a certificate with serial {:#x} already exists", rec.serial))};
  Params& p = step.params;
  p.int8(static_cast<std::int64_t>(rec.serial))
      .bytes(rec.der)
      .bytes(rec.subject)
      .int8(to_unix(rec.not_before))
      .int8(to_unix(rec.not_after));
  optional_int8(p, rec.revoked_at ? std::optional(to_unix(*rec.revoked_at)) : std::nullopt);
  p.int8(rec.request_id);
  optional_int8(p, rec.predecessor ? std::optional(static_cast<std::int64_t>(*rec.predecessor))
                                   : std::nullopt);
  optional_int8(p, rec.serial_entropy
                       ? std::optional(static_cast<std::int64_t>(*rec.serial_entropy))
                       : std::nullopt);
  optional_int4(p, rec.revocation_reason);
  return step;
}

Status revoke(Conn& c, Serial serial, TimePoint at, std::optional<int> reason) {
  if (reason && !is_crl_reason(*reason)) {
    return invalid_argument(fmt::format("revocation reason {} is not a CRLReason", *reason));
  }
  if (serial > kMaxSerial)
    return not_found(fmt::format("no certificate with serial {:#x}", serial));
  Params p;
  p.int8(static_cast<std::int64_t>(serial)).int8(to_unix(at));
  optional_int4(p, reason);
  ASSIGN_OR_RETURN(Rows rows,
                   c.run(Sql::kRevoke, p, fmt::format("revoking certificate {:#x}", serial)));
  if (rows.affected() == 1) return ok_status();
  // Nothing changed: unknown, or revoked already (by this batch or a committed one).
  ASSIGN_OR_RETURN(const bool exists, cert_exists(c, serial));
  if (!exists) return not_found(fmt::format("no certificate with serial {:#x}", serial));
  return already_exists(fmt::format("certificate {:#x} is already revoked", serial));
}

Status unrevoke(Conn& c, Serial serial) {
  if (serial > kMaxSerial)
    return not_found(fmt::format("no certificate with serial {:#x}", serial));
  Params p;
  p.int8(static_cast<std::int64_t>(serial));
  ASSIGN_OR_RETURN(Rows rows,
                   c.run(Sql::kUnrevoke, p, fmt::format("unrevoking certificate {:#x}", serial)));
  if (rows.affected() == 1) return ok_status();
  ASSIGN_OR_RETURN(const bool exists, cert_exists(c, serial));
  if (!exists) return not_found(fmt::format("no certificate with serial {:#x}", serial));
  return invalid_argument(fmt::format("certificate {:#x} is not revoked", serial));
}

Result<Step> put_request_step(const RequestRecord& r) {
  auto unknown_cert = [&] {
    return invalid_argument(
        fmt::format("request {} refers to unknown certificate {:#x}", r.id, r.serial.value_or(0)));
  };
  if (r.serial && *r.serial > kMaxSerial) return fail(unknown_cert());
  Step step{Sql::kUpsertRequest, Params(), fmt::format("storing request {}", r.id),
            kForeignKeyViolation, unknown_cert()};
  Params& p = step.params;
  p.int8(r.id)
      .int4(static_cast<std::int32_t>(r.state))
      .int4(static_cast<std::int32_t>(r.kind))
      .bytes(r.transaction_id)
      .bytes(r.csr_der)
      .bytes(r.fingerprint)
      .bytes(r.subject)
      .int8(to_unix(r.created));
  optional_int8(p, r.serial ? std::optional(static_cast<std::int64_t>(*r.serial)) : std::nullopt);
  p.bytes(r.signer_cert_der).int4(r.flags).bytes(r.reason);
  return step;
}

Step delete_request_step(RequestId id) {
  Step step{Sql::kDeleteRequest, Params(), fmt::format("deleting request {}", id)};
  step.params.int8(id);
  return step;
}

Step put_meta_step(const std::string& key, const std::string& value) {
  Step step{Sql::kUpsertMeta, Params(), fmt::format("storing '{}'", key)};
  step.params.bytes(key).bytes(value);
  return step;
}

Step delete_meta_step(const std::string& key) {
  Step step{Sql::kDeleteMeta, Params(), fmt::format("deleting '{}'", key)};
  step.params.bytes(key);
  return step;
}

Status delete_meta_if(Conn& c, const std::string& key, const std::string& expected) {
  Params p;
  p.bytes(key).bytes(expected);
  ASSIGN_OR_RETURN(Rows rows, c.run(Sql::kDeleteMetaIf, p, fmt::format("deleting '{}'", key)));
  if (rows.affected() != 1) {
    return not_found(fmt::format("'{}' is not set to the expected value", key));
  }
  return ok_status();
}

Status expect_request_state(Conn& c, RequestId id, RequestState state) {
  Params p;
  p.int8(id);
  ASSIGN_OR_RETURN(Rows rows, c.run(Sql::kRequestStateForUpdate, p,
                                    fmt::format("reading the state of request {}", id)));
  if (rows.size() != 1 || rows.int64(0, 0) != static_cast<std::int64_t>(state)) {
    return aborted(fmt::format("request {} is no longer {}", id, request_state_name(state)));
  }
  return ok_status();
}

Step notify_step(std::string payload) {
  Step step{Sql::kNotify, Params(), "notifying the other nodes"};
  step.params.owned_bytes(std::move(payload));
  return step;
}

Step raise_counter_step(const char* counter, std::int64_t value) {
  Step step{Sql::kRaiseCounter, Params(), fmt::format("raising counter '{}'", counter)};
  step.params.bytes(counter).int8(value);
  return step;
}

}  // namespace scepter::store::pg
