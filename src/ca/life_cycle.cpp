#include "ca/life_cycle.h"

namespace scepter::ca {
namespace {

using S = ServerState;
using E = LifeEvent;

constexpr Transition kTable[] = {
    {S::kDisabled, E::kNoShutdown, S::kChecking},
    {S::kChecking, E::kChecksPassed, S::kEnabled},
    {S::kChecking, E::kCheckFailed, S::kCheckFailed},
    {S::kChecking, E::kNeedsOperator, S::kWaitingForOperator},
    {S::kChecking, E::kClockInvalid, S::kWaitingForTime},
    {S::kChecking, E::kNeedsSuperior, S::kWaitingForSuperior},
    {S::kChecking, E::kShutdown, S::kDisabled},
    {S::kCheckFailed, E::kRetry, S::kChecking},
    {S::kCheckFailed, E::kNoShutdown, S::kChecking},
    {S::kCheckFailed, E::kRecovered, S::kEnabled},
    {S::kCheckFailed, E::kShutdown, S::kDisabled},
    {S::kWaitingForOperator, E::kNoShutdown, S::kChecking},
    {S::kWaitingForOperator, E::kShutdown, S::kDisabled},
    {S::kWaitingForSuperior, E::kRetry, S::kChecking},
    {S::kWaitingForSuperior, E::kNoShutdown, S::kChecking},
    {S::kWaitingForSuperior, E::kShutdown, S::kDisabled},
    {S::kWaitingForTime, E::kRetry, S::kChecking},
    {S::kWaitingForTime, E::kNoShutdown, S::kChecking},
    {S::kWaitingForTime, E::kClockValid, S::kEnabled},
    {S::kWaitingForTime, E::kShutdown, S::kDisabled},
    {S::kEnabled, E::kClockInvalid, S::kWaitingForTime},
    {S::kEnabled, E::kCriticalFailure, S::kCheckFailed},
    {S::kEnabled, E::kShutdown, S::kDisabled},
};

}  // namespace

std::span<const Transition> life_cycle_table() { return kTable; }

std::optional<ServerState> next_state(ServerState from, LifeEvent event) {
  for (const Transition& t : kTable) {
    if (t.from == from && t.event == event) return t.to;
  }
  return std::nullopt;
}

const char* server_state_name(ServerState state) {
  switch (state) {
    case S::kDisabled:
      return "disabled";
    case S::kChecking:
      return "checking";
    case S::kWaitingForTime:
      return "waiting for time setting";
    case S::kWaitingForOperator:
      return "waiting for the operator";
    case S::kCheckFailed:
      return "check failed";
    case S::kWaitingForSuperior:
      return "waiting for the superior CA";
    case S::kEnabled:
      return "enabled";
  }
  return "disabled";
}

const char* life_event_name(LifeEvent event) {
  switch (event) {
    case E::kNoShutdown:
      return "no shutdown";
    case E::kRetry:
      return "retry";
    case E::kShutdown:
      return "shutdown";
    case E::kChecksPassed:
      return "checks passed";
    case E::kCheckFailed:
      return "check failed";
    case E::kNeedsOperator:
      return "needs the operator";
    case E::kNeedsSuperior:
      return "needs the superior CA";
    case E::kClockInvalid:
      return "clock invalid";
    case E::kClockValid:
      return "clock valid";
    case E::kCriticalFailure:
      return "critical failure";
    case E::kRecovered:
      return "recovered";
  }
  return "retry";
}

}  // namespace scepter::ca
