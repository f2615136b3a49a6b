#include "daemon/control_server.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <list>
#include <thread>
#include <utility>

#include "common/fs.h"
#include "common/log.h"
#include "common/unique_fd.h"
#include "daemon/control_connection.h"
#include "daemon/control_protocol.h"
#include "daemon/peer_access.h"

namespace scepter::daemon {
namespace {

Status errno_status(std::string_view what, const std::string& path, int e = errno) {
  std::string msg = fmt::format("{} {}: {}", what, path, std::strerror(e));
  if (e == EACCES || e == EPERM || e == EROFS) return permission_denied(msg);
  if (e == EADDRINUSE) return already_exists(msg);
  return unavailable(msg);
}

std::string parent_dir(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

Result<sockaddr_un> socket_address(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof addr.sun_path) {
    return fail(invalid_argument(fmt::format("control socket path must be 1 to {} bytes: {}",
                                             sizeof addr.sun_path - 1, path)));
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  return addr;
}

// A socket file left by a daemon that died is removed; one that still answers belongs
// to a running daemon and is left alone.
Status remove_stale_socket(const std::string& path, const sockaddr_un& addr) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return ok_status();
    return errno_status("cannot inspect", path);
  }
  if (!S_ISSOCK(st.st_mode)) {
    return invalid_argument(fmt::format("{} exists and is not a socket", path));
  }
  UniqueFd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!probe.valid()) return errno_status("cannot create a socket for", path);
  if (::connect(probe.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0) {
    return already_exists(fmt::format("another process is listening on {}", path));
  }
  if (errno != ECONNREFUSED && errno != ENOENT) return errno_status("cannot probe", path);
  log::info("control: removing stale socket {}", path);
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return errno_status("cannot remove", path);
  return ok_status();
}

void refuse(int fd, std::string_view why) {
  ControlAnswer answer;
  answer.output = why;
  answer.ok = false;
  answer.closed = true;
  std::string line = encode_answer(answer);
  // A fresh socket has an empty buffer: the line fits, and the accept loop must not block.
  (void)::send(fd, line.data(), line.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
}

}  // namespace

struct ControlServer::State {
  struct Connection {
    std::shared_ptr<ControlChannel> channel;
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> done = std::make_shared<std::atomic<bool>>(false);
  };

  UniqueFd listen_fd;
  UniqueFd wake_read;  // stop() writes a byte to wake_write to end the accept loop
  UniqueFd wake_write;
  dev_t socket_dev = 0;  // identity of the socket file we made, so stop() removes only it
  ino_t socket_ino = 0;
  SocketOwner owner;  // who may connect besides root (peer_access.h)
  std::thread accept_thread;
  std::atomic<std::size_t> active{0};

  Mutex mu;
  std::list<Connection> connections GUARDED_BY(mu);

