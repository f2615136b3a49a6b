#pragma once
// The server's clock. IOS lets an operator set the router's clock with `clock set`;
// scepterd keeps the system clock and adds an offset, so lifetimes and expiry can be
// tested in seconds. Everything that reads time takes a Clock& (never the system clock
// directly), so tests inject a FakeClock.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>

namespace scepter {

using SysClock = std::chrono::system_clock;
using TimePoint = std::chrono::time_point<SysClock, std::chrono::seconds>;
using Seconds = std::chrono::seconds;

// Thread-safe: now() may be called from any thread while another sets the offset.
class Clock {
 public:
  virtual ~Clock() = default;
  // Current time, truncated to whole seconds (certificates carry seconds only).
  virtual TimePoint now() const = 0;
};

// System time plus an operator-set offset.
class SystemClock final : public Clock {
 public:
  TimePoint now() const override;
  // Makes now() return `t` at this moment (the offset is kept, not the value).
  void set_now(TimePoint t);
  std::int64_t offset_seconds() const { return offset_.load(); }
  void set_offset_seconds(std::int64_t s) { offset_.store(s); }

 private:
  std::atomic<std::int64_t> offset_{0};
};

// A clock that moves only when told to; for tests.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(TimePoint start) : now_(start.time_since_epoch().count()) {}
  TimePoint now() const override { return TimePoint(Seconds(now_.load())); }
  void advance(Seconds d) { now_ += d.count(); }
  void set(TimePoint t) { now_ = t.time_since_epoch().count(); }

 private:
  std::atomic<std::int64_t> now_;
};

inline TimePoint from_unix(std::int64_t s) { return TimePoint(Seconds(s)); }
inline std::int64_t to_unix(TimePoint t) { return t.time_since_epoch().count(); }

// IOS style: "12:58:34 UTC Jan 4 2025" (day not zero-padded). scepterd prints UTC.
std::string format_ios_time(TimePoint t);
// RFC 3339: "2025-01-04T12:58:34Z".
std::string format_iso_time(TimePoint t);

}  // namespace scepter
