#include "common/clock.h"

#include <gtest/gtest.h>

namespace scepter {
namespace {

TEST(Clock, IosFormatHasUnpaddedDay) {
  // 2025-01-04T12:58:34Z
  EXPECT_EQ(format_ios_time(from_unix(1735995514)), "12:58:34 UTC Jan 4 2025");
  EXPECT_EQ(format_iso_time(from_unix(1735995514)), "2025-01-04T12:58:34Z");
}

TEST(Clock, SystemClockOffset) {
  SystemClock c;
  TimePoint target = from_unix(2000000000);
  c.set_now(target);
  auto d = c.now() - target;
  EXPECT_GE(d.count(), 0);
  EXPECT_LE(d.count(), 2);
  EXPECT_NE(c.offset_seconds(), 0);
}

TEST(Clock, FakeClockAdvances) {
  FakeClock c(from_unix(100));
  c.advance(Seconds(5));
  EXPECT_EQ(to_unix(c.now()), 105);
}

}  // namespace
}  // namespace scepter
