// EventHub: sequence numbers, history for reconnecting clients, bounded subscriber
// queues; and the events a CertificateServer publishes where its state changes.
#include "ca/events.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "ca/ca_test_support.h"
#include "ca/certificate_server.h"

namespace scepter::ca {
namespace {

using testing::make_csr_der;
using testing::ServerHarness;

std::string describe(const std::vector<Event>& events) {
  std::string out;
  for (const Event& e : events) {
    out += std::to_string(e.sequence) + " " + std::string(event_kind_name(e.kind));
    if (e.kind != EventKind::kResync) out += " " + e.server + " " + e.id + " " + e.state;
    out += "\n";
  }
  return out;
}

TEST(EventHubTest, SubscribersGetEventsInOrderWithSequenceNumbers) {
  FakeClock clock(from_unix(1'700'000'000));
  EventHub hub(clock);
  hub.publish(EventKind::kCrl, "ca", "", "published");  // before anyone listens
  std::atomic<int> wakes{0};
  auto sub = hub.subscribe([&] { ++wakes; });
  EXPECT_EQ(hub.subscribers(), 1u);
  hub.publish(EventKind::kRequest, "ca", "1", "pending");
  hub.publish(EventKind::kCertificate, "ca", "02", "issued");
  EXPECT_EQ(wakes, 2);
  const auto got = sub->take();
  EXPECT_EQ(describe(got), "2 request ca 1 pending\n3 certificate ca 02 issued\n");
  EXPECT_EQ(got[0].time, clock.now());
  EXPECT_TRUE(sub->take().empty());
  sub.reset();
  EXPECT_EQ(hub.subscribers(), 0u);
  hub.publish(EventKind::kCrl, "ca", "", "published");  // nobody left: no wake
  EXPECT_EQ(wakes, 2);
}

TEST(EventHubTest, LastSeenWithinTheHistoryReplaysWhatWasMissed) {
  FakeClock clock(from_unix(1'700'000'000));
  EventHub hub(clock);
  for (int i = 1; i <= 5; ++i) hub.publish(EventKind::kRequest, "ca", std::to_string(i), "pending");
  int wakes = 0;
  auto sub = hub.subscribe([&] { ++wakes; }, 3);
  EXPECT_EQ(wakes, 1);
  EXPECT_EQ(describe(sub->take()), "4 request ca 4 pending\n5 request ca 5 pending\n");
  // Up to date: nothing to replay.
  auto current = hub.subscribe([] {}, 5);
  EXPECT_TRUE(current->take().empty());
}

TEST(EventHubTest, LastSeenTooOldOrFromBeforeARestartGetsResync) {
  FakeClock clock(from_unix(1'700'000'000));
  EventHub hub(clock);
  for (std::size_t i = 0; i < EventHub::kHistory + 10; ++i) {
    hub.publish(EventKind::kRequest, "ca", std::to_string(i), "pending");
  }
  auto old = hub.subscribe([] {}, 2);
  EXPECT_EQ(describe(old->take()), std::to_string(EventHub::kHistory + 10) + " resync\n");
  auto future = hub.subscribe([] {}, 100'000);
  EXPECT_EQ(describe(future->take()), std::to_string(EventHub::kHistory + 10) + " resync\n");
}

TEST(EventHubTest, ASubscriberTooFarBehindGetsOneResync) {
  FakeClock clock(from_unix(1'700'000'000));
  EventHub hub(clock);
  auto sub = hub.subscribe([] {});
  for (std::size_t i = 0; i < EventHub::kMaxQueued + 3; ++i) {
    hub.publish(EventKind::kRequest, "ca", std::to_string(i), "pending");
  }
  const auto got = sub->take();
  ASSERT_EQ(got.size(), 3u);  // the resync, then what came after it
  EXPECT_EQ(got[0].kind, EventKind::kResync);
  EXPECT_EQ(got[0].sequence, EventHub::kMaxQueued + 1);
  EXPECT_EQ(got[2].sequence, EventHub::kMaxQueued + 3);
}

TEST(EventHubTest, ConcurrentPublishersKeepEachSubscriberInOrder) {
  FakeClock clock(from_unix(1'700'000'000));
  EventHub hub(clock);
  std::vector<Event> seen;
  std::mutex mu;
  std::shared_ptr<EventHub::Subscription> sub;
  sub = hub.subscribe([&] {
    std::lock_guard<std::mutex> lock(mu);
    for (Event& e : sub->take()) seen.push_back(std::move(e));
  });
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 200; ++i) hub.publish(EventKind::kRequest, "ca", "x", "pending");
    });
  }
  for (auto& t : threads) t.join();
  std::lock_guard<std::mutex> lock(mu);
  ASSERT_EQ(seen.size(), 800u);
  for (std::size_t i = 1; i < seen.size(); ++i) EXPECT_LT(seen[i - 1].sequence, seen[i].sequence);
}

TEST(ServerEventsTest, RequestGrantIssueRevokeAndCrlArePublished) {
  ServerHarness h;
  ASSERT_OK(h.server().enable({}));
  auto sub = h.events().subscribe([] {});
  sub->take();  // whatever enabling published

  auto pending = h.server().submit(make_csr_der("CN=one"), RequestSource::kManualPem);
  ASSERT_OK(pending);
  ASSERT_FALSE(pending->certificate.has_value());
  const std::string id = std::to_string(pending->request.id);
  auto got = sub->take();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].kind, EventKind::kRequest);
  EXPECT_EQ(got[0].server, "ca");
  EXPECT_EQ(got[0].id, id);
  EXPECT_EQ(got[0].state, "pending");

  auto granted = h.server().grant(pending->request.id);
  ASSERT_OK(granted);
  ASSERT_EQ(granted->size(), 1u);
  const std::string serial = (*granted)[0].certificate.serial()->hex();
  got = sub->take();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].id, id);
  EXPECT_EQ(got[0].state, "granted");
  EXPECT_EQ(got[1].kind, EventKind::kCertificate);
  EXPECT_EQ(got[1].id, serial);
  EXPECT_EQ(got[1].state, "issued");

  ASSERT_OK(h.server().revoke(*(*granted)[0].certificate.serial()));
  got = sub->take();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].kind, EventKind::kCertificate);
  EXPECT_EQ(got[0].id, serial);
  EXPECT_EQ(got[0].state, "revoked");
  EXPECT_EQ(got[1].kind, EventKind::kCrl);
  EXPECT_EQ(got[1].state, "published");

  ASSERT_OK(h.server().unrevoke(*(*granted)[0].certificate.serial()));
  got = sub->take();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].state, "unrevoked");

  auto second = h.server().submit(make_csr_der("CN=two"), RequestSource::kManualPem);
  ASSERT_OK(second);
  ASSERT_OK(h.server().reject(second->request.id));
  auto third = h.server().submit(make_csr_der("CN=three"), RequestSource::kManualPem);
  ASSERT_OK(third);
  ASSERT_OK(h.server().remove(third->request.id));
  got = sub->take();
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(got[1].state, "rejected");
  EXPECT_EQ(got[3].state, "removed");
  EXPECT_EQ(got[3].id, std::to_string(third->request.id));
}

}  // namespace
}  // namespace scepter::ca
