// The connection (connection.h) while it streams a Response::stream: the header, then
// what the stream gets, until it or the client ends, with a heartbeat between.

#include <atomic>

#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>

#include "http/connection.h"

namespace scepter::http::detail {

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

// Called from connection.cpp and connection_write.cpp.
template void StreamConnection<beast::tcp_stream>::start_stream(Response);
template void StreamConnection<TlsStream>::start_stream(Response);
template void StreamConnection<beast::tcp_stream>::end_event_stream();
template void StreamConnection<TlsStream>::end_event_stream();

}  // namespace scepter::http::detail
