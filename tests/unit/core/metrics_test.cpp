#include "core/metrics.hpp"

#include <gtest/gtest.h>

namespace portscand {
namespace {

TEST(Metrics, RendersCountersWithEscapedLabels) {
  metrics_registry r;
  r.get_counter("portscand_x_total", "X.", {{"reason", "a\"b"}}).inc(3);
  const std::string text = r.render();
  EXPECT_NE(text.find("# TYPE portscand_x_total counter"), std::string::npos);
  EXPECT_NE(text.find("portscand_x_total{reason=\"a\\\"b\"} 3"), std::string::npos);
}

TEST(Metrics, TheSameLabelsGiveTheSameCounter) {
  metrics_registry r;
  counter& a = r.get_counter("c_total", "c", {{"k", "v"}});
  counter& b = r.get_counter("c_total", "c", {{"k", "v"}});
  EXPECT_EQ(&a, &b);
  r.get_counter("c_total", "c", {{"k", "w"}}).inc(2);
  a.inc();
  EXPECT_EQ(r.counter_sum("c_total"), 3u);
  EXPECT_EQ(r.counter_sum("c_total", {{"k", "w"}}), 2u);
}

TEST(Metrics, HistogramBucketsAreCumulative) {
  metrics_registry r;
  auto& h = r.get_histogram("d_seconds", "d", {0.1, 1});
  h.observe(0.05);
  h.observe(0.5);
  h.observe(5);
  const std::string text = r.render();
  EXPECT_NE(text.find("d_seconds_bucket{le=\"1\"} 2"), std::string::npos) << text;
  EXPECT_NE(text.find("d_seconds_bucket{le=\"+Inf\"} 3"), std::string::npos);
  EXPECT_NE(text.find("d_seconds_count 3"), std::string::npos);
}

}  // namespace
}  // namespace portscand
