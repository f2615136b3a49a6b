#include "common/metrics.h"

#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace scepter::metrics {
namespace {

using std::chrono::microseconds;
using std::chrono::milliseconds;

TEST(Metrics, ACounterFamilyWritesOneSamplePerLabelSet) {
  Registry r;
  auto& f = r.counter("t_requests_total", "Requests.", {"protocol", "code"});
  f.with({"scep", "200"}).add();
  f.with({"scep", "200"}).add(2);
  f.with({"ocsp", "400"}).add();
  EXPECT_EQ(r.render(),
            "# HELP t_requests_total Requests.\n"
            "# TYPE t_requests_total counter\n"
            "t_requests_total{protocol=\"ocsp\",code=\"400\"} 1\n"
            "t_requests_total{protocol=\"scep\",code=\"200\"} 3\n");
  EXPECT_EQ(&r.counter("t_requests_total", "Requests.", {"protocol", "code"}), &f);
}

TEST(Metrics, AHistogramIsCumulativeWithSumAndCount) {
  Registry r;
  auto& h = r.histogram("t_seconds", "Time.", {}, {0.001, 0.01});
  h.with({}).observe(microseconds(500));   // <= 1 ms
  h.with({}).observe(milliseconds(1));     // on the bound: in it
  h.with({}).observe(milliseconds(5));     // <= 10 ms
  h.with({}).observe(milliseconds(2000));  // +Inf only
  EXPECT_EQ(r.render(),
            "# HELP t_seconds Time.\n"
            "# TYPE t_seconds histogram\n"
            "t_seconds_bucket{le=\"0.001\"} 2\n"
            "t_seconds_bucket{le=\"0.01\"} 3\n"
            "t_seconds_bucket{le=\"+Inf\"} 4\n"
            "t_seconds_sum 2.0065\n"
            "t_seconds_count 4\n");
}

TEST(Metrics, CollectorsAddToOneMetricAndLeaveWithTheirRegistration) {
  Registry r;
  auto first = r.add_collector([](Exposition& out) {
    out.gauge("t_open", "Open.", {{"listener", "http"}}, 3);
    out.gauge("t_other", "Other.", {}, 0.25);
  });
  auto second = r.add_collector([](Exposition& out) {
    out.gauge("t_open", "Open.", {{"listener", "https"}}, 1);
  });
  EXPECT_EQ(r.render(),
            "# HELP t_open Open.\n# TYPE t_open gauge\n"
            "t_open{listener=\"http\"} 3\n"
            "t_open{listener=\"https\"} 1\n"
            "# HELP t_other Other.\n# TYPE t_other gauge\n"
            "t_other 0.25\n");
  first.reset();
  EXPECT_EQ(r.render(), "# HELP t_open Open.\n# TYPE t_open gauge\nt_open{listener=\"https\"} 1\n");
  { Registration moved = std::move(second); }
  EXPECT_EQ(r.render(), "");
}

TEST(Metrics, LabelValuesAndHelpAreEscaped) {
  Exposition out;
  out.gauge("t_x", "a \\ b\nc", {{"ca", "a\"b\\c\nd"}}, -1.5);
  EXPECT_EQ(out.text(),
            "# HELP t_x a \\\\ b\\nc\n# TYPE t_x gauge\n"
            "t_x{ca=\"a\\\"b\\\\c\\nd\"} -1.5\n");
}

TEST(Metrics, ManyThreadsCountWithoutLosingAny) {
  Registry r;
  auto& c = r.counter("t_total", "T.", {"k"});
  auto& h = r.histogram("t_seconds", "T.", {"k"});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) {
        c.with({"a"}).add();
        h.with({"a"}).observe(microseconds(i % 3000));
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(c.with({"a"}).value(), 40000u);
  EXPECT_EQ(h.with({"a"}).snapshot().buckets.back(), 40000u);
}

}  // namespace
}  // namespace scepter::metrics
