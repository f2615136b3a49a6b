// The bounded queue of the worker pool.

#include "http/worker_pool.h"

#include <atomic>
#include <future>

#include <gtest/gtest.h>

namespace scepter::http::detail {
namespace {

TEST(WorkerPool, TryPostBoundsWaitingJobs) {
  WorkerPool pool(2);
  std::promise<void> release;
  std::shared_future<void> gate = release.get_future().share();
  std::atomic<int> ran{0};
  const auto blocked = [&] {
    gate.wait();
    ++ran;
  };
  // Two threads plus one waiting place: the fourth job is refused at once, whether or not
  // the threads have picked up the first two yet.
  EXPECT_TRUE(pool.try_post(blocked, 1));
  EXPECT_TRUE(pool.try_post(blocked, 1));
  EXPECT_TRUE(pool.try_post(blocked, 1));
  EXPECT_FALSE(pool.try_post(blocked, 1));
  std::promise<void> done;
  release.set_value();
  // FIFO on two threads: once this job runs, all three before it have at least started.
  pool.post([&] { done.set_value(); });
  done.get_future().wait();
  EXPECT_EQ(pool.shutdown(std::chrono::steady_clock::now() + std::chrono::seconds(30)), 0u);
  EXPECT_EQ(ran, 3);
}

TEST(WorkerPool, NoWaitingRoom) {
  WorkerPool pool(1);
  std::promise<void> release;
  std::shared_future<void> gate = release.get_future().share();
  EXPECT_TRUE(pool.try_post([gate] { gate.wait(); }, 0));
  EXPECT_FALSE(pool.try_post([] {}, 0));
  release.set_value();
  pool.shutdown(std::chrono::steady_clock::now() + std::chrono::seconds(30));
}

}  // namespace
}  // namespace scepter::http::detail