  void reap_finished() {
    std::list<Connection> finished;
    {
      MutexLock lock(mu);
      for (auto it = connections.begin(); it != connections.end();) {
        auto next = std::next(it);
        if (it->done->load()) finished.splice(finished.end(), connections, it);
        it = next;
      }
    }
    for (auto& c : finished) c.thread.join();
  }
};

ControlServer::ControlServer(ControlServerOptions options, SessionFactory factory)
    : options_(std::move(options)), factory_(std::move(factory)) {}

ControlServer::~ControlServer() { stop(); }

bool ControlServer::running() const {
  MutexLock lock(lifecycle_mu_);
  return state_ != nullptr;
}

std::size_t ControlServer::connection_count() const {
  MutexLock lock(lifecycle_mu_);
  return state_ ? state_->active.load() : 0;
}

Status ControlServer::start() {
  MutexLock lock(lifecycle_mu_);
  if (state_) return already_exists("control server is already running");
  const std::string& path = options_.path;
  ASSIGN_OR_RETURN(sockaddr_un addr, socket_address(path));
  if ((options_.socket_mode & ~mode_t{0660}) != 0) {
    return invalid_argument(
        fmt::format("control socket mode {:04o} gives access beyond the daemon's user and group",
                    options_.socket_mode));
  }
  RETURN_IF_ERROR(fs::make_dirs(parent_dir(path)));
  RETURN_IF_ERROR(remove_stale_socket(path, addr));

  auto state = std::make_unique<State>();
  state->listen_fd.reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!state->listen_fd.valid()) return errno_status("cannot create socket", path);
  if (::bind(state->listen_fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    return errno_status("cannot bind", path);
  }
  struct stat st {};
  if (::chmod(path.c_str(), options_.socket_mode) != 0 || ::stat(path.c_str(), &st) != 0) {
    Status s = errno_status("cannot set permissions on", path);
    ::unlink(path.c_str());
    return s;
  }
  state->socket_dev = st.st_dev;
  state->socket_ino = st.st_ino;
  state->owner = {::geteuid(), st.st_gid, options_.socket_mode};
  if (::listen(state->listen_fd.get(), SOMAXCONN) != 0) {
    Status s = errno_status("cannot listen on", path);
    ::unlink(path.c_str());
    return s;
  }
  int wake[2];
  if (::pipe2(wake, O_CLOEXEC | O_NONBLOCK) != 0) {
    Status s = errno_status("cannot create a pipe for", path);
    ::unlink(path.c_str());
    return s;
  }
  state->wake_read.reset(wake[0]);
  state->wake_write.reset(wake[1]);

  state->accept_thread = std::thread([this, s = state.get()] { accept_loop(*s); });
  state_ = std::move(state);
  log::info("control: listening on {}", path);
  return ok_status();
}

void ControlServer::accept_loop(State& state) {
  for (;;) {
    pollfd fds[2] = {{state.listen_fd.get(), POLLIN, 0}, {state.wake_read.get(), POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      log::error("control: poll failed: {}", std::strerror(errno));
      return;
    }
    if (fds[1].revents != 0) return;  // stop()
    UniqueFd fd(::accept4(state.listen_fd.get(), nullptr, nullptr, SOCK_CLOEXEC));
    state.reap_finished();
    if (!fd.valid()) {
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        log::warn("control: cannot accept a shell: {}", std::strerror(errno));
        std::this_thread::sleep_for(std::chrono::milliseconds(100));  // don't spin
      }
      continue;  // EAGAIN, ECONNABORTED, EINTR: the client is gone or never was
    }
    if (auto peer = peer_credentials(fd.get()); !peer || !peer_may_connect(*peer, state.owner)) {
      log::warn("control: refusing a shell of uid {}", peer ? static_cast<long>(peer->uid) : -1L);
      refuse(fd.get(),
             "% Permission denied: only root, scepterd's user and its socket's group may use "
             "scepterd's control socket\n");
      continue;
    }
    if (state.active.load() >= options_.max_connections) {
      log::warn("control: refusing a shell: {} sessions open", options_.max_connections);
      refuse(fd.get(), fmt::format("% Too many shell sessions ({} open), try again later\n",
                                   options_.max_connections));
      continue;
    }
    State::Connection conn;
    conn.channel = std::make_shared<ControlChannel>(std::move(fd), options_.write_timeout_ms);
    state.active.fetch_add(1);
    conn.thread = std::thread([this, &state, channel = conn.channel, done = conn.done] {
      serve_connection(channel, factory_);
      state.active.fetch_sub(1);
      done->store(true);
    });
    MutexLock lock(state.mu);
    state.connections.push_back(std::move(conn));
  }
}

void ControlServer::stop() {
  MutexLock lock(lifecycle_mu_);
  if (!state_) return;
  State& state = *state_;
  char byte = 0;
  while (::write(state.wake_write.get(), &byte, 1) < 0 && errno == EINTR) {
  }
  state.accept_thread.join();

  std::list<State::Connection> connections;
  {
    MutexLock conn_lock(state.mu);
    connections.swap(state.connections);
  }
  for (auto& c : connections) c.channel->shutdown();
  for (auto& c : connections) c.thread.join();

  // Remove the socket file only if it is still the one we bound (a second daemon started
  // by mistake must not lose its socket to our shutdown).
  struct stat st {};
  if (::stat(options_.path.c_str(), &st) == 0 && st.st_dev == state.socket_dev &&
      st.st_ino == state.socket_ino) {
    ::unlink(options_.path.c_str());
  }
  state_.reset();
  log::info("control: stopped listening on {}", options_.path);
}

}  // namespace scepter::daemon
