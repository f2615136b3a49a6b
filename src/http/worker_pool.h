#pragma once
// The threads that run HTTP handlers (internal to http/). Handlers block on crypto and
// database commits, so they run here and never on the network threads.
//
// The threads are detached and share the pool's state, so shutdown() can give up on a
// job that never returns without leaving a dangling pool behind. Thread-safe.

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>

namespace scepter::http::detail {

class WorkerPool {
 public:
  // A job must not throw; one that does is stopped at the pool boundary and ignored.
  using Job = std::function<void()>;

  // Starts `threads` threads (at least one). Throws std::system_error if the system cannot
  // create a thread; the caller turns that into a Status.
  explicit WorkerPool(unsigned threads);
  // Does not wait: call shutdown() first.
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Queues `job` (FIFO). After shutdown() the job is destroyed without running.
  void post(Job job);
  // Queues `job` unless `max_waiting` jobs already wait with every thread busy; then
  // returns false and `job` is destroyed (outside the pool's lock). After shutdown() the
  // job is destroyed without running, and the answer is true.
  bool try_post(Job job, std::size_t max_waiting);

  // Drops queued jobs, lets running ones finish and waits for every thread to exit or for
  // `deadline`. Returns how many threads are still running (busy in a job) at the end.
  unsigned shutdown(std::chrono::steady_clock::time_point deadline);

 private:
  struct State;
  static void run(const std::shared_ptr<State>& state);  // a thread's loop
  std::shared_ptr<State> state_;
};

}  // namespace scepter::http::detail
