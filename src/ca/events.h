#pragma once
// What changed in the certificate servers, for whoever watches live (the REST API's
// /api/v1/events, the web console behind it): a request stored pending, granted,
// rejected or removed; a certificate issued, revoked or unrevoked; a CRL published.
//
// EventHub is publish/subscribe. Each event gets the next sequence number (from 1, per
// process). The hub keeps the last kHistory events, so a client that reconnects with the
// last number it saw gets what it missed; older than that, it gets a `resync` event and
// reloads its lists. Each subscriber has a bounded queue: when the subscriber falls
// kMaxQueued events behind, its queue is dropped and replaced by one `resync` event.
//
// publish() takes the hub's own lock for a moment and calls the subscribers' wake
// functions after releasing it; a wake function must be fast and must not call back into
// the publisher. With nobody subscribed, publish() costs a lock and a copy into the
// history ring.
//
// Thread safety: every method may be called from any thread.

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/mutex.h"

namespace scepter::ca {

enum class EventKind {
  kRequest,      // `id` is the request id; state pending, authorized, granted, rejected, removed
  kCertificate,  // `id` is the serial (hex); state issued, revoked, unrevoked
  kCrl,          // `id` is empty; state published
  kResync,       // the subscriber missed events: reload what you show
};

// "request", "certificate", "crl", "resync".
std::string_view event_kind_name(EventKind kind);

struct Event {
  std::uint64_t sequence = 0;
  EventKind kind = EventKind::kResync;
  std::string server;  // the certificate server's label
  std::string id;      // request id or serial; "all" for a grant/reject/remove of all
  std::string state;
  TimePoint time{};
};

class EventHub {
 public:
  static constexpr std::size_t kHistory = 256;
  static constexpr std::size_t kMaxQueued = 1024;

  explicit EventHub(const Clock& clock) : clock_(clock) {}
  EventHub(const EventHub&) = delete;
  EventHub& operator=(const EventHub&) = delete;

  void publish(EventKind kind, std::string server, std::string id, std::string state);

  // One subscriber: take() hands out what is queued. Ends (no more events, no more
  // wakes) when the last reference goes.
  class Subscription {
   public:
    // Moves the queued events out, oldest first.
    std::vector<Event> take();

   private:
    friend class EventHub;
    Mutex mu_;
    std::deque<Event> queue_ GUARDED_BY(mu_);
    std::function<void()> wake_;  // set once, before the subscription is shared
  };

  // Subscribes. `wake` is called (from the publishing thread, no hub lock held) when
  // events are queued. `last_seen`: the sequence number the client saw last; the events
  // after it are queued at once when the history still has them all, else one `resync`.
  std::shared_ptr<Subscription> subscribe(std::function<void()> wake,
                                          std::optional<std::uint64_t> last_seen = std::nullopt);

  // Subscriptions alive now.
  std::size_t subscribers() const;

 private:
  Event resync_event() const;

  const Clock& clock_;
  mutable Mutex mu_;
  std::uint64_t sequence_ GUARDED_BY(mu_) = 0;
  std::deque<Event> history_ GUARDED_BY(mu_);
  std::vector<std::weak_ptr<Subscription>> subscribers_ GUARDED_BY(mu_);
};

}  // namespace scepter::ca
