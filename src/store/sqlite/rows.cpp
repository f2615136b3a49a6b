#include "store/sqlite/rows.h"

#include <algorithm>

#include <fmt/format.h>

#include "store/acme_check.h"

namespace scepter::store::sqlite {

CertRecord cert_from_row(const Query& q) {
  CertRecord c;
  c.serial = static_cast<Serial>(q.int64(0));
  c.der = q.blob(1);
  c.subject = q.blob(2);
  c.not_before = from_unix(q.int64(3));
  c.not_after = from_unix(q.int64(4));
  if (!q.is_null(5)) c.revoked_at = from_unix(q.int64(5));
  c.request_id = q.int64(6);
  if (!q.is_null(7)) c.predecessor = static_cast<Serial>(q.int64(7));
  // Kept as the same 64 bits in a signed column.
  if (!q.is_null(8)) c.serial_entropy = static_cast<std::uint64_t>(q.int64(8));
  if (!q.is_null(9)) c.revocation_reason = static_cast<int>(q.int64(9));
  return c;
}

// The enums come from disk: a value this build does not know means a damaged file.
Result<RequestRecord> request_from_row(const Query& q) {
  RequestRecord r;
  r.id = q.int64(0);
  const std::int64_t state = q.int64(1);
  const std::int64_t kind = q.int64(2);
  if (state < 0 || state > static_cast<int>(RequestState::kPending) || kind < 0 ||
      kind > static_cast<int>(RequestKind::kRaRollover)) {
    return fail(unavailable(
        fmt::format("request {} has state {} and kind {}: corrupt database", r.id, state, kind)));
  }
  r.state = static_cast<RequestState>(state);
  r.kind = static_cast<RequestKind>(kind);
  r.transaction_id = q.blob(3);
  r.csr_der = q.blob(4);
  r.fingerprint = q.blob(5);
  r.subject = q.blob(6);
  r.created = from_unix(q.int64(7));
  if (!q.is_null(8)) r.serial = static_cast<Serial>(q.int64(8));
  r.signer_cert_der = q.blob(9);
  r.flags = static_cast<int>(q.int64(10));
  r.reason = q.blob(11);
  return r;
}

Result<AcmeRecord> acme_from_row(const Query& q) {
  AcmeRecord r;
  const std::int64_t kind = q.int64(0);
  r.id = q.blob(1);
  if (!is_acme_kind(kind)) {
    return fail(
        unavailable(fmt::format("ACME record '{}' has kind {}: corrupt database", r.id, kind)));
  }
  r.kind = static_cast<AcmeKind>(kind);
  r.owner = q.blob(2);
  r.body = q.blob(3);
  r.expires = from_unix(q.int64(4));
  r.version = q.int64(5);
  return r;
}

Status put_certificate(const sqlite::Statements& sql, const CertRecord& c) {
  if (c.serial > kMaxSerial) {
    return invalid_argument(fmt::format("serial {:#x} is too large", c.serial));
  }
  if (c.predecessor && *c.predecessor > kMaxSerial) {
    return invalid_argument(fmt::format("predecessor {:#x} is too large", *c.predecessor));
  }
  if (c.revocation_reason && (!c.revoked_at || !is_crl_reason(*c.revocation_reason))) {
    return invalid_argument(
        fmt::format("certificate {:#x}: revocation reason {} {}", c.serial, *c.revocation_reason,
                    c.revoked_at ? "is not a CRLReason" : "without a revocation"));
  }
  Query q(sql.insert_cert);
  q.bind(1, static_cast<std::int64_t>(c.serial))
      .bind_blob(2, c.der)
      .bind_text(3, c.subject)
      .bind(4, to_unix(c.not_before))
      .bind(5, to_unix(c.not_after))
      .bind(7, c.request_id);
  if (c.revoked_at) {
    q.bind(6, to_unix(*c.revoked_at));
  } else {
    q.bind_null(6);
  }
  if (c.predecessor) {
    q.bind(8, static_cast<std::int64_t>(*c.predecessor));
  } else {
    q.bind_null(8);
  }
  if (c.serial_entropy) {
    q.bind(9, static_cast<std::int64_t>(*c.serial_entropy));
  } else {
    q.bind_null(9);
  }
  if (c.revocation_reason) {
    q.bind(10, *c.revocation_reason);
  } else {
    q.bind_null(10);
  }
  const int rc = q.step();
  if (rc == SQLITE_DONE) return ok_status();
  if (rc == SQLITE_CONSTRAINT_PRIMARYKEY) {
    return already_exists(fmt::format("a certificate with serial {:#x} already exists", c.serial));
  }
  return sqlite_error(q.db(), rc, fmt::format("storing certificate {:#x}", c.serial));
}

Status step_to_certificate(Query& q, Serial serial) {
  q.bind(1, static_cast<std::int64_t>(serial));
  const int rc = q.step();
  if (rc == SQLITE_ROW) return ok_status();
  if (rc == SQLITE_DONE) return not_found(fmt::format("no certificate with serial {:#x}", serial));
  return sqlite_error(q.db(), rc, fmt::format("reading certificate {:#x}", serial));
}

namespace {

// Whether the certificate is revoked; kNotFound for an unknown serial.
Result<bool> is_revoked(const sqlite::Statements& sql, Serial serial) {
  Query q(sql.cert_revoked_at);
  RETURN_IF_ERROR(step_to_certificate(q, serial));
  return !q.is_null(0);
}

}  // namespace

Status revoke(const sqlite::Statements& sql, Serial serial, TimePoint at,
              std::optional<int> reason) {
  if (reason && !is_crl_reason(*reason)) {
    return invalid_argument(fmt::format("revocation reason {} is not a CRLReason", *reason));
  }
  ASSIGN_OR_RETURN(const bool revoked, is_revoked(sql, serial));
  if (revoked) return already_exists(fmt::format("certificate {:#x} is already revoked", serial));
  Query q(sql.revoke_cert);
  q.bind(1, static_cast<std::int64_t>(serial)).bind(2, to_unix(at));
  if (reason) {
    q.bind(3, *reason);
  } else {
    q.bind_null(3);
  }
  const int rc = q.step();
  if (rc == SQLITE_DONE) return ok_status();
  return sqlite_error(q.db(), rc, fmt::format("revoking certificate {:#x}", serial));
}

Status unrevoke(const sqlite::Statements& sql, Serial serial) {
  ASSIGN_OR_RETURN(const bool revoked, is_revoked(sql, serial));
  if (!revoked) return invalid_argument(fmt::format("certificate {:#x} is not revoked", serial));
  Query q(sql.revoke_cert);
  q.bind(1, static_cast<std::int64_t>(serial)).bind_null(2).bind_null(3);
  const int rc = q.step();
  if (rc == SQLITE_DONE) return ok_status();
  return sqlite_error(q.db(), rc, fmt::format("unrevoking certificate {:#x}", serial));
}

Status put_request(const sqlite::Statements& sql, const RequestRecord& r) {
  Query q(sql.upsert_request);
  q.bind(1, r.id)
      .bind(2, static_cast<int>(r.state))
      .bind(3, static_cast<int>(r.kind))
      .bind_text(4, r.transaction_id)
      .bind_blob(5, r.csr_der)
      .bind_text(6, r.fingerprint)
      .bind_text(7, r.subject)
      .bind(8, to_unix(r.created))
      .bind_blob(10, r.signer_cert_der)
      .bind(11, r.flags)
      .bind_text(12, r.reason);
  if (r.serial) {
    q.bind(9, static_cast<std::int64_t>(*r.serial));
  } else {
    q.bind_null(9);
  }
  const int rc = q.step();
  if (rc == SQLITE_DONE) return ok_status();
  if (rc == SQLITE_CONSTRAINT_FOREIGNKEY) {
    return invalid_argument(
        fmt::format("request {} refers to unknown certificate {:#x}", r.id, r.serial.value_or(0)));
  }
  return sqlite_error(q.db(), rc, fmt::format("storing request {}", r.id));
}

Status delete_by_key(const Stmt& stmt, std::string_view key, std::string_view what) {
  Query q(stmt);
  q.bind_text(1, key);
  const int rc = q.step();
  if (rc == SQLITE_DONE) return ok_status();
  return sqlite_error(q.db(), rc, what);
}

Status delete_meta_if(const sqlite::Statements& sql, const std::string& key,
                      const std::string& expected) {
  Query q(sql.delete_meta_if);
  q.bind_text(1, key).bind_blob(2, expected);
  const int rc = q.step();
  if (rc != SQLITE_DONE) return sqlite_error(q.db(), rc, fmt::format("deleting '{}'", key));
  if (sqlite3_changes64(q.db()) != 1) {
    return not_found(fmt::format("'{}' is not set to the expected value", key));
  }
  return ok_status();
}

Status expect_request_state(const sqlite::Statements& sql, RequestId id, RequestState state) {
  Query q(sql.request_state);
  q.bind(1, id);
  const int rc = q.step();
  if (rc == SQLITE_ROW) {
    if (q.int64(0) == static_cast<std::int64_t>(state)) return ok_status();
  } else if (rc != SQLITE_DONE) {
    return sqlite_error(q.db(), rc, fmt::format("reading the state of request {}", id));
  }
  return aborted(fmt::format("request {} is no longer {}", id, request_state_name(state)));
}

Status put_acme(const sqlite::Statements& sql, const AcmeRecord& rec) {
  RETURN_IF_ERROR(check_acme_record(rec));
  const char* what = acme_kind_name(rec.kind);
  const auto kind = static_cast<std::int64_t>(rec.kind);
  {
    Query q(rec.version == 0 ? sql.insert_acme : sql.update_acme);
    q.bind(1, kind)
        .bind_text(2, rec.id)
        .bind_text(3, rec.owner)
        .bind_blob(4, rec.body)
        .bind(5, to_unix(rec.expires));
    if (rec.version != 0) q.bind(6, rec.version);
    const int rc = q.step();
    if (rc == SQLITE_CONSTRAINT_PRIMARYKEY) {
      return already_exists(fmt::format("{} '{}' already exists", what, rec.id));
    }
    if (rc != SQLITE_DONE) {
      return sqlite_error(q.db(), rc, fmt::format("storing {} '{}'", what, rec.id));
    }
    if (rec.version == 0 || sqlite3_changes64(q.db()) == 1) return ok_status();
  }
  // Nothing changed: the record is gone, or at another version.
  Query q(sql.acme_version);
  q.bind(1, kind).bind_text(2, rec.id);
  const int rc = q.step();
  if (rc == SQLITE_DONE) return not_found(fmt::format("no {} '{}'", what, rec.id));
  if (rc != SQLITE_ROW) {
    return sqlite_error(q.db(), rc, fmt::format("reading {} '{}'", what, rec.id));
  }
  return aborted(
      fmt::format("{} '{}' is at version {}, not {}", what, rec.id, q.int64(0), rec.version));
}

Status delete_acme(const sqlite::Statements& sql, AcmeKind kind, const std::string& id) {
  Query q(sql.delete_acme);
  q.bind(1, static_cast<std::int64_t>(kind)).bind_text(2, id);
  const int rc = q.step();
  if (rc == SQLITE_DONE) return ok_status();
  return sqlite_error(q.db(), rc, fmt::format("deleting {} '{}'", acme_kind_name(kind), id));
}

// Keeps the request id high-water mark at least `id`, in the batch's transaction.
Status raise_request_mark(const sqlite::Statements& sql, RequestId id) {
  Query q(sql.raise_request_mark);
  q.bind(1, id);
  const int rc = q.step();
  if (rc == SQLITE_DONE) return ok_status();
  return sqlite_error(q.db(), rc, "recording the last request id");
}

}  // namespace scepter::store::sqlite
