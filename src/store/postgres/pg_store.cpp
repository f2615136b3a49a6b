#include "store/postgres/pg_store.h"

#include <algorithm>
#include <exception>
#include <limits>
#include <random>
#include <thread>
#include <utility>

#include <fmt/format.h>

#include "common/url.h"
#include "store/acme_check.h"
#include "store/postgres/batch.h"
#include "store/postgres/conn.h"
#include "store/postgres/pg.h"
#include "store/postgres/pool.h"
#include "store/postgres/rows.h"
#include "store/postgres/schema.h"

// Allocation across nodes. The counters live in one table, `counters`, one row per
// allocator holding the largest value allocated or stored, and:
//
//  * A node takes values in blocks (reserve.h): `UPDATE counters SET n = n + size ...
//    RETURNING n`, a transaction of its own, committed synchronously before any value
//    of the block is used. The row lock serialises the nodes: each block is theirs
//    alone, and the row never goes below a value a node handed out, also after a
//    failover to a synchronous standby. (An asynchronous standby may lack the last
//    blocks: a node that loses a connection drops its block and forgets what it read
//    from the rows, so its batches raise them again.)
//  * A batch that stores a serial or request id the row may be below (above every value
//    this node read from the row) raises the row to it inside the batch's own
//    transaction (`SET n = x WHERE n < x`), after its other writes. If it raises, it
//    holds the row lock until it commits, so a block taken meanwhile either came before
//    the raise (the raise then sees it) or waits for the commit and re-reads the row
//    (READ COMMITTED re-evaluates an UPDATE on the row it waited for): once a batch is
//    committed, no block holds a value at or below what it stored, except blocks taken
//    before it by other nodes (an explicit value inside one of those could be handed
//    out once more; the CA stores no explicit values but its own certificate's serial
//    1, and a certificate's primary key refuses a second serial). A node's own block
//    skips what its batches store. (A sequence cannot do this: setval(GREATEST(
//    last_value, x)) reads and writes in two steps, and a nextval() in between can be
//    handed out again.)
//  * Raises come last in a batch, serial before request id, so a transaction holding a
//    counter row waits for nothing but its commit: counters take no part in deadlocks.

namespace scepter::store {

using pg::Conn;
using pg::Floors;
using pg::Params;
using pg::Rows;
using pg::Sql;
using pg::Step;

namespace {

// Attempts of a batch that met a deadlock, a serialization failure or a dead idle
// connection; and of a read that met a dead idle connection.
constexpr int kMaxAttempts = 4;
// Rows per read while iterating: memory stays bounded whatever the table size.
constexpr int kCertChunk = 256;
constexpr int kRevocationChunk = 4096;
constexpr int kRequestChunk = 128;  // a request carries its CSR: a few KB
constexpr int kAcmeChunk = 64;      // an ACME record's body may reach 64 KiB

// Before running a batch again after a deadlock: two batches retried at once in
// lockstep would meet again.
void back_off(int attempt) {
  thread_local std::minstd_rand rng{std::random_device{}()};
  std::uniform_int_distribution<int> ms(1, 20 * attempt);
  std::this_thread::sleep_for(std::chrono::milliseconds(ms(rng)));
}

bool retryable(const std::string& sqlstate) {
  return sqlstate == pg::kSerializationFailure || sqlstate == pg::kDeadlockDetected;
}

}  // namespace

// `meanwhile` of write_overlapped(): runs at most once; what it throws is kept until
// the batch is done.
class PgStore::Meanwhile {
 public:
  explicit Meanwhile(const std::function<void()>* fn) : fn_(fn) {}
  void run() {
    if (fn_ == nullptr || ran_) return;
    ran_ = true;
    const auto start = std::chrono::steady_clock::now();
    try {
      (*fn_)();
    } catch (...) {
      thrown_ = std::current_exception();
    }
    spent_ = std::chrono::steady_clock::now() - start;
  }
  // How long run() took (zero before it ran).
  std::chrono::steady_clock::duration spent() const { return spent_; }
  bool wanted() const { return fn_ != nullptr; }
  void rethrow() {
    if (thrown_) std::rethrow_exception(thrown_);
  }

