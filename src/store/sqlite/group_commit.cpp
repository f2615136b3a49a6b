// The SQLite engine's write path: applying a batch, and the group commit that lets
// concurrent batches share one transaction and one fsync. The callers of write() queue;
// the one at the front leads: it takes up to kMaxGroup batches, commits them together
// (each in its own savepoint, so a failing batch never affects the others) and wakes
// them. For write_overlapped() callers the commit thread leads in their place, so that
// they can work while their batch is flushed.

#include <algorithm>
#include <exception>
#include <thread>
#include <utility>

#include <fmt/format.h>

#include "store/sqlite/connection.h"
#include "store/sqlite/db.h"
#include "store/sqlite/rows.h"
#include "store/sqlite/sqlite_store.h"

namespace scepter::store {

using sqlite::Connection;
using sqlite::Query;
using sqlite::run;
using sqlite::sqlite_error;
using sqlite::Statements;
using sqlite::Stmt;

namespace {

// Enough to amortise one fsync over many enrolments, small enough to keep a transaction
// (and the latency of the first caller in it) short.
constexpr std::size_t kMaxGroup = 256;

}  // namespace

// A caller of write() waiting in the queue.
struct SqliteStore::Writer {
  Writer(const WriteBatch& b, bool d) : batch(b), delegated(d) {}
  const WriteBatch& batch;
  const bool delegated;  // write_overlapped(): the commit thread leads in its place
  Status status;
  bool done = false;  // under the store's queue_mu_
  std::condition_variable cv;
};

Status SqliteStore::apply_batch(const WriteBatch& batch) {
  using Kind = WriteBatch::Op::Kind;
  const sqlite::Statements& sql = writer_->sql();
  std::optional<RequestId> highest_request;
  for (const WriteBatch::Op& op : batch.ops()) {
    Status s;
    switch (op.kind) {
      case Kind::kPutCert:
        s = sqlite::put_certificate(sql, op.cert);
        break;
      case Kind::kRevoke:
        s = sqlite::revoke(sql, op.serial, op.at, op.reason);
        break;
      case Kind::kUnrevoke:
        s = sqlite::unrevoke(sql, op.serial);
        break;
      case Kind::kPutRequest:
        s = sqlite::put_request(sql, op.request);
        highest_request = std::max(highest_request.value_or(op.request.id), op.request.id);
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
        s = sqlite::delete_by_key(sql.delete_meta, op.key, fmt::format("deleting '{}'", op.key));
        break;
      case Kind::kDeleteMetaIf:
        s = sqlite::delete_meta_if(sql, op.key, op.value);
        break;
      case Kind::kExpectRequestState:
        s = sqlite::expect_request_state(sql, op.request_id, op.request.state);
        break;
      case Kind::kNotify:
        break;  // one process has the file to itself: nobody to tell
      case Kind::kPutAcme:
        s = sqlite::put_acme(sql, op.acme);
        break;
      case Kind::kDeleteAcme:
        s = sqlite::delete_acme(sql, op.acme.kind, op.acme.id);
        break;
    }
    if (!s.ok()) return s;
  }
  // Once per batch: ids stay unique after the request is deleted, across restarts.
  if (highest_request) return sqlite::raise_request_mark(sql, *highest_request);
  return ok_status();
}

// Called by the leader alone, so only it touches the write connection's transaction
// state. Every Writer of the group leaves with its status set.
void SqliteStore::commit_group(const std::vector<Writer*>& group) {
  static metrics::Histogram& timing = commit_histogram("sqlite");
  const metrics::ScopedTimer timed(timing);
  MutexLock conn_lock(writer_->mu());
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
  MutexLock lock(queue_mu_);
  ++stats_.commits;
}

// Before the batch is queued, so an allocation racing with it cannot hand out a value
// it stores. A batch that then fails leaves a harmless gap.
void SqliteStore::raise_counters(const WriteBatch& batch) {
  using Kind = WriteBatch::Op::Kind;
  MutexLock lock(counter_mu_);
  for (const WriteBatch::Op& op : batch.ops()) {
    if (op.kind == Kind::kPutCert && op.cert.serial <= kMaxSerial) {
      last_serial_ = std::max(last_serial_, op.cert.serial);
    } else if (op.kind == Kind::kPutRequest) {
      last_request_id_ = std::max(last_request_id_, op.request.id);
    }
  }
}

Status SqliteStore::write(const WriteBatch& batch) { return enqueue(batch, nullptr); }

Status SqliteStore::write_overlapped(const WriteBatch& batch,
                                     const std::function<void()>& meanwhile) {
  return enqueue(batch, meanwhile ? &meanwhile : nullptr);
}

Status SqliteStore::enqueue(const WriteBatch& batch, const std::function<void()>* meanwhile) {
  raise_counters(batch);
  UniqueMutexLock lock(queue_mu_);
  if (batch.empty()) {
    ++stats_.batches_written;
    lock.unlock();
    if (meanwhile != nullptr) (*meanwhile)();
    return ok_status();
  }
  if (meanwhile != nullptr && !committer_.joinable()) {
    try {
      committer_ = std::thread([this] { run_committer(); });
    } catch (const std::system_error&) {
      lock.unlock();  // no thread to lead for us: `meanwhile` first, as without overlap
      (*meanwhile)();
      return enqueue(batch, nullptr);
    }
  }
  Writer w(batch, meanwhile != nullptr);
  queue_.push_back(&w);
  if (w.delegated) {
    const bool wake_committer = queue_.front() == &w;
    lock.unlock();
    // Woken under the lock, the commit thread would only wait for it again: two more
    // context switches per commit, on one core the caller's own time.
    if (wake_committer) committer_cv_.notify_one();
    // `w` stays queued until its group is done: an exception waits for that too.
    std::exception_ptr thrown;
    try {
      (*meanwhile)();
    } catch (...) {
      thrown = std::current_exception();
    }
    lock.lock();
    while (!w.done) lock.wait(w.cv);
    if (thrown) std::rethrow_exception(thrown);
    return w.status;
  }
  while (!w.done && queue_.front() != &w) lock.wait(w.cv);
  if (!w.done) {
    // This caller leads: it commits itself and whoever queued behind it so far.
    const std::vector<Writer*> group = take_group();
    lock.unlock();
    commit_group(group);
    lock.lock();
    finish_group(group);
  }
  return w.status;
}

std::vector<SqliteStore::Writer*> SqliteStore::take_group() {
  const std::size_t n = std::min(queue_.size(), kMaxGroup);
  stats_.largest_group = std::max<std::uint64_t>(stats_.largest_group, n);
  return {queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(n)};
}

void SqliteStore::finish_group(const std::vector<Writer*>& group) {
  for (Writer* g : group) {
    CA_ASSERT(queue_.front() == g, "the group leaves the queue in order");
    queue_.pop_front();
    ++(g->status.ok() ? stats_.batches_written : stats_.batches_failed);
    g->done = true;
    g->cv.notify_one();
  }
  if (queue_.empty()) return;
  if (queue_.front()->delegated) {
    committer_cv_.notify_one();  // the next leader
  } else {
    queue_.front()->cv.notify_one();
  }
}

void SqliteStore::run_committer() {
  UniqueMutexLock lock(queue_mu_);
  for (;;) {
    while (!stopping_ && (queue_.empty() || !queue_.front()->delegated)) lock.wait(committer_cv_);
    if (stopping_) return;  // no write is in flight when the store is destroyed
    const std::vector<Writer*> group = take_group();
    lock.unlock();
    commit_group(group);
    lock.lock();
    finish_group(group);
  }
}

StoreStats SqliteStore::stats() const {
  MutexLock lock(queue_mu_);
  return stats_;
}

std::size_t SqliteStore::queued_writes() const {
  MutexLock lock(queue_mu_);
  return queue_.size();
}

}  // namespace scepter::store
