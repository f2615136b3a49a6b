#pragma once
// Metrics for `/metrics` in the Prometheus text exposition format (version 0.0.4).
//
// Two kinds of numbers:
// - Counted where things happen (requests, replies, key operations, commits): a Counter
//   or a Histogram, child of a Family registered once in the process-wide Registry.
//   Counting costs an atomic add (a histogram: two, plus a search of its bounds); no
//   lock is taken on the way, so hot paths count freely.
// - Read when scraped (connections open, requests pending, the CRL's age): a Collector
//   that the owner of the numbers registers, and whose Registration removes it when the
//   owner goes away.
//
// Label values come from bounded sets chosen by the code (a protocol, an operation
// name, a status, a CA label from the configuration), never from what a client sent:
// every child lives as long as the process.
//
// Thread safety: everything here may be used from any thread.

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/mutex.h"
#include "common/status.h"

namespace scepter::metrics {

// Bucket bounds of the latency histograms, in seconds: 100 µs to 10 s.
inline constexpr std::array<double, 15> kLatencyBounds{
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10};

class Counter {
 public:
  void add(std::uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

// Durations in fixed buckets (upper bounds in seconds, ascending; +Inf is implicit).
class Histogram {
 public:
  explicit Histogram(const std::vector<double>& bounds);
  Histogram(const Histogram&) = delete;
  Histogram& operator=(const Histogram&) = delete;

  void observe(std::chrono::nanoseconds d);

  struct Snapshot {
    std::vector<double> bounds;          // seconds
    std::vector<std::uint64_t> buckets;  // cumulative, one per bound, then +Inf (= count)
    double sum_seconds = 0;
  };
  // The counts as one scrape sees them: each bucket is read once, so a sample counted
  // meanwhile may show in a bucket and not yet in the sum, which Prometheus tolerates.
  Snapshot snapshot() const;

 private:
  std::vector<double> bounds_;
  std::vector<std::int64_t> bounds_ns_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> counts_;  // per bucket, not cumulative
  std::atomic<std::uint64_t> sum_ns_{0};
};

// Times a scope into a histogram.
class ScopedTimer {
 public:
  explicit ScopedTimer(Histogram& h) : h_(h), start_(std::chrono::steady_clock::now()) {}
  ~ScopedTimer() { h_.observe(std::chrono::steady_clock::now() - start_); }
  ScopedTimer(const ScopedTimer&) = delete;
  ScopedTimer& operator=(const ScopedTimer&) = delete;

 private:
  Histogram& h_;
  std::chrono::steady_clock::time_point start_;
};

using Labels = std::vector<std::pair<std::string, std::string>>;

// One scrape's text. The samples of a metric are written together under its HELP and
// TYPE whatever order they were added in, so several collectors may add to one metric
// (one sample per listener, per CA, ...).
class Exposition {
 public:
  void counter(std::string_view name, std::string_view help, const Labels& labels, double value);
  void gauge(std::string_view name, std::string_view help, const Labels& labels, double value);
  void histogram(std::string_view name, std::string_view help, const Labels& labels,
                 const Histogram::Snapshot& h);
  std::string text() const;

 private:
  struct Metric {
    std::string type;
    std::string help;
    std::string samples;
  };
  Metric& metric(std::string_view name, std::string_view type, std::string_view help);

  std::vector<std::pair<std::string, Metric>> metrics_;  // in the order first seen
  std::map<std::string, std::size_t, std::less<>> index_;
};

// The children of one metric, one per combination of label values.
template <class Child>
class Family {
 public:
  Family(std::string name, std::string help, std::vector<std::string> label_names,
         std::function<std::unique_ptr<Child>()> make)
      : name_(std::move(name)),
        help_(std::move(help)),
        label_names_(std::move(label_names)),
        make_(std::move(make)) {}

  // The child for these label values (as many as label names), made on first use.
  // Takes a lock: code that counts often keeps the reference.
  Child& with(std::initializer_list<std::string_view> values);

  void write(Exposition& out) const;
  const std::string& name() const { return name_; }

 private:
  const std::string name_;
  const std::string help_;
  const std::vector<std::string> label_names_;
  const std::function<std::unique_ptr<Child>()> make_;
  mutable Mutex mu_;
  // Key: the label values joined by '\0'.
  std::map<std::string, std::unique_ptr<Child>, std::less<>> children_ GUARDED_BY(mu_);
};

class Registry;

// Keeps a collector registered; unregisters it when destroyed (waiting for a scrape
// that is running it to finish).
class Registration {
 public:
  Registration() = default;
  Registration(Registry* registry, std::uint64_t id) : registry_(registry), id_(id) {}
  Registration(Registration&& other) noexcept { *this = std::move(other); }
  Registration& operator=(Registration&& other) noexcept;
  ~Registration() { reset(); }
  void reset();

 private:
  Registry* registry_ = nullptr;
  std::uint64_t id_ = 0;
};

class Registry {
 public:
  // The process's registry, which `/metrics` shows.
  static Registry& global();

  // The family called `name`, made on the first call; later calls with the same name get
  // the same family (and must give the same labels).
  Family<Counter>& counter(const std::string& name, const std::string& help,
                           std::vector<std::string> label_names);
  Family<Histogram>& histogram(const std::string& name, const std::string& help,
                               std::vector<std::string> label_names,
                               std::vector<double> bounds = {kLatencyBounds.begin(),
                                                             kLatencyBounds.end()});

  // `collect` adds the numbers read at scrape time. It runs during render(), on the
  // scraping thread: it must be quick (no network, no unbounded database work) and must
  // not register or unregister collectors.
  using Collector = std::function<void(Exposition&)>;
  [[nodiscard]] Registration add_collector(Collector collect);

  // Every family and collector, in the text format.
  std::string render() const;

 private:
  friend class Registration;
  void remove_collector(std::uint64_t id);

  mutable Mutex mu_;
  std::map<std::string, std::unique_ptr<Family<Counter>>> counters_ GUARDED_BY(mu_);
  std::map<std::string, std::unique_ptr<Family<Histogram>>> histograms_ GUARDED_BY(mu_);
  // Held while collectors run, so that a Registration's end waits for them.
  mutable Mutex collectors_mu_;
  std::map<std::uint64_t, Collector> collectors_ GUARDED_BY(collectors_mu_);
  std::uint64_t next_id_ GUARDED_BY(collectors_mu_) = 1;
};

// The content type of render()'s text.
inline constexpr std::string_view kContentType = "text/plain; version=0.0.4; charset=utf-8";

}  // namespace scepter::metrics
