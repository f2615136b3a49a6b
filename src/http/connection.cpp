// One HTTP/1.x connection on Boost.Beast: reads a request at a time, answers it (on this
// network thread for inline requests and for answers ready in memory, later on this
// thread for a ReadyAnswer::soon, else on the heavy or the light worker pool), writes
// the answer, and repeats while keep-alive lasts. The per-address
// request rate and the heavy queue are enforced here. The only file that includes
// Beast's HTTP code and Asio's TLS stream. Beast parses requests; responses are
// serialized here into one header buffer, written together with the body (shared, not
// copied) in one gather write.
//
// The protocol is written once, for a connection templated on its stream: a plain
// beast::tcp_stream, or a beast::ssl_stream over one (HTTPS). What differs is small and
// chosen at compile time (if constexpr): TLS starts with a handshake, its answers are
// written by the network thread only (an SSL object is not thread-safe), and it ends by
// sending close_notify.

#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <ctime>
#include <mutex>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include "common/log.h"
#include "http/later_queue.h"
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

namespace {

constexpr std::size_t kReadChunk = 16 << 10;
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

// Formatting the date on every response shows up in profiles; it changes once a second.
const std::string& cached_http_date() {
  thread_local std::time_t last = 0;
  thread_local std::string text;
  const std::time_t now = std::time(nullptr);
  if (now != last) {
    last = now;
    text = http_date(now);
  }
  return text;
}

std::string_view view(beast::string_view s) { return {s.data(), s.size()}; }

// What Beast's fields do to a value: leading and trailing spaces and tabs go.
std::string_view trim(std::string_view v) {
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
void end_header(std::string& out, unsigned version, bool keep_alive) {
  if (version == 10 && keep_alive) {
    out += "Connection: keep-alive\r\n";
  } else if (version != 10 && !keep_alive) {
    out += "Connection: close\r\n";
  }
  out += "\r\n";
}

}  // namespace

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

std::shared_ptr<TlsIdentity> make_tls_identity(std::shared_ptr<const pki::TlsServerContext> c) {
  return std::make_shared<TlsIdentity>(std::move(c));
}

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

namespace {

// What the server answers when it is too busy; the connection closes after it.
Response busy_response() {
  Response r = Response::text(503, "Service Unavailable\n");
  r.headers = {{"Retry-After", "1"}};
  return r;
}

// Whole seconds for Retry-After, rounded up, at least one.
std::chrono::seconds retry_seconds(std::chrono::milliseconds wait) {
  return std::max(std::chrono::seconds(1), std::chrono::ceil<std::chrono::seconds>(wait));
}

// A request on its way through a worker pool. Members die in reverse order: the
// connection before the Core it refers to.
struct HandlerJob {
  std::shared_ptr<HttpServer::Core> core;
  std::shared_ptr<Connection> conn;
  Request request;
  bool heavy = false;
  std::chrono::steady_clock::time_point queued_at;

