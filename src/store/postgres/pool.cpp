#include "store/postgres/pool.h"

#include <utility>

#include <fmt/format.h>

namespace scepter::store::pg {

Lease::~Lease() {
  if (conn_ != nullptr) pool_->release(std::move(conn_));
}

Pool::Pool(ConnectInfo info, std::size_t max_connections, std::chrono::milliseconds max_wait)
    : info_(std::move(info)),
      max_(max_connections > 0 ? max_connections : 1),
      max_wait_(max_wait) {}

Pool::~Pool() {
  std::vector<std::unique_ptr<Conn>> idle;
  {
    MutexLock lock(mu_);
    CA_ASSERT(open_ == idle_.size(), "no connection is lent out when the store closes");
    idle.swap(idle_);
  }
}

Result<Lease> Pool::acquire() {
  const auto deadline = std::chrono::steady_clock::now() + max_wait_;
  {
    UniqueMutexLock lock(mu_);
    for (;;) {
      if (!idle_.empty()) {
        // The most recently used first: the others may time out and be dropped by the
        // server's idle settings without anyone noticing.
        std::unique_ptr<Conn> c = std::move(idle_.back());
        idle_.pop_back();
        return Lease(this, std::move(c), /*reused=*/true);
      }
      if (open_ < max_) break;
      if (std::chrono::steady_clock::now() >= deadline) {
        return fail(
            unavailable(fmt::format("database '{}': all {} connections stayed busy for {} ms",
                                    info_.shown, max_, max_wait_.count())));
      }
      lock.wait_until(freed_, deadline);
    }
    ++open_;  // the slot is ours while we connect
  }
  auto c = Conn::connect(info_);
  if (!c) {
    {
      MutexLock lock(mu_);
      --open_;
    }
    freed_.notify_one();
    return fail(c.error());
  }
  return Lease(this, std::move(*c), /*reused=*/false);
}

void Pool::release(std::unique_ptr<Conn> conn) {
  // An unusable connection is closed outside the lock (PQfinish may write to a socket).
  std::unique_ptr<Conn> dropped;
  {
    MutexLock lock(mu_);
    if (conn->reusable()) {
      idle_.push_back(std::move(conn));
    } else {
      dropped = std::move(conn);
      --open_;
    }
  }
  freed_.notify_one();
}

void Pool::discard_idle() {
  std::vector<std::unique_ptr<Conn>> dropped;
  {
    MutexLock lock(mu_);
    dropped.swap(idle_);
    open_ -= dropped.size();
  }
  freed_.notify_all();
}

std::size_t Pool::open_connections() const {
  MutexLock lock(mu_);
  return open_;
}

}  // namespace scepter::store::pg
