// PgStore's sessions outside the pool: the listener of Store::watch() and the holders of
// store roles (Store::try_take_role()), each on a connection of its own.

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <utility>

#include <fmt/format.h>

#include "common/mutex.h"
#include "common/unique_fd.h"
#include "store/postgres/conn.h"
#include "store/postgres/pg.h"
#include "store/postgres/pg_store.h"
#include "store/postgres/pool.h"
#include "store/postgres/schema.h"

namespace scepter::store {

using pg::Conn;
using pg::Params;
using pg::Rows;

namespace {

// Closing the connection ends the session, and the lock with it.
class PgRole final : public RoleLease {
 public:
  explicit PgRole(std::unique_ptr<Conn> conn) : conn_(std::move(conn)) {}
  // One round trip: only a statement tells a live session from one the server ended.
  bool held() const override {
    MutexLock lock(mu_);
    return conn_->query("SELECT 1", "", Params(), "checking a role").has_value();
  }

 private:
  mutable Mutex mu_;
  const std::unique_ptr<Conn> conn_ PT_GUARDED_BY(mu_);
};

// FNV-1a, 64 bits: a fixed advisory-lock key for a role name on every node.
std::int64_t role_key(const std::string& role) {
  std::uint64_t h = 14695981039346656037ULL;
  for (const unsigned char c : "scepter-role:" + role) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return static_cast<std::int64_t>(h);
}

}  // namespace

// LISTENs on a connection of its own, outside the pool, and calls the caller's function
// on its thread. A lost connection is replaced (once a second until it works), followed
// by fn(""): notifications sent meanwhile are gone. Every few seconds of silence a
// query checks that the session still lives (a server that vanished without closing the
// socket would otherwise never be noticed).
class PgWatch final : public Watch {
 public:
  PgWatch(pg::ConnectInfo info, std::string self, std::function<void(const std::string&)> fn,
          std::unique_ptr<Conn> conn, UniqueFd wake)
      : info_(std::move(info)),
        self_(std::move(self)),
        fn_(std::move(fn)),
        wake_(std::move(wake)),
        thread_([this, c = std::move(conn)]() mutable { run(std::move(c)); }) {}
  ~PgWatch() override {
    const std::uint64_t one = 1;
    (void)!::write(wake_.get(), &one, sizeof one);
    thread_.join();
  }

  static Result<std::unique_ptr<Conn>> listen(const pg::ConnectInfo& info) {
    ASSIGN_OR_RETURN(std::unique_ptr<Conn> c, Conn::connect(info));
    RETURN_IF_ERROR(c->script(fmt::format("LISTEN {}", pg::kEventChannel).c_str(),
                              "listening for the other nodes"));
    return c;
  }

 private:
  static constexpr int kProbeMs = 5000;

  enum class Woke { kStop, kData, kQuiet };
  // Waits up to `ms` for the socket (or -1: none) or the wake-up.
  Woke wait(int fd, int ms) {
    pollfd fds[2] = {{wake_.get(), POLLIN, 0}, {fd, POLLIN, 0}};
    const int n = ::poll(fds, fd >= 0 ? 2 : 1, ms);
    if (n > 0 && (fds[0].revents & POLLIN) != 0) return Woke::kStop;
    return n > 0 ? Woke::kData : Woke::kQuiet;
  }

  void deliver(Conn& conn) {
    for (const std::string& payload : conn.notifications()) {
      const auto sp = payload.find(' ');
      if (sp == std::string::npos || payload.compare(0, sp, self_) == 0) continue;
      fn_(payload.substr(sp + 1));
    }
  }

  void run(std::unique_ptr<Conn> conn) {
    for (;;) {
      if (!conn) {
        if (wait(-1, 1000) == Woke::kStop) return;
        auto c = listen(info_);
        if (!c.has_value()) continue;
        conn = std::move(*c);
        fn_("");
      }
      const Woke woke = wait(conn->socket(), kProbeMs);
      if (woke == Woke::kStop) return;
      deliver(*conn);
      if (woke == Woke::kQuiet) {
        // After a quiet spell, a query tells a live session from one that vanished;
        // what arrived meanwhile libpq has read, and it is delivered at once.
        if (conn->broken() ||
            !conn->query("SELECT 1", "", Params(), "checking the listener").has_value()) {
          conn.reset();
          continue;
        }
        deliver(*conn);
      } else if (conn->broken()) {
        conn.reset();
      }
    }
  }

  const pg::ConnectInfo info_;
  const std::string self_;
  const std::function<void(const std::string&)> fn_;
  const UniqueFd wake_;
  std::thread thread_;
};

Result<std::unique_ptr<Watch>> PgStore::watch(std::function<void(const std::string&)> fn) {
  ASSIGN_OR_RETURN(std::unique_ptr<Conn> conn, PgWatch::listen(pool_->info()));
  UniqueFd wake(::eventfd(0, EFD_CLOEXEC));
  if (!wake.valid()) return fail(unavailable("cannot watch the database: eventfd failed"));
  return std::unique_ptr<Watch>(std::make_unique<PgWatch>(pool_->info(), id_, std::move(fn),
                                                          std::move(conn), std::move(wake)));
}

Result<std::unique_ptr<RoleLease>> PgStore::try_take_role(const std::string& role) {
  ASSIGN_OR_RETURN(std::unique_ptr<Conn> conn, Conn::connect(pool_->info()));
  Params p;
  p.int8(role_key(role));
  ASSIGN_OR_RETURN(Rows rows, conn->query("SELECT pg_try_advisory_lock($1)::int", "i", p,
                                          fmt::format("taking the role '{}'", role)));
  if (rows.size() != 1 || rows.int64(0, 0) != 1) return std::unique_ptr<RoleLease>();
  return std::unique_ptr<RoleLease>(std::make_unique<PgRole>(std::move(conn)));
}

}  // namespace scepter::store