 private:
  const std::function<void()>* fn_;
  bool ran_ = false;
  std::chrono::steady_clock::duration spent_{};
  std::exception_ptr thrown_;
};

// When an attempt began, and how long the caller's overlapped work had run by then: the
// commit histogram counts the time spent on the database only.
struct PgStore::Timing {
  explicit Timing(const Meanwhile& m)
      : started(std::chrono::steady_clock::now()), meanwhile(m), spent_before(m.spent()) {}
  std::chrono::steady_clock::time_point started;
  const Meanwhile& meanwhile;
  std::chrono::steady_clock::duration spent_before;
};

struct PgStore::Attempt {
  Status status;
  bool retry = false;  // nothing was committed, and another attempt may succeed
  std::string sqlstate = {};
};

Result<std::unique_ptr<PgStore>> PgStore::open(const std::string& url, const PgOptions& options) {
  pg::ConnectInfo info;
  info.url = url;
  info.shown = redact_url(url);
  info.secrets = pg::secrets_of(url);
  info.connect_timeout_s = options.connect_timeout_s;
  info.timeout = options.timeout;
  {
    char* err = nullptr;
    PQconninfoOption* parsed = PQconninfoParse(url.c_str(), &err);
    if (parsed == nullptr) {
      std::string why = err != nullptr ? err : "out of memory";
      PQfreemem(err);
      while (!why.empty() && why.back() == '\n') why.pop_back();
      return fail(invalid_argument(
          fmt::format("database URL '{}': {}", info.shown, pg::scrubbed(why, info.secrets))));
    }
    PQconninfoFree(parsed);
  }
  auto pool = std::make_unique<pg::Pool>(info, options.max_connections, options.max_wait);
  {
    auto lease = pool->acquire();
    if (!lease) return fail(unavailable("cannot open database: " + lease.error().message()));
    Status s = pg::migrate(lease->conn());
    if (!s.ok()) {
      return fail(unavailable(fmt::format("database '{}': {}", info.shown, s.message())));
    }
  }
  return std::unique_ptr<PgStore>(new PgStore(std::move(pool)));
}

PgStore::PgStore(std::unique_ptr<pg::Pool> pool)
    : pool_(std::move(pool)),
      serials_(pg::kSerialCounter, "serial"),
      requests_(pg::kRequestCounter, "request id") {
  std::random_device rd;
  id_ = fmt::format("{:08x}{:08x}", rd(), rd());
}

PgStore::~PgStore() = default;

template <class Fn>
auto PgStore::with_connection(Fn&& fn) const {
  for (int attempt = 1;; ++attempt) {
    auto lease = pool_->acquire();
    using R = decltype(fn(lease->conn()));
    if (!lease) return R(fail(lease.error()));
    R r = fn(lease->conn());
    if (lease->conn().broken()) lost_connection();
    if (r.has_value() || !lease->conn().broken() || !lease->reused() || lease->conn().timed_out() ||
        attempt == kMaxAttempts) {
      return r;
    }
    pool_->discard_idle();
  }
}

Status PgStore::write(const WriteBatch& batch) { return write_with(batch, nullptr); }

Status PgStore::write_overlapped(const WriteBatch& batch, const std::function<void()>& meanwhile) {
  return write_with(batch, meanwhile ? &meanwhile : nullptr);
}

Status PgStore::write_with(const WriteBatch& batch, const std::function<void()>* meanwhile) {
  Meanwhile work(meanwhile);
  Status status;
  if (!batch.empty()) {
    const Floors floors = pg::floors_of(batch);
    for (int attempt = 1;; ++attempt) {
      // What the batch stores leaves this node's blocks before it can commit; the rows
      // are raised unless this node read them above it (asked again on each attempt: a
      // lost connection makes it forget what it read).
      Floors raise = floors;
      const std::uint64_t losses = losses_.load();
      if (raise.serial && !serials_.stored(*raise.serial, losses)) raise.serial.reset();
      if (raise.request && !requests_.stored(*raise.request, losses)) raise.request.reset();
      // Most batches (an enrolment's) go in one round trip.
      auto steps = pg::steps_of(batch, id_, raise);
      if (!steps.has_value()) {
        status = steps.error();
        break;
      }
      Attempt a = *steps ? try_pipeline(**steps, work) : try_write(batch, raise, work);
      status = std::move(a.status);
      if (!a.retry || attempt == kMaxAttempts) break;
      if (retryable(a.sqlstate)) back_off(attempt);
    }
    // Perhaps a serial of this node's block that another node stored (or a transaction
    // another node stored first): the rest of the block may hold more of them. A batch
    // storing neither (an ACME record created twice) says nothing about the block.
    if (status.code() == Code::kAlreadyExists && (floors.serial || floors.request)) {
      serials_.drop();
    }
  }
  work.run();  // unless it ran while the COMMIT was in flight
  {
    MutexLock lock(stats_mu_);
    ++(status.ok() ? stats_.batches_written : stats_.batches_failed);
  }
  work.rethrow();
  return status;
}

PgStore::Attempt PgStore::try_pipeline(const std::vector<Step>& steps, Meanwhile& meanwhile) {
  auto lease = pool_->acquire();
  if (!lease) return {lease.error(), false};
  const Timing timing(meanwhile);
  Conn& c = lease->conn();
  // Whether a pipeline reached the server cannot be told once it is sent: a connection
  // the server closed while it sat idle is found here, without a round trip, and the
  // batch is sent on another one.
  if (lease->reused() && c.broken_now()) {
    lost_connection();
    pool_->discard_idle();
    return {unavailable("the database connection was closed while idle"), true};
  }
  Status s = c.send_pipeline(steps);
  if (!s.ok()) {
    // Nothing reached the server with its sync: nothing is committed.
    if (c.broken()) lost_connection();
    const bool again = c.broken() && lease->reused();
    if (again) pool_->discard_idle();
    return {std::move(s), again};
  }
  meanwhile.run();
  return commit_outcome(c, c.receive_pipeline(steps), "after the batch was sent", timing);
}

PgStore::Attempt PgStore::try_write(const WriteBatch& batch, const pg::Floors& raise,
                                    Meanwhile& meanwhile) {
  auto lease = pool_->acquire();
  if (!lease) return {lease.error(), false};
  const Timing timing(meanwhile);
  Conn& c = lease->conn();
  Status s = pg::status_of(c.run(Sql::kBegin, Params(), "beginning a transaction"));
  if (s.ok()) s = pg::apply(c, batch, id_, raise);
  if (!s.ok()) {
    // Nothing is committed: the server rolls back a transaction whose connection is
    // gone, and we roll back the others (a failed ROLLBACK leaves the connection inside
    // a transaction, so the pool drops it).
    const bool lost = c.broken();
    if (lost) lost_connection();
    std::string state = c.sqlstate();
    const bool again = retryable(state) || (lost && lease->reused() && !c.timed_out());
    if (!lost) (void)c.run(Sql::kRollback, Params(), "rolling back");
    if (lost && lease->reused()) pool_->discard_idle();
    return {std::move(s), again, std::move(state)};
  }
  if (meanwhile.wanted()) {
    s = c.send(Sql::kCommit, Params(), "committing");
    meanwhile.run();
    if (s.ok()) s = pg::status_of(c.receive("committing"));
  } else {
    s = pg::status_of(c.run(Sql::kCommit, Params(), "committing"));
  }
  return commit_outcome(c, std::move(s), "during COMMIT", timing);
}

PgStore::Attempt PgStore::commit_outcome(Conn& c, Status s, const char* lost_when,
                                         const Timing& timing) {
  if (s.ok()) {
    static metrics::Histogram& histogram = commit_histogram("postgresql");
    histogram.observe(std::chrono::steady_clock::now() - timing.started -
                      (timing.meanwhile.spent() - timing.spent_before));
    count_commit();
    return {ok_status(), false};
  }
  if (c.broken()) {  // nobody can tell whether the server committed
    lost_connection();
    return {unavailable(fmt::format("{} (the connection was lost {}: the batch may or may not be "
                                    "committed)",
                                    s.message(), lost_when)),
            false};
  }
  return {std::move(s), retryable(c.sqlstate()), c.sqlstate()};
}

void PgStore::count_commit() {
  MutexLock lock(stats_mu_);
  ++stats_.commits;
  stats_.largest_group = std::max<std::uint64_t>(stats_.largest_group, 1);
}

Result<std::optional<std::string>> PgStore::meta(const std::string& key) const {
  return with_connection([&](Conn& c) -> Result<std::optional<std::string>> {
    Params p;
    p.bytes(key);
    ASSIGN_OR_RETURN(Rows rows, c.run(Sql::kGetMeta, p, fmt::format("reading '{}'", key)));
    if (rows.size() == 0) return std::optional<std::string>();
    return std::optional<std::string>(rows.bytes(0, 0));
  });
}

void PgStore::lost_connection() const { losses_.fetch_add(1); }

void PgStore::Counter::catch_up(std::uint64_t losses) {
  if (losses != seen_losses) reserve.forget();
  seen_losses = losses;
}

bool PgStore::Counter::stored(std::int64_t value, std::uint64_t losses) {
  MutexLock lock(mu);
  catch_up(losses);
  return reserve.stored(value);
}

void PgStore::Counter::drop() {
  MutexLock lock(mu);
  reserve.drop();
}

Result<std::int64_t> PgStore::allocate(Counter& counter) {
  // One block at a time: a caller that finds the block used up takes the next one while
  // the others wait for it (they would otherwise take blocks of their own).
  MutexLock lock(counter.mu);
  const std::uint64_t losses = losses_.load();
  counter.catch_up(losses);
  if (auto v = counter.reserve.take()) return *v;
  const auto now = pg::Reserve::Clock::now();
  const std::int64_t size = counter.reserve.next_size(now);
  ASSIGN_OR_RETURN(const std::int64_t last, take_block(counter.name, counter.what, size));
  // A connection lost meanwhile is caught up with at the next call (the block is dropped).
  counter.reserve.refill(last, size, now);
  return *counter.reserve.take();
}

Result<std::int64_t> PgStore::take_block(const char* name, const char* what, std::int64_t size) {
  return with_connection([&](Conn& c) -> Result<std::int64_t> {
    Params p;
    p.bytes(name).int8(size);
    ASSIGN_OR_RETURN(Rows rows, c.run(Sql::kAllocate, p, fmt::format("allocating a {}", what)));
    if (rows.size() == 0) return fail(invalid_argument(fmt::format("no {} left", what)));
    return rows.int64(0, 0);
  });
}

Result<Serial> PgStore::allocate_serial() {
  ASSIGN_OR_RETURN(const std::int64_t v, allocate(serials_));
  return static_cast<Serial>(v);
}

Result<RequestId> PgStore::next_request_id() { return allocate(requests_); }

Result<CertRecord> PgStore::certificate(Serial serial) const {
  if (serial > kMaxSerial) {
    return fail(not_found(fmt::format("no certificate with serial {:#x}", serial)));
  }
  return with_connection([&](Conn& c) -> Result<CertRecord> {
    Params p;
    p.int8(static_cast<std::int64_t>(serial));
    ASSIGN_OR_RETURN(Rows rows,
                     c.run(Sql::kGetCert, p, fmt::format("reading certificate {:#x}", serial)));
    if (rows.size() == 0) {
      return fail(not_found(fmt::format("no certificate with serial {:#x}", serial)));
    }
    return pg::cert_from_row(rows, 0);
  });
}

// Keyset pagination: each chunk is one statement on a connection that goes back to the
// pool before `visit` runs (it may call the store, and take a connection itself).
template <class Row, class ReadRow, class Key, class Visit>
Status PgStore::walk(Sql sql, std::int64_t first_after, int chunk, const char* what,
                     ReadRow read_row, Key key, Visit visit) const {
  std::int64_t after = first_after;
  for (;;) {
    auto fetch = [&](Conn& c) -> Result<std::vector<Row>> {
      Params p;
      p.int8(after).int8(chunk);
      ASSIGN_OR_RETURN(Rows rows, c.run(sql, p, what));
      std::vector<Row> out;
      out.reserve(static_cast<std::size_t>(rows.size()));
      for (int i = 0; i < rows.size(); ++i) {
        ASSIGN_OR_RETURN(Row row, read_row(rows, i));
        out.push_back(std::move(row));
      }
      return out;
    };
    ASSIGN_OR_RETURN(const std::vector<Row> rows, with_connection(fetch));
    for (const Row& row : rows) {
      if (!visit(row)) return ok_status();
    }
    if (rows.size() < static_cast<std::size_t>(chunk)) return ok_status();
    after = key(rows.back());
  }
}

Status PgStore::for_each_certificate(const std::function<bool(const CertRecord&)>& fn) const {
  return walk<CertRecord>(
      Sql::kCertsAfter, -1, kCertChunk, "reading certificates",
      [](const Rows& r, int i) -> Result<CertRecord> { return pg::cert_from_row(r, i); },
      [](const CertRecord& c) { return static_cast<std::int64_t>(c.serial); }, fn);
}

Result<std::uint64_t> PgStore::certificate_count() const {
  return with_connection([&](Conn& c) -> Result<std::uint64_t> {
    ASSIGN_OR_RETURN(Rows rows, c.run(Sql::kCountCerts, Params(), "counting certificates"));
    return static_cast<std::uint64_t>(rows.int64(0, 0));
  });
}

Result<Serial> PgStore::last_serial() const {
  return with_connection([&](Conn& c) -> Result<Serial> {
    ASSIGN_OR_RETURN(Rows rows, c.run(Sql::kMaxSerial, Params(), "reading the last serial"));
    return rows.is_null(0, 0) ? Serial{0} : static_cast<Serial>(rows.int64(0, 0));
  });
}

Status PgStore::for_each_revocation(const std::function<void(const Revocation&)>& fn) const {
  return walk<Revocation>(
      Sql::kRevocationsAfter, -1, kRevocationChunk, "reading revocations",
      [](const Rows& r, int i) -> Result<Revocation> { return pg::revocation_from_row(r, i); },
      [](const Revocation& r) { return static_cast<std::int64_t>(r.serial); },
      [&](const Revocation& r) {
        fn(r);
        return true;
      });
}

Result<RequestRecord> PgStore::request(RequestId id) const {
  return with_connection([&](Conn& c) -> Result<RequestRecord> {
    Params p;
    p.int8(id);
    ASSIGN_OR_RETURN(Rows rows, c.run(Sql::kGetRequest, p, fmt::format("reading request {}", id)));
    if (rows.size() == 0) return fail(not_found(fmt::format("no request with id {}", id)));
    return pg::request_from_row(rows, 0);
  });
}

Result<RequestRecord> PgStore::request_by_transaction(const std::string& tid) const {
  if (tid.empty()) return fail(not_found("no request with an empty transaction id"));
  return with_connection([&](Conn& c) -> Result<RequestRecord> {
    Params p;
    p.bytes(tid);
    ASSIGN_OR_RETURN(Rows rows, c.run(Sql::kRequestByTid, p, "reading requests"));
    if (rows.size() == 0) {
      return fail(not_found(fmt::format("no request with transaction id '{}'", tid)));
    }
    return pg::request_from_row(rows, 0);
  });
}

namespace {

Result<std::vector<RequestRecord>> requests_of(const Rows& rows) {
  std::vector<RequestRecord> out;
  out.reserve(static_cast<std::size_t>(rows.size()));
  for (int i = 0; i < rows.size(); ++i) {
    ASSIGN_OR_RETURN(RequestRecord r, pg::request_from_row(rows, i));
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace

Result<std::vector<RequestRecord>> PgStore::requests() const {
  return with_connection([&](Conn& c) -> Result<std::vector<RequestRecord>> {
    ASSIGN_OR_RETURN(Rows rows, c.run(Sql::kAllRequests, Params(), "reading requests"));
    return requests_of(rows);
  });
}

Result<std::vector<RequestRecord>> PgStore::requests_page(RequestId before_id,
                                                          std::size_t limit) const {
  if (limit == 0) return std::vector<RequestRecord>();
  const std::int64_t before = before_id == 0 ? std::numeric_limits<std::int64_t>::max() : before_id;
  const auto max_rows = static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max());
  const auto n = static_cast<std::int64_t>(std::min(limit, max_rows));
  return with_connection([&](Conn& c) -> Result<std::vector<RequestRecord>> {
    Params p;
    p.int8(before).int8(n);
    ASSIGN_OR_RETURN(Rows rows, c.run(Sql::kRequestsBefore, p, "reading requests"));
    return requests_of(rows);
  });
}

Status PgStore::for_each_request(const std::function<bool(const RequestRecord&)>& fn) const {
  return walk<RequestRecord>(
      Sql::kRequestsAfter, std::numeric_limits<std::int64_t>::min(), kRequestChunk,
      "reading requests", [](const Rows& r, int i) { return pg::request_from_row(r, i); },
      [](const RequestRecord& r) { return r.id; }, fn);
}

Result<std::uint64_t> PgStore::count_requests(const std::vector<RequestState>& states) const {
  std::vector<int> wanted;
  for (RequestState st : states) {
    if (std::find(wanted.begin(), wanted.end(), static_cast<int>(st)) == wanted.end()) {
      wanted.push_back(static_cast<int>(st));
    }
  }
  return with_connection([&](Conn& c) -> Result<std::uint64_t> {
    Params p;
    if (!wanted.empty()) p.int4_array(wanted);
    ASSIGN_OR_RETURN(Rows rows, c.run(wanted.empty() ? Sql::kCountRequests : Sql::kCountRequestsIn,
                                      p, "counting requests"));
    return static_cast<std::uint64_t>(rows.int64(0, 0));
  });
}

// One statement, so one transaction of its own. The counter keeps the deleted ids.
Result<std::uint64_t> PgStore::delete_requests_created_before(TimePoint cutoff) {
  auto expire = [&](Conn& c) -> Result<std::uint64_t> {
    Params p;
    p.int8(to_unix(cutoff));
    ASSIGN_OR_RETURN(Rows rows, c.run(Sql::kDeleteRequestsBefore, p, "deleting expired requests"));
    return rows.affected();
  };
  ASSIGN_OR_RETURN(const std::uint64_t n, with_connection(expire));
  count_commit();
  return n;
}

Result<AcmeRecord> PgStore::acme(AcmeKind kind, const std::string& id) const {
  return with_connection([&](Conn& c) -> Result<AcmeRecord> {
    Params p;
    p.int4(static_cast<std::int32_t>(kind)).bytes(id);
    ASSIGN_OR_RETURN(Rows rows, c.run(Sql::kGetAcme, p,
                                      fmt::format("reading {} '{}'", acme_kind_name(kind), id)));
    if (rows.size() == 0) {
      return fail(not_found(fmt::format("no {} '{}'", acme_kind_name(kind), id)));
    }
    return pg::acme_from_row(rows, 0);
  });
}

namespace {

Result<std::vector<AcmeRecord>> acme_records_of(const Rows& rows) {
  std::vector<AcmeRecord> out;
  out.reserve(static_cast<std::size_t>(rows.size()));
  for (int i = 0; i < rows.size(); ++i) {
    ASSIGN_OR_RETURN(AcmeRecord r, pg::acme_from_row(rows, i));
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace

Result<std::vector<AcmeRecord>> PgStore::acme_by_owner(AcmeKind kind, const std::string& owner,
                                                       std::size_t limit) const {
  if (limit == 0) return std::vector<AcmeRecord>();
  const auto max_rows = static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max());
  const auto n = static_cast<std::int64_t>(std::min(limit, max_rows));
  return with_connection([&](Conn& c) -> Result<std::vector<AcmeRecord>> {
    Params p;
    p.int4(static_cast<std::int32_t>(kind)).bytes(owner).int8(n);
    ASSIGN_OR_RETURN(Rows rows, c.run(Sql::kAcmeByOwner, p, "reading ACME records"));
    return acme_records_of(rows);
  });
}

// walk() with a bytea key: the first chunk starts at the smallest id ("" included), the
// next ones after the last id seen.
Status PgStore::for_each_acme(AcmeKind kind,
                              const std::function<bool(const AcmeRecord&)>& fn) const {
  bool first = true;
  std::string after;
  for (;;) {
    auto fetch = [&](Conn& c) -> Result<std::vector<AcmeRecord>> {
      Params p;
      p.int4(static_cast<std::int32_t>(kind)).bytes(after).int8(kAcmeChunk);
      ASSIGN_OR_RETURN(Rows rows,
                       c.run(first ? Sql::kAcmeFrom : Sql::kAcmeAfter, p, "reading ACME records"));
      return acme_records_of(rows);
    };
    ASSIGN_OR_RETURN(const std::vector<AcmeRecord> chunk, with_connection(fetch));
    for (const AcmeRecord& r : chunk) {
      if (!fn(r)) return ok_status();
    }
    if (chunk.size() < static_cast<std::size_t>(kAcmeChunk)) return ok_status();
    first = false;
    after = chunk.back().id;
  }
}

Result<std::uint64_t> PgStore::count_acme(AcmeKind kind) const {
  return with_connection([&](Conn& c) -> Result<std::uint64_t> {
    Params p;
    p.int4(static_cast<std::int32_t>(kind));
    ASSIGN_OR_RETURN(Rows rows, c.run(Sql::kCountAcme, p, "counting ACME records"));
    return static_cast<std::uint64_t>(rows.int64(0, 0));
  });
}

// One statement, so one transaction of its own.
Result<std::uint64_t> PgStore::delete_acme_expired(TimePoint now) {
  auto expire = [&](Conn& c) -> Result<std::uint64_t> {
    Params p;
    p.int8(to_unix(now));
    ASSIGN_OR_RETURN(Rows rows, c.run(Sql::kDeleteAcmeExpired, p, "deleting expired ACME records"));
    return rows.affected();
  };
  ASSIGN_OR_RETURN(const std::uint64_t n, with_connection(expire));
  count_commit();
  return n;
}

StoreStats PgStore::stats() const {
  MutexLock lock(stats_mu_);
  return stats_;
}

std::size_t PgStore::open_connections() const { return pool_->open_connections(); }

}  // namespace scepter::store
