#pragma once
// Internal to http/: one HTTP/1.x connection on Boost.Beast: reads a request at a time,
// answers it (on this network thread for inline requests and for answers ready in memory,
// later on this thread for a ReadyAnswer::soon, else on the heavy or the light worker
// pool), writes the answer, and repeats while keep-alive lasts. This header and the files
// that define the connection's methods are the only ones that include Beast's HTTP code
// and Asio's TLS stream: connection.cpp (the TLS handshake, reading a request, handing it
// to a handler), connection_write.cpp (writing the answer, error answers and the
// lingering close after them) and streaming.cpp (Response::stream). Beast parses
// requests; responses are serialized into one header buffer, written together with the
// body (shared, not copied) in one gather write.
//
// The protocol is written once, for a connection templated on its stream: a plain
// beast::tcp_stream, or a beast::ssl_stream over one (HTTPS). What differs is small and
// chosen at compile time (if constexpr): TLS starts with a handshake, its answers are
// written by the network thread only (an SSL object is not thread-safe), and it ends by
// sending close_notify.
//
// Each method of StreamConnection is defined in one of those files; the ones another
// file calls are declared at the end of this header and explicitly instantiated, for
// both streams, at the end of the file that defines them.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <ctime>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include "http/message.h"
#include "http/server_core.h"
#include "pki/tls_context.h"

namespace scepter::http::detail {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = net::ip::tcp;
using error_code = boost::system::error_code;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

inline constexpr std::size_t kReadChunk = 16 << 10;

// Formatting the date on every response shows up in profiles; it changes once a second.
inline const std::string& cached_http_date() {
  thread_local std::time_t last = 0;
  thread_local std::string text;
  const std::time_t now = std::time(nullptr);
  if (now != last) {
    last = now;
    text = http_date(now);
  }
  return text;
}

inline std::string_view view(beast::string_view s) { return {s.data(), s.size()}; }

// What Beast's fields do to a value: leading and trailing spaces and tabs go.
inline std::string_view trim(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) {
    v.remove_prefix(1);
  }
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) {
    v.remove_suffix(1);
  }
  return v;
}

// A response's status line and header fields, in the order they are added.
class HeadWriter {
 public:
  // `out` is cleared and reused (its capacity stays with the connection).
  HeadWriter(std::string& out, unsigned version, int status) : out_(out) {
    out_.clear();
    out_ += version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ";
    append_number(static_cast<std::size_t>(status));
    out_ += ' ';
    out_ += view(bhttp::obsolete_reason(static_cast<bhttp::status>(status)));
    out_ += "\r\n";
  }

  // False when the field is too long to send (Beast's limit: 64 KiB).
  bool field(std::string_view name, std::string_view value) {
    value = trim(value);
    if (name.size() + 2 > kMaxField || value.size() + 2 > kMaxField) {
      return false;
    }
    out_ += name;
    out_ += ": ";
    out_ += value;
    out_ += "\r\n";
    return true;
  }

  void content_length(std::size_t n) {
    out_ += "Content-Length: ";
    append_number(n);
    out_ += "\r\n";
  }

 private:
  static constexpr std::size_t kMaxField = 65535;

  void append_number(std::size_t n) {
    char digits[24];
    std::size_t i = sizeof digits;
    do {
      digits[--i] = static_cast<char>('0' + n % 10);
      n /= 10;
    } while (n != 0);
    out_.append(digits + i, sizeof digits - i);
  }

  std::string& out_;
};

// The last field and the empty line. As Beast's keep_alive(): HTTP/1.1 says when the
// connection closes, HTTP/1.0 when it does not.
inline void end_header(std::string& out, unsigned version, bool keep_alive) {
  if (version == 10 && keep_alive) {
    out += "Connection: keep-alive\r\n";
  } else if (version != 10 && !keep_alive) {
    out += "Connection: close\r\n";
  }
  out += "\r\n";
}

// What the server answers when it is too busy; the connection closes after it.
inline Response busy_response() {
  Response r = Response::text(503, "Service Unavailable\n");
  r.headers = {{"Retry-After", "1"}};
  return r;
}

// The server's TLS identity as Asio wants it: an ssl::context, which owns one reference
// to the TlsServerContext's SSL_CTX. Connections hold the whole identity, so that the
// TlsServerContext (and a token's key in it) outlives their SSL objects.
struct TlsIdentity {
  explicit TlsIdentity(std::shared_ptr<const pki::TlsServerContext> c)
      : context(std::move(c)), asio_context(take_reference(*context)) {}

  static SSL_CTX* take_reference(const pki::TlsServerContext& c) {
    SSL_CTX_up_ref(c.native_handle());  // released by ~ssl::context
    return c.native_handle();
  }

  const std::shared_ptr<const pki::TlsServerContext> context;
  // Asio's stream constructor wants it non-const; it only reads the SSL_CTX (SSL_new).
  ssl::context asio_context;
};

