#include "daemon/control_connection.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <exception>
#include <string>

#include <fmt/format.h>

#include "common/log.h"
#include "daemon/control_protocol.h"

namespace scepter::daemon {
namespace {

constexpr std::size_t kReadChunk = 64 * 1024;
constexpr std::string_view kBadRequest = "% Internal error: bad request\n";
constexpr std::string_view kTooLong = "% Internal error: request longer than 1 MiB\n";
constexpr std::string_view kInternal = "% Internal error.\n";

// Drives one session: turns requests into calls and calls into answers.
class ConnectionLoop {
 public:
  ConnectionLoop(ControlChannel& channel, cli::ShellSession& session)
      : channel_(channel), session_(session) {}

  // Returns false when the connection must end (the session closed, or the peer is gone).
  bool handle_line(std::string_view text) {
    if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
    if (text.find_first_not_of(" \t") == std::string_view::npos) return true;  // keep-alive
    Result<ControlRequest> request = parse_request(text);
    if (!request) return send_error(kBadRequest);
    try {
      return dispatch(*request);
    } catch (const std::exception& e) {
      // The one catch-all at this request boundary: the session must stay usable.
      log::error("control: session failed on a request: {}", e.what());
    } catch (...) {
      log::error("control: session failed on a request");
    }
    return send_error(kInternal);
  }

  bool send_error(std::string_view output) {
    ControlAnswer answer;
    answer.output = output;
    answer.ok = false;
    fill_prompt(answer);
    return channel_.write(encode_answer(answer));
  }

 private:
  bool dispatch(const ControlRequest& request) {
    ControlAnswer answer;
    switch (request.op) {
      case ControlOp::kHello:
        break;
      case ControlOp::kExec: {
        cli::Reply reply = session_.execute(request.line);
        answer.output = std::move(reply.output);
        answer.ok = reply.ok;
        answer.closed = reply.closed;
        break;
      }
      case ControlOp::kHelp:
        answer.output = session_.help(request.line);
        break;
      case ControlOp::kComplete:
        answer.completions = session_.complete(request.line);
        break;
    }
    fill_prompt(answer);
    return channel_.write(encode_answer(answer)) && !answer.closed;
  }

  void fill_prompt(ControlAnswer& answer) {
    try {
      answer.prompt = session_.prompt();
      answer.hidden = session_.input_hidden();
    } catch (...) {
      answer.prompt.clear();
    }
  }

