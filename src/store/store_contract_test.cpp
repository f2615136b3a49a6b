// The Store contract (STYLE §5): one suite, run against every engine.

#include <algorithm>
#include <atomic>
#include <functional>
#include <memory>
#include <random>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "common/testing.h"
#include "store/memory/memory_store.h"
#include "store/postgres/pg_store.h"
#include "store/postgres/pg_test_util.h"
#include "store/sqlite/sqlite_store.h"
#include "store/store.h"
#include "store/store_contract.h"
#include "store/test_util.h"

namespace scepter::store {
namespace {

using testing::Engine;
using testing::expect_same;
using testing::make_cert;
using testing::make_request;
using testing::one_cert;
using testing::StoreContract;

Engine make_memory_store() { return {nullptr, std::make_unique<MemoryStore>(), nullptr}; }

Engine make_sqlite_in_memory() {
  auto s = SqliteStore::open(":memory:");
  return {nullptr, s ? std::move(*s) : nullptr, nullptr};
}

Engine make_sqlite_file() {
  auto dir = std::make_unique<testing::TempDir>();
  const std::string path = dir->file("ca.ser");
  auto s = SqliteStore::open(path);
  auto reopen = [path]() -> std::unique_ptr<Store> {
    auto again = SqliteStore::open(path);
    EXPECT_OK(again);
    return again ? std::move(*again) : nullptr;
  };
  return {std::move(dir), s ? std::move(*s) : nullptr, reopen};
}

// A fresh schema on the server of SCEPTER_TEST_POSTGRES per test, dropped with the
// engine. Without the variable the test is skipped: its body does not run, and the
// memory store stands in only to satisfy the fixture.
Engine make_postgres() {
  const std::string base = testing::postgres_test_url();
  if (base.empty()) {
    testing::skip_without_postgres();
    return {nullptr, std::make_unique<MemoryStore>(), nullptr};
  }
  auto schema = testing::PgSchema::create(base);
  if (!schema) {
    ADD_FAILURE() << schema.error().to_string();
    return {};
  }
  std::shared_ptr<testing::PgSchema> owned = std::move(*schema);
  PgOptions options;
  options.max_connections = 4;  // tests run in parallel against one server
  auto open = [owned, options]() -> std::unique_ptr<Store> {
    auto s = PgStore::open(owned->url(), options);
    EXPECT_OK(s);
    return s ? std::move(*s) : nullptr;
  };
  return {nullptr, open(), open};
}

TEST_P(StoreContract, EmptyStore) {
  EXPECT_EQ(store().certificate_count().value_or(99), 0u);
  EXPECT_CODE(store().certificate(1), Code::kNotFound);
  EXPECT_CODE(store().request(1), Code::kNotFound);
  EXPECT_CODE(store().request_by_transaction("tid"), Code::kNotFound);
  ASSERT_OK(store().requests());
  EXPECT_TRUE(store().requests()->empty());
  ASSERT_OK(store().meta("last_serial"));
  EXPECT_FALSE(store().meta("last_serial")->has_value());
  EXPECT_TRUE(serials().empty());
  EXPECT_TRUE(revocations().empty());
}

TEST_P(StoreContract, EmptyBatchIsOk) { EXPECT_OK(store().write(WriteBatch())); }

// write_overlapped() is write() with work beside it: `meanwhile` runs once, whatever
// the batch's fate, and the result is the batch's.
TEST_P(StoreContract, OverlappedWriteRunsItsWorkOnceAndCommits) {
  int runs = 0;
  const std::function<void()> count = [&] { ++runs; };
  EXPECT_OK(store().write_overlapped(WriteBatch(), count));
  EXPECT_EQ(runs, 1);
  EXPECT_OK(store().write_overlapped(one_cert(5), count));
  EXPECT_EQ(runs, 2);
  EXPECT_OK(store().certificate(5));
  EXPECT_CODE(store().write_overlapped(one_cert(5), count), Code::kAlreadyExists);
  EXPECT_EQ(runs, 3);
  EXPECT_OK(store().write_overlapped(one_cert(6), {}));  // nothing beside it: write()
  EXPECT_EQ(store().certificate_count().value_or(0), 2u);
}

TEST_P(StoreContract, CertificateRoundTrips) {
  CertRecord c = make_cert(7);
  c.der = std::string("\x00\x01\xff\x00", 4);
  c.revoked_at = from_unix(1'700'000'123);
  WriteBatch b;
  b.put_certificate(c);
  b.put_certificate(make_cert(8));
  ASSERT_OK(store().write(b));
  auto got = store().certificate(7);
  ASSERT_OK(got);
  expect_same(*got, c);
  ASSERT_OK(store().certificate(8));
  expect_same(*store().certificate(8), make_cert(8));
  EXPECT_EQ(store().certificate_count().value_or(0), 2u);
}

TEST_P(StoreContract, EmptyFieldsRoundTrip) {
  CertRecord c;
  c.serial = 0;
  ASSERT_OK(store().write([&] {
    WriteBatch b;
    b.put_certificate(c);
    return b;
  }()));
  ASSERT_OK(store().certificate(0));
  expect_same(*store().certificate(0), c);
}

TEST_P(StoreContract, DuplicateSerialIsRejected) {
  ASSERT_OK(store().write(one_cert(5)));
  CertRecord other = make_cert(5);
  other.subject = "cn=intruder";
  WriteBatch b;
  b.put_certificate(other);
  EXPECT_CODE(store().write(b), Code::kAlreadyExists);
  EXPECT_EQ(store().certificate(5)->subject, make_cert(5).subject);
  EXPECT_EQ(store().certificate_count().value_or(0), 1u);
}

TEST_P(StoreContract, DuplicateSerialInOneBatchIsRejected) {
  WriteBatch b;
  b.put_certificate(make_cert(5));
  b.put_certificate(make_cert(5));
  EXPECT_CODE(store().write(b), Code::kAlreadyExists);
  EXPECT_CODE(store().certificate(5), Code::kNotFound);
}

TEST_P(StoreContract, SerialRange) {
  ASSERT_OK(store().write(one_cert(kMaxSerial)));
  EXPECT_CODE(store().write(one_cert(kMaxSerial + 1)), Code::kInvalidArgument);
  EXPECT_CODE(store().certificate(kMaxSerial + 1), Code::kNotFound);
  EXPECT_CODE(store().certificate(~Serial{0}), Code::kNotFound);
  WriteBatch b;
  b.revoke(kMaxSerial + 1, from_unix(1));
  EXPECT_CODE(store().write(b), Code::kNotFound);
  EXPECT_EQ(serials(), std::vector<Serial>{kMaxSerial});
}

TEST_P(StoreContract, RevokeMarksCertificate) {
  ASSERT_OK(store().write(one_cert(3)));
  WriteBatch b;
  b.revoke(3, from_unix(1'700'000'500));
  ASSERT_OK(store().write(b));
  EXPECT_EQ(store().certificate(3)->revoked_at, from_unix(1'700'000'500));
  ASSERT_EQ(revocations().size(), 1u);
  EXPECT_EQ(revocations()[0].serial, 3u);
  EXPECT_EQ(revocations()[0].at, from_unix(1'700'000'500));
}

TEST_P(StoreContract, RevokeUnknownSerialIsNotFound) {
  WriteBatch b;
  b.revoke(42, from_unix(1));
  EXPECT_CODE(store().write(b), Code::kNotFound);
}

TEST_P(StoreContract, RevokeTwiceIsAlreadyExists) {
  ASSERT_OK(store().write(one_cert(3)));
  WriteBatch b;
  b.revoke(3, from_unix(10));
  ASSERT_OK(store().write(b));
  WriteBatch again;
  again.revoke(3, from_unix(20));
  EXPECT_CODE(store().write(again), Code::kAlreadyExists);
  EXPECT_EQ(store().certificate(3)->revoked_at, from_unix(10));  // the first date stays

  WriteBatch twice;  // twice in one batch
  twice.put_certificate(make_cert(4));
  twice.revoke(4, from_unix(10));
  twice.revoke(4, from_unix(11));
  EXPECT_CODE(store().write(twice), Code::kAlreadyExists);
  EXPECT_CODE(store().certificate(4), Code::kNotFound);
}

TEST_P(StoreContract, RevokeInTheBatchThatPutsTheCertificate) {
  WriteBatch b;
  b.put_certificate(make_cert(9));
  b.revoke(9, from_unix(77));
  ASSERT_OK(store().write(b));
  EXPECT_EQ(store().certificate(9)->revoked_at, from_unix(77));
}

TEST_P(StoreContract, RevocationsInSerialOrder) {
  WriteBatch b;
  for (Serial s : {9, 2, 5, 7, 3, 1}) b.put_certificate(make_cert(s));
  ASSERT_OK(store().write(b));
  WriteBatch r;
  for (Serial s : {7, 2, 9}) r.revoke(s, from_unix(static_cast<std::int64_t>(s) * 100));
  ASSERT_OK(store().write(r));
  std::vector<Serial> got;
  for (const Revocation& rev : revocations()) {
    got.push_back(rev.serial);
    EXPECT_EQ(rev.at, from_unix(static_cast<std::int64_t>(rev.serial) * 100));
  }
  EXPECT_EQ(got, (std::vector<Serial>{2, 7, 9}));
}

WriteBatch unrevoke_batch(Serial serial) {
  WriteBatch b;
  b.unrevoke(serial);
  return b;
}

TEST_P(StoreContract, UnrevokeClearsTheRevocation) {
  CertRecord c = make_cert(3);
  c.serial_entropy = 0xFEEDFACECAFEBEEF;
  WriteBatch b;
  b.put_certificate(c);
  b.put_certificate(make_cert(4));
  b.revoke(3, from_unix(10));
  b.revoke(4, from_unix(11));
  ASSERT_OK(store().write(b));
  ASSERT_OK(store().write(unrevoke_batch(3)));
  EXPECT_FALSE(store().certificate(3)->revoked_at.has_value());
  ASSERT_EQ(revocations().size(), 1u);
  EXPECT_EQ(revocations()[0].serial, 4u);
  if (can_reopen()) {
    reopen();
    EXPECT_FALSE(store().certificate(3)->revoked_at.has_value());
    EXPECT_EQ(revocations().size(), 1u);
  }
  // A later revoke works again, with its own date and the certificate's entropy.
  WriteBatch again;
  again.revoke(3, from_unix(20));
  ASSERT_OK(store().write(again));
  EXPECT_EQ(store().certificate(3)->revoked_at, from_unix(20));
  ASSERT_EQ(revocations().size(), 2u);
  EXPECT_EQ(revocations()[0].serial, 3u);
  EXPECT_EQ(revocations()[0].at, from_unix(20));
  EXPECT_EQ(revocations()[0].serial_entropy, std::uint64_t{0xFEEDFACECAFEBEEF});
}

TEST_P(StoreContract, UnrevokeUnknownSerialIsNotFound) {
  EXPECT_CODE(store().write(unrevoke_batch(42)), Code::kNotFound);
  EXPECT_CODE(store().write(unrevoke_batch(kMaxSerial + 1)), Code::kNotFound);
}

TEST_P(StoreContract, UnrevokeNotRevokedIsInvalidArgument) {
  ASSERT_OK(store().write(one_cert(3)));
  EXPECT_CODE(store().write(unrevoke_batch(3)), Code::kInvalidArgument);
  EXPECT_TRUE(store().certificate(3).has_value());

  WriteBatch twice;  // twice in one batch: the second finds it not revoked
  twice.revoke(3, from_unix(10));
  twice.unrevoke(3);
  twice.unrevoke(3);
  EXPECT_CODE(store().write(twice), Code::kInvalidArgument);
  EXPECT_FALSE(store().certificate(3)->revoked_at.has_value());
  EXPECT_TRUE(revocations().empty());
}

TEST_P(StoreContract, UnrevokeInTheBatchThatRevokes) {
  WriteBatch b;
  b.put_certificate(make_cert(9));
  b.revoke(9, from_unix(77));
  b.unrevoke(9);
  ASSERT_OK(store().write(b));
  EXPECT_FALSE(store().certificate(9)->revoked_at.has_value());
  EXPECT_TRUE(revocations().empty());
}

TEST_P(StoreContract, FailingBatchKeepsTheRevocation) {
  WriteBatch b;
  b.put_certificate(make_cert(5));
  b.revoke(5, from_unix(50));
  ASSERT_OK(store().write(b));
  WriteBatch failing;
  failing.unrevoke(5);
  failing.unrevoke(404);  // fails: the first unrevoke must be undone
  EXPECT_CODE(store().write(failing), Code::kNotFound);
  EXPECT_EQ(store().certificate(5)->revoked_at, from_unix(50));
  ASSERT_EQ(revocations().size(), 1u);
  EXPECT_EQ(revocations()[0].at, from_unix(50));
}

TEST_P(StoreContract, RequestRoundTripsAndUpserts) {
  RequestRecord r = make_request(1, "tid-1");
  WriteBatch b;
  b.put_request(r);
  ASSERT_OK(store().write(b));
  ASSERT_OK(store().request(1));
  expect_same(*store().request(1), r);

  // Granted: the same id now carries the certificate.
  r.state = RequestState::kGranted;
  r.kind = RequestKind::kRaRollover;
  r.serial = 2;
  r.flags = 0;
  WriteBatch grant;
  grant.put_certificate(make_cert(2));
  grant.put_request(r);
  ASSERT_OK(store().write(grant));
  expect_same(*store().request(1), r);
  EXPECT_EQ(store().requests()->size(), 1u);
}

TEST_P(StoreContract, RequestMustReferToAStoredCertificate) {
  RequestRecord r = make_request(1);
  r.serial = 99;
  WriteBatch b;
  b.put_request(r);
  EXPECT_CODE(store().write(b), Code::kInvalidArgument);
  EXPECT_CODE(store().request(1), Code::kNotFound);
}

TEST_P(StoreContract, DeleteRequest) {
  WriteBatch b;
  b.put_request(make_request(1));
  b.put_request(make_request(2));
  ASSERT_OK(store().write(b));
  WriteBatch del;
  del.delete_request(1);
  del.delete_request(12345);  // unknown ids are not an error
  ASSERT_OK(store().write(del));
  EXPECT_CODE(store().request(1), Code::kNotFound);
  ASSERT_OK(store().request(2));
  EXPECT_EQ(store().requests()->size(), 1u);
}

TEST_P(StoreContract, RequestByTransactionReturnsTheNewest) {
  WriteBatch b;
  b.put_request(make_request(3, "abc"));
  b.put_request(make_request(4, "other"));
  b.put_request(make_request(6, ""));
  b.put_request(make_request(7, ""));
  ASSERT_OK(store().write(b));
  EXPECT_EQ(store().request_by_transaction("abc")->id, 3);
  EXPECT_EQ(store().request_by_transaction("other")->id, 4);
  EXPECT_CODE(store().request_by_transaction("ABC"), Code::kNotFound);
  EXPECT_CODE(store().request_by_transaction(""), Code::kNotFound);
  WriteBatch newer;
  newer.put_request(make_request(5, "abc"));
  if (store().shared()) {
    // One request per transaction where several processes write (put_request).
    EXPECT_CODE(store().write(newer), Code::kAlreadyExists);
    EXPECT_EQ(store().request_by_transaction("abc")->id, 3);
    return;
  }
  ASSERT_OK(store().write(newer));
  EXPECT_EQ(store().request_by_transaction("abc")->id, 5);
  WriteBatch del;
  del.delete_request(5);
  ASSERT_OK(store().write(del));
  EXPECT_EQ(store().request_by_transaction("abc")->id, 3);
}

TEST_P(StoreContract, RequestsNewestFirst) {
  WriteBatch b;
  for (RequestId id : {4, 1, 9, 2}) b.put_request(make_request(id));
  ASSERT_OK(store().write(b));
  auto all = store().requests();
  ASSERT_OK(all);
  std::vector<RequestId> ids;
  for (const auto& r : *all) ids.push_back(r.id);
  EXPECT_EQ(ids, (std::vector<RequestId>{9, 4, 2, 1}));
  expect_same(all->front(), make_request(9));
}

TEST_P(StoreContract, MetaPutOverwriteDelete) {
  WriteBatch b;
  b.put_meta("last_serial", "1");
  b.put_meta("blob", std::string("\x00\xff\x00", 3));
  b.put_meta("empty", "");
  ASSERT_OK(store().write(b));
  EXPECT_EQ(store().meta("last_serial")->value_or("?"), "1");
  EXPECT_EQ(store().meta("blob")->value_or("?"), std::string("\x00\xff\x00", 3));
  EXPECT_EQ(store().meta("empty")->value_or("?"), "");  // present, and empty

  WriteBatch c;
  c.put_meta("last_serial", "2");
  c.delete_meta("blob");
  c.delete_meta("never-set");
  ASSERT_OK(store().write(c));
  EXPECT_EQ(store().meta("last_serial")->value_or("?"), "2");
  EXPECT_FALSE(store().meta("blob")->has_value());
}

TEST_P(StoreContract, FailingOpRollsBackTheWholeBatch) {
  WriteBatch setup;
  setup.put_meta("last_serial", "1");
  setup.put_request(make_request(1, "t1"));
  setup.put_request(make_request(2, "t2"));
  setup.put_certificate(make_cert(1));
  ASSERT_OK(store().write(setup));

  RequestRecord changed = make_request(1, "t1");
  changed.state = RequestState::kGranted;
  changed.serial = 2;
  WriteBatch b;
  b.put_meta("last_serial", "2");
  b.put_meta("crl_number", "7");
  b.put_certificate(make_cert(2));
  b.put_request(changed);
  b.put_request(make_request(3));
  b.delete_request(2);
  b.delete_meta("last_serial");
  b.revoke(1, from_unix(5));
  b.revoke(404, from_unix(5));  // fails: everything above must be undone
  EXPECT_CODE(store().write(b), Code::kNotFound);

  EXPECT_EQ(store().meta("last_serial")->value_or("?"), "1");
  EXPECT_FALSE(store().meta("crl_number")->has_value());
  EXPECT_CODE(store().certificate(2), Code::kNotFound);
  EXPECT_FALSE(store().certificate(1)->revoked_at.has_value());
  expect_same(*store().request(1), make_request(1, "t1"));
  ASSERT_OK(store().request(2));
  EXPECT_CODE(store().request(3), Code::kNotFound);
  EXPECT_EQ(store().certificate_count().value_or(0), 1u);
  EXPECT_TRUE(revocations().empty());

  // The store still works after the failure.
  ASSERT_OK(store().write(one_cert(2)));
  EXPECT_EQ(store().certificate_count().value_or(0), 2u);
}

TEST_P(StoreContract, IterationIsInSerialOrderAcrossChunks) {
  std::vector<Serial> want;
  for (Serial s = 1; s <= 1500; ++s) want.push_back(s * 3);
  std::vector<Serial> shuffled = want;
  std::shuffle(shuffled.begin(), shuffled.end(), std::mt19937(42));
  WriteBatch b;
  for (Serial s : shuffled) b.put_certificate(make_cert(s));
  ASSERT_OK(store().write(b));
  EXPECT_EQ(serials(), want);
  EXPECT_EQ(store().certificate_count().value_or(0), want.size());

  WriteBatch r;
  for (Serial s : shuffled) {
    if (s % 2 == 0) r.revoke(s, from_unix(1));
  }
  ASSERT_OK(store().write(r));
  std::vector<Serial> revoked;
  for (const Revocation& rev : revocations()) revoked.push_back(rev.serial);
  std::vector<Serial> want_revoked;
  std::copy_if(want.begin(), want.end(), std::back_inserter(want_revoked),
               [](Serial s) { return s % 2 == 0; });
  EXPECT_EQ(revoked, want_revoked);
}

TEST_P(StoreContract, IterationStopsEarly) {
  WriteBatch b;
  for (Serial s = 1; s <= 600; ++s) b.put_certificate(make_cert(s));
  ASSERT_OK(store().write(b));
  for (int stop_after : {1, 10, 256, 257, 599}) {
    int visited = 0;
    ASSERT_OK(store().for_each_certificate([&](const CertRecord& c) {
      ++visited;
      EXPECT_EQ(c.serial, static_cast<Serial>(visited));
      return visited < stop_after;
    }));
    EXPECT_EQ(visited, stop_after);
  }
}

TEST_P(StoreContract, CallbacksMayUseTheStore) {
  WriteBatch b;
  for (Serial s = 1; s <= 300; ++s) b.put_certificate(make_cert(s));
  ASSERT_OK(store().write(b));
  ASSERT_OK(store().for_each_certificate([&](const CertRecord& c) {
    WriteBatch r;
    r.revoke(c.serial, from_unix(1));
    EXPECT_OK(store().write(r));
    EXPECT_OK(store().certificate(c.serial));
    return true;
  }));
  int n = 0;
  ASSERT_OK(store().for_each_revocation([&](const Revocation& rev) {
    ++n;
    EXPECT_OK(store().certificate(rev.serial));
  }));
  EXPECT_EQ(n, 300);
}

TEST_P(StoreContract, StatsCountBatches) {
  ASSERT_OK(store().write(one_cert(1)));
  EXPECT_CODE(store().write(one_cert(1)), Code::kAlreadyExists);
  const StoreStats st = store().stats();
  EXPECT_EQ(st.batches_written, 1u);
  EXPECT_EQ(st.batches_failed, 1u);
  EXPECT_EQ(st.commits, 1u);
}

TEST_P(StoreContract, ConcurrentWritersAndReaders) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 50;
  std::atomic<bool> stop{false};
  std::thread reader([&] {
    while (!stop.load()) {
      EXPECT_OK(store().certificate_count());
      EXPECT_OK(store().requests());
    }
  });
  std::vector<std::thread> writers;
  for (int t = 0; t < kThreads; ++t) {
    writers.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const Serial s = static_cast<Serial>(t * kPerThread + i + 1);
        WriteBatch b;
        b.put_certificate(make_cert(s));
        b.put_request(make_request(static_cast<RequestId>(s)));
        EXPECT_OK(store().write(b));
        EXPECT_CODE(store().write(one_cert(s)), Code::kAlreadyExists);
      }
    });
  }
  for (auto& w : writers) w.join();
  stop = true;
  reader.join();
  EXPECT_EQ(store().certificate_count().value_or(0), Serial{kThreads * kPerThread});
  EXPECT_EQ(serials().size(), Serial{kThreads * kPerThread});
  EXPECT_EQ(store().requests()->size(), Serial{kThreads * kPerThread});
  EXPECT_EQ(store().stats().batches_failed, Serial{kThreads * kPerThread});
}

INSTANTIATE_TEST_SUITE_P(Memory, StoreContract, ::testing::Values(&make_memory_store));
INSTANTIATE_TEST_SUITE_P(SqliteInMemory, StoreContract, ::testing::Values(&make_sqlite_in_memory));
INSTANTIATE_TEST_SUITE_P(SqliteFile, StoreContract, ::testing::Values(&make_sqlite_file));
INSTANTIATE_TEST_SUITE_P(Postgres, StoreContract, ::testing::Values(&make_postgres));

}  // namespace
}  // namespace scepter::store
