#pragma once
// ControlServer: scepterd's control socket, where `scepter` shells connect. It listens
// on a UNIX stream socket, gives every connection its own cli::ShellSession (made by the
// factory) and its own thread, and moves requests and answers as JSON lines (see
// control_protocol.h and docs/shell.md). Asynchronous session output (debug traces) is
// written between answers under a per-connection write lock.
//
// Access control is the socket file itself: it is created mode 0600 (or 0660 to let its
// group in) in a directory the daemon creates mode 0700 if missing, so only root, the
// daemon's user (and the socket's group) may drive the CA. The daemon checks each peer's
// credentials as well (peer_access.h), so a socket loosened by hand opens nothing more.
//
// Thread-safe: start(), stop() and the accessors may be called from any thread. The
// destructor stops the server. Sessions are created, driven and destroyed on their
// connection's thread only.

#include <sys/types.h>

#include <cstddef>
#include <memory>
#include <string>

#include "cli/shell_session.h"
#include "common/mutex.h"
#include "common/status.h"
#include "daemon/control_connection.h"  // SessionFactory

namespace scepter::daemon {

struct ControlServerOptions {
  std::string path;                  // socket path, e.g. /run/scepterd/scepterd.sock
  std::size_t max_connections = 64;  // extra connections get one error line and are closed
  mode_t socket_mode = 0600;         // 0600, or 0660 for the socket's group; start() refuses more
  int write_timeout_ms = 5000;       // a client that reads nothing for this long is dropped
};

class ControlServer {
 public:
  ControlServer(ControlServerOptions options, SessionFactory factory);
  ~ControlServer();
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  // Creates the socket's parent directory if missing, removes a stale socket left by a
  // dead daemon, binds, listens and starts accepting. Fails with kAlreadyExists if the
  // server is already running or another process answers on the path, kInvalidArgument
  // if the path is too long for a UNIX socket or names something that is not a socket,
  // kPermissionDenied / kUnavailable when the system refuses.
  Status start();
  // Stops accepting, shuts down every client connection (sessions in the middle of a
  // command finish it first), joins all threads and removes the socket file. Idempotent;
  // the server may be started again afterwards.
  void stop();

  bool running() const;
  const std::string& path() const { return options_.path; }
  // Connections whose session is alive right now.
  std::size_t connection_count() const;

 private:
  struct State;
  void accept_loop(State& state);

  const ControlServerOptions options_;
  const SessionFactory factory_;
  mutable Mutex lifecycle_mu_;                              // serialises start() and stop()
  std::unique_ptr<State> state_ GUARDED_BY(lifecycle_mu_);  // null while stopped
};

}  // namespace scepter::daemon
