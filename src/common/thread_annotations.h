#pragma once
// Clang thread-safety annotations (-Wthread-safety), as in LevelDB and Abseil. They
// compile to nothing elsewhere. Use them with scepter::Mutex (common/mutex.h): the
// standard library's mutexes carry no annotations.

#if defined(__clang__)
#define SCEPTER_TSA(x) __attribute__((x))
#else
#define SCEPTER_TSA(x)
#endif

#define CAPABILITY(x) SCEPTER_TSA(capability(x))
#define SCOPED_CAPABILITY SCEPTER_TSA(scoped_lockable)
#define GUARDED_BY(x) SCEPTER_TSA(guarded_by(x))
#define PT_GUARDED_BY(x) SCEPTER_TSA(pt_guarded_by(x))
#define ACQUIRED_BEFORE(...) SCEPTER_TSA(acquired_before(__VA_ARGS__))
#define REQUIRES(...) SCEPTER_TSA(requires_capability(__VA_ARGS__))
#define ACQUIRE(...) SCEPTER_TSA(acquire_capability(__VA_ARGS__))
#define RELEASE(...) SCEPTER_TSA(release_capability(__VA_ARGS__))
#define TRY_ACQUIRE(...) SCEPTER_TSA(try_acquire_capability(__VA_ARGS__))
#define EXCLUDES(...) SCEPTER_TSA(locks_excluded(__VA_ARGS__))
#define RETURN_CAPABILITY(x) SCEPTER_TSA(lock_returned(x))
#define NO_THREAD_SAFETY_ANALYSIS SCEPTER_TSA(no_thread_safety_analysis)
