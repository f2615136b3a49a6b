// The Store contract, continued: serial and request id allocation, conditional deletes.

#include <atomic>
#include <limits>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "common/testing.h"
#include "store/store.h"
#include "store/store_contract.h"
#include "store/test_util.h"

namespace scepter::store {
namespace {

using testing::make_cert;
using testing::make_request;
using testing::one_cert;
using testing::StoreContract;

constexpr int kThreads = 8;
constexpr int kPerThread = 1000;

// Runs `fn(t)` on kThreads threads released together.
void run_together(const std::function<void(int)>& fn) {
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      ready.fetch_add(1);
      while (ready.load() < kThreads) std::this_thread::yield();
      fn(t);
    });
  }
  for (auto& th : threads) th.join();
}

TEST_P(StoreContract, FirstSerialFollowsTheCaCertificate) {
  EXPECT_EQ(store().allocate_serial().value_or(0), 2u);
  EXPECT_EQ(store().allocate_serial().value_or(0), 3u);
  EXPECT_EQ(store().certificate_count().value_or(99), 0u);  // allocating writes nothing
}

TEST_P(StoreContract, SerialsSkipStoredCertificates) {
  const Serial first = store().allocate_serial().value_or(0);
  ASSERT_OK(store().write(one_cert(first + 10)));
  EXPECT_EQ(store().allocate_serial().value_or(0), first + 11);
  ASSERT_OK(store().write(one_cert(first + 5)));  // below the counter: no effect
  EXPECT_EQ(store().allocate_serial().value_or(0), first + 12);
}

TEST_P(StoreContract, SerialsAreDistinctAcrossThreads) {
  std::vector<std::vector<Serial>> got(kThreads);
  run_together([&](int t) {
    for (int i = 0; i < kPerThread; ++i) {
      auto s = store().allocate_serial();
      EXPECT_OK(s);
      got[t].push_back(s.value_or(0));
    }
  });
  std::set<Serial> all;
  for (const auto& v : got) {
    for (std::size_t i = 1; i < v.size(); ++i) EXPECT_LT(v[i - 1], v[i]);  // increasing
    all.insert(v.begin(), v.end());
  }
  EXPECT_EQ(all.size(), std::size_t{kThreads * kPerThread});
  EXPECT_GE(*all.begin(), 2u);
}

TEST_P(StoreContract, SerialsRunOutAtTheMaximum) {
  ASSERT_OK(store().write(one_cert(kMaxSerial - 1)));
  EXPECT_EQ(store().allocate_serial().value_or(0), kMaxSerial);
  EXPECT_CODE(store().allocate_serial(), Code::kInvalidArgument);
  EXPECT_CODE(store().allocate_serial(), Code::kInvalidArgument);
  EXPECT_CODE(store().write(one_cert(kMaxSerial + 1)), Code::kInvalidArgument);
  EXPECT_CODE(store().allocate_serial(), Code::kInvalidArgument);
}

TEST_P(StoreContract, LastSerialIsTheLargestStored) {
  EXPECT_EQ(store().last_serial().value_or(99), 0u);
  const Serial allocated = store().allocate_serial().value_or(0);
  EXPECT_EQ(store().last_serial().value_or(99), 0u);  // allocated is not issued
  WriteBatch b;
  b.put_certificate(make_cert(1));
  b.put_certificate(make_cert(allocated + 7));
  b.put_certificate(make_cert(allocated + 3));
  ASSERT_OK(store().write(b));
  EXPECT_EQ(store().last_serial().value_or(0), allocated + 7);
  WriteBatch failing;  // a failed batch stores nothing
  failing.put_certificate(make_cert(allocated + 100));
  failing.put_certificate(make_cert(1));
  EXPECT_CODE(store().write(failing), Code::kAlreadyExists);
  EXPECT_EQ(store().last_serial().value_or(0), allocated + 7);
}

TEST_P(StoreContract, RequestIdsStartAtOneAndSkipStoredIds) {
  EXPECT_EQ(store().next_request_id().value_or(0), 1);
  EXPECT_EQ(store().next_request_id().value_or(0), 2);
  WriteBatch b;
  b.put_request(make_request(50));
  ASSERT_OK(store().write(b));
  EXPECT_EQ(store().next_request_id().value_or(0), 51);
}

TEST_P(StoreContract, RequestIdsAreDistinctAcrossThreads) {
  std::vector<std::vector<RequestId>> got(kThreads);
  run_together([&](int t) {
    for (int i = 0; i < kPerThread; ++i) {
      auto id = store().next_request_id();
      EXPECT_OK(id);
      got[t].push_back(id.value_or(0));
    }
  });
  std::set<RequestId> all;
  for (const auto& v : got) all.insert(v.begin(), v.end());
  EXPECT_EQ(all.size(), std::size_t{kThreads * kPerThread});
  EXPECT_GE(*all.begin(), 1);
}

