#pragma once
// The server's clock. IOS lets an operator set the router's clock with `clock set`;
// scepterd keeps the system clock and adds an offset, so lifetimes and expiry can be
// tested in seconds. Everything that reads time takes a Clock& (never the system clock
// directly), so tests inject a FakeClock.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
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

// A clock the operator can set (`clock set`). The setting is kept as an offset from the
// clock's own time, which is what survives a restart.
class SettableClock : public Clock {
 public:
  // Makes now() return `t` at this moment.
  virtual void set_now(TimePoint t) = 0;
  virtual std::int64_t offset_seconds() const = 0;
  virtual void set_offset_seconds(std::int64_t s) = 0;
};

// System time plus an operator-set offset.
class SystemClock final : public SettableClock {
 public:
  TimePoint now() const override;
  void set_now(TimePoint t) override;
  std::int64_t offset_seconds() const override { return offset_.load(); }
  void set_offset_seconds(std::int64_t s) override { offset_.store(s); }

 private:
  std::atomic<std::int64_t> offset_{0};
};

// A clock that moves only when told to; for tests. Its "own time" is the start time
// plus every advance(); an offset set through SettableClock moves now() the same way.
class FakeClock final : public SettableClock {
 public:
  explicit FakeClock(TimePoint start) : base_(start.time_since_epoch().count()) {}
  TimePoint now() const override { return TimePoint(Seconds(base_.load() + offset_.load())); }
  void advance(Seconds d) { base_ += d.count(); }
  void set(TimePoint t) { base_ = t.time_since_epoch().count() - offset_.load(); }
  void set_now(TimePoint t) override { offset_ = t.time_since_epoch().count() - base_.load(); }
  std::int64_t offset_seconds() const override { return offset_.load(); }
  void set_offset_seconds(std::int64_t s) override { offset_ = s; }

 private:
  std::atomic<std::int64_t> base_;
  std::atomic<std::int64_t> offset_{0};
};

inline TimePoint from_unix(std::int64_t s) { return TimePoint(Seconds(s)); }
inline std::int64_t to_unix(TimePoint t) { return t.time_since_epoch().count(); }

// The zone times are shown in, as IOS's `clock timezone` and `clock summer-time ...
// recurring` set it: UTC by default. One per process (scepterd is one device); `show`
// output, `clock set` and the running-config use it, never the certificates.
struct SummerTimeRule {
  int week = 2;      // 1-4, or 5 for the last such day of the month
  int weekday = 0;   // 0 = Sunday
  int month = 3;     // 1-12
  int minute = 120;  // of the local day
  bool operator==(const SummerTimeRule&) const = default;
};
struct DisplayZone {
  std::string name = "UTC";
  int offset_minutes = 0;   // east of UTC
  std::string summer_name;  // empty: no summer time
  // The United States' rules, IOS's default for `recurring`.
  SummerTimeRule summer_start{2, 0, 3, 120};
  SummerTimeRule summer_end{1, 0, 11, 120};
  int summer_offset_minutes = 60;
  bool operator==(const DisplayZone&) const = default;
};
void set_display_zone(const DisplayZone& zone);
DisplayZone display_zone();

// `t` as the display zone shows it: the local time (as a TimePoint whose fields read as
// local) and the zone's name then (the summer name during summer time).
struct LocalTime {
  TimePoint local;
  std::string zone;
};
LocalTime to_display_zone(TimePoint t);
// The UTC instant of a local time typed in the display zone (`clock set`).
TimePoint from_display_zone(TimePoint local);

// IOS style: "12:58:34 UTC Jan 4 2025" (day not zero-padded), in the display zone.
std::string format_ios_time(TimePoint t);
// RFC 3339: "2025-01-04T12:58:34Z".
std::string format_iso_time(TimePoint t);

}  // namespace scepter
