// The SQLite engine's group commit (group_commit.cpp): queued batches share one commit,
// a failing batch leaves the others alone, write_overlapped() work runs while its batch
// is flushed, and expiry shares the write connection with grouped batches.

#include <atomic>
#include <functional>
#include <stdexcept>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "common/testing.h"
#include "store/sqlite/sqlite_store.h"
#include "store/sqlite/sqlite_test_util.h"
#include "store/test_util.h"

namespace scepter::store {
namespace {

using testing::eventually;
using testing::make_cert;
using testing::make_request;
using testing::one_cert;
using testing::RawConnection;
using testing::TempDir;

// Batches that queue while a commit is in progress go out together in the next one,
// and a failing batch only fails its own caller.
TEST(SqliteStore, QueuedBatchesShareOneCommit) {
  TempDir dir;
  const std::string path = dir.file("ca.ser");
  auto opened = SqliteStore::open(path, {.busy_timeout_ms = 60'000});
  ASSERT_OK(opened);
  SqliteStore& store = **opened;
  RawConnection other(path);
  ASSERT_OK(other.exec("BEGIN IMMEDIATE"));  // holds the first leader in BEGIN

  std::vector<std::thread> threads;
  threads.emplace_back([&] { EXPECT_OK(store.write(one_cert(1))); });
  ASSERT_TRUE(eventually([&] { return store.queued_writes() == 1; }));
  for (Serial s = 2; s <= 6; ++s) {
    threads.emplace_back([&, s] { EXPECT_OK(store.write(one_cert(s))); });
  }
  threads.emplace_back([&] { EXPECT_CODE(store.write(one_cert(1)), Code::kAlreadyExists); });
  threads.emplace_back([&] {
    WriteBatch b;  // fails on its second op: its first must not survive
    b.put_certificate(make_cert(100));
    b.revoke(999, from_unix(1));
    EXPECT_CODE(store.write(b), Code::kNotFound);
  });
  ASSERT_TRUE(eventually([&] { return store.queued_writes() == 8; }));
  ASSERT_OK(other.exec("ROLLBACK"));
  for (auto& t : threads) t.join();

  const StoreStats st = store.stats();
  EXPECT_EQ(st.commits, 2u);  // the first batch alone, then the seven queued behind it
  EXPECT_EQ(st.largest_group, 7u);
  EXPECT_EQ(st.batches_written, 6u);
  EXPECT_EQ(st.batches_failed, 2u);
  EXPECT_EQ(store.certificate_count().value_or(0), 6u);
  EXPECT_CODE(store.certificate(100), Code::kNotFound);
  EXPECT_OK(store.check_integrity());
}

// write_overlapped(): the caller's work runs while its batch is being committed (here,
// held in BEGIN by another connection), and the call returns only once it is durable.
TEST(SqliteStore, OverlappedWorkRunsWhileTheBatchCommits) {
  TempDir dir;
  const std::string path = dir.file("ca.ser");
  auto opened = SqliteStore::open(path, {.busy_timeout_ms = 60'000});
  ASSERT_OK(opened);
  SqliteStore& store = **opened;
  RawConnection other(path);
  ASSERT_OK(other.exec("BEGIN IMMEDIATE"));
  std::atomic<bool> worked{false}, returned{false};
  std::thread writer([&] {
    EXPECT_OK(store.write_overlapped(one_cert(1), [&] {
      // The commit thread is stuck in BEGIN: the batch is queued, not yet stored.
      EXPECT_TRUE(eventually([&] { return store.queued_writes() == 1; }));
      EXPECT_CODE(store.certificate(1), Code::kNotFound);
      worked = true;
    }));
    returned = true;
  });
  ASSERT_TRUE(eventually([&] { return worked.load(); }));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_FALSE(returned.load());  // not before the batch is committed
  ASSERT_OK(other.exec("ROLLBACK"));
  writer.join();
  EXPECT_OK(store.certificate(1));
  EXPECT_EQ(store.stats().commits, 1u);
}

// Work that throws does not take its batch with it: the exception comes out once the
// batch is committed.
TEST(SqliteStore, OverlappedWorkThatThrowsLeavesAfterTheCommit) {
  TempDir dir;
  auto opened = SqliteStore::open(dir.file("ca.ser"));
  ASSERT_OK(opened);
  SqliteStore& store = **opened;
  EXPECT_THROW((void)store.write_overlapped(one_cert(1), [] { throw std::runtime_error("work"); }),
               std::runtime_error);
  EXPECT_OK(store.certificate(1));
  EXPECT_EQ(store.queued_writes(), 0u);
  EXPECT_OK(store.write_overlapped(one_cert(2), [] {}));
}

// Callers of write() and write_overlapped() share commits: whoever leads (a write()
// caller, or the commit thread for the others) takes everyone queued.
TEST(SqliteStore, OverlappedAndPlainWritersShareCommits) {
  constexpr int kThreads = 8;
  constexpr int kBatches = 150;
  TempDir dir;
  auto opened = SqliteStore::open(dir.file("ca.ser"));
  ASSERT_OK(opened);
  SqliteStore& store = **opened;
  std::atomic<int> meanwhiles{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kBatches; ++i) {
        const Serial serial = static_cast<Serial>(i * kThreads + t + 1);
        WriteBatch b;
        b.put_certificate(make_cert(serial));
        if ((t + i) % 2 == 0) {
          EXPECT_OK(store.write(b));
        } else {
          EXPECT_OK(store.write_overlapped(b, [&] { ++meanwhiles; }));
        }
        // Durable and visible on return, whichever way it went.
        EXPECT_OK(store.certificate(serial));
      }
    });
  }
  for (auto& t : threads) t.join();
  constexpr Serial kTotal = kThreads * kBatches;
  EXPECT_EQ(meanwhiles.load(), kTotal / 2);
  EXPECT_EQ(store.certificate_count().value_or(0), kTotal);
  const StoreStats st = store.stats();
  EXPECT_EQ(st.batches_written, kTotal);
  EXPECT_EQ(st.batches_failed, 0u);
  EXPECT_OK(store.check_integrity());
}

TEST(SqliteStore, ConcurrentWritersAreGrouped) {
  constexpr int kThreads = 8;
  constexpr int kBatches = 200;
  TempDir dir;
  auto opened = SqliteStore::open(dir.file("ca.ser"));
  ASSERT_OK(opened);
  SqliteStore& store = **opened;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kBatches; ++i) {
        const Serial serial = static_cast<Serial>(i * kThreads + t + 1);
        WriteBatch b;
        b.put_certificate(make_cert(serial));
        b.put_meta("last_serial", std::to_string(serial));
        EXPECT_OK(store.write(b));
      }
    });
  }
  for (auto& t : threads) t.join();

  constexpr Serial kTotal = kThreads * kBatches;
  EXPECT_EQ(store.certificate_count().value_or(0), kTotal);
  Serial expect = 1;
  ASSERT_OK(store.for_each_certificate([&](const CertRecord& c) {
    EXPECT_EQ(c.serial, expect++);
    return true;
  }));
  EXPECT_EQ(expect, kTotal + 1);
  const StoreStats st = store.stats();
  EXPECT_EQ(st.batches_written, kTotal);
  EXPECT_LE(st.commits, kTotal);
  std::printf("%d threads x %d batches: %llu commits, largest group %llu\n", kThreads, kBatches,
              static_cast<unsigned long long>(st.commits),
              static_cast<unsigned long long>(st.largest_group));
  RecordProperty("commits", static_cast<int>(st.commits));
  EXPECT_OK(store.check_integrity());
}