  void operator()() {
    Response response;
    bool close = false;
    if (heavy) {
      --core->heavy_queued;
      const auto deadline = core->options.queue_deadline;
      if (deadline.count() > 0 && std::chrono::steady_clock::now() - queued_at > deadline) {
        // The client has likely given up; the work would be wasted.
        ++core->heavy_deadline;
        response = busy_response();
        close = true;
      }
    }
    if (!close) {
      ++core->requests;
      response = core->call_handler(request);
    }
    conn->answer_from_worker(std::move(response), close);
  }
};

}  // namespace

template <class Stream>
void StreamConnection<Stream>::serve() {
  if constexpr (kTls) {
    // The handshake and the first request share one read timeout, as the request alone
    // does on a plain connection: a client that sends nothing, or trickles its
    // ClientHello, is cut off like one that trickles its request.
    state_ = State::kReading;
    tcp_layer().expires_after(core_.options.read_timeout);
    stream_.async_handshake(ssl::stream_base::server,
                            [self = self()](const error_code& ec) { self->on_handshake(ec); });
  } else {
    read_header();
  }
}

template <class Stream>
void StreamConnection<Stream>::on_handshake(const error_code& ec) {
  if (state_ == State::kClosed || ec == net::error::operation_aborted) {
    return;
  }
  if (ec == beast::error::timeout) {
    ++core_.timeouts;  // the stream has closed the socket already
    return;
  }
  if (ec) {
    // Not TLS (plain HTTP, a scanner), an old protocol version, no common cipher: the
    // client has had its alert, if any; nothing else is owed to it.
    ++core_.tls_handshake_failures;
    log::trace(log::Category::kGeneral, "HTTPS: TLS handshake with {} failed: {}", peer_.address,
               ec.message());
    return close();
  }
  if constexpr (kTls) {
    peer_certificate_der_ = pki::peer_certificate_der(stream_.native_handle());
  }
  read_header(/*restart_timer=*/false);
}

// Keep-alive: wait up to the idle timeout for the first byte of the next request.
template <class Stream>
void StreamConnection<Stream>::await_request() {
  if (core_.stopping) {
    return finish();
  }
  if (buffer_.size() > 0) {
    // Pipelined: the next request is already here. Through the loop, as an answer written
    // at once returns here within the handling of the last request: a client's pipeline
    // must not become a chain of nested calls.
    return net::post(executor(), [self = self()] { self->read_header(); });
  }
  if (buffer_.capacity() > 2 * kReadChunk) {
    buffer_.shrink_to_fit();  // do not keep a large body's buffer on an idle connection
  }
  state_ = State::kIdle;
  tcp_layer().expires_after(core_.options.idle_timeout);
  stream_.async_read_some(buffer_.prepare(kReadChunk),
                          [self = self()](const error_code& ec, std::size_t n) {
                            self->buffer_.commit(n);
                            if (ec) {
                              return self->on_read_error(ec);
                            }
                            self->read_header();
                          });
}

// From the first byte on, the whole request must arrive within the read timeout.
template <class Stream>
void StreamConnection<Stream>::read_header(bool restart_timer) {
  state_ = State::kReading;
  parser_.emplace();
  parser_->header_limit(static_cast<std::uint32_t>(
      std::min<std::size_t>(core_.options.max_header_bytes, UINT32_MAX)));
  parser_->body_limit(static_cast<std::uint64_t>(core_.options.max_body_bytes));
  if (parse_buffered(restart_timer)) {
    return;
  }
  if (restart_timer) {
    tcp_layer().expires_after(core_.options.read_timeout);
  }
  bhttp::async_read_header(
      stream_, buffer_, *parser_,
      [self = self()](const error_code& ec, std::size_t) { self->on_header(ec); });
}

// A keep-alive request usually arrives whole, in the bytes that ended the idle wait: its
// header and body are parsed here, without arming the read timer (a timer that becomes
// the earliest costs a system call) or a trip through the event loop. Nothing is consumed
// while the header is incomplete; a body that is not all here is read as after any header,
// within the read timeout.
template <class Stream>
bool StreamConnection<Stream>::parse_buffered(bool restart_timer) {
  if (buffer_.size() == 0) {
    return false;
  }
  error_code ec;
  buffer_.consume(parser_->put(buffer_.data(), ec));
  if (ec == bhttp::error::need_more) {
    return false;
  }
  if (!ec && !parser_->is_done() && buffer_.size() > 0) {
    parser_->eager(true);
    buffer_.consume(parser_->put(buffer_.data(), ec));
    if (ec == bhttp::error::need_more) {
      ec = {};
    }
  }
  if (!ec && !parser_->is_done() && restart_timer) {
    tcp_layer().expires_after(core_.options.read_timeout);
  }
  on_header(ec);
  return true;
}

template <class Stream>
void StreamConnection<Stream>::on_header(const error_code& ec) {
  if (ec) {
    return on_read_error(ec);
  }
  if (over_rate()) {
    return;
  }
  if (parser_->is_done()) {
    return dispatch_request();
  }
  const auto& req = parser_->get();
  if (req.version() >= 11 && iequals(view(req[bhttp::field::expect]), "100-continue")) {
    static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
    net::async_write(stream_, net::buffer(kContinue.data(), kContinue.size()),
                     [self = self()](const error_code& ec2, std::size_t) {
                       if (ec2) {
                         return self->on_read_error(ec2);
                       }
                       self->read_body();
                     });
    return;
  }
  read_body();
}

template <class Stream>
void StreamConnection<Stream>::read_body() {
  bhttp::async_read(stream_, buffer_, *parser_, [self = self()](const error_code& ec, std::size_t) {
    if (ec) {
      return self->on_read_error(ec);
    }
    self->dispatch_request();
  });
}

template <class Stream>
void StreamConnection<Stream>::on_read_error(const error_code& ec) {
  if (state_ == State::kClosed || ec == net::error::operation_aborted) {
    return;
  }
  if (ec == beast::error::timeout) {
    ++core_.timeouts;  // the stream has closed the socket already
    return;
  }
  if (ec == bhttp::error::body_limit) {
    ++core_.bad_requests;
    if (core_.options.too_large_answer) {
      std::string_view target;
      if (parser_) {
        const auto t = parser_->get().target();
        target = std::string_view(t.data(), t.size());
      }
      target = target.substr(0, target.find('?'));
      if (auto answer = core_.options.too_large_answer(target)) {
        return send_error(413, answer->second, {}, answer->first);
      }
    }
    return send_error(413, "Payload Too Large\n");
  }
  if (ec == bhttp::error::header_limit) {
    ++core_.bad_requests;
    return send_error(431, "Request Header Fields Too Large\n");
  }
  if (ec.category() == bhttp::make_error_code(bhttp::error::bad_method).category() &&
      ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message) {
    ++core_.bad_requests;
    return send_error(400, "Bad Request\n");
  }
  close();  // the peer closed or reset the connection (or broke the TLS record layer)
}

// Once the header is in and before the body is read: a client over its request rate gets
// 429 and the connection closes (lingering, as after any error answer).
template <class Stream>
bool StreamConnection<Stream>::over_rate() {
  if (!peer_.limited) {
    return false;
  }
  const std::chrono::milliseconds wait =
      core_.limits.take_request(peer_.address, std::chrono::steady_clock::now());
  if (wait.count() == 0) {
    return false;
  }
  ++core_.rate_limited;
  send_error(429, "Too Many Requests\n", retry_seconds(wait));
  return true;
}

template <class Stream>
bool StreamConnection<Stream>::is_heavy(const Request& request) const {
  if (!core_.options.is_heavy) {
    return true;
  }
  try {
    return core_.options.is_heavy(request);
  } catch (...) {
    return true;  // a broken predicate must not let work past the bounded queue
  }
}

template <class Stream>
bool StreamConnection<Stream>::is_inline(const Request& request) const {
  if (!core_.options.is_inline) {
    return false;
  }
  try {
    return core_.options.is_inline(request);
  } catch (...) {
    return false;  // a broken predicate must not put a slow handler on this thread
  }
}

template <class Stream>
ReadyAnswer StreamConnection<Stream>::answer_ready(const Request& request) const {
  if (!core_.options.answer_ready) {
    return {};
  }
  try {
    return core_.options.answer_ready(request);
  } catch (...) {
    return {};  // the pools' handler answers, or says why not
  }
}

template <class Stream>
void StreamConnection<Stream>::answer_later(
    Request req, std::function<std::optional<Response>(const Request&)> soon) {
  const net::any_io_executor loop = executor();
  LaterQueue::of(loop).push(
      loop, [self = self(), req = std::move(req), soon = std::move(soon)]() mutable {
        if (self->state_ != State::kHandling) {
          return;  // closed by stop() meanwhile
        }
        std::optional<Response> answer;
        try {
          answer = soon(req);
        } catch (...) {
          answer.reset();  // the pools' handler answers, or says why not
        }
        if (!answer) {
          return self->to_pools(std::move(req));
        }
        ++self->core_.requests;
        self->write_response(std::move(*answer));
      });
}

template <class Stream>
void StreamConnection<Stream>::dispatch_request() {
  auto& msg = parser_->get();
  Request req;
  req.method = std::string(msg.method_string());
  req.target = std::string(msg.target());
  Target target = split_target(req.target);
  req.path = std::move(target.path);
  req.query = std::move(target.query);
  req.params = QueryParams::parse(req.query);
  for (const auto& field : msg) {
    req.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  }
  req.body = std::move(msg.body());
  req.remote_address = peer_.address;
  req.remote_port = peer_.port;
  req.tls = kTls;
  req.peer_certificate_der = peer_certificate_der_;
  req.received = std::chrono::steady_clock::now();
  version_ = msg.version() == 10 ? 10 : 11;
  req.version = static_cast<int>(version_);
  keep_alive_ = msg.keep_alive();
  head_ = req.method == "HEAD";
  parser_.reset();

  state_ = State::kHandling;
  if (is_inline(req)) {
    ++core_.requests;
    return write_response(core_.call_handler(req));
  }
  ReadyAnswer ready = answer_ready(req);
  if (ready.now) {
    ++core_.requests;
    return write_response(std::move(*ready.now));
  }
  if (ready.soon) {
    return answer_later(std::move(req), std::move(ready.soon));
  }
  to_pools(std::move(req));
}

template <class Stream>
void StreamConnection<Stream>::to_pools(Request req) {
  const bool heavy = is_heavy(req) || !core_.light_pool;
  HandlerJob job{core_.shared_from_this(), shared_from_this(), std::move(req), heavy,
                 std::chrono::steady_clock::now()};
  if (!heavy) {
    core_.light_pool->post(std::move(job));
    return;
  }
  ++core_.heavy_queued;
  if (!core_.pool->try_post(std::move(job), core_.options.max_queued_heavy)) {
    --core_.heavy_queued;
    ++core_.heavy_queue_full;
    write_response(busy_response(), /*close=*/true);
  }
}

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

template <class Stream>
void StreamConnection<Stream>::start_stream(Response r) {
  std::shared_ptr<EventStream> stream = std::move(r.stream);
  if (head_ || r.status != 200) {
    // No stream to send: the header (HEAD), or the handler's refusal as it is.
    stream->detach();
    return write_response(std::move(r));
  }
  const bool over = core_.open_streams.fetch_add(1) >= core_.options.max_event_streams;
  if (over || core_.stopping) {
    --core_.open_streams;
    ++core_.streams_rejected;
    stream->detach();
    return write_response(busy_response(), /*close_after=*/true);
  }
  stream_counted_ = true;
  HeadWriter head(header_, version_, 200);
  bool fits = head.field("Server", core_.options.server_name);
  fits = fits && head.field("Date", cached_http_date());
  const bool type_ok = !r.content_type.empty() && is_sendable_header("X", r.content_type);
  fits = fits && head.field("Content-Type", type_ok ? r.content_type : "text/event-stream");
  fits = fits && head.field("Cache-Control", "no-store");
  const std::vector<Header>* lists[] = {&core_.options.response_headers, &r.headers};
  for (const std::vector<Header>* list : lists) {
    for (const Header& h : *list) {
      if (is_sendable_header(h.first, h.second) && !iequals(h.first, "Cache-Control")) {
        fits = fits && head.field(h.first, h.second);
      }
    }
  }
  event_stream_ = std::move(stream);
  if (!fits) {
    return close();
  }
  // Close-delimited: the body ends when the connection does (RFC 9112, 6.3).
  end_header(header_, version_, /*keep_alive=*/false);
  stream_out_ = std::move(header_);
  header_ = std::string();
  state_ = State::kStreaming;
  stream_wake_ = std::make_shared<std::atomic<bool>>(false);
  const std::weak_ptr<Connection> weak = weak_from_this();
  const bool open = event_stream_->attach(
      // The Core (which owns the io_contexts) stays alive while a producer may still call
      // this: push() calls a copy of it outside the stream's lock, perhaps after detach().
      [weak, core = core_.shared_from_this(), ex = executor(), pending = stream_wake_] {
        (void)core;  // held, not used
        if (pending->exchange(true)) {
          return;  // a wake-up is on its way already
        }
        net::post(ex, [weak, pending] {
          pending->store(false);
          if (auto conn = std::static_pointer_cast<StreamConnection>(weak.lock())) {
            conn->pump_stream();
          }
        });
      },
      core_.options.max_event_stream_queue_bytes);
  if (!open) {
    return close();
  }
  tcp_layer().expires_never();  // no read or idle timeout on a stream
  watch_peer();
  heartbeat_.emplace(executor());
  arm_heartbeat();
  pump_stream();
}

template <class Stream>
void StreamConnection<Stream>::pump_stream() {
  if (state_ != State::kStreaming) {
    return;
  }
  if (stream_writing_) {
    // A reader so slow that the queue went over its bound is cut off now, not when the
    // write that waits for it times out.
    if (event_stream_->overflowed()) {
      ++core_.streams_overflowed;
      cut_off();
    }
    return;
  }
  bool overflowed = false;
  const bool open = event_stream_->take(stream_out_, overflowed);
  if (overflowed) {
    ++core_.streams_overflowed;
    return cut_off();
  }
  if (stream_out_.empty()) {
    if (!open) {
      close();  // the stream ended; everything it had is written
    }
    return;
  }
  stream_writing_ = true;
  tcp_layer().expires_after(core_.options.write_timeout);  // the read pending keeps none
  net::async_write(stream_, net::buffer(stream_out_),
                   [self = self()](const error_code& ec, std::size_t) {
                     self->stream_writing_ = false;
                     self->stream_out_.clear();
                     if (self->state_ != State::kStreaming) {
                       return;
                     }
                     if (ec) {
                       if (ec == beast::error::timeout) {
                         ++self->core_.timeouts;
                       }
                       return self->close();
                     }
                     self->pump_stream();
                   });
}

template <class Stream>
void StreamConnection<Stream>::cut_off() {
  // SO_LINGER 0 and no shutdown() before the close: a reset, not a FIN (after which the
  // client would read to the end first).
  cut_off_ = true;
  error_code ec;
  tcp_layer().socket().set_option(net::socket_base::linger(true, 0), ec);
  close();
}

template <class Stream>
void StreamConnection<Stream>::watch_peer() {
  buffer_.clear();
  stream_.async_read_some(buffer_.prepare(kReadChunk),
                          [self = self()](const error_code& ec, std::size_t) {
                            if (self->state_ != State::kStreaming) {
                              return;
                            }
                            if (ec) {
                              return self->close();  // the client left
                            }
                            self->watch_peer();  // whatever it sends is dropped
                          });
}

template <class Stream>
void StreamConnection<Stream>::arm_heartbeat() {
  heartbeat_->expires_after(core_.options.event_stream_heartbeat);
  heartbeat_->async_wait([self = self()](const error_code& ec) {
    if (ec || self->state_ != State::kStreaming) {
      return;
    }
    bool go = true;
    if (self->event_stream_->keep_going) {
      try {
        go = self->event_stream_->keep_going();
      } catch (...) {
        go = false;
      }
    }
    if (!go) {
      return self->close();
    }
    self->event_stream_->push(":\n\n");
    self->arm_heartbeat();
  });
}

template <class Stream>
void StreamConnection<Stream>::end_event_stream() {
  if (event_stream_) {
    event_stream_->detach();
    event_stream_.reset();
  }
  if (heartbeat_) {
    heartbeat_->cancel();
  }
  if (stream_counted_) {
    stream_counted_ = false;
    --core_.open_streams;
  }
}

void start_connection(HttpServer::Core& core, tcp::socket socket, Peer peer,
                      std::shared_ptr<TlsIdentity> tls) {
  if (tls) {
    std::make_shared<StreamConnection<TlsStream>>(core, std::move(socket), std::move(peer),
                                                  std::move(tls))
        ->start();
  } else {
    std::make_shared<StreamConnection<beast::tcp_stream>>(core, std::move(socket), std::move(peer),
                                                          nullptr)
        ->start();
  }
}

void post_close(std::shared_ptr<Connection> conn, bool only_idle, std::function<void()> done) {
  const net::any_io_executor ex = conn->executor();
  net::post(ex, [c = std::move(conn), only_idle, done = std::move(done)] {
    if (only_idle) {
      c->close_if_idle();
    } else {
      c->close();
    }
    done();
  });
}

}  // namespace scepter::http::detail
