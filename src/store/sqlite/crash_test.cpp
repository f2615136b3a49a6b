// Durability: a child process writes batches from several threads and reports each
// serial on a pipe once write() has returned OK; the parent SIGKILLs it at a random
// moment, reopens the file and checks that every reported serial is there, intact.

#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "common/testing.h"
#include "store/sqlite/sqlite_store.h"
#include "store/test_util.h"

namespace scepter::store {
namespace {

using testing::make_cert;
using testing::make_request;
using testing::TempDir;

constexpr int kWriterThreads = 4;

// The child: never returns. Serials start at `first`; every 5th batch also revokes
// the previous certificate of the same thread and records a request.
[[noreturn]] void run_child(const std::string& path, Serial first, int out_fd) {
  auto opened = SqliteStore::open(path);
  if (!opened) {
    std::fprintf(stderr, "child: %s\n", opened.error().to_string().c_str());
    ::_exit(2);
  }
  SqliteStore& store = **opened;
  std::atomic<Serial> next{first};
  std::vector<std::thread> threads;
  for (int t = 0; t < kWriterThreads; ++t) {
    threads.emplace_back([&] {
      Serial previous = 0;
      for (int i = 0;; ++i) {
        const Serial serial = next.fetch_add(1);
        WriteBatch b;
        b.put_certificate(make_cert(serial));
        b.put_meta("last_serial", std::to_string(serial));
        if (i % 5 == 4 && previous != 0) {
          b.revoke(previous, from_unix(1'700'000'000));
          RequestRecord r = make_request(static_cast<RequestId>(serial), "tid");
          r.serial = serial;
          b.put_request(r);
        }
        Status s = store.write(b);
        if (!s.ok()) {
          std::fprintf(stderr, "child: %s\n", s.to_string().c_str());
          ::_exit(3);
        }
        // One write of 8 bytes is atomic on a pipe: the parent never sees half a serial.
        if (::write(out_fd, &serial, sizeof serial) != sizeof serial) ::_exit(4);
        previous = serial;
      }
    });
  }
  for (auto& t : threads) t.join();
  ::_exit(5);
}

TEST(SqliteCrash, SigkillLosesNothingReported) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  const std::string path = dir.file("ca.ser");
  const unsigned seed = std::random_device()();
  std::mt19937 rng(seed);
  SCOPED_TRACE("seed " + std::to_string(seed));

  std::set<Serial> reported;
  Serial first = 1;
  for (int round = 0; round < 4; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::close(fds[0]);
      run_child(path, first, fds[1]);
    }
    ::close(fds[1]);

    // Kill after a random number of acknowledged writes (the kill lands at a random
    // point of a later commit: in a statement, in the WAL write, in fsync, in a
    // checkpoint...).
    const int kill_after = std::uniform_int_distribution<int>(1, 1500)(rng);
    Serial serial = 0;
    int seen = 0;
    while (seen < kill_after && ::read(fds[0], &serial, sizeof serial) == sizeof serial) {
      reported.insert(serial);
      ++seen;
    }
    std::this_thread::sleep_for(
        std::chrono::microseconds(std::uniform_int_distribution<int>(0, 2000)(rng)));
    ::kill(pid, SIGKILL);
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(status)) << "child exited on its own, status " << status;
    while (::read(fds[0], &serial, sizeof serial) == sizeof serial) reported.insert(serial);
    ::close(fds[0]);
    ASSERT_GT(seen, 0);

    // Reopen after the crash: recovery from the WAL happens here.
    auto opened = SqliteStore::open(path);
    ASSERT_OK(opened);
    SqliteStore& store = **opened;
    ASSERT_OK(store.check_integrity());
    std::uint64_t rows = 0;
    Serial last = 0;
    Serial highest = 0;
    ASSERT_OK(store.for_each_certificate([&](const CertRecord& c) {
      EXPECT_TRUE(rows == 0 || c.serial > last) << "serials out of order or repeated";
      EXPECT_EQ(c.der, make_cert(c.serial).der);
      last = c.serial;
      highest = std::max(highest, c.serial);
      ++rows;
      return true;
    }));
    EXPECT_EQ(store.certificate_count().value_or(0), rows);
    for (Serial s : reported) {
      ASSERT_OK(store.certificate(s)) << "serial " << s << " was reported written";
    }
    ASSERT_OK(store.meta("last_serial"));
    EXPECT_TRUE(store.meta("last_serial")->has_value());
    std::uint64_t revoked = 0;
    ASSERT_OK(store.for_each_revocation([&](const Revocation&) { ++revoked; }));
    for (const RequestRecord& r : store.requests().value_or(std::vector<RequestRecord>{})) {
      ASSERT_TRUE(r.serial.has_value());
      EXPECT_OK(store.certificate(*r.serial));
    }
    std::printf("round %d: killed after %d acks; %zu reported, %llu stored, %llu revoked\n", round,
                kill_after, reported.size(), static_cast<unsigned long long>(rows),
                static_cast<unsigned long long>(revoked));
    // Every serial the child reported is behind the allocator after the restart.
    const Serial next = store.allocate_serial().value_or(0);
    EXPECT_GT(next, highest);
    if (!reported.empty()) {
      EXPECT_GT(next, *reported.rbegin());
    }
    first = highest + 1;  // the next child goes on where this one stopped
  }
}

}  // namespace
}  // namespace scepter::store
