#include "http/worker_pool.h"

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <utility>

#include <openssl/crypto.h>

namespace scepter::http::detail {

struct WorkerPool::State {
  std::mutex mu;
  std::condition_variable work_cv;  // a job was queued, or stopping
  std::condition_variable exit_cv;  // a thread exited
  std::deque<Job> jobs;             // GUARDED_BY(mu)
  bool stopping = false;            // GUARDED_BY(mu)
  unsigned running = 0;             // GUARDED_BY(mu): threads not yet exited
  unsigned busy = 0;                // GUARDED_BY(mu): threads in a job
};

WorkerPool::WorkerPool(unsigned threads) : state_(std::make_shared<State>()) {
  if (threads == 0) {
    threads = 1;
  }
  for (unsigned i = 0; i < threads; ++i) {
    {
      std::lock_guard<std::mutex> lock(state_->mu);
      ++state_->running;
    }
    try {
      std::thread([state = state_] { run(state); }).detach();
    } catch (...) {
      // Stop the threads already started before reporting the failure.
      shutdown(std::chrono::steady_clock::now());
      throw;
    }
  }
}

WorkerPool::~WorkerPool() = default;

void WorkerPool::post(Job job) {
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    if (state_->stopping) {
      return;  // `job` is destroyed outside the lock
    }
    state_->jobs.push_back(std::move(job));
  }
  state_->work_cv.notify_one();
}

bool WorkerPool::try_post(Job job, std::size_t max_waiting) {
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    if (state_->stopping) {
      return true;  // `job` is destroyed outside the lock, as post() does
    }
    // Started or waiting jobs against threads plus waiting room: a job taken by a thread
    // moves from `jobs` to `busy` under this lock, so the answer does not depend on how
    // fast threads wake up.
    const std::size_t in_system = state_->jobs.size() + state_->busy;
    if (in_system >= state_->running + max_waiting) {
      return false;
    }
    state_->jobs.push_back(std::move(job));
  }
  state_->work_cv.notify_one();
  return true;
}

unsigned WorkerPool::shutdown(std::chrono::steady_clock::time_point deadline) {
  std::deque<Job> dropped;
  unsigned left = 0;
  {
    std::unique_lock<std::mutex> lock(state_->mu);
    state_->stopping = true;
    dropped.swap(state_->jobs);
    state_->work_cv.notify_all();
    state_->exit_cv.wait_until(lock, deadline, [&] { return state_->running == 0; });
    left = state_->running;
  }
  // Jobs own connections whose destructors take other locks: destroy them unlocked.
  dropped.clear();
  return left;
}

void WorkerPool::run(const std::shared_ptr<State>& state) {
  for (;;) {
    Job job;
    {
      std::unique_lock<std::mutex> lock(state->mu);
      state->work_cv.wait(lock, [&] { return state->stopping || !state->jobs.empty(); });
      if (state->stopping) {
        break;
      }
      job = std::move(state->jobs.front());
      state->jobs.pop_front();
      ++state->busy;
    }
    try {
      job();
    } catch (...) {
      // Jobs catch their own exceptions; this only keeps a bug from killing the process.
    }
    job = nullptr;  // its captures (a connection) die before the thread counts as free
    std::lock_guard<std::mutex> lock(state->mu);
    --state->busy;
  }
  // Handlers sign and decrypt here: free this thread's OpenSSL state (its random generators,
  // its error queue) now rather than in a thread-exit destructor that may run after the
  // process has begun to exit, so the thread holds nothing once shutdown() counts it gone.
  OPENSSL_thread_stop();
  std::lock_guard<std::mutex> lock(state->mu);
  --state->running;
  state->exit_cv.notify_all();
}

}  // namespace scepter::http::detail
