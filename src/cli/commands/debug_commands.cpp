// debug crypto pki server|transactions, undebug, show debugging: stream the certificate
// server's trace to this shell session, as IOS does on a terminal with `terminal monitor`.
#include <chrono>

#include <fmt/format.h>

#include "ca/device.h"
#include "cli/commands/commands.h"
#include "cli/context.h"
#include "common/log.h"

namespace scepter::cli {
namespace {

struct Area {
  std::string_view keyword;  // after "debug crypto pki"
  log::Category category;
  std::string_view title;  // "Crypto PKI Certificate Server debugging"
};

constexpr Area kAreas[] = {
    {"server", log::Category::kPkiServer, "Crypto PKI Certificate Server debugging"},
    {"transactions", log::Category::kPkiTransactions, "Crypto PKI Trans debugging"},
};

const Area* area_of(const Args& a) {
  for (const Area& area : kAreas) {
    if (a.has(area.keyword)) return &area;
  }
  return nullptr;
}

std::string key_of(const Area& area) { return "debug:" + std::string(area.keyword); }

// "*Nov 27 05:12:51.460: " as IOS stamps debug lines.
std::string stamp(TimePoint t) {
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  auto days = std::chrono::floor<std::chrono::days>(t);
  std::chrono::year_month_day date{days};
  std::chrono::hh_mm_ss<Seconds> time{t - days};
  auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(SysClock::now().time_since_epoch())
          .count() %
      1000;
  return fmt::format(
      "*{} {} {:02}:{:02}:{:02}.{:03}: ", kMonths[static_cast<unsigned>(date.month()) - 1],
      static_cast<unsigned>(date.day()), time.hours().count(), time.minutes().count(),
      time.seconds().count(), millis);
}

CmdResult debug_on(Context& ctx, const Args& a) {
  const Area* area = area_of(a);
  if (area == nullptr) return ctx.error("Incomplete command.");
  auto sink = ctx.async_output();
  if (!sink) return ctx.error("Debug output needs an interactive shell connection.");
  SettableClock& clock = ctx.device().clock();
  const std::uint64_t id =
      log::subscribe(area->category, [sink, &clock](log::Category, std::string_view line) {
        sink(stamp(clock.now()) + std::string(line) + "\n");
      });
  // The subscription ends with the session (or `undebug`).
  ctx.attach(key_of(*area), std::shared_ptr<void>(nullptr, [id](void*) { log::unsubscribe(id); }));
  ctx.printf("{} is on\n", area->title);
  return {};
}

CmdResult debug_off(Context& ctx, const Args& a) {
  if (a.has("all")) {
    for (const Area& area : kAreas) ctx.detach(key_of(area));
    ctx.print("All possible debugging has been turned off\n");
    return {};
  }
  const Area* area = area_of(a);
  if (area == nullptr) return ctx.error("Incomplete command.");
  ctx.detach(key_of(*area));
  ctx.printf("{} is off\n", area->title);
  return {};
}

CmdResult show_debugging(Context& ctx, const Args&) {
  bool any = false;
  for (const Area& area : kAreas) {
    if (!ctx.attached(key_of(area))) continue;
    if (!any) ctx.print("Crypto PKI:\n");
    ctx.printf("  {} is on\n", area.title);
    any = true;
  }
  return {};
}

}  // namespace

void register_debug_commands(CommandTable& t) {
  constexpr std::string_view kDebug = "Debugging functions (see also 'undebug')";
  constexpr std::string_view kCrypto = "Cryptographic subsystem";
  constexpr std::string_view kPki = "PKI debug";
  constexpr std::string_view kServer = "Certificate server events";
  constexpr std::string_view kTrans = "Certificate enrollment transactions";
  t.add(Node::kExec, "debug crypto pki <server|transactions>",
        {kDebug, kCrypto, kPki, kServer, kTrans}, debug_on);
  t.add(Node::kExec, "no debug crypto pki <server|transactions>",
        {kNoHelp, kDebug, kCrypto, kPki, kServer, kTrans}, debug_off);
  t.add(Node::kExec, "undebug crypto pki <server|transactions>",
        {"Disable debugging functions (see also 'debug')", kCrypto, kPki, kServer, kTrans},
        debug_off);
  t.add(Node::kExec, "undebug all",
        {"Disable debugging functions (see also 'debug')", "Disable all debugging"}, debug_off);
  t.add(Node::kExec, "no debug all", {kNoHelp, kDebug, "Disable all debugging"}, debug_off);
  t.add(Node::kExec, "show debugging",
        {"Show running system information", "State of each debugging option"}, show_debugging);
}

}  // namespace scepter::cli
