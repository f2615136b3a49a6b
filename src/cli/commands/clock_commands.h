#pragma once
// Formatting used by `show clock`, exposed for tests.

#include <string>

#include "common/clock.h"

namespace scepter::cli {

// "*12:00:00.000 UTC Fri Nov 27 2026" (IOS: the '*' marks a clock no time source
// vouches for; scepterd's clock is set by hand or follows the host's).
std::string format_show_clock(TimePoint t, int millis);

}  // namespace scepter::cli
