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

namespace {

std::mutex zone_mu;
DisplayZone& zone_storage() {
  static DisplayZone zone;
  return zone;
}

// The local (standard time) instant at which `rule` falls in `year`.
TimePoint rule_instant(int year, const SummerTimeRule& rule) {
  using namespace std::chrono;
  const auto ym = std::chrono::year(year) / std::chrono::month(static_cast<unsigned>(rule.month));
  const weekday wd(static_cast<unsigned>(rule.weekday));
  sys_days day = rule.week >= 5 ? sys_days(ym / wd[last])
                                : sys_days(ym / wd[static_cast<unsigned>(rule.week)]);
  return time_point_cast<Seconds>(day) + minutes(rule.minute);
}

bool in_summer(const DisplayZone& z, TimePoint standard_local) {
  if (z.summer_name.empty()) return false;
  const int year = static_cast<int>(
      std::chrono::year_month_day(std::chrono::floor<std::chrono::days>(standard_local)).year());
  const TimePoint start = rule_instant(year, z.summer_start);
  // The end is given in summer time.
  const TimePoint end =
      rule_instant(year, z.summer_end) - std::chrono::minutes(z.summer_offset_minutes);
  return start <= end ? (standard_local >= start && standard_local < end)
                      : (standard_local >= start || standard_local < end);
}

}  // namespace

void set_display_zone(const DisplayZone& zone) {
  std::lock_guard<std::mutex> lock(zone_mu);
  zone_storage() = zone;
}

DisplayZone display_zone() {
  std::lock_guard<std::mutex> lock(zone_mu);
  return zone_storage();
}

LocalTime to_display_zone(TimePoint t) {
  const DisplayZone z = display_zone();
  const TimePoint standard = t + std::chrono::minutes(z.offset_minutes);
  if (in_summer(z, standard)) {
    return {standard + std::chrono::minutes(z.summer_offset_minutes), z.summer_name};
  }
  return {standard, z.name};
}

TimePoint from_display_zone(TimePoint local) {
  const DisplayZone z = display_zone();
  TimePoint utc = local - std::chrono::minutes(z.offset_minutes);
  if (in_summer(z, local - std::chrono::minutes(z.summer_offset_minutes))) {
    utc -= std::chrono::minutes(z.summer_offset_minutes);
  }
  return utc;
}

std::string format_ios_time(TimePoint t) {
  const LocalTime lt = to_display_zone(t);
  std::tm tm = utc(lt.local);
  return fmt::format("{:02}:{:02}:{:02} {} {} {} {}", tm.tm_hour, tm.tm_min, tm.tm_sec, lt.zone,
                     kMonths[tm.tm_mon], tm.tm_mday, tm.tm_year + 1900);
}

std::string format_iso_time(TimePoint t) {
  std::tm tm = utc(t);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

}  // namespace scepter
