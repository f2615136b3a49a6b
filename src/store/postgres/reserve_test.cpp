// Reserve on its own: the block arithmetic, without a database.

#include "store/postgres/reserve.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <limits>

namespace scepter::store::pg {
namespace {

using std::chrono::milliseconds;

TEST(Reserve, HandsOutItsBlockInOrderThenNothing) {
  Reserve r;
  EXPECT_FALSE(r.take());
  r.refill(12, 3, Reserve::Clock::now());
  EXPECT_EQ(r.take(), 10);
  EXPECT_EQ(r.take(), 11);
  EXPECT_EQ(r.take(), 12);
  EXPECT_FALSE(r.take());
}

TEST(Reserve, BlocksGrowWhileUsedUpQuicklyAndShrinkWhenNot) {
  Reserve r;
  const auto t0 = Reserve::Clock::now();
  EXPECT_EQ(r.next_size(t0), 1);
  std::int64_t size = 1;
  std::int64_t last = 1;
  for (int i = 0; i < 10; ++i) {
    last += size;
    r.refill(last, size, t0);
    size = r.next_size(t0 + milliseconds(10));
  }
  EXPECT_EQ(size, Reserve::kMaxBlock);
  EXPECT_EQ(r.next_size(t0 + Reserve::kFastBlock), 1);  // a slow spell: one at a time
}

TEST(Reserve, StoredValuesAreSkipped) {
  Reserve r;
  r.refill(20, 10, Reserve::Clock::now());  // 11..20
  EXPECT_EQ(r.take(), 11);
  EXPECT_FALSE(r.stored(5));   // below the block: nothing changes, the row is above it
  EXPECT_FALSE(r.stored(14));  // inside: 12..14 are skipped
  EXPECT_EQ(r.take(), 15);
  EXPECT_FALSE(r.stored(20));  // the block's last value: the block is used up
  EXPECT_FALSE(r.take());
  r.refill(30, 10, Reserve::Clock::now());  // 21..30
  EXPECT_TRUE(r.stored(31));                // above what the row was read at: the batch raises it
  EXPECT_FALSE(r.take());
  r.refill(40, 5, Reserve::Clock::now());  // 36..40
  r.drop();
  EXPECT_FALSE(r.take());
}

TEST(Reserve, ForgettingDropsTheBlockAndWhatTheRowWas) {
  Reserve r;
  r.refill(20, 10, Reserve::Clock::now());
  EXPECT_FALSE(r.stored(15));  // the row is at 20
  r.forget();
  EXPECT_FALSE(r.take());
  EXPECT_TRUE(r.stored(15));  // the row may be below it now: the batch raises it
}

TEST(Reserve, TheLargestValueIsHandedOutOnce) {
  constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
  Reserve r;
  r.refill(kMax, 2, Reserve::Clock::now());
  EXPECT_EQ(r.take(), kMax - 1);
  EXPECT_EQ(r.take(), kMax);
  EXPECT_FALSE(r.take());
  r.refill(kMax, 3, Reserve::Clock::now());
  EXPECT_FALSE(r.stored(kMax));
  EXPECT_FALSE(r.take());
}

}  // namespace
}  // namespace scepter::store::pg
