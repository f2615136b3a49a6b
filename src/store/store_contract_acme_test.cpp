// The Store contract, continued: ACME records (WriteBatch::put_acme / delete_acme and the
// Store's acme* reads), with their compare-and-set on the version.

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "common/testing.h"
#include "store/store.h"
#include "store/store_contract.h"
#include "store/test_util.h"

namespace scepter::store {
namespace {

using testing::expect_same;
using testing::make_acme;
using testing::make_cert;
using testing::StoreContract;

Status put(Store& store, const AcmeRecord& rec) {
  WriteBatch b;
  b.put_acme(rec);
  return store.write(b);
}

std::vector<std::string> ids_of(const std::vector<AcmeRecord>& rs) {
  std::vector<std::string> out;
  for (const auto& r : rs) out.push_back(r.id);
  return out;
}

std::vector<std::string> walk(Store& store, AcmeKind kind) {
  std::vector<std::string> out;
  EXPECT_OK(store.for_each_acme(kind, [&](const AcmeRecord& r) {
    out.push_back(r.id);
    return true;
  }));
  return out;
}

TEST_P(StoreContract, AcmeRecordRoundTrips) {
  EXPECT_CODE(store().acme(AcmeKind::kAccount, "a1"), Code::kNotFound);
  EXPECT_EQ(store().count_acme(AcmeKind::kAccount).value_or(99), 0u);

  AcmeRecord account = make_acme(AcmeKind::kAccount, "a1");
  account.body = std::string("{\"k\":\"\0\xff\"}", 10);  // bytes, not text
  account.expires = from_unix(1'800'000'000);
  AcmeRecord order = make_acme(AcmeKind::kOrder, "o1", "a1");
  ASSERT_OK(put(store(), account));
  ASSERT_OK(put(store(), order));

  auto got = store().acme(AcmeKind::kAccount, "a1");
  ASSERT_OK(got);
  account.version = 1;  // as stored
  expect_same(*got, account);
  got = store().acme(AcmeKind::kOrder, "o1");
  ASSERT_OK(got);
  order.version = 1;
  expect_same(*got, order);
  EXPECT_EQ(got->expires, TimePoint{});
  // Kinds are separate key spaces.
  EXPECT_CODE(store().acme(AcmeKind::kOrder, "a1"), Code::kNotFound);
  EXPECT_CODE(store().acme(AcmeKind::kAuthorization, "o1"), Code::kNotFound);
  EXPECT_EQ(store().count_acme(AcmeKind::kAccount).value_or(0), 1u);
  EXPECT_EQ(store().count_acme(AcmeKind::kOrder).value_or(0), 1u);
  EXPECT_EQ(store().count_acme(AcmeKind::kAccountKey).value_or(99), 0u);

  if (!can_reopen()) return;
  reopen();
  got = store().acme(AcmeKind::kAccount, "a1");
  ASSERT_OK(got);
  expect_same(*got, account);
}

TEST_P(StoreContract, AcmeInsertOfAStoredRecordIsAlreadyExists) {
  ASSERT_OK(put(store(), make_acme(AcmeKind::kAccountKey, "thumb", "a1")));
  AcmeRecord again = make_acme(AcmeKind::kAccountKey, "thumb", "a2");
  EXPECT_CODE(put(store(), again), Code::kAlreadyExists);
  EXPECT_EQ(store().acme(AcmeKind::kAccountKey, "thumb")->owner, "a1");
  // Twice in one batch: the second fails the batch, and nothing of it lands.
  WriteBatch b;
  b.put_acme(make_acme(AcmeKind::kAccountKey, "other", "a3"));
  b.put_acme(make_acme(AcmeKind::kAccountKey, "other", "a3"));
  EXPECT_CODE(store().write(b), Code::kAlreadyExists);
  EXPECT_CODE(store().acme(AcmeKind::kAccountKey, "other"), Code::kNotFound);
}

TEST_P(StoreContract, AcmeUpdateIsACompareAndSet) {
  ASSERT_OK(put(store(), make_acme(AcmeKind::kOrder, "o1", "a1")));
  AcmeRecord read = *store().acme(AcmeKind::kOrder, "o1");
  ASSERT_EQ(read.version, 1);

  AcmeRecord ready = read;
  ready.body = "{\"status\":\"ready\"}";
  ready.expires = from_unix(1'700'000'100);
  ASSERT_OK(put(store(), ready));
  AcmeRecord now = *store().acme(AcmeKind::kOrder, "o1");
  EXPECT_EQ(now.version, 2);
  EXPECT_EQ(now.body, "{\"status\":\"ready\"}");
  EXPECT_EQ(now.expires, from_unix(1'700'000'100));

  // A writer that read version 1 lost: someone changed the record since.
  AcmeRecord stale = read;
  stale.body = "{\"status\":\"invalid\"}";
  EXPECT_CODE(put(store(), stale), Code::kAborted);
  EXPECT_EQ(store().acme(AcmeKind::kOrder, "o1")->body, "{\"status\":\"ready\"}");
  AcmeRecord ahead = now;
  ahead.version = 7;
  EXPECT_CODE(put(store(), ahead), Code::kAborted);

  // Re-read, then it works; the version goes on counting.
  ASSERT_OK(put(store(), now));
  EXPECT_EQ(store().acme(AcmeKind::kOrder, "o1")->version, 3);

  // A version of a record that is not (or no longer) there.
  AcmeRecord ghost = make_acme(AcmeKind::kOrder, "ghost", "a1");
  ghost.version = 1;
  EXPECT_CODE(put(store(), ghost), Code::kNotFound);
  EXPECT_CODE(store().acme(AcmeKind::kOrder, "ghost"), Code::kNotFound);

  // Two updates of one record in one batch: the second sees the first's version.
  AcmeRecord v3 = *store().acme(AcmeKind::kOrder, "o1");
  AcmeRecord v4 = v3;
  v4.version = 4;
  v4.body = "{\"status\":\"valid\"}";
  WriteBatch twice;
  twice.put_acme(v3);
  twice.put_acme(v4);
  ASSERT_OK(store().write(twice));
  AcmeRecord v5 = *store().acme(AcmeKind::kOrder, "o1");
  EXPECT_EQ(v5.version, 5);
  EXPECT_EQ(v5.body, "{\"status\":\"valid\"}");
}

TEST_P(StoreContract, AcmeFailedOpFailsTheWholeBatch) {
  ASSERT_OK(put(store(), make_acme(AcmeKind::kAuthorization, "z1", "a1")));
  ASSERT_OK(put(store(), make_acme(AcmeKind::kAuthorization, "z3", "a1")));
  AcmeRecord stale = *store().acme(AcmeKind::kAuthorization, "z1");
  ASSERT_OK(put(store(), stale));  // now at version 2

  WriteBatch b;
  b.put_certificate(make_cert(5));
  b.put_acme(make_acme(AcmeKind::kAuthorization, "z2", "a1"));
  b.delete_acme(AcmeKind::kAuthorization, "z3");
  b.put_acme(stale);  // version 1: fails
  EXPECT_CODE(store().write(b), Code::kAborted);
  EXPECT_CODE(store().certificate(5), Code::kNotFound);
  EXPECT_CODE(store().acme(AcmeKind::kAuthorization, "z2"), Code::kNotFound);
  EXPECT_EQ(store().acme(AcmeKind::kAuthorization, "z1")->version, 2);
  EXPECT_OK(store().acme(AcmeKind::kAuthorization, "z3"));
  EXPECT_EQ(store().count_acme(AcmeKind::kAuthorization).value_or(0), 2u);

  // An op sees the earlier ones: after deleting the record, its update is kNotFound.
  WriteBatch gone;
  gone.delete_acme(AcmeKind::kAuthorization, "z1");
  gone.put_acme(*store().acme(AcmeKind::kAuthorization, "z1"));
  EXPECT_CODE(store().write(gone), Code::kNotFound);
  EXPECT_OK(store().acme(AcmeKind::kAuthorization, "z1"));
}

TEST_P(StoreContract, AcmeBoundsAreInvalidArgument) {
  const std::string max128(128, 'x');
  AcmeRecord biggest = make_acme(AcmeKind::kOrder, max128, max128);
  biggest.body = std::string(64 * 1024, '\x01');
  ASSERT_OK(put(store(), biggest));
  auto got = store().acme(AcmeKind::kOrder, max128);
  ASSERT_OK(got);
  EXPECT_EQ(got->body.size(), 64u * 1024);
  EXPECT_EQ(got->owner, max128);

  const std::string over(129, 'y');
  AcmeRecord long_id = make_acme(AcmeKind::kOrder, over);
  AcmeRecord long_owner = make_acme(AcmeKind::kOrder, "o", over);
  AcmeRecord big_body = make_acme(AcmeKind::kOrder, "o2");
  big_body.body = std::string(64 * 1024 + 1, 'b');
  for (const AcmeRecord& bad : {long_id, long_owner, big_body}) {
    WriteBatch b;
    b.put_acme(make_acme(AcmeKind::kOrder, "fine"));
    b.put_acme(bad);
    EXPECT_CODE(store().write(b), Code::kInvalidArgument) << bad.id;
  }
  // The same bounds for an update.
  AcmeRecord update = *got;
  update.body = big_body.body;
  EXPECT_CODE(put(store(), update), Code::kInvalidArgument);
  EXPECT_CODE(store().acme(AcmeKind::kOrder, "fine"), Code::kNotFound);
  EXPECT_EQ(store().count_acme(AcmeKind::kOrder).value_or(0), 1u);
}

TEST_P(StoreContract, AcmeDeleteOfUnknownIsFine) {
  WriteBatch b;
  b.delete_acme(AcmeKind::kAccount, "nobody");
  ASSERT_OK(store().write(b));
  ASSERT_OK(put(store(), make_acme(AcmeKind::kAccount, "a1")));
  WriteBatch del;
  del.delete_acme(AcmeKind::kOrder, "a1");  // another kind: not this one
  ASSERT_OK(store().write(del));
  EXPECT_OK(store().acme(AcmeKind::kAccount, "a1"));
  WriteBatch del2;
  del2.delete_acme(AcmeKind::kAccount, "a1");
  ASSERT_OK(store().write(del2));
  EXPECT_CODE(store().acme(AcmeKind::kAccount, "a1"), Code::kNotFound);
  // Gone, it can be inserted again (version 0), starting over at version 1.
  ASSERT_OK(put(store(), make_acme(AcmeKind::kAccount, "a1")));
  EXPECT_EQ(store().acme(AcmeKind::kAccount, "a1")->version, 1);
}

TEST_P(StoreContract, AcmeByOwnerInIdOrderWithLimit) {
  WriteBatch b;
  for (const char* id : {"o5", "o1", "o3", "o2", "o4"}) {
    b.put_acme(make_acme(AcmeKind::kOrder, id, "a1"));
  }
  b.put_acme(make_acme(AcmeKind::kOrder, "o0", "a2"));
  b.put_acme(make_acme(AcmeKind::kAuthorization, "o9", "a1"));  // another kind
  ASSERT_OK(store().write(b));

  auto all = store().acme_by_owner(AcmeKind::kOrder, "a1", 100);
  ASSERT_OK(all);
  EXPECT_EQ(ids_of(*all), (std::vector<std::string>{"o1", "o2", "o3", "o4", "o5"}));
  expect_same(all->front(), *store().acme(AcmeKind::kOrder, "o1"));
  EXPECT_EQ(ids_of(*store().acme_by_owner(AcmeKind::kOrder, "a1", 2)),
            (std::vector<std::string>{"o1", "o2"}));
  EXPECT_TRUE(store().acme_by_owner(AcmeKind::kOrder, "a1", 0)->empty());
  EXPECT_EQ(ids_of(*store().acme_by_owner(AcmeKind::kOrder, "a2", 10)),
            (std::vector<std::string>{"o0"}));
  EXPECT_TRUE(store().acme_by_owner(AcmeKind::kOrder, "a3", 10)->empty());
  EXPECT_EQ(ids_of(*store().acme_by_owner(AcmeKind::kAuthorization, "a1", 10)),
            (std::vector<std::string>{"o9"}));

  // An owner change moves the record.
  AcmeRecord moved = *store().acme(AcmeKind::kOrder, "o3");
  moved.owner = "a2";
  ASSERT_OK(put(store(), moved));
  EXPECT_EQ(ids_of(*store().acme_by_owner(AcmeKind::kOrder, "a2", 10)),
            (std::vector<std::string>{"o0", "o3"}));
  EXPECT_EQ(store().acme_by_owner(AcmeKind::kOrder, "a1", 10)->size(), 4u);
}

// More records than any engine reads per chunk, and a callback that writes.
TEST_P(StoreContract, AcmeWalkIsChunkedAndInIdOrder) {
  constexpr int kCount = 300;
  WriteBatch b;
  std::vector<std::string> want;
  for (int i = 0; i < kCount; ++i) {
    want.push_back(fmt::format("id{:04}", i));
    b.put_acme(make_acme(AcmeKind::kAuthorization, want.back(), "a1"));
  }
  b.put_acme(make_acme(AcmeKind::kOrder, "id0000x", "a1"));  // another kind
  ASSERT_OK(store().write(b));
  EXPECT_EQ(walk(store(), AcmeKind::kAuthorization), want);
  EXPECT_EQ(walk(store(), AcmeKind::kOrder), (std::vector<std::string>{"id0000x"}));
  EXPECT_TRUE(walk(store(), AcmeKind::kAccount).empty());
  EXPECT_EQ(store().count_acme(AcmeKind::kAuthorization).value_or(0),
            static_cast<std::uint64_t>(kCount));

  int seen = 0;
  ASSERT_OK(store().for_each_acme(AcmeKind::kAuthorization, [&](const AcmeRecord& r) {
    ++seen;
    return r.id != "id0009";
  }));
  EXPECT_EQ(seen, 10);

  // The callback may write to the store: no lock is held.
  int updated = 0;
  ASSERT_OK(store().for_each_acme(AcmeKind::kAuthorization, [&](const AcmeRecord& r) {
    AcmeRecord next = r;
    next.body = "{\"status\":\"valid\"}";
    EXPECT_OK(put(store(), next));
    ++updated;
    return true;
  }));
  EXPECT_EQ(updated, kCount);
  EXPECT_EQ(store().acme(AcmeKind::kAuthorization, "id0299")->version, 2);
}

TEST_P(StoreContract, AcmeExpiredRecordsAreDeleted) {
  const TimePoint now = from_unix(1'750'000'000);
  AcmeRecord forever = make_acme(AcmeKind::kOrder, "forever", "a1");
  AcmeRecord old = make_acme(AcmeKind::kOrder, "old", "a1");
  old.expires = now - std::chrono::hours(1);
  AcmeRecord at_now = make_acme(AcmeKind::kAuthorization, "at-now", "a1");
  at_now.expires = now;  // not strictly before
  AcmeRecord later = make_acme(AcmeKind::kAuthorization, "later", "a1");
  later.expires = now + std::chrono::hours(1);
  AcmeRecord older = make_acme(AcmeKind::kAuthorization, "older", "a1");
  older.expires = from_unix(1);
  WriteBatch b;
  for (const AcmeRecord& r : {forever, old, at_now, later, older}) b.put_acme(r);
  ASSERT_OK(store().write(b));

  auto n = store().delete_acme_expired(now);
  ASSERT_OK(n);
  EXPECT_EQ(*n, 2u);
  EXPECT_OK(store().acme(AcmeKind::kOrder, "forever"));
  EXPECT_CODE(store().acme(AcmeKind::kOrder, "old"), Code::kNotFound);
  EXPECT_CODE(store().acme(AcmeKind::kAuthorization, "older"), Code::kNotFound);
  EXPECT_OK(store().acme(AcmeKind::kAuthorization, "at-now"));
  EXPECT_OK(store().acme(AcmeKind::kAuthorization, "later"));
  EXPECT_EQ(store().delete_acme_expired(now).value_or(99), 0u);
  EXPECT_EQ(store().delete_acme_expired(now + std::chrono::hours(2)).value_or(0), 2u);
  EXPECT_EQ(store().count_acme(AcmeKind::kAuthorization).value_or(99), 0u);
  EXPECT_EQ(store().count_acme(AcmeKind::kOrder).value_or(0), 1u);  // never expires
  if (!can_reopen()) return;
  reopen();
  EXPECT_OK(store().acme(AcmeKind::kOrder, "forever"));
  EXPECT_CODE(store().acme(AcmeKind::kAuthorization, "later"), Code::kNotFound);
}

// Threads of one process racing a compare-and-set from one version: exactly one wins,
// whatever the engine's grouping of batches.
TEST_P(StoreContract, AcmeConcurrentCompareAndSetHasOneWinner) {
  ASSERT_OK(put(store(), make_acme(AcmeKind::kOrder, "race", "a1")));
  const AcmeRecord read = *store().acme(AcmeKind::kOrder, "race");
  constexpr int kThreads = 8;
  std::atomic<int> won{0};
  std::atomic<int> lost{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      AcmeRecord mine = read;
      mine.body = fmt::format("{{\"winner\":{}}}", i);
      const Status s = put(store(), mine);
      if (s.ok()) {
        ++won;
      } else if (s.code() == Code::kAborted) {
        ++lost;
      } else {
        ADD_FAILURE() << s.to_string();
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(won.load(), 1);
  EXPECT_EQ(lost.load(), kThreads - 1);
  EXPECT_EQ(store().acme(AcmeKind::kOrder, "race")->version, 2);
}

}  // namespace
}  // namespace scepter::store
