#pragma once
// SqliteStore: the embedded engine, one SQLite file per certificate server (<label>.ser).
//
// The file is in WAL mode with synchronous=FULL, so write() returns OK only after its
// batch is committed and fsync'ed, and the file survives a crash or SIGKILL at any point.
// Concurrent write() calls are grouped (as LevelDB's DBImpl::Write does): the first
// caller in the queue commits every queued batch in one transaction, each batch inside
// its own savepoint, with one fsync, then wakes the others with their own Status. A
// batch that fails is rolled back alone and only its caller sees the error. A lone
// caller commits at once: there is no timer.
//
// write_overlapped() queues its batch the same way, but a commit thread of the store
// leads in its place (started at the first such call), so that the caller runs its
// `meanwhile` while the group is written and flushed. Either kind of caller may commit
// a group holding both kinds.
//
// Reads use a second connection with its own mutex (WAL readers do not wait for the
// writer); a ":memory:" database has a single connection shared by both.
//
// allocate_serial() and next_request_id() are in-memory counters loaded at open and
// raised by every write() that stores a larger value: no I/O per call. This assumes one
// writer process per file (a second process would hand out the same values; its
// writes would then fail with kAlreadyExists rather than overwrite anything).
//
// ACME records live in table acme (schema version 5), keyed by (kind, id); put_acme's
// compare-and-set on the version is an UPDATE ... WHERE version = ? inside the batch's
// savepoint (one writer connection: nothing can change the row between the check and
// the write).
//
// Thread-safe. Owns its connections; closing the store closes the file.

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/mutex.h"
#include "store/sqlite/connection.h"
#include "store/store.h"

namespace scepter::store {

struct SqliteOptions {
  // How long a connection waits for a lock held by another process before the call
  // fails with kUnavailable.
  int busy_timeout_ms = 5000;
};

class SqliteStore final : public Store {
 public:
  // Opens or creates the database at `path` (":memory:" for a private one). Fails with
  // kUnavailable, naming the path and SQLite's message, if the directory is missing,
  // access is denied, the file is not a scepter database or has a newer schema.
  static Result<std::unique_ptr<SqliteStore>> open(const std::string& path,
                                                   const SqliteOptions& options = {});
  ~SqliteStore() override;

  Status write(const WriteBatch& batch) override;
  Status write_overlapped(const WriteBatch& batch, const std::function<void()>& meanwhile) override;
  Result<std::optional<std::string>> meta(const std::string& key) const override;
  Result<CertRecord> certificate(Serial serial) const override;
  Status for_each_certificate(const std::function<bool(const CertRecord&)>& fn) const override;
  Result<std::uint64_t> certificate_count() const override;
  Result<Serial> last_serial() const override;
  Status for_each_revocation(const std::function<void(const Revocation&)>& fn) const override;
  Result<RequestRecord> request(RequestId id) const override;
  Result<RequestRecord> request_by_transaction(const std::string& tid) const override;
  Result<std::vector<RequestRecord>> requests() const override;
  Result<std::vector<RequestRecord>> requests_page(RequestId before_id,
                                                   std::size_t limit) const override;
  Status for_each_request(const std::function<bool(const RequestRecord&)>& fn) const override;
  Result<std::uint64_t> count_requests(const std::vector<RequestState>& states) const override;
  Result<std::uint64_t> delete_requests_created_before(TimePoint cutoff) override;
  Result<AcmeRecord> acme(AcmeKind kind, const std::string& id) const override;
  Result<std::vector<AcmeRecord>> acme_by_owner(AcmeKind kind, const std::string& owner,
                                                std::size_t limit) const override;
  Status for_each_acme(AcmeKind kind,
                       const std::function<bool(const AcmeRecord&)>& fn) const override;
  Result<std::uint64_t> count_acme(AcmeKind kind) const override;
  Result<std::uint64_t> delete_acme_expired(TimePoint now) override;
  Result<Serial> allocate_serial() override;
  Result<RequestId> next_request_id() override;
  StoreStats stats() const override;

  // SQLite's PRAGMA integrity_check: OK, or kUnavailable with the first problems found.
  // Reads the whole file; meant for tests and an operator's explicit check.
  Status check_integrity() const;
  // PRAGMA wal_checkpoint(PASSIVE): copies committed pages into the .ser file without
  // waiting for readers.
  Status checkpoint() override;
  // Batches waiting in write(), the one being committed included.
  std::size_t queued_writes() const;
  const std::string& path() const { return path_; }

 private:
  struct Writer;
  SqliteStore(std::string path, std::unique_ptr<sqlite::Connection> writer,
              std::unique_ptr<sqlite::Connection> reader, Serial last_serial,
              RequestId last_request_id);
  void raise_counters(const WriteBatch& batch);
  template <class Row, class Read, class Key, class Visit>
  Status walk(sqlite::Stmt sqlite::Statements::*stmt, std::int64_t first_after, int chunk_size,
              const char* what, Read read, Key key, Visit visit) const;
  Status enqueue(const WriteBatch& batch, const std::function<void()>* meanwhile);
  // The leader's part: takes the group at the front of the queue, commits it (with
  // queue_mu_ released) and wakes its writers and the next leader.
  std::vector<Writer*> take_group() REQUIRES(queue_mu_);
  void commit_group(const std::vector<Writer*>& group) EXCLUDES(queue_mu_);
  void finish_group(const std::vector<Writer*>& group) REQUIRES(queue_mu_);
  void run_committer();  // the commit thread: leads for write_overlapped() callers
  Status apply_batch(const WriteBatch& batch) REQUIRES(writer_->mu());
  // One statement in a transaction of its own on the write connection: the number of
  // rows it changed.
  Result<std::uint64_t> delete_alone(sqlite::Stmt sqlite::Statements::*stmt, std::int64_t arg,
                                     const char* what);

  const std::string path_;
  std::unique_ptr<sqlite::Connection> writer_;
  std::unique_ptr<sqlite::Connection> own_reader_;  // null for ":memory:"
  sqlite::Connection* reader_;                      // own_reader_ or writer_

  mutable Mutex queue_mu_;
  std::deque<Writer*> queue_ GUARDED_BY(queue_mu_);  // front() is the leader
  StoreStats stats_ GUARDED_BY(queue_mu_);
  std::condition_variable committer_cv_;  // a write_overlapped() batch is at the front
  bool stopping_ GUARDED_BY(queue_mu_) = false;
  std::thread committer_;  // started under queue_mu_; joined by the destructor

  mutable Mutex counter_mu_;
  // Allocated or stored.
  Serial last_serial_ GUARDED_BY(counter_mu_);
  RequestId last_request_id_ GUARDED_BY(counter_mu_);
};

}  // namespace scepter::store
