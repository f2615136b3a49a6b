#pragma once
// Mutex and MutexLock: std::mutex with clang thread-safety annotations, so that
// `GUARDED_BY(mu_)` members are checked at compile time in the clang build
// (-Wthread-safety). Same cost as std::mutex.

#include <condition_variable>
#include <mutex>

#include "common/thread_annotations.h"

namespace scepter {

class CAPABILITY("mutex") Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void lock() ACQUIRE() { mu_.lock(); }
  void unlock() RELEASE() { mu_.unlock(); }
  bool try_lock() TRY_ACQUIRE(true) { return mu_.try_lock(); }

  // For std::condition_variable_any and other standard-library adaptors.
  std::mutex& native() { return mu_; }

 private:
  std::mutex mu_;
};

// Holds a Mutex for the scope (std::unique_lock, annotated): may be released and taken
// again inside the scope, and waits on a condition variable with the mutex released.
// Guarded state read in the wait loop's condition is checked like any other access:
//   UniqueMutexLock lock(mu_);
//   while (!done_) lock.wait(cv_);
class SCOPED_CAPABILITY UniqueMutexLock {
 public:
  explicit UniqueMutexLock(Mutex& mu) ACQUIRE(mu) : lock_(mu.native()) {}
  ~UniqueMutexLock() RELEASE() {}
  UniqueMutexLock(const UniqueMutexLock&) = delete;
  UniqueMutexLock& operator=(const UniqueMutexLock&) = delete;

  void lock() ACQUIRE() { lock_.lock(); }
  void unlock() RELEASE() { lock_.unlock(); }
  // Returns with the mutex held again, possibly spuriously: call it in a loop.
  void wait(std::condition_variable& cv) { cv.wait(lock_); }
  // As wait(), returning at `deadline` at the latest.
  template <class TimePoint>
  void wait_until(std::condition_variable& cv, TimePoint deadline) {
    cv.wait_until(lock_, deadline);
  }

 private:
  std::unique_lock<std::mutex> lock_;
};

// Holds a Mutex for the scope (std::lock_guard, annotated).
class SCOPED_CAPABILITY MutexLock {
 public:
  explicit MutexLock(Mutex& mu) ACQUIRE(mu) : mu_(mu) { mu_.lock(); }
  ~MutexLock() RELEASE() { mu_.unlock(); }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

 private:
  Mutex& mu_;
};

}  // namespace scepter
