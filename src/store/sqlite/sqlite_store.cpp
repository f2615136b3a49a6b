#include "store/sqlite/sqlite_store.h"

#include <algorithm>
#include <charconv>
#include <limits>
#include <optional>
#include <system_error>
#include <utility>

#include <fmt/format.h>

#include "common/fs.h"
#include "store/acme_check.h"
#include "store/sqlite/connection.h"
#include "store/sqlite/db.h"
#include "store/sqlite/rows.h"

namespace scepter::store {

using sqlite::cert_from_row;
using sqlite::Connection;
using sqlite::Query;
using sqlite::request_from_row;
using sqlite::run;
using sqlite::sqlite_error;
using sqlite::Statements;
using sqlite::Stmt;

namespace {

// Rows per read while iterating: memory stays bounded whatever the table size.
constexpr int kCertChunk = 256;
constexpr int kRevocationChunk = 4096;
constexpr int kRequestChunk = 128;  // a request carries its CSR: a few KB
constexpr int kAcmeChunk = 64;      // an ACME record's body may reach 64 KiB

bool in_memory(const std::string& path) { return path.empty() || path == ":memory:"; }

std::string parent_dir(const std::string& path) {
  const auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// A counter stored as decimal text; nullopt when absent or not a number.
std::optional<std::int64_t> parse_counter(const std::optional<std::string>& text) {
  if (!text || text->empty()) return std::nullopt;
  std::int64_t v = 0;
  const char* end = text->data() + text->size();
  const auto [ptr, ec] = std::from_chars(text->data(), end, v);
  if (ec != std::errc() || ptr != end) return std::nullopt;
  return v;
}

Result<std::optional<std::string>> read_meta(const Connection& c, const std::string& key)
    REQUIRES(c.mu()) {
  Query q(c.sql().get_meta);
  q.bind_text(1, key);
  const int rc = q.step();
  if (rc == SQLITE_DONE) return std::optional<std::string>();
  if (rc != SQLITE_ROW) return fail(sqlite_error(q.db(), rc, fmt::format("reading '{}'", key)));
  return std::optional<std::string>(q.blob(0));
}

// A one-row, one-column integer query; 0 for NULL (MAX over an empty table).
Result<std::int64_t> read_max(const Connection& c, const char* sql) {
  ASSIGN_OR_RETURN(Stmt st, Stmt::prepare(c.db(), sql));
  Query q(st);
  const int rc = q.step();
  if (rc != SQLITE_ROW) return fail(sqlite_error(q.db(), rc, sql));
  return q.is_null(0) ? 0 : q.int64(0);
}

struct Counters {
  Serial last_serial = 1;  // serial 1 is the CA's own certificate
  RequestId last_request_id = 0;
};

// Where the allocators start: past everything this file has stored or recorded. The
// legacy keys written by the CA are only hints (a damaged one is ignored); the engine's
// own mark must parse.
Result<Counters> load_counters(const Connection& c) {
  MutexLock lock(c.mu());
  Counters out;
  ASSIGN_OR_RETURN(const std::int64_t max_serial,
                   read_max(c, "SELECT MAX(serial) FROM certificates"));
  out.last_serial = std::max<Serial>(out.last_serial, static_cast<Serial>(max_serial));
  ASSIGN_OR_RETURN(auto last_serial, read_meta(c, "last_serial"));
  if (auto v = parse_counter(last_serial); v && *v > 0) {
    out.last_serial = std::max(out.last_serial, static_cast<Serial>(*v));
  }
  ASSIGN_OR_RETURN(const std::int64_t max_id, read_max(c, "SELECT MAX(id) FROM requests"));
  out.last_request_id = std::max(out.last_request_id, max_id);
  ASSIGN_OR_RETURN(auto legacy_id, read_meta(c, "last_request_id"));
  if (auto v = parse_counter(legacy_id)) out.last_request_id = std::max(out.last_request_id, *v);
  ASSIGN_OR_RETURN(auto mark, read_meta(c, sqlite::kRequestMarkKey));
  if (mark) {
    const auto v = parse_counter(mark);
    if (!v) {
      return fail(unavailable(
          fmt::format("'{}' is '{}': corrupt database", sqlite::kRequestMarkKey, *mark)));
    }
    out.last_request_id = std::max(out.last_request_id, *v);
  }
  return out;
}

}  // namespace

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
  auto counters = load_counters(*writer);
  if (!counters) {
    return fail(Status(counters.error().code(),
                       fmt::format("database '{}': {}", path, counters.error().message())));
  }
  std::unique_ptr<Connection> reader;
  if (!memory) {
    ASSIGN_OR_RETURN(reader,
                     Connection::open(path, Connection::Role::kReader, options.busy_timeout_ms));
  }
  return std::unique_ptr<SqliteStore>(new SqliteStore(path, std::move(writer), std::move(reader),
                                                      counters->last_serial,
                                                      counters->last_request_id));
}

SqliteStore::SqliteStore(std::string path, std::unique_ptr<Connection> writer,
                         std::unique_ptr<Connection> reader, Serial last_serial,
                         RequestId last_request_id)
    : path_(std::move(path)),
      writer_(std::move(writer)),
      own_reader_(std::move(reader)),
      reader_(own_reader_ ? own_reader_.get() : writer_.get()),
      last_serial_(last_serial),
      last_request_id_(last_request_id) {}

SqliteStore::~SqliteStore() {
  {
    MutexLock lock(queue_mu_);
    stopping_ = true;
  }
  committer_cv_.notify_one();
  if (committer_.joinable()) committer_.join();
}

Result<std::optional<std::string>> SqliteStore::meta(const std::string& key) const {
  MutexLock lock(reader_->mu());
  return read_meta(*reader_, key);
}

Result<CertRecord> SqliteStore::certificate(Serial serial) const {
  if (serial > kMaxSerial)
    return fail(not_found(fmt::format("no certificate with serial {:#x}", serial)));
  MutexLock lock(reader_->mu());
  Query q(reader_->sql().get_cert);
  RETURN_IF_ERROR(sqlite::step_to_certificate(q, serial));
  return cert_from_row(q);
}

// Keyset pagination: each chunk is one short read transaction under the reader's mutex,
// and `visit` runs between chunks with no lock held (it may call the store). `stmt`
// takes the last key seen and the chunk size; `read` turns a row into a Row (or fails);
// `key` gives a Row's key; `visit` returns false to stop.
template <class Row, class Read, class Key, class Visit>
Status SqliteStore::walk(Stmt Statements::*stmt, std::int64_t first_after, int chunk_size,
                         const char* what, Read read, Key key, Visit visit) const {
  std::int64_t after = first_after;
  std::vector<Row> chunk;
  chunk.reserve(static_cast<std::size_t>(chunk_size));
  for (;;) {
    chunk.clear();
    {
      MutexLock lock(reader_->mu());
      Query q(reader_->sql().*stmt);
      q.bind(1, after).bind(2, chunk_size);
      int rc;
      while ((rc = q.step()) == SQLITE_ROW) {
        ASSIGN_OR_RETURN(Row row, read(q));
        chunk.push_back(std::move(row));
      }
      if (rc != SQLITE_DONE) return sqlite_error(q.db(), rc, what);
    }
    for (const Row& row : chunk) {
      if (!visit(row)) return ok_status();
    }
    if (chunk.size() < static_cast<std::size_t>(chunk_size)) return ok_status();
    after = key(chunk.back());
  }
}

Status SqliteStore::for_each_certificate(const std::function<bool(const CertRecord&)>& fn) const {
  return walk<CertRecord>(
      &Statements::certs_after, -1, kCertChunk, "reading certificates",
      [](const Query& q) -> Result<CertRecord> { return cert_from_row(q); },
      [](const CertRecord& c) { return static_cast<std::int64_t>(c.serial); }, fn);
}

Result<std::uint64_t> SqliteStore::certificate_count() const {
  MutexLock lock(reader_->mu());
  Query q(reader_->sql().count_certs);
  const int rc = q.step();
  if (rc != SQLITE_ROW) return fail(sqlite_error(q.db(), rc, "counting certificates"));
  return static_cast<std::uint64_t>(q.int64(0));
}

Result<Serial> SqliteStore::last_serial() const {
  MutexLock lock(reader_->mu());
  Query q(reader_->sql().max_serial);
  const int rc = q.step();
  if (rc != SQLITE_ROW) return fail(sqlite_error(q.db(), rc, "reading the last serial"));
  return q.is_null(0) ? Serial{0} : static_cast<Serial>(q.int64(0));
}

Status SqliteStore::for_each_revocation(const std::function<void(const Revocation&)>& fn) const {
  return walk<Revocation>(
      &Statements::revocations_after, -1, kRevocationChunk, "reading revocations",
      [](const Query& q) -> Result<Revocation> {
        Revocation r;
        r.serial = static_cast<Serial>(q.int64(0));
        r.at = from_unix(q.int64(1));
        if (!q.is_null(2)) r.serial_entropy = static_cast<std::uint64_t>(q.int64(2));
        if (!q.is_null(3)) r.reason = static_cast<int>(q.int64(3));
        return r;
      },
      [](const Revocation& r) { return static_cast<std::int64_t>(r.serial); },
      [&](const Revocation& r) {
        fn(r);
        return true;
      });
}

Result<RequestRecord> SqliteStore::request(RequestId id) const {
  MutexLock lock(reader_->mu());
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
  MutexLock lock(reader_->mu());
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
  MutexLock lock(reader_->mu());
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

Result<std::vector<RequestRecord>> SqliteStore::requests_page(RequestId before_id,
                                                              std::size_t limit) const {
  std::vector<RequestRecord> out;
  if (limit == 0) return out;
  const std::int64_t before = before_id == 0 ? std::numeric_limits<std::int64_t>::max() : before_id;
  const auto max_rows = static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max());
  MutexLock lock(reader_->mu());
  Query q(reader_->sql().requests_before);
  q.bind(1, before).bind(2, static_cast<std::int64_t>(std::min(limit, max_rows)));
  int rc;
  while ((rc = q.step()) == SQLITE_ROW) {
    ASSIGN_OR_RETURN(RequestRecord r, request_from_row(q));
    out.push_back(std::move(r));
  }
  if (rc != SQLITE_DONE) return fail(sqlite_error(q.db(), rc, "reading requests"));
  return out;
}

Status SqliteStore::for_each_request(const std::function<bool(const RequestRecord&)>& fn) const {
  return walk<RequestRecord>(
      &Statements::requests_after, std::numeric_limits<std::int64_t>::min(), kRequestChunk,
      "reading requests", [](const Query& q) { return request_from_row(q); },
      [](const RequestRecord& r) { return r.id; }, fn);
}

Result<std::uint64_t> SqliteStore::count_requests(const std::vector<RequestState>& states) const {
  std::vector<RequestState> wanted;
  for (RequestState st : states) {
    if (std::find(wanted.begin(), wanted.end(), st) == wanted.end()) wanted.push_back(st);
  }
  constexpr std::size_t kSlots = 6;  // the ?1..?6 of count_requests_in
  if (wanted.size() > kSlots) {
    return fail(invalid_argument(fmt::format("{} distinct request states", wanted.size())));
  }
  MutexLock lock(reader_->mu());
  const sqlite::Statements& sql = reader_->sql();
  Query q(wanted.empty() ? sql.count_requests : sql.count_requests_in);
  for (std::size_t i = 0; i < kSlots && !wanted.empty(); ++i) {
    const RequestState st = wanted[std::min(i, wanted.size() - 1)];
    q.bind(static_cast<int>(i + 1), static_cast<int>(st));
  }
  const int rc = q.step();
  if (rc != SQLITE_ROW) return fail(sqlite_error(q.db(), rc, "counting requests"));
  return static_cast<std::uint64_t>(q.int64(0));
}

// One statement in its own transaction on the write connection. Holding its mutex keeps
// it out of a group commit in progress (the leader holds it for the whole transaction).
Result<std::uint64_t> SqliteStore::delete_alone(Stmt Statements::*stmt, std::int64_t arg,
                                                const char* what) {
  std::uint64_t deleted = 0;
  {
    MutexLock lock(writer_->mu());
    const sqlite::Statements& sql = writer_->sql();
    sqlite3* db = writer_->db();
    Status s = run(sql.begin, "beginning a transaction");
    if (s.ok()) {
      Query q(sql.*stmt);
      q.bind(1, arg);
      const int rc = q.step();
      if (rc == SQLITE_DONE) {
        deleted = static_cast<std::uint64_t>(sqlite3_changes64(db));
      } else {
        s = sqlite_error(db, rc, what);
      }
    }
    if (s.ok()) s = run(sql.commit, "committing");
    if (!s.ok()) {
      if (sqlite3_get_autocommit(db) == 0) (void)run(sql.rollback, "rolling back");
      return fail(s);
    }
  }
  MutexLock lock(queue_mu_);
  ++stats_.commits;
  return deleted;
}

Result<std::uint64_t> SqliteStore::delete_requests_created_before(TimePoint cutoff) {
  return delete_alone(&Statements::delete_requests_before, to_unix(cutoff),
                      "deleting expired requests");
}

Result<AcmeRecord> SqliteStore::acme(AcmeKind kind, const std::string& id) const {
  MutexLock lock(reader_->mu());
  Query q(reader_->sql().get_acme);
  q.bind(1, static_cast<std::int64_t>(kind)).bind_text(2, id);
  const int rc = q.step();
  if (rc == SQLITE_DONE) {
    return fail(not_found(fmt::format("no {} '{}'", acme_kind_name(kind), id)));
  }
  if (rc != SQLITE_ROW) {
    return fail(sqlite_error(q.db(), rc, fmt::format("reading {} '{}'", acme_kind_name(kind), id)));
  }
  return sqlite::acme_from_row(q);
}

Result<std::vector<AcmeRecord>> SqliteStore::acme_by_owner(AcmeKind kind, const std::string& owner,
                                                           std::size_t limit) const {
  std::vector<AcmeRecord> out;
  if (limit == 0) return out;
  const auto max_rows = static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max());
  MutexLock lock(reader_->mu());
  Query q(reader_->sql().acme_by_owner);
  q.bind(1, static_cast<std::int64_t>(kind))
      .bind_text(2, owner)
      .bind(3, static_cast<std::int64_t>(std::min(limit, max_rows)));
  int rc;
  while ((rc = q.step()) == SQLITE_ROW) {
    ASSIGN_OR_RETURN(AcmeRecord r, sqlite::acme_from_row(q));
    out.push_back(std::move(r));
  }
  if (rc != SQLITE_DONE) return fail(sqlite_error(q.db(), rc, "reading ACME records"));
  return out;
}

