// The per-address table on its own, with made-up addresses and times.

#include "http/client_limits.h"

#include <string>

#include <gtest/gtest.h>

namespace scepter::http::detail {
namespace {

using std::chrono::milliseconds;
using TimePoint = ClientLimits::TimePoint;

const TimePoint kT0 = TimePoint() + std::chrono::hours(1);

ClientLimitsOptions options(std::size_t conns, double rate, double burst, std::size_t table) {
  ClientLimitsOptions o;
  o.max_connections = conns;
  o.rate = rate;
  o.burst = burst;
  o.max_addresses = table;
  return o;
}

TEST(ClientLimits, ConnectionCapPerAddress) {
  ClientLimits limits(options(2, 0, 0, 100));
  EXPECT_TRUE(limits.open_connection("192.0.2.1", kT0));
  EXPECT_TRUE(limits.open_connection("192.0.2.1", kT0));
  EXPECT_FALSE(limits.open_connection("192.0.2.1", kT0));
  EXPECT_TRUE(limits.open_connection("192.0.2.2", kT0));  // another address
  limits.close_connection("192.0.2.1", kT0);
  EXPECT_TRUE(limits.open_connection("192.0.2.1", kT0));
  EXPECT_FALSE(limits.open_connection("192.0.2.1", kT0));
  // Without a rate, nothing is remembered once the connections are gone.
  limits.close_connection("192.0.2.1", kT0);
  limits.close_connection("192.0.2.1", kT0);
  limits.close_connection("192.0.2.2", kT0);
  EXPECT_EQ(limits.size(), 0u);
  limits.close_connection("192.0.2.9", kT0);  // unpaired: ignored
  EXPECT_EQ(limits.size(), 0u);
}

TEST(ClientLimits, NoConnectionCap) {
  ClientLimits limits(options(0, 0, 0, 100));
  for (int i = 0; i < 1000; ++i) {
    ASSERT_TRUE(limits.open_connection("192.0.2.1", kT0));
  }
}

TEST(ClientLimits, TokenBucket) {
  ClientLimits limits(options(0, 10, 3, 100));  // 10/s, burst 3
  ASSERT_TRUE(limits.open_connection("192.0.2.1", kT0));
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(limits.take_request("192.0.2.1", kT0).count(), 0) << i;
  }
  EXPECT_EQ(limits.take_request("192.0.2.1", kT0), milliseconds(100));
  EXPECT_EQ(limits.take_request("192.0.2.1", kT0 + milliseconds(40)), milliseconds(60));
  EXPECT_EQ(limits.take_request("192.0.2.1", kT0 + milliseconds(100)).count(), 0);
  EXPECT_EQ(limits.take_request("192.0.2.1", kT0 + milliseconds(100)), milliseconds(100));
  // Refills up to the burst, not beyond.
  const TimePoint later = kT0 + std::chrono::seconds(60);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(limits.take_request("192.0.2.1", later).count(), 0) << i;
  }
  EXPECT_GT(limits.take_request("192.0.2.1", later).count(), 0);
  // Other addresses have their own bucket; unknown ones are not limited.
  ASSERT_TRUE(limits.open_connection("192.0.2.2", later));
  EXPECT_EQ(limits.take_request("192.0.2.2", later).count(), 0);
  EXPECT_EQ(limits.take_request("198.51.100.1", later).count(), 0);
}

TEST(ClientLimits, SpentBucketSurvivesReconnect) {
  ClientLimits limits(options(0, 1, 2, 100));
  ASSERT_TRUE(limits.open_connection("192.0.2.1", kT0));
  EXPECT_EQ(limits.take_request("192.0.2.1", kT0).count(), 0);
  EXPECT_EQ(limits.take_request("192.0.2.1", kT0).count(), 0);
  limits.close_connection("192.0.2.1", kT0);
  EXPECT_EQ(limits.size(), 1u);  // remembered: reconnecting gives no fresh burst
  ASSERT_TRUE(limits.open_connection("192.0.2.1", kT0));
  EXPECT_EQ(limits.take_request("192.0.2.1", kT0), milliseconds(1000));
  // Once refilled, closing forgets the address.
  limits.close_connection("192.0.2.1", kT0 + std::chrono::seconds(5));
  EXPECT_EQ(limits.size(), 0u);
}

TEST(ClientLimits, TableIsBoundedAndKeepsAddressesWithConnections) {
  ClientLimits limits(options(1, 0.001, 2, 8));
  ASSERT_TRUE(limits.open_connection("10.0.0.1", kT0));  // stays open throughout
  for (int i = 0; i < 10'000; ++i) {
    const std::string addr = "10.1." + std::to_string(i / 256) + "." + std::to_string(i % 256);
    ASSERT_TRUE(limits.open_connection(addr, kT0));
    EXPECT_EQ(limits.take_request(addr, kT0).count(), 0);
    limits.close_connection(addr, kT0);  // a spent bucket: worth remembering
    ASSERT_LE(limits.size(), 8u) << i;
  }
  EXPECT_EQ(limits.size(), 8u);
  EXPECT_EQ(limits.evictions(), 10'000u - 7u);
  EXPECT_FALSE(limits.open_connection("10.0.0.1", kT0));  // still counted
  // The least recently used go first: the last seven churned addresses are still known.
  ASSERT_TRUE(limits.open_connection("10.1.39.15", kT0));  // i = 9999
  EXPECT_EQ(limits.take_request("10.1.39.15", kT0).count(), 0);
  EXPECT_GT(limits.take_request("10.1.39.15", kT0).count(), 0);
  ASSERT_TRUE(limits.open_connection("10.1.0.0", kT0));  // i = 0: forgotten, fresh burst
  EXPECT_EQ(limits.take_request("10.1.0.0", kT0).count(), 0);
  EXPECT_EQ(limits.take_request("10.1.0.0", kT0).count(), 0);
}

TEST(ClientLimits, ManyOpenConnectionsThenCloseStaysBounded) {
  ClientLimits limits(options(0, 0.001, 2, 4));
  for (int i = 0; i < 100; ++i) {
    const std::string addr = "10.2.0." + std::to_string(i);
    ASSERT_TRUE(limits.open_connection(addr, kT0));
    EXPECT_EQ(limits.take_request(addr, kT0).count(), 0);
  }
  EXPECT_EQ(limits.size(), 100u);  // all have a connection open
  for (int i = 0; i < 100; ++i) {
    limits.close_connection("10.2.0." + std::to_string(i), kT0);
  }
  EXPECT_EQ(limits.size(), 4u);
}

}  // namespace
}  // namespace scepter::http::detail
