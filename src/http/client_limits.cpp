#include "http/client_limits.h"

#include <algorithm>
#include <cmath>

namespace scepter::http::detail {

namespace {

ClientLimitsOptions sane(ClientLimitsOptions o) {
  if (o.rate < 0) {
    o.rate = 0;
  }
  if (o.rate > 0) {
    o.burst = std::max(o.burst, 1.0);
  }
  return o;
}

}  // namespace

ClientLimits::ClientLimits(const ClientLimitsOptions& options) : options_(sane(options)) {}

void ClientLimits::refill(Entry& e, TimePoint now) const {
  if (now > e.refilled) {
    const double elapsed = std::chrono::duration<double>(now - e.refilled).count();
    e.tokens = std::min(options_.burst, e.tokens + elapsed * options_.rate);
    e.refilled = now;
  }
}

void ClientLimits::evict_down_to(std::size_t limit) {
  while (entries_.size() > limit && !idle_.empty()) {
    const std::string* oldest = idle_.front();
    idle_.pop_front();
    entries_.erase(entries_.find(*oldest));
    ++evictions_;
  }
}

ClientLimits::Map::iterator ClientLimits::find_or_insert(const std::string& address,
                                                         TimePoint now) {
  if (auto it = entries_.find(address); it != entries_.end()) {
    return it;
  }
  evict_down_to(options_.max_addresses > 0 ? options_.max_addresses - 1 : 0);
  Entry fresh;
  fresh.tokens = options_.burst;
  fresh.refilled = now;
  fresh.idle_pos = idle_.end();
  return entries_.emplace(address, fresh).first;
}

bool ClientLimits::open_connection(const std::string& address, TimePoint now) {
  std::lock_guard<std::mutex> lock(mu_);
  const auto it = find_or_insert(address, now);
  Entry& e = it->second;
  if (options_.max_connections != 0 && e.connections >= options_.max_connections) {
    return false;
  }
  if (e.idle_pos != idle_.end()) {
    idle_.erase(e.idle_pos);
    e.idle_pos = idle_.end();
  }
  ++e.connections;
  return true;
}

void ClientLimits::close_connection(const std::string& address, TimePoint now) {
  std::lock_guard<std::mutex> lock(mu_);
  const auto it = entries_.find(address);
  if (it == entries_.end() || it->second.connections == 0) {
    return;  // unpaired: nothing to undo
  }
  Entry& e = it->second;
  if (--e.connections > 0) {
    return;
  }
  refill(e, now);
  if (options_.rate == 0 || e.tokens >= options_.burst) {
    entries_.erase(it);  // nothing worth remembering
    return;
  }
  e.idle_pos = idle_.insert(idle_.end(), &it->first);
  evict_down_to(options_.max_addresses);
}

std::chrono::milliseconds ClientLimits::take_request(const std::string& address, TimePoint now) {
  if (options_.rate == 0) {
    return std::chrono::milliseconds(0);
  }
  std::lock_guard<std::mutex> lock(mu_);
  const auto it = entries_.find(address);
  if (it == entries_.end()) {
    return std::chrono::milliseconds(0);  // not counted (no connection open): not limited
  }
  Entry& e = it->second;
  refill(e, now);
  if (e.tokens >= 1) {
    e.tokens -= 1;
    return std::chrono::milliseconds(0);
  }
  const double wait_ms = std::ceil((1 - e.tokens) / options_.rate * 1000);
  return std::chrono::milliseconds(std::max<long long>(1, static_cast<long long>(wait_ms)));
}

std::size_t ClientLimits::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return entries_.size();
}

std::uint64_t ClientLimits::evictions() const {
  std::lock_guard<std::mutex> lock(mu_);
  return evictions_;
}

}  // namespace scepter::http::detail
