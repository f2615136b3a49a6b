// The connection (connection.h): writing the answer, from this network thread or from
// the worker that ran the handler; error answers from the server itself, and the
// lingering close after them; the end of a connection.

#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <array>
#include <cerrno>

#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>

#include "common/log.h"
#include "http/connection.h"

namespace scepter::http::detail {

namespace {

// After an error answer (413, 431, 400, 429) the connection reads and drops at most this
// much of what the client still sends, then closes. Enough for any body a SCEP client
// could mean to send, so that its 413 reaches it even when it writes everything before
// reading: closing on unread data resets the connection, and the reset can discard the
// answer on the client's side. A client that keeps sending past it is cut off.
constexpr std::size_t kMaxDrainBytes = 4 << 20;
constexpr auto kMaxDrainTime = std::chrono::seconds(2);
// Draining reads in larger pieces than requests: each read is a trip through the event
// loop, and what is drained is thrown away unlooked-at.
constexpr std::size_t kDrainChunk = 64 << 10;
// The plaintext of a full TLS record.
constexpr std::size_t kTlsRecord = 16 << 10;
// How long sending close_notify may take before the connection is closed without it.
constexpr auto kMaxTlsShutdownTime = std::chrono::seconds(1);

}  // namespace

template <class Stream>
void StreamConnection<Stream>::write_response(Response r, bool close_after) {
  if (state_ != State::kHandling) {
    if (r.stream) {
      r.stream->detach();
    }
    return;  // closed by stop() meanwhile
  }
  if (r.stream) {
    return start_stream(std::move(r));
  }
  bool keep_alive = false;
  if (!build_response(std::move(r), close_after, keep_alive)) {
    return close();
  }
  send(version_, keep_alive);
}

// Runs on a worker thread while state_ is kHandling. The network thread leaves the
// connection alone in that state (only close() may run, from stop()), so header_, body_
// and out_body_ are the worker's until the continuation posted here runs.
template <class Stream>
void StreamConnection<Stream>::answer_from_worker(Response r, bool close_after) {
  if (r.stream) {
    // Rare (event streams): everything happens on the network thread.
    net::post(executor(),
              [self = self(), r = std::move(r)]() mutable { self->write_response(std::move(r)); });
    return;
  }
  bool keep_alive = false;
  const bool built = build_response(std::move(r), close_after, keep_alive);
  std::size_t sent = 0;
  if (built) {
    end_header(header_, version_, keep_alive);
  }
  if constexpr (!kTls) {
    std::lock_guard<std::mutex> lock(socket_mu_);
    if (built && !socket_closed_) {
      sent = send_now();  // what the socket does not take now, the network thread writes
    }
  }
  const net::any_io_executor ex = executor();
  net::post(ex, [self = self(), built, sent, keep_alive] {
    if (self->state_ != State::kHandling) {
      return;  // closed by stop() meanwhile
    }
    if (!built) {
      return self->close();
    }
    self->send_rest(sent, keep_alive);
  });
}

template <class Stream>
bool StreamConnection<Stream>::build_response(Response r, bool close_after, bool& keep_alive) {
  if (r.status < 200 || r.status > 599) {
    log::error("HTTP handler returned status {}; sending 500", r.status);
    r = Response::text(500, "Internal Server Error\n");
  }
  HeadWriter head(header_, version_, r.status);
  bool fits = head.field("Server", core_.options.server_name);
  fits = fits && head.field("Date", cached_http_date());
  const bool type_ok = !r.content_type.empty() && is_sendable_header("X", r.content_type);
  fits = fits && head.field("Content-Type", type_ok ? r.content_type : "text/plain");
  const std::vector<Header>* lists[] = {&core_.options.response_headers, &r.headers};
  for (const std::vector<Header>* list : lists) {
    for (const Header& h : *list) {
      if (is_sendable_header(h.first, h.second)) {
        fits = fits && head.field(h.first, h.second);
      }
    }
  }
  if (!fits) {
    log::error("HTTP response for {} could not be built: a header field is too long",
               peer_.address);
    return false;
  }
  const bool no_body = r.status == 204 || r.status == 304;
  if (no_body) {
    r.body.clear();
    r.shared_body.reset();
  }
  body_ = std::move(r.body);
  shared_body_ = std::move(r.shared_body);
  const std::string_view payload = shared_body_ ? std::string_view(*shared_body_) : body_;
  if (head_) {
    head.content_length(payload.size());  // the length GET would send, and no body
    out_body_ = {};
  } else {
    if (!no_body) {
      head.content_length(payload.size());
    }
    out_body_ = payload;
  }
  keep_alive = keep_alive_ && !close_after && !core_.stopping;
  return true;
}

template <class Stream>
std::size_t StreamConnection<Stream>::send_now() {
  std::array<iovec, 2> iov{iovec{header_.data(), header_.size()},
                           iovec{const_cast<char*>(out_body_.data()), out_body_.size()}};
  msghdr msg{};
  msg.msg_iov = iov.data();
  msg.msg_iovlen = out_body_.empty() ? 1 : 2;
  const ssize_t n = ::sendmsg(stream_.socket().native_handle(), &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
  return n > 0 ? static_cast<std::size_t>(n) : 0;  // an error shows in the write that follows
}

template <class Stream>
void StreamConnection<Stream>::send(unsigned version, bool keep_alive) {
  end_header(header_, version, keep_alive);
  std::size_t sent = 0;
  if constexpr (!kTls) {
    // Most answers fit the socket's buffer: written now, with no write timer to arm (a
    // timer that becomes the earliest costs a system call) and no trip through the loop.
    sent = send_now();
  }
  send_rest(sent, keep_alive);
}

template <class Stream>
void StreamConnection<Stream>::send_rest(std::size_t sent, bool keep_alive) {
  if (state_ != State::kClosing) {
    state_ = State::kWriting;
  }
  if (sent == header_.size() + out_body_.size()) {
    return on_written({}, keep_alive);
  }
  tcp_layer().expires_after(core_.options.write_timeout);
  if constexpr (kTls) {
    return send_tls(keep_alive);
  }
  const std::size_t from_header = std::min(sent, header_.size());
  const std::size_t from_body = sent - from_header;
  const std::array<net::const_buffer, 2> buffers{net::buffer(header_) + from_header,
                                                 net::buffer(out_body_) + from_body};
  net::async_write(stream_, buffers,
                   [self = self(), keep_alive](const error_code& ec, std::size_t) {
                     self->on_written(ec, keep_alive);
                   });
}

// The header and the start of the body go in one buffer of at most one TLS record, so a
// small answer is one record: a client's first read gets the whole header (strongSwan's
// EST client reads 1024 bytes and wants the header in them). The rest of a large body
// follows. (Beast's ssl_stream would join a header and body too, but not reliably: a
// gather write whose first buffer is used up makes it write nothing.)
template <class Stream>
void StreamConnection<Stream>::send_tls(bool keep_alive) {
  const std::size_t room = header_.size() < kTlsRecord ? kTlsRecord - header_.size() : 0;
  const std::size_t joined = std::min(room, out_body_.size());
  header_.append(out_body_.data(), joined);
  out_body_.remove_prefix(joined);
  net::async_write(stream_, net::buffer(header_),
                   [self = self(), keep_alive](const error_code& ec, std::size_t) {
                     if (ec || self->out_body_.empty()) {
                       return self->on_written(ec, keep_alive);
                     }
                     net::async_write(self->stream_, net::buffer(self->out_body_),
                                      [self, keep_alive](const error_code& ec2, std::size_t) {
                                        self->on_written(ec2, keep_alive);
                                      });
                   });
}

template <class Stream>
void StreamConnection<Stream>::on_written(const error_code& ec, bool keep_alive) {
  body_ = std::string();
  shared_body_.reset();
  out_body_ = {};
  if (ec) {
    if (ec == beast::error::timeout) {
      ++core_.timeouts;
    }
    return close();
  }
  if (state_ == State::kClosing) {
    return start_drain();
  }
  if (!keep_alive) {
    return finish();
  }
  await_request();
}

template <class Stream>
void StreamConnection<Stream>::finish() {
  if constexpr (kTls) {
    // close_notify tells the client that the answer is complete (not cut off); the
    // client's own close_notify is not awaited.
    state_ = State::kEnding;
    pki::shutdown_without_waiting(stream_.native_handle());
    tcp_layer().expires_after(std::min<std::chrono::steady_clock::duration>(
        kMaxTlsShutdownTime, core_.options.write_timeout));
    stream_.async_shutdown([self = self()](const error_code&) { self->close(); });
  } else {
    close();
  }
}

// An answer from the server itself to a request it will not pass on; the connection
// closes afterwards, since the rest of the request cannot be trusted (or, when refused
// for its rate, is not worth reading).
template <class Stream>
void StreamConnection<Stream>::send_error(int status, std::string_view text,
                                          std::chrono::seconds retry_after,
                                          std::string_view content_type) {
  parser_.reset();
  HeadWriter head(header_, 11, status);
  head.field("Server", core_.options.server_name);
  head.field("Date", cached_http_date());
  head.field("Content-Type", content_type);
  if (retry_after.count() > 0) {
    head.field("Retry-After", std::to_string(retry_after.count()));
  }
  head.content_length(text.size());
  body_ = std::string(text);
  shared_body_.reset();
  out_body_ = body_;
  state_ = State::kClosing;  // on_written() drains instead of closing
  send(11, false);
}

template <class Stream>
void StreamConnection<Stream>::start_drain() {
  tcp_layer().expires_after(
      std::min<std::chrono::steady_clock::duration>(kMaxDrainTime, core_.options.read_timeout));
  if constexpr (kTls) {
    // close_notify, then the same lingering close as in plain HTTP, on the TCP stream:
    // what the client still sends is dropped without being decrypted.
    pki::shutdown_without_waiting(stream_.native_handle());
    stream_.async_shutdown([self = self()](const error_code& ec) {
      if (ec == beast::error::timeout || self->state_ == State::kClosed) {
        return self->close();
      }
      error_code ignored;
      self->tcp_layer().socket().shutdown(tcp::socket::shutdown_send, ignored);
      self->drain();
    });
  } else {
    error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    drain();
  }
}

// Lingering close: after an error answer, read and discard what the client still sends
// (up to kMaxDrainBytes and kMaxDrainTime) so that closing does not reset the connection
// before a client that is still sending reads the answer.
template <class Stream>
void StreamConnection<Stream>::drain() {
  buffer_.clear();
  const std::size_t want = std::min(kDrainChunk, kMaxDrainBytes - drained_);
  tcp_layer().async_read_some(buffer_.prepare(want),
                              [self = self()](const error_code& ec2, std::size_t n) {
                                self->drained_ += n;
                                self->core_.drained_bytes += n;
                                if (ec2 || self->drained_ >= kMaxDrainBytes) {
                                  return self->close();
                                }
                                self->drain();
                              });
}

// Called from connection.cpp and streaming.cpp.
template void StreamConnection<beast::tcp_stream>::write_response(Response, bool);
template void StreamConnection<TlsStream>::write_response(Response, bool);
template void StreamConnection<beast::tcp_stream>::answer_from_worker(Response, bool);
template void StreamConnection<TlsStream>::answer_from_worker(Response, bool);
template void StreamConnection<beast::tcp_stream>::finish();
template void StreamConnection<TlsStream>::finish();
template void StreamConnection<beast::tcp_stream>::send_error(int, std::string_view,
                                                              std::chrono::seconds,
                                                              std::string_view);
template void StreamConnection<TlsStream>::send_error(int, std::string_view, std::chrono::seconds,
                                                      std::string_view);

}  // namespace scepter::http::detail
