#pragma once
// A small bounded pool of connections for the PostgreSQL engine. Connections are opened
// when needed (never more than the limit), kept while idle, and dropped when broken or
// left inside a transaction; the next caller opens a new one. A caller that finds every
// connection lent out waits for one, up to the pool's wait limit (then kUnavailable).
//
// Thread-safe. A Lease lends one connection to one caller; it must not outlive the pool.

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <vector>

#include "common/mutex.h"
#include "store/postgres/conn.h"

namespace scepter::store::pg {

class Pool;

// A connection on loan; goes back to the pool (or is dropped if unusable) on
// destruction. Movable, not copyable.
class Lease {
 public:
  Lease(Lease&& other) noexcept = default;
  Lease& operator=(Lease&&) = delete;
  ~Lease();

  Conn& conn() { return *conn_; }
  // Taken from the idle list rather than just opened: it may have died while idle (the
  // server restarted, an operator ended its backend), so a failure that finds it broken
  // is worth one more try on a new connection.
  bool reused() const { return reused_; }

 private:
  friend class Pool;
  Lease(Pool* pool, std::unique_ptr<Conn> conn, bool reused)
      : pool_(pool), conn_(std::move(conn)), reused_(reused) {}
  Pool* pool_;
  std::unique_ptr<Conn> conn_;
  bool reused_;
};

class Pool {
 public:
  Pool(ConnectInfo info, std::size_t max_connections, std::chrono::milliseconds max_wait);
  ~Pool();
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  // An idle connection, or a new one if fewer than the limit are open (connecting takes
  // place without the pool's lock). Fails with kUnavailable when the server cannot be
  // reached or no connection came free within the wait limit.
  Result<Lease> acquire() EXCLUDES(mu_);
  // Closes every idle connection: after one was found broken, the others probably are
  // too (a server restart ends them all).
  void discard_idle() EXCLUDES(mu_);
  // Open connections, lent out or idle.
  std::size_t open_connections() const EXCLUDES(mu_);
  const std::string& shown() const { return info_.shown; }
  const ConnectInfo& info() const { return info_; }

 private:
  friend class Lease;
  void release(std::unique_ptr<Conn> conn) EXCLUDES(mu_);

  const ConnectInfo info_;
  const std::size_t max_;
  const std::chrono::milliseconds max_wait_;

  mutable Mutex mu_;
  std::condition_variable freed_;  // a connection came back, or a slot opened
  std::vector<std::unique_ptr<Conn>> idle_ GUARDED_BY(mu_);
  std::size_t open_ GUARDED_BY(mu_) = 0;  // idle, lent out, or being connected
};

}  // namespace scepter::store::pg
