// clock set, show clock.
#include "cli/commands/clock_commands.h"

#include <chrono>

#include <fmt/format.h>

#include "ca/device.h"
#include "cli/commands/commands.h"
#include "cli/context.h"
#include "cli/var_types.h"

namespace scepter::cli {
namespace {

constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

CmdResult clock_set(Context& ctx, const Args& a) {
  // The grammar checked the time, the month name and the ranges; only the day of the
  // month can still be wrong (31 Feb).
  auto tod = parse_time_of_day(a.word("time"));
  auto month = parse_month(a.word("month"));
  if (!tod) return ctx.invalid_input(a, "time");
  if (!month) return ctx.invalid_input(a, "month");
  std::chrono::year_month_day date{std::chrono::year(static_cast<int>(a.integer("year"))),
                                   std::chrono::month(static_cast<unsigned>(*month)),
                                   std::chrono::day(static_cast<unsigned>(a.integer("day")))};
  if (!date.ok()) return ctx.invalid_input(a, "day");
  auto midnight = std::chrono::sys_days(date);
  TimePoint t = std::chrono::time_point_cast<Seconds>(midnight) + std::chrono::hours(tod->hour) +
                std::chrono::minutes(tod->minute) + Seconds(tod->second);
  return ctx.device().set_clock(t);
}

CmdResult show_clock(Context& ctx, const Args&) {
  // The offset is whole seconds, so the host clock's milliseconds are ours too.
  auto real = SysClock::now();
  int millis = static_cast<int>(
      std::chrono::duration_cast<std::chrono::milliseconds>(real.time_since_epoch()).count() %
      1000);
  ctx.print(format_show_clock(ctx.device().clock().now(), millis) + "\n");
  return {};
}

}  // namespace

std::string format_show_clock(TimePoint t, int millis) {
  auto days = std::chrono::floor<std::chrono::days>(t);
  std::chrono::year_month_day date{days};
  std::chrono::hh_mm_ss<Seconds> time{t - days};
  std::chrono::weekday wd{days};
  return fmt::format("*{:02}:{:02}:{:02}.{:03} UTC {} {} {} {}", time.hours().count(),
                     time.minutes().count(), time.seconds().count(), millis, kDays[wd.c_encoding()],
                     kMonths[static_cast<unsigned>(date.month()) - 1],
                     static_cast<unsigned>(date.day()), static_cast<int>(date.year()));
}

void register_clock_commands(CommandTable& t) {
  t.add(Node::kExec,
        "clock set HH:MM:SS$time <(1-31)$day MONTH$month|MONTH$month (1-31)$day> "
        "(1993-2035)$year",
        {"Manage the system clock", "Set the time and date", "Current Time", "Day of the month",
         "Month of the year", "Month of the year", "Day of the month", "Year"},
        clock_set);
  t.add(Node::kExec, "show clock", {"Show running system information", "Display the system clock"},
        show_clock);
}

}  // namespace scepter::cli