// What the server and the handler jobs see of a connection, whatever its stream. The
// destructor releases what the connection holds in the Core (its address's slot, its
// entry in Core::connections, the active count).
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  using Core = HttpServer::Core;

  Connection(Core& core, Peer peer) : core_(core), peer_(std::move(peer)) { ++core_.active; }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  virtual ~Connection() {
    if (peer_.limited) {
      core_.limits.close_connection(peer_.address, std::chrono::steady_clock::now());
    }
    std::lock_guard<std::mutex> lock(core_.mu);
    if (id_ != 0) {
      core_.connections.erase(id_);
    }
    if (--core_.active == 0) {
      core_.idle_cv.notify_all();
    }
  }

  // Registers the connection in the Core and starts serving it on its network thread.
  void start() {
    {
      std::lock_guard<std::mutex> lock(core_.mu);
      id_ = core_.next_id++;
      core_.connections.emplace(id_, weak_from_this());
    }
    net::dispatch(executor(), [self = shared_from_this()] { self->serve(); });
  }

  virtual net::any_io_executor executor() = 0;
  // stop(): drop the connection if it is not working on a request.
  virtual void close_if_idle() = 0;
  virtual void close() = 0;
  // The handler's answer, on the worker thread that ran the handler (see StreamConnection).
  virtual void answer_from_worker(Response r, bool close_after) = 0;

 protected:
  virtual void serve() = 0;

  Core& core_;
  const Peer peer_;

 private:
  std::uint64_t id_ = 0;
};

// One client connection over `Stream` (beast::tcp_stream or TlsStream). All methods run
// on the connection's network thread, except the constructor, start(), executor() and
// answer_from_worker().
template <class Stream>
class StreamConnection final : public Connection {
 public:
  static constexpr bool kTls = std::is_same_v<Stream, TlsStream>;

  StreamConnection(Core& core, tcp::socket socket, Peer peer, std::shared_ptr<TlsIdentity> tls)
      : Connection(core, std::move(peer)), tls_(std::move(tls)), stream_(make_stream(socket)) {
    error_code ec;
    tcp_layer().socket().set_option(tcp::no_delay(true), ec);
  }

  net::any_io_executor executor() override { return stream_.get_executor(); }

  ~StreamConnection() override { end_event_stream(); }

  void close_if_idle() override {
    if (state_ == State::kIdle || state_ == State::kReading || state_ == State::kStreaming) {
      close();
    }
  }

  void close() override {
    state_ = State::kClosed;
    if (event_stream_) {
      end_event_stream();
    }
    std::unique_lock<std::mutex> lock(socket_mu_, std::defer_lock);
    if constexpr (!kTls) {
      lock.lock();
      socket_closed_ = true;
    }
    error_code ec;
    if (!cut_off_) {
      // A FIN: after it, a reader reads what was sent and sees the end. Not for a reader
      // cut off, which gets a reset.
      tcp_layer().socket().shutdown(tcp::socket::shutdown_both, ec);
    }
    tcp_layer().close();
  }

  // Plain: sends what the socket takes at once from this worker thread, so that the
  // answer does not wait for the connection's network thread to wake up, and posts the
  // rest (and reading the next request) to that thread. TLS: builds the answer here and
  // posts all of the writing, since the SSL object is the network thread's alone.
  void answer_from_worker(Response r, bool close_after) override;

 private:
  enum class State { kIdle, kReading, kHandling, kWriting, kClosing, kEnding, kStreaming, kClosed };

  Stream make_stream(tcp::socket& socket) {
    if constexpr (kTls) {
      return Stream(std::move(socket), tls_->asio_context);
    } else {
      return Stream(std::move(socket));
    }
  }

  // The TCP stream, which carries the timeouts (under TLS: the stream under the TLS one).
  beast::tcp_stream& tcp_layer() {
    if constexpr (kTls) {
      return stream_.next_layer();
    } else {
      return stream_;
    }
  }

  std::shared_ptr<StreamConnection> self() {
    return std::static_pointer_cast<StreamConnection>(shared_from_this());
  }

