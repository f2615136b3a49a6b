#include "ca/events.h"

#include <algorithm>
#include <utility>

namespace scepter::ca {

std::string_view event_kind_name(EventKind kind) {
  switch (kind) {
    case EventKind::kRequest:
      return "request";
    case EventKind::kCertificate:
      return "certificate";
    case EventKind::kCrl:
      return "crl";
    case EventKind::kResync:
      return "resync";
  }
  return "resync";
}

Event EventHub::resync_event() const {
  Event e;
  e.kind = EventKind::kResync;
  e.time = clock_.now();
  return e;
}

void EventHub::publish(EventKind kind, std::string server, std::string id, std::string state) {
  Event event;
  event.kind = kind;
  event.server = std::move(server);
  event.id = std::move(id);
  event.state = std::move(state);
  event.time = clock_.now();
  std::vector<std::shared_ptr<Subscription>> live;
  {
    MutexLock lock(mu_);
    event.sequence = ++sequence_;
    history_.push_back(event);
    if (history_.size() > kHistory) {
      history_.pop_front();
    }
    if (subscribers_.empty()) {
      return;
    }
    live.reserve(subscribers_.size());
    std::erase_if(subscribers_, [&](const std::weak_ptr<Subscription>& weak) {
      auto sub = weak.lock();
      if (!sub) {
        return true;
      }
      live.push_back(std::move(sub));
      return false;
    });
    // Queued under the hub's lock, so that every subscriber gets the events in the order
    // of their sequence numbers whatever the publishers' threads do; woken outside it.
    for (const auto& sub : live) {
      MutexLock sub_lock(sub->mu_);
      if (sub->queue_.size() >= kMaxQueued) {
        // Too far behind: what it missed is replaced by one order to reload.
        sub->queue_.clear();
        Event resync = resync_event();
        resync.sequence = event.sequence;
        sub->queue_.push_back(std::move(resync));
      } else {
        sub->queue_.push_back(event);
      }
    }
  }
  for (const auto& sub : live) {
    if (sub->wake_) {
      sub->wake_();
    }
  }
  // `live` is released here, outside every lock: the last reference may end a stream.
}

std::shared_ptr<EventHub::Subscription> EventHub::subscribe(
    std::function<void()> wake, std::optional<std::uint64_t> last_seen) {
  auto sub = std::make_shared<Subscription>();
  sub->wake_ = std::move(wake);
  bool queued = false;
  {
    MutexLock lock(mu_);
    if (last_seen.has_value() && *last_seen < sequence_) {
      const std::uint64_t oldest = history_.empty() ? sequence_ + 1 : history_.front().sequence;
      MutexLock sub_lock(sub->mu_);
      if (*last_seen + 1 >= oldest) {
        for (const Event& e : history_) {
          if (e.sequence > *last_seen) {
            sub->queue_.push_back(e);
          }
        }
      } else {
        Event resync = resync_event();
        resync.sequence = sequence_;
        sub->queue_.push_back(std::move(resync));
      }
      queued = true;
    } else if (last_seen.has_value() && *last_seen > sequence_) {
      // A number from before a restart: everything may have changed.
      MutexLock sub_lock(sub->mu_);
      Event resync = resync_event();
      resync.sequence = sequence_;
      sub->queue_.push_back(std::move(resync));
      queued = true;
    }
    subscribers_.push_back(sub);
  }
  if (queued && sub->wake_) {
    sub->wake_();
  }
  return sub;
}

std::size_t EventHub::subscribers() const {
  MutexLock lock(mu_);
  return static_cast<std::size_t>(
      std::count_if(subscribers_.begin(), subscribers_.end(),
                    [](const std::weak_ptr<Subscription>& w) { return !w.expired(); }));
}

std::vector<Event> EventHub::Subscription::take() {
  MutexLock lock(mu_);
  std::vector<Event> out(std::make_move_iterator(queue_.begin()),
                         std::make_move_iterator(queue_.end()));
  queue_.clear();
  return out;
}

}  // namespace scepter::ca
