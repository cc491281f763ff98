// The unit_sink the daemon gives its inputs (file, syslog, Kafka): what it hands the parsers.
#include "runtime/input_sink.hpp"

#include <gtest/gtest.h>

#include <sstream>

#include "runtime_test_util.hpp"

namespace portscand {
namespace {

using test::at;

// The daemon builds its engine from the configured `mode` and its inputs from the engine:
// parsers that map fields per mode (windows-wfp inbound events) must see that mode.
std::vector<alert> alerts_through_input_sink(detection_mode mode) {
  manual_clock clk(at("2026-01-15T12:00:00Z"));
  metrics_registry metrics;
  test::collecting_sink alerts;
  engine_options o;
  o.shards = 2;
  o.mode = mode;
  o.window.retention = 70 * us_per_minute;
  engine eng(o, std::make_shared<const rule_definition>(default_rule()), clk, alerts, metrics);
  {
    input_sink sink(eng, "file-0", "auto", event_time_source::record, nullptr, false);
    std::istringstream lines(test::wfp_inbound_scan());
    for (std::string l; std::getline(lines, l);) sink.on_unit(l, unit_meta{clk.now(), {}});
    sink.on_burst_end();
  }
  eng.advance(INT64_MAX, INT64_MAX).wait();
  eng.stop();
  std::lock_guard lock(alerts.mu);
  return alerts.got;
}

TEST(InputSink, HandsTheEnginesDetectionModeToTheParsers) {
  auto a = alerts_through_input_sink(detection_mode::standard);
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].src.to_string(), "203.0.113.50");  // the peer that connected in
  a = alerts_through_input_sink(detection_mode::sentinel);
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].src.to_string(), "198.51.100.10");  // SourceAddress, as ASIM maps it
}

}  // namespace
}  // namespace portscand