  void serve() override;
  void on_handshake(const error_code& ec);
  void await_request();
  // `restart_timer` false: the read timeout already runs (since the TLS handshake began).
  void read_header(bool restart_timer = true);
  // Parses what buffer_ holds of the request; false when the header is not all there.
  bool parse_buffered(bool restart_timer);
  void on_header(const error_code& ec);
  void read_body();
  void on_read_error(const error_code& ec);
  bool over_rate();
  void dispatch_request();
  bool is_heavy(const Request& request) const;
  bool is_inline(const Request& request) const;
  ReadyAnswer answer_ready(const Request& request) const;
  // Runs `soon` on this network thread after the rest (LaterQueue), then answers with
  // what it made or sends `req` on to the pools.
  void answer_later(Request req, std::function<std::optional<Response>(const Request&)> soon);
  // Hands `req` to the heavy or the light worker pool.
  void to_pools(Request req);
  // The handler's answer, on this network thread (inline requests, refusals).
  // `close_after`: close the connection after it, whatever the client asked.
  void write_response(Response r, bool close_after = false);
  // Fills header_ (ended) and out_body_ with the answer; false (and nothing to send) when
  // a header field is too long. `keep_alive` says whether the connection stays open.
  bool build_response(Response r, bool close_after, bool& keep_alive);
  // Writes header_ (ended here) and out_body_.
  void send(unsigned version, bool keep_alive);
  // Plain connections: a non-blocking write of what the socket takes now of header_ and
  // out_body_; the bytes written.
  std::size_t send_now();
  // Writes what is left of header_ and out_body_ after the first `sent` bytes.
  void send_rest(std::size_t sent, bool keep_alive);
  // send_rest() of a whole answer over TLS.
  void send_tls(bool keep_alive);
  void on_written(const error_code& ec, bool keep_alive);
  // The end of a connection after its last answer: close_notify first under TLS.
  void finish();
  void send_error(int status, std::string_view text, std::chrono::seconds retry_after = {},
                  std::string_view content_type = "text/plain; charset=utf-8");
  void start_drain();
  void drain();
  // Response::stream: the header, then what the stream gets, until it or the client ends.
  void start_stream(Response r);
  // Writes what the stream has queued (one write at a time); closes when it has ended.
  void pump_stream();
  // A read kept pending while streaming, so that a client that leaves is noticed.
  void watch_peer();
  void arm_heartbeat();
  // Closes the connection of a reader too slow for its stream with a reset: what the
  // socket holds unsent (megabytes on a loopback) is dropped, instead of trickling out
  // at the pace of a reader that does not keep up, which would keep the kernel's buffer
  // and keep the client from seeing the end until it has read it all.
  void cut_off();
  // Releases the stream, its slot in Core::open_streams and the heartbeat.
  void end_event_stream();

  // Declared before stream_: the SSL object is freed before the identity it came from.
  const std::shared_ptr<TlsIdentity> tls_;  // null for plain connections
  Stream stream_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  // The response being written, alive until async_write completes: header_ (status
  // line and fields; send() adds Connection and ends it) and the body, owned (body_) or
  // shared (shared_body_); out_body_ is what is sent of it (nothing for HEAD).
  std::string header_;
  std::string body_;
  std::shared_ptr<const std::string> shared_body_;
  std::string_view out_body_;
  std::string peer_certificate_der_;  // TLS: what the client presented in the handshake
  State state_ = State::kReading;
  unsigned version_ = 11;
  bool keep_alive_ = false;
  bool head_ = false;
  std::size_t drained_ = 0;
  // Plain connections: a worker thread writes to the socket only while holding
  // socket_mu_ and only if close() has not run (close() takes socket_mu_ too): the
  // descriptor cannot be closed, and its number reused, under the write.
  std::mutex socket_mu_;
  bool socket_closed_ = false;  // GUARDED_BY(socket_mu_)
  // Streaming (state_ kStreaming): the stream, what is being written of it, and the
  // heartbeat. stream_wake_ coalesces the producers' wake-ups into one post.
  std::shared_ptr<EventStream> event_stream_;
  std::string stream_out_;
  bool stream_writing_ = false;
  bool stream_counted_ = false;  // holds one of Core::open_streams
  bool cut_off_ = false;         // cut_off(): close() resets the connection
  std::optional<net::steady_timer> heartbeat_;
  std::shared_ptr<std::atomic<bool>> stream_wake_;
};

// The methods that one of the connection's files defines and another calls: instantiated
// at the end of the file that defines them.
// connection.cpp
extern template void StreamConnection<beast::tcp_stream>::await_request();
extern template void StreamConnection<TlsStream>::await_request();
// connection_write.cpp
extern template void StreamConnection<beast::tcp_stream>::write_response(Response, bool);
extern template void StreamConnection<TlsStream>::write_response(Response, bool);
extern template void StreamConnection<beast::tcp_stream>::answer_from_worker(Response, bool);
extern template void StreamConnection<TlsStream>::answer_from_worker(Response, bool);
extern template void StreamConnection<beast::tcp_stream>::finish();
extern template void StreamConnection<TlsStream>::finish();
extern template void StreamConnection<beast::tcp_stream>::send_error(int, std::string_view,
                                                                     std::chrono::seconds,
                                                                     std::string_view);
extern template void StreamConnection<TlsStream>::send_error(int, std::string_view,
                                                             std::chrono::seconds,
                                                             std::string_view);
// streaming.cpp
extern template void StreamConnection<beast::tcp_stream>::start_stream(Response);
extern template void StreamConnection<TlsStream>::start_stream(Response);
extern template void StreamConnection<beast::tcp_stream>::end_event_stream();
extern template void StreamConnection<TlsStream>::end_event_stream();

}  // namespace scepter::http::detail
