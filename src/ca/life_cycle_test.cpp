#include "ca/life_cycle.h"

#include <gtest/gtest.h>

#include "common/testing.h"

#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <tuple>

namespace scepter::ca {
namespace {

constexpr ServerState kStates[] = {
    ServerState::kDisabled,           ServerState::kChecking,    ServerState::kWaitingForTime,
    ServerState::kWaitingForOperator, ServerState::kCheckFailed, ServerState::kEnabled,
    ServerState::kWaitingForSuperior};
constexpr LifeEvent kEvents[] = {
    LifeEvent::kNoShutdown,   LifeEvent::kRetry,        LifeEvent::kShutdown,
    LifeEvent::kChecksPassed, LifeEvent::kCheckFailed,  LifeEvent::kNeedsOperator,
    LifeEvent::kClockInvalid, LifeEvent::kClockValid,   LifeEvent::kCriticalFailure,
    LifeEvent::kRecovered,    LifeEvent::kNeedsSuperior};

using Row = std::tuple<std::string, std::string, std::string>;

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(' ');
  const auto e = s.find_last_not_of(' ');
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

std::set<Row> documented() {
  std::ifstream f(::scepter::testing::source_path("docs/life-cycle.md"));
  EXPECT_TRUE(f.good());
  std::set<Row> rows;
  std::string line;
  bool inside = false;
  while (std::getline(f, line)) {
    if (line.find("life-cycle:begin") != std::string::npos) {
      inside = true;
    } else if (line.find("life-cycle:end") != std::string::npos) {
      break;
    } else if (inside && line.rfind("| ", 0) == 0 && line.find("---") == std::string::npos &&
               line.find("| from ") != 0) {
      std::stringstream in(line);
      std::string skip, a, b, c;
      std::getline(in, skip, '|');
      std::getline(in, a, '|');
      std::getline(in, b, '|');
      std::getline(in, c, '|');
      rows.insert({trim(a), trim(b), trim(c)});
    }
  }
  return rows;
}

TEST(LifeCycle, TheDocumentedTableIsTheCodesTable) {
  std::set<Row> code;
  for (const Transition& t : life_cycle_table()) {
    code.insert({server_state_name(t.from), life_event_name(t.event), server_state_name(t.to)});
  }
  EXPECT_EQ(code.size(), life_cycle_table().size()) << "a transition is listed twice";
  EXPECT_EQ(documented(), code);
}

TEST(LifeCycle, EveryOtherCombinationIsRefused) {
  int allowed = 0;
  for (ServerState s : kStates) {
    for (LifeEvent e : kEvents) {
      auto to = next_state(s, e);
      bool listed = false;
      for (const Transition& t : life_cycle_table()) {
        if (t.from == s && t.event == e) {
          listed = true;
          EXPECT_EQ(to, t.to);
        }
      }
      EXPECT_EQ(to.has_value(), listed) << server_state_name(s) << " / " << life_event_name(e);
      allowed += listed;
    }
  }
  EXPECT_EQ(allowed, static_cast<int>(life_cycle_table().size()));
}

TEST(LifeCycle, ShutdownAlwaysLeadsToDisabledAndNothingLeavesItButNoShutdown) {
  for (ServerState s : kStates) {
    if (s == ServerState::kDisabled) continue;
    EXPECT_EQ(next_state(s, LifeEvent::kShutdown), ServerState::kDisabled);
  }
  for (LifeEvent e : kEvents) {
    auto to = next_state(ServerState::kDisabled, e);
    EXPECT_EQ(to.has_value(), e == LifeEvent::kNoShutdown) << life_event_name(e);
  }
  // Only a passed check, the clock coming back or a recovery enable a server.
  for (const Transition& t : life_cycle_table()) {
    if (t.to == ServerState::kEnabled) {
      EXPECT_TRUE(t.event == LifeEvent::kChecksPassed || t.event == LifeEvent::kClockValid ||
                  t.event == LifeEvent::kRecovered);
    }
  }
}

}  // namespace
}  // namespace scepter::ca
