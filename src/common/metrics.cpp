#include "common/metrics.h"

#include <algorithm>
#include <cmath>
#include <type_traits>

#include <fmt/format.h>

namespace scepter::metrics {
namespace {

// A sample value: integers without a fraction, the rest in the shortest form that reads
// back the same; Prometheus spells the infinities +Inf and -Inf.
std::string number(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == std::floor(v) && std::fabs(v) < 1e15)
    return fmt::format("{}", static_cast<std::int64_t>(v));
  return fmt::format("{}", v);
}

// A label value with \, " and line feed escaped, as the text format asks.
void append_escaped(std::string& out, std::string_view value) {
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
}

void append_labels(std::string& out, const Labels& labels, std::string_view le = {}) {
  if (labels.empty() && le.empty()) return;
  out += '{';
  bool first = true;
  for (const auto& [name, value] : labels) {
    if (!first) out += ',';
    first = false;
    out += name;
    out += "=\"";
    append_escaped(out, value);
    out += '"';
  }
  if (!le.empty()) {
    if (!first) out += ',';
    out += "le=\"";
    out += le;
    out += '"';
  }
  out += '}';
}

void append_sample(std::string& out, std::string_view name, const Labels& labels, double value,
                   std::string_view le = {}) {
  out += name;
  append_labels(out, labels, le);
  out += ' ';
  out += number(value);
  out += '\n';
}

// HELP text escapes \ and line feed only.
std::string escape_help(std::string_view help) {
  std::string out;
  for (char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string join_key(std::initializer_list<std::string_view> values) {
  std::string key;
  for (std::string_view v : values) {
    key.append(v);
    key.push_back('\0');
  }
  return key;
}

}  // namespace

Histogram::Histogram(const std::vector<double>& bounds)
    : bounds_(bounds), counts_(new std::atomic<std::uint64_t>[bounds.size() + 1]) {
  CA_ASSERT(std::is_sorted(bounds_.begin(), bounds_.end()), "histogram bounds must ascend");
  bounds_ns_.reserve(bounds_.size());
  for (double b : bounds_) bounds_ns_.push_back(static_cast<std::int64_t>(std::llround(b * 1e9)));
  for (std::size_t i = 0; i <= bounds_.size(); ++i) counts_[i].store(0, std::memory_order_relaxed);
}

void Histogram::observe(std::chrono::nanoseconds d) {
  const std::int64_t ns = std::max<std::int64_t>(0, d.count());
  const auto at = std::lower_bound(bounds_ns_.begin(), bounds_ns_.end(), ns) - bounds_ns_.begin();
  counts_[static_cast<std::size_t>(at)].fetch_add(1, std::memory_order_relaxed);
  sum_ns_.fetch_add(static_cast<std::uint64_t>(ns), std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot s;
  s.bounds = bounds_;
  s.buckets.reserve(bounds_.size() + 1);
  std::uint64_t total = 0;
  for (std::size_t i = 0; i <= bounds_.size(); ++i) {
    total += counts_[i].load(std::memory_order_relaxed);
    s.buckets.push_back(total);
  }
  s.sum_seconds = static_cast<double>(sum_ns_.load(std::memory_order_relaxed)) / 1e9;
  return s;
}

Exposition::Metric& Exposition::metric(std::string_view name, std::string_view type,
                                       std::string_view help) {
  if (auto it = index_.find(name); it != index_.end()) {
    Metric& m = metrics_[it->second].second;
    CA_ASSERT(m.type == type, "one metric name with two types");
    return m;
  }
  index_.emplace(std::string(name), metrics_.size());
  metrics_.emplace_back(std::string(name), Metric{std::string(type), std::string(help), {}});
  return metrics_.back().second;
}

void Exposition::counter(std::string_view name, std::string_view help, const Labels& labels,
                         double value) {
  append_sample(metric(name, "counter", help).samples, name, labels, value);
}

void Exposition::gauge(std::string_view name, std::string_view help, const Labels& labels,
                       double value) {
  append_sample(metric(name, "gauge", help).samples, name, labels, value);
}

void Exposition::histogram(std::string_view name, std::string_view help, const Labels& labels,
                           const Histogram::Snapshot& h) {
  std::string& out = metric(name, "histogram", help).samples;
  const std::string bucket = std::string(name) + "_bucket";
  for (std::size_t i = 0; i < h.bounds.size(); ++i) {
    append_sample(out, bucket, labels, static_cast<double>(h.buckets[i]), number(h.bounds[i]));
  }
  const double count = static_cast<double>(h.buckets.back());
  append_sample(out, bucket, labels, count, "+Inf");
  append_sample(out, std::string(name) + "_sum", labels, h.sum_seconds);
  append_sample(out, std::string(name) + "_count", labels, count);
}

std::string Exposition::text() const {
  std::string out;
  for (const auto& [name, m] : metrics_) {
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, escape_help(m.help), name, m.type);
    out += m.samples;
  }
  return out;
}

template <class Child>
Child& Family<Child>::with(std::initializer_list<std::string_view> values) {
  CA_ASSERT(values.size() == label_names_.size(), "label values do not match label names");
  const std::string key = join_key(values);
  MutexLock lock(mu_);
  auto it = children_.find(key);
  if (it == children_.end()) it = children_.emplace(key, make_()).first;
  return *it->second;
}

template <class Child>
void Family<Child>::write(Exposition& out) const {
  MutexLock lock(mu_);
  for (const auto& [key, child] : children_) {
    Labels labels;
    std::size_t start = 0;
    for (const std::string& label : label_names_) {
      const std::size_t end = key.find('\0', start);
      labels.emplace_back(label, key.substr(start, end - start));
      start = end + 1;
    }
    if constexpr (std::is_same_v<Child, Counter>) {
      out.counter(name_, help_, labels, static_cast<double>(child->value()));
    } else {
      out.histogram(name_, help_, labels, child->snapshot());
    }
  }
}

template class Family<Counter>;
template class Family<Histogram>;

Registration& Registration::operator=(Registration&& other) noexcept {
  if (this != &other) {
    reset();
    registry_ = std::exchange(other.registry_, nullptr);
    id_ = std::exchange(other.id_, 0);
  }
  return *this;
}

void Registration::reset() {
  if (registry_ != nullptr) registry_->remove_collector(id_);
  registry_ = nullptr;
  id_ = 0;
}

Registry& Registry::global() {
  static Registry* const registry = new Registry();  // never destroyed: used until exit
  return *registry;
}

Family<Counter>& Registry::counter(const std::string& name, const std::string& help,
                                   std::vector<std::string> label_names) {
  MutexLock lock(mu_);
  auto& slot = counters_[name];
  if (!slot) {
    slot = std::make_unique<Family<Counter>>(name, help, std::move(label_names),
                                             [] { return std::make_unique<Counter>(); });
  }
  return *slot;
}

Family<Histogram>& Registry::histogram(const std::string& name, const std::string& help,
                                       std::vector<std::string> label_names,
                                       std::vector<double> bounds) {
  MutexLock lock(mu_);
  auto& slot = histograms_[name];
  if (!slot) {
    slot = std::make_unique<Family<Histogram>>(
        name, help, std::move(label_names),
        [bounds = std::move(bounds)] { return std::make_unique<Histogram>(bounds); });
  }
  return *slot;
}

Registration Registry::add_collector(Collector collect) {
  MutexLock lock(collectors_mu_);
  const std::uint64_t id = next_id_++;
  collectors_.emplace(id, std::move(collect));
  return Registration(this, id);
}

void Registry::remove_collector(std::uint64_t id) {
  MutexLock lock(collectors_mu_);
  collectors_.erase(id);
}

std::string Registry::render() const {
  Exposition out;
  {
    MutexLock lock(mu_);
    for (const auto& [name, family] : counters_) family->write(out);
    for (const auto& [name, family] : histograms_) family->write(out);
  }
  {
    MutexLock lock(collectors_mu_);
    for (const auto& [id, collect] : collectors_) collect(out);
  }
  return out.text();
}

}  // namespace scepter::metrics
