#pragma once
// Internal to http/: per-client-address limits of the server, free of Asio so they can be
// tested with made-up addresses and times.
//
// For each address the table keeps how many connections it has open and a token bucket
// of requests (`rate` tokens per second, up to `burst`; each request takes one). The
// table is bounded: an address with open connections is always kept (there are at most
// max_connections of those), and of the others, which only remember a partly spent
// bucket, the least recently used is forgotten when `max_addresses` is reached. An
// address whose bucket has refilled is forgotten as soon as its last connection closes,
// since a fresh entry would be the same. A client that sends from many addresses thus
// costs at most `max_addresses` entries and can, at worst, get an evicted address a
// fresh burst.
//
// Thread-safe: one mutex; every call is O(1) on average.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <list>
#include <mutex>
#include <string>
#include <unordered_map>

namespace scepter::http::detail {

struct ClientLimitsOptions {
  std::size_t max_connections = 64;   // per address; 0: no cap
  double rate = 1000;                 // requests per second per address; 0: no cap
  double burst = 2000;                // bucket size; at least 1 when rate > 0
  std::size_t max_addresses = 16384;  // addresses without open connections remembered
};

class ClientLimits {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;

  explicit ClientLimits(const ClientLimitsOptions& options);
  ClientLimits(const ClientLimits&) = delete;
  ClientLimits& operator=(const ClientLimits&) = delete;

  // Counts a new connection from `address`. False, and nothing counted, when the address
  // already has max_connections open. Each true must be paired with close_connection().
  bool open_connection(const std::string& address, TimePoint now);
  void close_connection(const std::string& address, TimePoint now);

  // Takes one request token of `address` (which has a connection open). Returns zero
  // when the request may go on, else how long until a token is back (at least 1 ms).
  std::chrono::milliseconds take_request(const std::string& address, TimePoint now);

  std::size_t size() const;         // addresses in the table
  std::uint64_t evictions() const;  // addresses forgotten to respect max_addresses

 private:
  struct Entry {
    std::uint32_t connections = 0;
    double tokens = 0;
    TimePoint refilled;
    std::list<const std::string*>::iterator idle_pos;  // valid when connections == 0
  };
  using Map = std::unordered_map<std::string, Entry>;

  void refill(Entry& e, TimePoint now) const;
  // Forgets the least recently used addresses without connections while there are more
  // than `limit` entries (or no such address is left).
  void evict_down_to(std::size_t limit);
  // Finds or inserts `address`, evicting the least recently used idle entry when full.
  Map::iterator find_or_insert(const std::string& address, TimePoint now);

  const ClientLimitsOptions options_;
  mutable std::mutex mu_;
  Map entries_;                         // GUARDED_BY(mu_)
  std::list<const std::string*> idle_;  // GUARDED_BY(mu_): keys without connections, LRU first
  std::uint64_t evictions_ = 0;         // GUARDED_BY(mu_)
};

}  // namespace scepter::http::detail