// Allocation is a counter in memory: it stays cheap however fast it is called, and
// expiry shares the write connection with grouped batches without breaking either.
TEST(SqliteStore, ExpiryRunsBesideGroupedWrites) {
  TempDir dir;
  auto opened = SqliteStore::open(dir.file("ca.ser"));
  ASSERT_OK(opened);
  SqliteStore& store = **opened;
  std::atomic<bool> stop{false};
  std::thread expirer([&] {
    while (!stop.load()) EXPECT_OK(store.delete_requests_created_before(from_unix(1'700'000'100)));
  });
  std::vector<std::thread> writers;
  for (int t = 0; t < 4; ++t) {
    writers.emplace_back([&] {
      for (int i = 0; i < 100; ++i) {
        const RequestId id = store.next_request_id().value_or(0);
        RequestRecord r = make_request(id);  // created 1'700'000'000 + id
        WriteBatch b;
        b.put_request(r);
        EXPECT_OK(store.write(b));
      }
    });
  }
  for (auto& w : writers) w.join();
  stop = true;
  expirer.join();
  ASSERT_OK(store.delete_requests_created_before(from_unix(1'700'000'100)));
  EXPECT_EQ(store.count_requests({}).value_or(0), 301u);  // ids 100..400 remain
  EXPECT_EQ(store.requests_page(0, 1)->front().id, 400);
  EXPECT_OK(store.check_integrity());
}

}  // namespace
}  // namespace scepter::store
