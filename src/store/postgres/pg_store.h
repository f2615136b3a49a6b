#pragma once
// PgStore: the server engine, a PostgreSQL database shared by several scepterd nodes of
// one CA (libpq).
//
// The URL is libpq's, passed on as typed ("postgresql://user:pw@host:port/db?...",
// several hosts and target_session_attrs included); a connect_timeout of 5 s applies
// unless it sets one. The tables, created and migrated by the engine at open, are the
// SQLite engine's (schema.h). Statements are prepared once per connection.
//
// Connections come from a small bounded pool, opened when needed. A call that cannot
// reach the server fails with kUnavailable (never blocking past the connect timeout per
// host, or the pool's wait limit when every connection is busy); a broken connection is
// dropped, and the next call connects again. A call that finds a connection dead after
// it sat idle (server restarted, backend terminated) retries once on a new connection,
// except for a COMMIT already sent. A server that does not answer a call within
// PgOptions::timeout (10 s) fails it with kUnavailable, without a retry; a COMMIT so
// cut off is a lost connection after COMMIT (below).
//
// Durability: write() runs one transaction per batch and returns OK only after COMMIT
// succeeded (synchronous_commit as configured on the server: "on" by default). Any
// failure rolls the whole batch back; deadlocks and serialization failures are retried
// (up to four attempts). One case cannot be decided by any client: if the connection is
// lost after COMMIT was sent, write() fails with kUnavailable although the batch may have
// been committed (a retry of it would then fail with kAlreadyExists).
//
// ACME records (table acme) are versioned: put_acme of a new record is an INSERT that a
// concurrent one from another node makes fail on the primary key (kAlreadyExists), and
// of a stored one an UPDATE ... WHERE version = the version read, whose row count tells
// whether it won (kAborted otherwise): of several nodes changing one record from the
// same version, exactly one succeeds.
//
// Serials and request ids are allocated by the database in blocks per node (reserve.h),
// never twice for one database whichever node asks, and never below a value stored
// before the block was taken (pg_store.cpp explains how).
//
// Thread-safe. Owns its pool; no call may be in flight when the store is destroyed.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/mutex.h"
#include "store/postgres/reserve.h"
#include "store/store.h"

namespace scepter::store {

namespace pg {
class Conn;
class Pool;
struct Step;
enum class Sql : int;
}  // namespace pg

struct PgOptions {
  // Connections open at most at once. Every call holds one for its duration (a
  // for_each_* call for one chunk at a time).
  std::size_t max_connections = 8;
  // How long a call waits for a connection when all are busy, before kUnavailable.
  std::chrono::milliseconds max_wait{30'000};
  // Seconds to wait for each host to answer a connection attempt, unless the URL sets
  // connect_timeout.
  int connect_timeout_s = 5;
  // How long a call waits for the server's answer (conn.h): a database that hangs fails
  // the calls with kUnavailable after this, instead of holding them. 0: for ever.
  std::chrono::milliseconds timeout{10'000};
};

class PgStore final : public Store {
 public:
  // Connects once, then creates the schema or migrates it to this build's version.
  // Fails with kInvalidArgument if libpq cannot parse the URL, and with kUnavailable if
  // the server cannot be reached or refuses us, or the schema is newer than this build
  // or not ours. Messages show the URL with its password replaced by "***".
  static Result<std::unique_ptr<PgStore>> open(const std::string& url,
                                               const PgOptions& options = {});
  ~PgStore() override;

  Status write(const WriteBatch& batch) override;
  // The batch's COMMIT is sent, `meanwhile` runs, then its result is awaited.
  Status write_overlapped(const WriteBatch& batch, const std::function<void()>& meanwhile) override;
  Result<std::optional<std::string>> meta(const std::string& key) const override;
  Result<Serial> allocate_serial() override;
  Result<RequestId> next_request_id() override;
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
  StoreStats stats() const override;
  // A session advisory lock (keyed by a hash of "scepter-role:" + role) on a connection
  // opened for the lease, outside the pool.
  Result<std::unique_ptr<RoleLease>> try_take_role(const std::string& role) override;
  bool shared() const override { return true; }
  // LISTEN on a connection of its own, outside the pool; events are NOTIFY payloads on
  // pg::kEventChannel that carry another store's id.
  Result<std::unique_ptr<Watch>> watch(std::function<void(const std::string&)> fn) override;

  // Connections currently open (idle or in use); for tests.
  std::size_t open_connections() const;

 private:
  class Meanwhile;
  struct Attempt;
  struct Timing;
  explicit PgStore(std::unique_ptr<pg::Pool> pool);

  // One allocator: its block (reserve.h) and the name of its counter row.
  struct Counter {
    Counter(const char* n, const char* w) : name(n), what(w) {}
    // Reserve::stored() and drop(), under the lock; `losses` is PgStore::losses_.
    bool stored(std::int64_t value, std::uint64_t losses);
    void drop();
    // Forgets the reserve if a connection was lost since it was last called.
    void catch_up(std::uint64_t losses) REQUIRES(mu);

    const char* const name;
    const char* const what;  // for messages
    Mutex mu;
    pg::Reserve reserve GUARDED_BY(mu);
    std::uint64_t seen_losses GUARDED_BY(mu) = 0;
  };

  Status write_with(const WriteBatch& batch, const std::function<void()>* meanwhile);
  // The batch in a transaction, one statement at a time.
  Attempt try_write(const WriteBatch& batch, const pg::Floors& raise, Meanwhile& meanwhile);
  // The batch as one pipeline (Conn::send_pipeline).
  Attempt try_pipeline(const std::vector<pg::Step>& steps, Meanwhile& meanwhile);
  // The end of an attempt whose commit was sent: `s` is how the commit went.
  Attempt commit_outcome(pg::Conn& c, Status s, const char* lost_when, const Timing& timing);
  // Runs `fn(conn)` on a pooled connection, once more on a new one if a connection taken
  // from the idle list turns out dead.
  template <class Fn>
  auto with_connection(Fn&& fn) const;
  template <class Row, class ReadRow, class Key, class Visit>
  Status walk(pg::Sql sql, std::int64_t first_after, int chunk, const char* what, ReadRow read_row,
              Key key, Visit visit) const;
  Result<std::int64_t> allocate(Counter& counter);
  // The last value of a new block of `size`.
  Result<std::int64_t> take_block(const char* name, const char* what, std::int64_t size);
  void count_commit();

  std::unique_ptr<pg::Pool> pool_;
  // Random: tells this store's events from the other nodes' (watch()).
  std::string id_;
  // A connection broke: the server may be another one now (a failover), whose counter
  // rows need not be where this node read them (an asynchronous standby may lack the
  // last blocks). The counters drop their blocks and batches raise the rows again, from
  // their next use on (Counter::catch_up(): no lock is taken here, as the caller may be
  // inside allocate()).
  void lost_connection() const;

  Counter serials_;
  Counter requests_;
  mutable std::atomic<std::uint64_t> losses_{0};
  mutable Mutex stats_mu_;
  StoreStats stats_ GUARDED_BY(stats_mu_);
};

}  // namespace scepter::store
