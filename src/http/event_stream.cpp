#include "http/event_stream.h"

#include <utility>

namespace scepter::http {

bool EventStream::push(std::string chunk) {
  std::function<void()> wake;
  {
    MutexLock lock(mu_);
    if (closed_) {
      return false;
    }
    if (limit_ != 0 && queued_bytes_ + chunk.size() > limit_) {
      closed_ = true;
      overflowed_ = true;
      queue_.clear();
      queued_bytes_ = 0;
    } else {
      queued_bytes_ += chunk.size();
      queue_.push_back(std::move(chunk));
    }
    wake = wake_;
  }
  // The connection wakes on its own thread; no lock is held here, so it may take().
  if (wake) {
    wake();
  }
  MutexLock lock(mu_);
  return !overflowed_;
}

void EventStream::close() {
  std::function<void()> wake;
  {
    MutexLock lock(mu_);
    if (closed_) {
      return;
    }
    closed_ = true;
    wake = wake_;
  }
  if (wake) {
    wake();
  }
}

bool EventStream::closed() const {
  MutexLock lock(mu_);
  return closed_;
}

bool EventStream::attach(std::function<void()> wake, std::size_t limit) {
  MutexLock lock(mu_);
  if (closed_ && queue_.empty()) {
    return false;
  }
  wake_ = std::move(wake);
  limit_ = limit;
  if (queued_bytes_ > limit_) {  // pushed before the bound was known
    closed_ = true;
    overflowed_ = true;
    return false;
  }
  return true;
}

bool EventStream::overflowed() const {
  MutexLock lock(mu_);
  return overflowed_;
}

bool EventStream::take(std::string& out, bool& overflowed) {
  MutexLock lock(mu_);
  overflowed = overflowed_;
  if (overflowed_) {
    return false;
  }
  for (std::string& chunk : queue_) {
    out += chunk;
  }
  queue_.clear();
  queued_bytes_ = 0;
  return !closed_;
}

void EventStream::detach() {
  std::function<void()> wake;
  {
    MutexLock lock(mu_);
    closed_ = true;
    queue_.clear();
    queued_bytes_ = 0;
    wake.swap(wake_);
  }
  // `wake` (and what it holds) dies here, outside the lock.
}

}  // namespace scepter::http