TEST_P(StoreContract, RequestIdsRunOut) {
  WriteBatch b;
  b.put_request(make_request(std::numeric_limits<RequestId>::max()));
  ASSERT_OK(store().write(b));
  EXPECT_CODE(store().next_request_id(), Code::kInvalidArgument);
}

TEST_P(StoreContract, DeletedRequestIdsAreNotReused) {
  const RequestId id = store().next_request_id().value_or(0);
  ASSERT_GT(id, 0);
  WriteBatch put;
  put.put_request(make_request(id));
  ASSERT_OK(store().write(put));
  WriteBatch del;
  del.delete_request(id);
  ASSERT_OK(store().write(del));
  EXPECT_GT(store().next_request_id().value_or(0), id);
  if (!can_reopen()) return;
  reopen();
  EXPECT_GT(store().next_request_id().value_or(0), id);
}

TEST_P(StoreContract, ExpiredRequestIdsAreNotReusedAfterRestart) {
  if (!can_reopen()) GTEST_SKIP() << "the engine keeps nothing across a restart";
  WriteBatch b;
  for (RequestId id = 1; id <= 20; ++id) b.put_request(make_request(id));
  ASSERT_OK(store().write(b));
  EXPECT_EQ(store().delete_requests_created_before(from_unix(2'000'000'000)).value_or(0), 20u);
  reopen();
  EXPECT_EQ(store().next_request_id().value_or(0), 21);
}

TEST_P(StoreContract, CommittedSerialsAreNotReusedAfterRestart) {
  if (!can_reopen()) GTEST_SKIP() << "the engine keeps nothing across a restart";
  Serial committed = 0;
  for (int i = 0; i < 3; ++i) {
    committed = store().allocate_serial().value_or(0);
    ASSERT_GE(committed, 2u);
    ASSERT_OK(store().write(one_cert(committed)));
  }
  (void)store().allocate_serial();  // allocated, never committed: may come back
  reopen();
  const Serial next = store().allocate_serial().value_or(0);
  EXPECT_GT(next, committed);
  ASSERT_OK(store().write(one_cert(next)));  // really free
  reopen();
  EXPECT_GT(store().allocate_serial().value_or(0), next);
}

// Databases written before the allocators: the CA recorded its counters in meta.
TEST_P(StoreContract, LegacyCountersAreHonouredAfterRestart) {
  if (!can_reopen()) GTEST_SKIP() << "the engine keeps nothing across a restart";
  WriteBatch b;
  b.put_meta("last_serial", "40");
  b.put_meta("last_request_id", "17");
  b.put_certificate(make_cert(12));
  b.put_request(make_request(9));
  ASSERT_OK(store().write(b));
  reopen();
  EXPECT_EQ(store().allocate_serial().value_or(0), 41u);
  EXPECT_EQ(store().next_request_id().value_or(0), 18);
}

TEST_P(StoreContract, DamagedLegacyCountersAreIgnored) {
  if (!can_reopen()) GTEST_SKIP() << "the engine keeps nothing across a restart";
  WriteBatch b;
  b.put_meta("last_serial", "12x");
  b.put_meta("last_request_id", "");
  b.put_certificate(make_cert(7));
  ASSERT_OK(store().write(b));
  reopen();
  EXPECT_EQ(store().allocate_serial().value_or(0), 8u);
  EXPECT_EQ(store().next_request_id().value_or(0), 1);
}

TEST_P(StoreContract, DeleteMetaIfConsumesTheExpectedValueOnly) {
  WriteBatch setup;
  setup.put_meta("otp", std::string("pw\0x", 4));
  ASSERT_OK(store().write(setup));

  for (const std::string& wrong : {std::string("pw"), std::string("PW\0x", 4), std::string()}) {
    WriteBatch b;
    b.put_certificate(make_cert(5));
    b.delete_meta_if("otp", wrong);
    EXPECT_CODE(store().write(b), Code::kNotFound);
  }
  EXPECT_CODE(store().certificate(5), Code::kNotFound);  // the whole batch failed
  EXPECT_EQ(store().meta("otp")->value_or("?"), std::string("pw\0x", 4));

  WriteBatch use;
  use.delete_meta_if("otp", std::string("pw\0x", 4));
  use.put_certificate(make_cert(5));
  ASSERT_OK(store().write(use));
  EXPECT_FALSE(store().meta("otp")->has_value());
  ASSERT_OK(store().certificate(5));

  WriteBatch again;  // consumed: a second use fails, and so does an absent key
  again.put_certificate(make_cert(6));
  again.delete_meta_if("otp", std::string("pw\0x", 4));
  EXPECT_CODE(store().write(again), Code::kNotFound);
  EXPECT_CODE(store().certificate(6), Code::kNotFound);
}

TEST_P(StoreContract, DeleteMetaIfSeesEarlierOpsOfTheBatch) {
  WriteBatch b;
  b.put_meta("otp", "one");
  b.delete_meta_if("otp", "one");
  b.put_meta("otp", "two");
  ASSERT_OK(store().write(b));
  EXPECT_EQ(store().meta("otp")->value_or("?"), "two");
  WriteBatch twice;
  twice.delete_meta_if("otp", "two");
  twice.delete_meta_if("otp", "two");
  EXPECT_CODE(store().write(twice), Code::kNotFound);
  EXPECT_EQ(store().meta("otp")->value_or("?"), "two");
}

// Concurrent consumers of one one-time password: exactly one batch wins, every round.
TEST_P(StoreContract, DeleteMetaIfRaceHasOneWinner) {
  constexpr int kRounds = 20;
  for (int round = 0; round < kRounds; ++round) {
    const std::string otp = "otp-" + std::to_string(round);
    WriteBatch setup;
    setup.put_meta("otp", otp);
    ASSERT_OK(store().write(setup));
    std::atomic<int> won{0};
    std::atomic<int> lost{0};
    run_together([&](int t) {
      WriteBatch b;
      b.delete_meta_if("otp", otp);
      b.put_request(make_request(round * kThreads + t + 1));
      Status s = store().write(b);
      if (s.ok()) {
        won.fetch_add(1);
      } else {
        EXPECT_EQ(s.code(), Code::kNotFound) << s.to_string();
        lost.fetch_add(1);
      }
    });
    EXPECT_EQ(won.load(), 1) << "round " << round;
    EXPECT_EQ(lost.load(), kThreads - 1);
    EXPECT_FALSE(store().meta("otp")->has_value());
    EXPECT_EQ(store().count_requests({}).value_or(0), static_cast<std::uint64_t>(round + 1));
  }
}

TEST_P(StoreContract, ExpectRequestStateGuardsTheWholeBatch) {
  RequestRecord pending = make_request(4, "t4");
  pending.state = RequestState::kPending;
  WriteBatch setup;
  setup.put_request(pending);
  ASSERT_OK(store().write(setup));

  for (const auto& [id, state] : {std::pair{RequestId{4}, RequestState::kAuthorized},
                                  std::pair{RequestId{5}, RequestState::kPending}}) {
    WriteBatch b;
    b.put_certificate(make_cert(9));
    b.expect_request_state(id, state);
    EXPECT_CODE(store().write(b), Code::kAborted);
  }
  EXPECT_CODE(store().certificate(9), Code::kNotFound);  // the whole batch failed

  // Sees the ops before it in the batch, and guards the ones after.
  WriteBatch grant;
  grant.put_certificate(make_cert(9));
  grant.expect_request_state(4, RequestState::kPending);
  RequestRecord granted = pending;
  granted.state = RequestState::kGranted;
  granted.serial = 9;
  grant.put_request(granted);
  grant.expect_request_state(4, RequestState::kGranted);
  ASSERT_OK(store().write(grant));
  EXPECT_EQ(store().request(4)->state, RequestState::kGranted);

  WriteBatch again;
  again.put_certificate(make_cert(10));
  again.expect_request_state(4, RequestState::kPending);
  EXPECT_CODE(store().write(again), Code::kAborted);
  EXPECT_CODE(store().certificate(10), Code::kNotFound);
}

// Concurrent decisions on one pending request: exactly one lands, every round.
TEST_P(StoreContract, ExpectRequestStateRaceHasOneWinner) {
  constexpr int kRounds = 10;
  for (int round = 0; round < kRounds; ++round) {
    const RequestId id = round + 1;
    RequestRecord pending = make_request(id);
    pending.state = RequestState::kPending;
    WriteBatch setup;
    setup.put_request(pending);
    ASSERT_OK(store().write(setup));
    std::atomic<int> won{0};
    run_together([&](int t) {
      const Serial serial = 100 + static_cast<Serial>(round * kThreads + t);
      WriteBatch b;
      b.put_certificate(make_cert(serial));
      b.expect_request_state(id, RequestState::kPending);
      RequestRecord granted = pending;
      granted.state = RequestState::kGranted;
      granted.serial = serial;
      b.put_request(granted);
      Status s = store().write(b);
      if (s.ok()) {
        won.fetch_add(1);
      } else {
        EXPECT_EQ(s.code(), Code::kAborted) << s.to_string();
      }
    });
    EXPECT_EQ(won.load(), 1) << "round " << round;
  }
  EXPECT_EQ(store().certificate_count().value_or(0), static_cast<std::uint64_t>(kRounds));
}

TEST_P(StoreContract, NotifyIsPartOfABatchAndNeedsNoListener) {
  WriteBatch b;
  b.put_meta("k", "v");
  b.notify("crl:ca");
  ASSERT_OK(store().write(b));
  EXPECT_EQ(store().meta("k")->value_or("?"), "v");
}

}  // namespace
}  // namespace scepter::store
