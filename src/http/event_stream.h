#pragma once
// An answer that does not end: a handler returns a Response whose `stream` is set, and
// the server sends the status line and the header (no Content-Length; the connection
// closes when the stream ends), then every chunk pushed into the stream, in order, as it
// comes. For server-sent events (text/event-stream), where each chunk is one or more
// whole events.
//
// The stream ends when close() is called, when the client goes away, when push() finds
// the queue over its bound (a reader too slow to keep up is cut off rather than buffered
// without end), when the heartbeat check says so, or when the server stops. Once ended,
// push() returns false and closed() true: a producer drops its reference then.
//
// Ownership: the handler and the producer (e.g. an event hub's subscriber) share the
// stream; the connection holds it while it serves it. The stream never owns the
// connection.
//
// Thread safety: push(), close() and closed() may be called from any thread.

#include <cstddef>
#include <deque>
#include <functional>
#include <string>

#include "common/mutex.h"

namespace scepter::http {

class EventStream {
 public:
  EventStream() = default;
  EventStream(const EventStream&) = delete;
  EventStream& operator=(const EventStream&) = delete;

  // Queues `chunk` for sending. False when the stream has ended, or when the bytes queued
  // and not yet written would exceed the server's per-stream bound: the stream then ends
  // and the connection closes without sending what was queued, by a reset that drops
  // what its socket holds unsent too.
  bool push(std::string chunk);
  // Ends the stream after what is queued has been written.
  void close();
  bool closed() const;
  // Whether it ended by going over its bound (the reader is too slow).
  bool overflowed() const;

  // Called by the server on the connection's network thread every heartbeat (about
  // ServerOptions::event_stream_heartbeat), before the comment ":\n\n" is sent: false
  // ends the stream (the session behind it ended). Set it before returning the Response;
  // it must be fast, must not block and must not throw.
  std::function<bool()> keep_going;

  // --- for the server (streaming.cpp) ---

  // Binds the stream to its connection: `wake` is called, with no lock held, when there
  // is something to write or the stream has ended; `limit` bounds the queued bytes.
  // False when the stream has ended already.
  bool attach(std::function<void()> wake, std::size_t limit);
  // What is queued, moved out into `out` (appended). Returns false when the stream has
  // ended; `overflowed` then says whether it ended by going over the bound.
  bool take(std::string& out, bool& overflowed);
  // The connection is gone: the stream ends, and `wake` is dropped.
  void detach();

 private:
  mutable Mutex mu_;
  std::deque<std::string> queue_ GUARDED_BY(mu_);
  std::size_t queued_bytes_ GUARDED_BY(mu_) = 0;
  std::size_t limit_ GUARDED_BY(mu_) = 0;  // 0: not attached yet (no bound)
  bool closed_ GUARDED_BY(mu_) = false;
  bool overflowed_ GUARDED_BY(mu_) = false;
  std::function<void()> wake_ GUARDED_BY(mu_);
};

}  // namespace scepter::http
