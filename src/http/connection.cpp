// The connection (connection.h): the TLS handshake, reading a request, and handing it
// to a handler: on this network thread, later on it, or on a worker pool. The
// per-address request rate and the heavy queue are enforced here. Also how the server
// starts and closes a connection.

#include "http/connection.h"

#include <algorithm>
#include <cstdint>

#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>

#include "common/log.h"
#include "http/later_queue.h"

namespace scepter::http::detail {

namespace {

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

std::shared_ptr<TlsIdentity> make_tls_identity(std::shared_ptr<const pki::TlsServerContext> c) {
  return std::make_shared<TlsIdentity>(std::move(c));
}

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

// Called from connection_write.cpp.
template void StreamConnection<beast::tcp_stream>::await_request();
template void StreamConnection<TlsStream>::await_request();

}  // namespace scepter::http::detail
