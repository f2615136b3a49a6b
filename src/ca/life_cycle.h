#pragma once
// The life cycle of a certificate server as an explicit state table. CertificateServer
// asks next() for every change of state; a change the table does not list is a bug.
// docs/life-cycle.md shows the table, and life_cycle_test.cpp walks every transition.
//
// Pure functions over constant data; thread-safe.

#include <optional>
#include <span>

namespace scepter::ca {

enum class ServerState {
  kDisabled,            // shut down by the operator (configuration unlocked)
  kChecking,            // enabling checks and first-time generation are running
  kWaitingForTime,      // the clock is not calendar-valid: nothing is issued
  kWaitingForOperator,  // the first `no shutdown` needs the archive password
  kCheckFailed,         // an enabling check or a critical operation failed (reason())
  kWaitingForSuperior,  // mode sub-cs: the CA certificate is requested from the superior
  kEnabled,             // issuing
};

enum class LifeEvent {
  kNoShutdown,       // the operator's `no shutdown` (or the configuration at start-up)
  kRetry,            // the timer retries a failed check
  kShutdown,         // the operator's `shutdown`
  kChecksPassed,     // everything needed to issue is ready
  kCheckFailed,      // a check failed; the timer will retry
  kNeedsOperator,    // a check needs something only the operator can give
  kNeedsSuperior,    // mode sub-cs: the superior CA has not granted the CA certificate yet
  kClockInvalid,     // the clock is before 2020
  kClockValid,       // the clock is right again (the server's state still exists)
  kCriticalFailure,  // while issuing: e.g. the CRL or a certificate file cannot be written
  kRecovered,        // the cause of a critical failure went away
};

struct Transition {
  ServerState from;
  LifeEvent event;
  ServerState to;
};

// Every allowed transition.
std::span<const Transition> life_cycle_table();
// The state after `event` in `from`, or nullopt when the table has no such transition.
std::optional<ServerState> next_state(ServerState from, LifeEvent event);

const char* server_state_name(ServerState state);
const char* life_event_name(LifeEvent event);

}  // namespace scepter::ca
