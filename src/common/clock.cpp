#include "common/clock.h"

#include <ctime>

#include <fmt/format.h>

namespace scepter {

TimePoint SystemClock::now() const {
  auto real = std::chrono::time_point_cast<Seconds>(SysClock::now());
  return real + Seconds(offset_.load());
}

void SystemClock::set_now(TimePoint t) {
  auto real = std::chrono::time_point_cast<Seconds>(SysClock::now());
  offset_.store((t - real).count());
}

namespace {
std::tm utc(TimePoint t) {
  std::time_t tt = static_cast<std::time_t>(to_unix(t));
  std::tm tm{};
  gmtime_r(&tt, &tm);
  return tm;
}
constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
}  // namespace

std::string format_ios_time(TimePoint t) {
  std::tm tm = utc(t);
  return fmt::format("{:02}:{:02}:{:02} UTC {} {} {}", tm.tm_hour, tm.tm_min, tm.tm_sec,
                     kMonths[tm.tm_mon], tm.tm_mday, tm.tm_year + 1900);
}

std::string format_iso_time(TimePoint t) {
  std::tm tm = utc(t);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

}  // namespace scepter
