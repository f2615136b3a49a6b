#pragma once
// One control-socket connection: the ControlChannel that writes to it and the loop that
// reads requests, drives the connection's ShellSession and answers. Internal to
// ControlServer; exposed for its tests.

#include <functional>
#include <memory>
#include <string_view>

#include "cli/shell_session.h"
#include "common/mutex.h"
#include "common/unique_fd.h"

namespace scepter::daemon {

// Makes the session for a new connection. Called on the connection's thread; may return
// nullptr to refuse the connection (the client gets "% Internal error").
// Makes the session of one connection, given who connected ("uid 0 pid 4242", from the
// socket's peer credentials), for the audit log.
using SessionFactory = std::function<std::unique_ptr<cli::ShellSession>(const std::string& peer)>;

// The write side of a connection, shared by the connection's thread (answers) and any
// thread that emits asynchronous output. Writes are whole lines under one mutex, so an
// async line never lands inside an answer. Thread-safe. The descriptor stays open until
// the last owner lets go, so shutdown() is safe from any thread.
class ControlChannel {
 public:
  ControlChannel(UniqueFd fd, int write_timeout_ms);

  int fd() const { return fd_.get(); }
  // Writes all of `data`, or fails (returns false) once the channel is closed, the peer is
  // gone, or the peer has read nothing for the write timeout; a failed channel is shut
  // down, so the reader sees end-of-file.
  bool write(std::string_view data);
  // Output nobody waits for (a debug trace, from whatever thread produced it): sent as an
  // async message without ever blocking the caller. What the socket cannot take now is
  // dropped and counted, and the count is told to the shell with the next line that
  // fits; a line the socket took in part is finished first. False once closed.
  bool write_async(std::string_view text);
  // Ends the connection: the client sees end-of-file, and later writes are no-ops (after
  // the session ends, stray async output is dropped).
  void close();
  // Wakes a reader blocked on this connection (shutdown(2) both ways).
  void shutdown();

 private:
  enum class Sent { kAll, kWouldBlock, kFailed };
  // Sends what it can of `pending_` now, without waiting.
  Sent send_pending_now() REQUIRES(mu_);
  // Sends `pending_`, then `data`, waiting up to the write timeout; closes on failure.
  bool send_all(std::string_view data) REQUIRES(mu_);
  void fail() REQUIRES(mu_);
  // One async message: after what an earlier one left (dropped, and counted, when that
  // cannot go now), sent as far as the socket takes it now.
  bool send_async(std::string message) REQUIRES(mu_);

  const UniqueFd fd_;
  const int write_timeout_ms_;
  Mutex mu_;
  bool closed_ GUARDED_BY(mu_) = false;
  std::string pending_ GUARDED_BY(mu_);  // the rest of an async line sent in part
  std::uint64_t dropped_ GUARDED_BY(mu_) = 0;
};

// Serves one connection until the client disconnects, the session closes (`exit`), or the
// channel is shut down. Creates the session with `factory` and destroys it before
// returning. Never throws.
void serve_connection(const std::shared_ptr<ControlChannel>& channel,
                      const SessionFactory& factory);

}  // namespace scepter::daemon