  ControlChannel& channel_;
  cli::ShellSession& session_;
};

// "uid 0 pid 4242": who is at the other end of a UNIX socket.
std::string peer_of(int fd) {
  ucred cred{};
  socklen_t len = sizeof cred;
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return "unknown peer";
  return fmt::format("uid {} pid {}", cred.uid, cred.pid);
}

std::unique_ptr<cli::ShellSession> make_session(const SessionFactory& factory,
                                                const std::string& peer) {
  try {
    return factory ? factory(peer) : nullptr;
  } catch (const std::exception& e) {
    log::error("control: cannot create a shell session: {}", e.what());
  } catch (...) {
    log::error("control: cannot create a shell session");
  }
  return nullptr;
}

// Reads request lines until end-of-file or a line that ends the connection. Lines longer
// than kMaxRequestBytes are skipped up to their '\n' and answered with one error.
void read_requests(ControlChannel& channel, ConnectionLoop& loop) {
  std::string buffer;
  std::size_t scanned = 0;  // bytes of `buffer` known to hold no '\n'
  bool oversized = false;   // dropping the rest of a too-long line
  char chunk[kReadChunk];
  for (;;) {
    std::size_t newline = buffer.find('\n', scanned);
    if (newline != std::string::npos) {
      bool go_on;
      if (oversized || newline > kMaxRequestBytes) {
        oversized = false;
        go_on = loop.send_error(kTooLong);
      } else {
        go_on = loop.handle_line(std::string_view(buffer).substr(0, newline));
      }
      buffer.erase(0, newline + 1);
      scanned = 0;
      if (!go_on) return;
      continue;
    }
    scanned = buffer.size();
    if (oversized || buffer.size() > kMaxRequestBytes) {
      oversized = true;
      buffer.clear();
      scanned = 0;
    }
    ssize_t n = ::read(channel.fd(), chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // the client went away (or stop() shut the socket down)
    buffer.append(chunk, static_cast<std::size_t>(n));
  }
}

}  // namespace

ControlChannel::ControlChannel(UniqueFd fd, int write_timeout_ms)
    : fd_(std::move(fd)), write_timeout_ms_(write_timeout_ms) {}

void ControlChannel::fail() {
  // A half-written line cannot be taken back: end the connection.
  closed_ = true;
  ::shutdown(fd_.get(), SHUT_RDWR);
}

ControlChannel::Sent ControlChannel::send_pending_now() {
  while (!pending_.empty()) {
    ssize_t n = ::send(fd_.get(), pending_.data(), pending_.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      pending_.erase(0, static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return Sent::kWouldBlock;
    return Sent::kFailed;
  }
  return Sent::kAll;
}

bool ControlChannel::send_all(std::string_view data) {
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(write_timeout_ms_);
  // What an async line left behind goes first: the peer reads whole messages.
  pending_.append(data);
  for (;;) {
    const Sent sent = send_pending_now();
    if (sent == Sent::kAll) return true;
    if (sent == Sent::kWouldBlock) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                      deadline - std::chrono::steady_clock::now())
                      .count();
      if (left > 0) {
        pollfd p{fd_.get(), POLLOUT, 0};
        int r = ::poll(&p, 1, static_cast<int>(left));
        if (r > 0 || (r < 0 && errno == EINTR)) continue;
      }
      log::warn("control: dropping a shell that has not read its output for {} ms",
                write_timeout_ms_);
    }
    pending_.clear();
    fail();
    return false;
  }
}

bool ControlChannel::write(std::string_view data) {
  MutexLock lock(mu_);
  if (closed_) return false;
  return send_all(data);
}

bool ControlChannel::send_async(std::string message) {
  if (!pending_.empty()) {
    const Sent sent = send_pending_now();
    if (sent == Sent::kFailed) {
      pending_.clear();
      fail();
      return false;
    }
    if (sent == Sent::kWouldBlock) {
      ++dropped_;
      return true;
    }
  }
  pending_ = std::move(message);
  if (send_pending_now() == Sent::kFailed) {
    pending_.clear();
    fail();
  }
  return !closed_;
}

bool ControlChannel::write_async(std::string_view text) {
  MutexLock lock(mu_);
  if (closed_) return false;
  if (dropped_ > 0 && pending_.empty()) {
    const std::uint64_t n = dropped_;
    dropped_ = 0;
    if (!send_async(encode_async(fmt::format(
            "% {} debug line(s) dropped: this shell did not read them in time.\n", n)))) {
      return false;
    }
  }
  return send_async(encode_async(text));
}

void ControlChannel::close() {
  MutexLock lock(mu_);
  closed_ = true;
  // The descriptor lives on until the last owner lets go; the client must see the end now.
  ::shutdown(fd_.get(), SHUT_RDWR);
}

void ControlChannel::shutdown() { ::shutdown(fd_.get(), SHUT_RDWR); }

void serve_connection(const std::shared_ptr<ControlChannel>& channel,
                      const SessionFactory& factory) {
  std::unique_ptr<cli::ShellSession> session = make_session(factory, peer_of(channel->fd()));
  if (!session) {
    ControlAnswer answer;
    answer.output = kInternal;
    answer.ok = false;
    answer.closed = true;
    channel->write(encode_answer(answer));
    channel->close();
    return;
  }
  // The sink holds the channel, not the connection: a session (or a log subscription it
  // made) may call it from another thread even while this thread is tearing down.
  std::weak_ptr<ControlChannel> weak = channel;
  session->set_async_output([weak](std::string_view text) {
    if (auto ch = weak.lock()) ch->write_async(text);
  });
  ConnectionLoop loop(*channel, *session);
  read_requests(*channel, loop);
  channel->close();
  session.reset();
}

}  // namespace scepter::daemon
