// SerialSet against std::unordered_set, with the edge values and heavy deletion that
// exercise backward-shift deletion.

#include "pki/crl_serial_set.h"

#include <random>
#include <unordered_set>

#include <gtest/gtest.h>

namespace scepter::pki {
namespace {

TEST(SerialSet, EdgeValues) {
  SerialSet s;
  EXPECT_FALSE(s.contains(0));
  EXPECT_FALSE(s.erase(0));
  for (std::uint64_t v : {0ull, 1ull, ~0ull, ~0ull - 1}) {
    EXPECT_TRUE(s.insert(v));
    EXPECT_FALSE(s.insert(v));
    EXPECT_TRUE(s.contains(v));
  }
  EXPECT_EQ(s.size(), 4u);
  EXPECT_TRUE(s.erase(~0ull));
  EXPECT_FALSE(s.contains(~0ull));
  EXPECT_TRUE(s.contains(~0ull - 1));
  EXPECT_TRUE(s.erase(0));
  EXPECT_EQ(s.size(), 2u);
}

TEST(SerialSet, MatchesUnorderedSet) {
  std::mt19937_64 rng(7);
  SerialSet s;
  std::unordered_set<std::uint64_t> ref;
  // Small value ranges force long probe runs and many hits.
  for (std::uint64_t range : {64ull, 5000ull, ~0ull}) {
    for (int i = 0; i < 200000; ++i) {
      const std::uint64_t v = range == ~0ull ? rng() : rng() % range;
      switch (rng() % 3) {
        case 0:
        case 1:
          EXPECT_EQ(s.insert(v), ref.insert(v).second);
          break;
        default:
          EXPECT_EQ(s.erase(v), ref.erase(v) == 1);
      }
      ASSERT_EQ(s.size(), ref.size());
    }
    for (std::uint64_t v = 0; v < 6000; ++v) ASSERT_EQ(s.contains(v), ref.count(v) == 1) << v;
    for (std::uint64_t v : ref) ASSERT_TRUE(s.contains(v));
  }
}

TEST(SerialSet, SequentialMillionFitsSixteenMiB) {
  SerialSet s;
  s.reserve(1000000);
  for (std::uint64_t v = 2; v < 1000002; ++v) ASSERT_TRUE(s.insert(v));
  EXPECT_EQ(s.size(), 1000000u);
  EXPECT_EQ(s.memory_bytes(), 16u << 20);
  for (std::uint64_t v = 2; v < 1000002; v += 2) ASSERT_TRUE(s.erase(v));
  for (std::uint64_t v = 0; v < 1000004; ++v)
    ASSERT_EQ(s.contains(v), v >= 3 && v < 1000002 && v % 2 == 1);
}

}  // namespace
}  // namespace scepter::pki
