// clock set, show clock, clock timezone, clock summer-time ... recurring (config mode) and
// their running-config lines.
#include "cli/commands/clock_commands.h"

#include <chrono>
#include <cstdlib>
#include <optional>
#include <string>

#include <fmt/format.h>

#include "ca/device.h"
#include "cli/commands/commands.h"
#include "cli/config_text.h"
#include "cli/context.h"
#include "cli/var_types.h"
#include "common/parse.h"

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
  // Typed in the time zone the router shows.
  return ctx.device().set_clock(from_display_zone(t));
}

// clock timezone NAME HOURS [MINUTES]: HOURS -23..23 (IOS), MINUTES 0..59.
CmdResult clock_timezone(Context& ctx, const Args& a) {
  if (a.has("no")) {
    DisplayZone z = display_zone();
    z.name = DisplayZone{}.name;
    z.offset_minutes = 0;
    set_display_zone(z);
    return {};
  }
  auto hours = parse_decimal<int>(std::string_view(a.word("hours")).starts_with('-')
                                      ? a.word("hours").substr(1)
                                      : a.word("hours"));
  if (!hours || *hours > 23) return ctx.invalid_input(a, "hours");
  const int sign = a.word("hours").starts_with('-') ? -1 : 1;
  const int minutes = a.has("minutes") ? static_cast<int>(a.integer("minutes")) : 0;
  const std::string name(a.word("zone"));
  if (name.size() > 7) return ctx.error("The time zone name is at most 7 characters.");
  DisplayZone z = display_zone();
  z.name = name;
  z.offset_minutes = sign * (*hours * 60 + minutes);
  set_display_zone(z);
  return {};
}

std::optional<int> parse_week(std::string_view w) {
  if (w == "first") return 1;
  if (w == "last") return 5;
  auto n = parse_decimal<int>(w);
  if (n && *n >= 1 && *n <= 4) return n;
  return std::nullopt;
}

std::optional<int> parse_weekday(std::string_view d) {
  static constexpr const char* kNames[] = {"sunday",   "monday", "tuesday", "wednesday",
                                           "thursday", "friday", "saturday"};
  if (d.size() < 3) return std::nullopt;
  const std::string lower = ascii_lower(d);
  for (int i = 0; i < 7; ++i) {
    if (std::string_view(kNames[i]).starts_with(lower)) return i;
  }
  return std::nullopt;
}

// clock summer-time NAME recurring [WEEK DAY MONTH HH:MM WEEK DAY MONTH HH:MM [OFFSET]]
CmdResult clock_summer_time(Context& ctx, const Args& a) {
  DisplayZone z = display_zone();
  if (a.has("no")) {
    const DisplayZone defaults;
    z.summer_name.clear();
    z.summer_start = defaults.summer_start;
    z.summer_end = defaults.summer_end;
    z.summer_offset_minutes = defaults.summer_offset_minutes;
    set_display_zone(z);
    return {};
  }
  const std::string name(a.word("zone"));
  if (name.size() > 7) return ctx.error("The time zone name is at most 7 characters.");
  DisplayZone next = z;
  next.summer_name = name;
  const DisplayZone defaults;
  next.summer_start = defaults.summer_start;
  next.summer_end = defaults.summer_end;
  next.summer_offset_minutes = defaults.summer_offset_minutes;
  if (a.has("week1")) {
    auto rule = [&](const char* week, const char* day, const char* month, const char* time,
                    SummerTimeRule& out) -> CmdResult {
      auto w = parse_week(a.word(week));
      if (!w) return ctx.invalid_input(a, week);
      auto d = parse_weekday(a.word(day));
      if (!d) return ctx.invalid_input(a, day);
      auto m = parse_month(a.word(month));
      if (!m) return ctx.invalid_input(a, month);
      auto t = parse_time_of_day(std::string(a.word(time)) + ":00");
      if (!t) return ctx.invalid_input(a, time);
      out = SummerTimeRule{*w, *d, *m, t->hour * 60 + t->minute};
      return {};
    };
    if (CmdResult r = rule("week1", "day1", "month1", "time1", next.summer_start); !r.ok()) {
      return r;
    }
    if (CmdResult r = rule("week2", "day2", "month2", "time2", next.summer_end); !r.ok()) return r;
    if (a.has("offset")) next.summer_offset_minutes = static_cast<int>(a.integer("offset"));
  }
  set_display_zone(next);
  return {};
}