// walk() with a text key: the first chunk starts at the smallest id ("" included), the
// next ones after the last id seen.
Status SqliteStore::for_each_acme(AcmeKind kind,
                                  const std::function<bool(const AcmeRecord&)>& fn) const {
  bool first = true;
  std::string after;  // bound without a copy: outlives the query
  std::vector<AcmeRecord> chunk;
  for (;;) {
    chunk.clear();
    {
      MutexLock lock(reader_->mu());
      const sqlite::Statements& sql = reader_->sql();
      Query q(first ? sql.acme_from : sql.acme_after);
      q.bind(1, static_cast<std::int64_t>(kind)).bind_text(2, after).bind(3, kAcmeChunk);
      int rc;
      while ((rc = q.step()) == SQLITE_ROW) {
        ASSIGN_OR_RETURN(AcmeRecord r, sqlite::acme_from_row(q));
        chunk.push_back(std::move(r));
      }
      if (rc != SQLITE_DONE) return sqlite_error(q.db(), rc, "reading ACME records");
    }
    for (const AcmeRecord& r : chunk) {
      if (!fn(r)) return ok_status();
    }
    if (chunk.size() < static_cast<std::size_t>(kAcmeChunk)) return ok_status();
    first = false;
    after = chunk.back().id;
  }
}

