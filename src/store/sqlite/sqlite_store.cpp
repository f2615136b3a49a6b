#include "store/sqlite/sqlite_store.h"

#include <algorithm>
#include <utility>

#include <fmt/format.h>

#include "common/fs.h"
#include "store/sqlite/connection.h"
#include "store/sqlite/db.h"

namespace scepter::store {

using sqlite::Connection;
using sqlite::Query;
using sqlite::sqlite_error;
using sqlite::Stmt;

namespace {

// Enough to amortise one fsync over many enrolments, small enough to keep a transaction
// (and the latency of the first caller in it) short.
constexpr std::size_t kMaxGroup = 256;
// Rows per read while iterating: memory stays bounded whatever the table size.
constexpr int kCertChunk = 256;
constexpr int kRevocationChunk = 4096;

bool in_memory(const std::string& path) { return path.empty() || path == ":memory:"; }

std::string parent_dir(const std::string& path) {
  const auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// Runs a statement that returns no rows (transaction control, writes).
Status run(const Stmt& stmt, std::string_view what) {
  Query q(stmt);
  const int rc = q.step();
  if (rc == SQLITE_DONE || rc == SQLITE_ROW) return ok_status();
  return sqlite_error(q.db(), rc, what);
}

CertRecord cert_from_row(const Query& q) {
  CertRecord c;
  c.serial = static_cast<Serial>(q.int64(0));
  c.der = q.blob(1);
  c.subject = q.blob(2);
  c.not_before = from_unix(q.int64(3));
  c.not_after = from_unix(q.int64(4));
  if (!q.is_null(5)) c.revoked_at = from_unix(q.int64(5));
  c.request_id = q.int64(6);
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
  return r;
}

Status put_certificate(const sqlite::Statements& sql, const CertRecord& c) {
  if (c.serial > kMaxSerial) {
    return invalid_argument(fmt::format("serial {:#x} is too large", c.serial));
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
  const int rc = q.step();
  if (rc == SQLITE_DONE) return ok_status();
  if (rc == SQLITE_CONSTRAINT_PRIMARYKEY) {
    return already_exists(fmt::format("a certificate with serial {:#x} already exists", c.serial));
  }
  return sqlite_error(q.db(), rc, fmt::format("storing certificate {:#x}", c.serial));
}

Status revoke(const sqlite::Statements& sql, Serial serial, TimePoint at) {
  {
    Query q(sql.cert_revoked_at);
    q.bind(1, static_cast<std::int64_t>(serial));
    const int rc = q.step();
    if (rc == SQLITE_DONE)
      return not_found(fmt::format("no certificate with serial {:#x}", serial));
    if (rc != SQLITE_ROW) {
      return sqlite_error(q.db(), rc, fmt::format("reading certificate {:#x}", serial));
    }
    if (!q.is_null(0)) {
      return already_exists(fmt::format("certificate {:#x} is already revoked", serial));
    }
  }
  Query q(sql.revoke_cert);
  q.bind(1, static_cast<std::int64_t>(serial)).bind(2, to_unix(at));
  const int rc = q.step();
  if (rc == SQLITE_DONE) return ok_status();
  return sqlite_error(q.db(), rc, fmt::format("revoking certificate {:#x}", serial));
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
      .bind(11, r.flags);
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

}  // namespace

// A caller of write() waiting in the queue.
struct SqliteStore::Writer {
  explicit Writer(const WriteBatch& b) : batch(b) {}
  const WriteBatch& batch;
  Status status;
  bool done = false;  // GUARDED_BY(queue_mu_)
  std::condition_variable cv;
};

Result<std::unique_ptr<SqliteStore>> SqliteStore::open(const std::string& path,
                                                       const SqliteOptions& options) {
  const bool memory = in_memory(path);
  const bool created = !memory && !fs::exists(path);
  ASSIGN_OR_RETURN(auto writer,
                   Connection::open(path, Connection::Role::kWriter, options.busy_timeout_ms));
  if (created) {
    // The new file's directory entry must be durable before we report anything written.
    Status s = fs::fsync_dir(parent_dir(path));
    if (!s.ok()) return fail(unavailable(fmt::format("database '{}': {}", path, s.message())));
  }
  std::unique_ptr<Connection> reader;
  if (!memory) {
    ASSIGN_OR_RETURN(reader,
                     Connection::open(path, Connection::Role::kReader, options.busy_timeout_ms));
  }
  return std::unique_ptr<SqliteStore>(new SqliteStore(path, std::move(writer), std::move(reader)));
}

SqliteStore::SqliteStore(std::string path, std::unique_ptr<Connection> writer,
                         std::unique_ptr<Connection> reader)
    : path_(std::move(path)),
      writer_(std::move(writer)),
      own_reader_(std::move(reader)),
      reader_(own_reader_ ? own_reader_.get() : writer_.get()) {}

SqliteStore::~SqliteStore() = default;

Status SqliteStore::apply_batch(const WriteBatch& batch) {
  using Kind = WriteBatch::Op::Kind;
  const sqlite::Statements& sql = writer_->sql();
  for (const WriteBatch::Op& op : batch.ops()) {
    Status s;
    switch (op.kind) {
      case Kind::kPutCert:
        s = put_certificate(sql, op.cert);
        break;
      case Kind::kRevoke:
        s = revoke(sql, op.serial, op.at);
        break;
      case Kind::kPutRequest:
        s = put_request(sql, op.request);
        break;
      case Kind::kDeleteRequest: {
        Query q(sql.delete_request);
        q.bind(1, op.request_id);
        const int rc = q.step();
        if (rc != SQLITE_DONE) {
          s = sqlite_error(q.db(), rc, fmt::format("deleting request {}", op.request_id));
        }
        break;
      }
      case Kind::kPutMeta: {
        Query q(sql.upsert_meta);
        q.bind_text(1, op.key).bind_blob(2, op.value);
        const int rc = q.step();
        if (rc != SQLITE_DONE) s = sqlite_error(q.db(), rc, fmt::format("storing '{}'", op.key));
        break;
      }
      case Kind::kDeleteMeta:
        s = delete_by_key(sql.delete_meta, op.key, fmt::format("deleting '{}'", op.key));
        break;
    }
    if (!s.ok()) return s;
  }
  return ok_status();
}

// Called by the leader alone, so only it touches the write connection's transaction
// state. Every Writer of the group leaves with its status set.
void SqliteStore::commit_group(const std::vector<Writer*>& group) {
  std::lock_guard conn_lock(writer_->mu());
  const sqlite::Statements& sql = writer_->sql();
  sqlite3* db = writer_->db();
  auto fail_all = [&](const Status& why) {
    for (Writer* w : group) {
      if (w->status.ok()) w->status = why;
    }
  };

  Status s = run(sql.begin, "beginning a transaction");
  if (!s.ok()) return fail_all(s);
  bool any_ok = false;
  for (Writer* w : group) {
    s = run(sql.savepoint, "savepoint");
    if (s.ok()) {
      w->status = apply_batch(w->batch);
      if (w->status.ok()) {
        s = run(sql.release, "releasing a savepoint");
        any_ok = any_ok || s.ok();
      } else if (sqlite3_get_autocommit(db) == 0) {
        // A batch-level failure (duplicate serial, ...): undo this batch only.
        s = run(sql.rollback_to, "rolling back a batch");
        if (s.ok()) s = run(sql.release, "releasing a savepoint");
      } else {
        // SQLite abandoned the whole transaction (disk full, I/O error): the batches
        // before this one are gone too.
        s = w->status;
      }
    }
    if (!s.ok()) {
      if (sqlite3_get_autocommit(db) == 0) (void)run(sql.rollback, "rolling back");
      return fail_all(unavailable("transaction abandoned: " + s.message()));
    }
  }
  if (!any_ok) {
    (void)run(sql.rollback, "rolling back");
    return;
  }
  s = run(sql.commit, "committing");
  if (!s.ok()) {
    if (sqlite3_get_autocommit(db) == 0) (void)run(sql.rollback, "rolling back");
    return fail_all(s);
  }
  std::lock_guard lock(queue_mu_);
  ++stats_.commits;
}

Status SqliteStore::write(const WriteBatch& batch) {
  Writer w(batch);
  std::unique_lock lock(queue_mu_);
  if (batch.empty()) {
    ++stats_.batches_written;
    return ok_status();
  }
  queue_.push_back(&w);
  while (!w.done && queue_.front() != &w) w.cv.wait(lock);
  if (w.done) return w.status;

  // This caller leads: it commits itself and whoever queued behind it so far.
  const std::size_t n = std::min(queue_.size(), kMaxGroup);
  std::vector<Writer*> group(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(n));
  lock.unlock();
  commit_group(group);
  lock.lock();

  stats_.largest_group = std::max<std::uint64_t>(stats_.largest_group, n);
  for (Writer* g : group) {
    CA_ASSERT(queue_.front() == g, "the group leaves the queue in order");
    queue_.pop_front();
    ++(g->status.ok() ? stats_.batches_written : stats_.batches_failed);
    g->done = true;
    if (g != &w) g->cv.notify_one();
  }
  if (!queue_.empty()) queue_.front()->cv.notify_one();  // the next leader
  return w.status;
}

Result<std::optional<std::string>> SqliteStore::meta(const std::string& key) const {
  std::lock_guard lock(reader_->mu());
  Query q(reader_->sql().get_meta);
  q.bind_text(1, key);
  const int rc = q.step();
  if (rc == SQLITE_DONE) return std::optional<std::string>();
  if (rc != SQLITE_ROW) return fail(sqlite_error(q.db(), rc, fmt::format("reading '{}'", key)));
  return std::optional<std::string>(q.blob(0));
}

Result<CertRecord> SqliteStore::certificate(Serial serial) const {
  if (serial > kMaxSerial)
    return fail(not_found(fmt::format("no certificate with serial {:#x}", serial)));
  std::lock_guard lock(reader_->mu());
  Query q(reader_->sql().get_cert);
  q.bind(1, static_cast<std::int64_t>(serial));
  const int rc = q.step();
  if (rc == SQLITE_DONE)
    return fail(not_found(fmt::format("no certificate with serial {:#x}", serial)));
  if (rc != SQLITE_ROW) {
    return fail(sqlite_error(q.db(), rc, fmt::format("reading certificate {:#x}", serial)));
  }
  return cert_from_row(q);
}

// Keyset pagination: each chunk is one short read transaction under the reader's
// mutex, and `fn` runs between chunks with no lock held.
Status SqliteStore::for_each_certificate(const std::function<bool(const CertRecord&)>& fn) const {
  std::int64_t after = -1;
  std::vector<CertRecord> chunk;
  chunk.reserve(kCertChunk);
  for (;;) {
    chunk.clear();
    {
      std::lock_guard lock(reader_->mu());
      Query q(reader_->sql().certs_after);
      q.bind(1, after).bind(2, kCertChunk);
      int rc;
      while ((rc = q.step()) == SQLITE_ROW) chunk.push_back(cert_from_row(q));
      if (rc != SQLITE_DONE) return sqlite_error(q.db(), rc, "reading certificates");
    }
    for (const CertRecord& c : chunk) {
      if (!fn(c)) return ok_status();
    }
    if (chunk.size() < static_cast<std::size_t>(kCertChunk)) return ok_status();
    after = static_cast<std::int64_t>(chunk.back().serial);
  }
}

Result<std::uint64_t> SqliteStore::certificate_count() const {
  std::lock_guard lock(reader_->mu());
  Query q(reader_->sql().count_certs);
  const int rc = q.step();
  if (rc != SQLITE_ROW) return fail(sqlite_error(q.db(), rc, "counting certificates"));
  return static_cast<std::uint64_t>(q.int64(0));
}

Status SqliteStore::for_each_revocation(const std::function<void(const Revocation&)>& fn) const {
  std::int64_t after = -1;
  std::vector<Revocation> chunk;
  chunk.reserve(kRevocationChunk);
  for (;;) {
    chunk.clear();
    {
      std::lock_guard lock(reader_->mu());
      Query q(reader_->sql().revocations_after);
      q.bind(1, after).bind(2, kRevocationChunk);
      int rc;
      while ((rc = q.step()) == SQLITE_ROW) {
        chunk.push_back({.serial = static_cast<Serial>(q.int64(0)), .at = from_unix(q.int64(1))});
      }
      if (rc != SQLITE_DONE) return sqlite_error(q.db(), rc, "reading revocations");
    }
    for (const Revocation& r : chunk) fn(r);
    if (chunk.size() < static_cast<std::size_t>(kRevocationChunk)) return ok_status();
    after = static_cast<std::int64_t>(chunk.back().serial);
  }
}

Result<RequestRecord> SqliteStore::request(RequestId id) const {
  std::lock_guard lock(reader_->mu());
  Query q(reader_->sql().get_request);
  q.bind(1, id);
  const int rc = q.step();
  if (rc == SQLITE_DONE) return fail(not_found(fmt::format("no request with id {}", id)));
  if (rc != SQLITE_ROW)
    return fail(sqlite_error(q.db(), rc, fmt::format("reading request {}", id)));
  return request_from_row(q);
}

Result<RequestRecord> SqliteStore::request_by_transaction(const std::string& tid) const {
  if (tid.empty()) return fail(not_found("no request with an empty transaction id"));
  std::lock_guard lock(reader_->mu());
  Query q(reader_->sql().request_by_tid);
  q.bind_text(1, tid);
  const int rc = q.step();
  if (rc == SQLITE_DONE) {
    return fail(not_found(fmt::format("no request with transaction id '{}'", tid)));
  }
  if (rc != SQLITE_ROW) return fail(sqlite_error(q.db(), rc, "reading requests"));
  return request_from_row(q);
}

Result<std::vector<RequestRecord>> SqliteStore::requests() const {
  std::lock_guard lock(reader_->mu());
  Query q(reader_->sql().all_requests);
  std::vector<RequestRecord> out;
  int rc;
  while ((rc = q.step()) == SQLITE_ROW) {
    ASSIGN_OR_RETURN(RequestRecord r, request_from_row(q));
    out.push_back(std::move(r));
  }
  if (rc != SQLITE_DONE) return fail(sqlite_error(q.db(), rc, "reading requests"));
  return out;
}

StoreStats SqliteStore::stats() const {
  std::lock_guard lock(queue_mu_);
  return stats_;
}

std::size_t SqliteStore::queued_writes() const {
  std::lock_guard lock(queue_mu_);
  return queue_.size();
}

Status SqliteStore::checkpoint() {
  std::lock_guard lock(writer_->mu());
  return sqlite::exec(writer_->db(), "PRAGMA wal_checkpoint(PASSIVE)");
}

Status SqliteStore::check_integrity() const {
  std::lock_guard lock(reader_->mu());
  ASSIGN_OR_RETURN(Stmt st, Stmt::prepare(reader_->db(), "PRAGMA integrity_check"));
  Query q(st);
  std::string problems;
  int rc;
  while ((rc = q.step()) == SQLITE_ROW) {
    const std::string line = q.blob(0);
    if (line == "ok") continue;
    if (!problems.empty()) problems += "; ";
    problems += line;
  }
  if (rc != SQLITE_DONE) {
    return sqlite_error(q.db(), rc, fmt::format("integrity check of '{}'", path_));
  }
  if (!problems.empty()) {
    return unavailable(fmt::format("database '{}' is damaged: {}", path_, problems));
  }
  return ok_status();
}

}  // namespace scepter::store