std::string rule_text(const SummerTimeRule& r) {
  static constexpr const char* kDayNames[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  return fmt::format("{} {} {} {}:{:02}",
                     r.week >= 5 ? std::string("last") : std::to_string(r.week),
                     kDayNames[r.weekday], kMonths[r.month - 1], r.minute / 60, r.minute % 60);
}

// As IOS prints them: "clock timezone PST -8 0", "clock summer-time PDT recurring" (the
// rules only when they are not the default ones).
void write_clock(ca::Device&, ConfigText& out) {
  const DisplayZone z = display_zone();
  const DisplayZone defaults;
  if (z.name != defaults.name || z.offset_minutes != 0) {
    const int m = z.offset_minutes;
    out.line(fmt::format("clock timezone {} {}{} {}", z.name, m < 0 ? "-" : "", std::abs(m) / 60,
                         std::abs(m) % 60));
  }
  if (!z.summer_name.empty()) {
    std::string line = "clock summer-time " + z.summer_name + " recurring";
    if (z.summer_start != defaults.summer_start || z.summer_end != defaults.summer_end ||
        z.summer_offset_minutes != defaults.summer_offset_minutes) {
      line += " " + rule_text(z.summer_start) + " " + rule_text(z.summer_end);
      if (z.summer_offset_minutes != defaults.summer_offset_minutes) {
        line += fmt::format(" {}", z.summer_offset_minutes);
      }
    }
    out.line(line);
  }
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
  const LocalTime lt = to_display_zone(t);
  auto days = std::chrono::floor<std::chrono::days>(lt.local);
  std::chrono::year_month_day date{days};
  std::chrono::hh_mm_ss<Seconds> time{lt.local - days};
  std::chrono::weekday wd{days};
  return fmt::format("*{:02}:{:02}:{:02}.{:03} {} {} {} {} {}", time.hours().count(),
                     time.minutes().count(), time.seconds().count(), millis, lt.zone,
                     kDays[wd.c_encoding()], kMonths[static_cast<unsigned>(date.month()) - 1],
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
  constexpr std::string_view kClock = "Configure time-of-day clock";
  t.add(Node::kConfig, "clock timezone WORD$zone WORD$hours [(0-59)$minutes]",
        {kClock, "Configure time zone", "Name of time zone", "Hours offset from UTC (-23 to 23)",
         "Minutes offset from UTC"},
        clock_timezone);
  t.add(Node::kConfig, "no clock timezone [WORD$zone] [WORD$hours] [(0-59)$minutes]",
        {kNoHelp, kClock, "Configure time zone", "Name of time zone", "Hours offset from UTC",
         "Minutes offset from UTC"},
        clock_timezone);
  t.add(Node::kConfig,
        "clock summer-time WORD$zone recurring [WORD$week1 WORD$day1 WORD$month1 WORD$time1 "
        "WORD$week2 WORD$day2 WORD$month2 WORD$time2 [(1-1440)$offset]]",
        {kClock, "Configure summer (daylight savings) time", "Name of time zone in summer",
         "Configure recurring summer time (default: the United States' rules)",
         "Week number to start (1-4, first, last)", "Weekday to start", "Month to start",
         "Time to start (hh:mm)", "Week number to end (1-4, first, last)", "Weekday to end",
         "Month to end", "Time to end (hh:mm)", "Offset to add in minutes (default 60)"},
        clock_summer_time);
  t.add(Node::kConfig, "no clock summer-time [LINE$rest]",
        {kNoHelp, kClock, "Configure summer (daylight savings) time", "Ignored"},
        clock_summer_time);
  t.add(Node::kConfig, "clock summer-time WORD$zone date [LINE$rest]",
        {kClock, "Configure summer (daylight savings) time", "Name of time zone in summer",
         "Configure absolute summer time", "Dates"},
        [](Context& ctx, const Args&) {
          return ctx.error(
              "Only recurring summer time is supported: clock summer-time ZONE recurring "
              "[WEEK DAY MONTH HH:MM WEEK DAY MONTH HH:MM [OFFSET]].");
        });
  t.add_config_writer(config_order::kSystem, write_clock);
}

}  // namespace scepter::cli