Result<std::uint64_t> SqliteStore::count_acme(AcmeKind kind) const {
  MutexLock lock(reader_->mu());
  Query q(reader_->sql().count_acme);
  q.bind(1, static_cast<std::int64_t>(kind));
  const int rc = q.step();
  if (rc != SQLITE_ROW) return fail(sqlite_error(q.db(), rc, "counting ACME records"));
  return static_cast<std::uint64_t>(q.int64(0));
}

Result<std::uint64_t> SqliteStore::delete_acme_expired(TimePoint now) {
  return delete_alone(&Statements::delete_acme_expired, to_unix(now),
                      "deleting expired ACME records");
}

Result<Serial> SqliteStore::allocate_serial() {
  MutexLock lock(counter_mu_);
  if (last_serial_ >= kMaxSerial) {
    return fail(invalid_argument(fmt::format("no serial left above {:#x}", last_serial_)));
  }
  return ++last_serial_;
}

Result<RequestId> SqliteStore::next_request_id() {
  MutexLock lock(counter_mu_);
  if (last_request_id_ == std::numeric_limits<RequestId>::max()) {
    return fail(invalid_argument("no request id left"));
  }
  return ++last_request_id_;
}

Status SqliteStore::checkpoint() {
  MutexLock lock(writer_->mu());
  return sqlite::exec(writer_->db(), "PRAGMA wal_checkpoint(PASSIVE)");
}

Status SqliteStore::check_integrity() const {
  MutexLock lock(reader_->mu());
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
