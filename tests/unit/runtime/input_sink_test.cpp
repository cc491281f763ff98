// The unit_sink the daemon gives its inputs (file, syslog, Kafka): what it hands the parsers,
// and how it reports progress to the watermark.
#include "runtime/input_sink.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>

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

// Holds every shard that publishes an alert until opened: the shard stops draining its
// queue, the queue fills, and an input feeding it waits.
class gated_sink final : public alert_sink {
 public:
  void publish(std::vector<alert>&& alerts) override {
    std::unique_lock lock(mu_);
    entered_ = true;
    cv_.notify_all();
    cv_.wait(lock, [&] { return open_; });
    published_ += alerts.size();
  }
  void wait_entered() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return entered_; });
  }
  void open() {
    std::lock_guard lock(mu_);
    open_ = true;
    cv_.notify_all();
  }
  std::size_t published() {
    std::lock_guard lock(mu_);
    return published_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool entered_ = false;
  bool open_ = false;
  std::size_t published_ = 0;
};

std::string asim_line(const std::string& src, timestamp_us t, int port) {
  return R"({"TimeGenerated":")" + format_iso8601(t) + R"(","SrcIpAddr":")" + src +
         R"(","DstIpAddr":"198.51.100.1","DstPortNumber":)" + std::to_string(port) +
         R"(,"EventVendor":"Fortinet","EventProduct":"Fortigate"})";
}

// An input waiting for room in full shard queues is not idle: the wall clock must not move
// the watermark past the records it is still handing over.
TEST(InputProgress, AnInputWaitingForFullShardQueuesHoldsTheWatermarkHowLongItWaits) {
  const timestamp_us t0 = at("2026-01-15T10:05:00Z");
  manual_clock clk(at("2026-01-15T10:20:00Z"));
  metrics_registry metrics;
  gated_sink alerts;
  engine_options o;
  o.shards = 1;
  o.queue_batches = 1;
  o.window.retention = 70 * us_per_minute;
  engine eng(o, std::make_shared<const rule_definition>(default_rule()), clk, alerts, metrics);
  input_progress progress;
  input_sink in(eng, "records", "asim", event_time_source::record, &progress, false);

  watermark_tracker tracker({10 * us_per_second, /*wall_clock_idleness=*/true});
  const auto id = tracker.add_input("records");

  // A scan in the 10:05 bin, handed over whole: the input is idle after it.
  const timestamp_us read1 = clk.now();
  for (int p = 1; p <= 60; ++p) in.on_unit(asim_line("203.0.113.9", t0 + p * 1000, p), {read1, {}});
  in.on_burst_end();
  EXPECT_FALSE(progress.busy.load());
  EXPECT_FALSE(observe_progress(tracker, id, progress, read1));
  EXPECT_EQ(tracker.current(read1), t0 + 60 * 1000);

  // Closing the bin makes the shard publish the alert, where the gate holds it.
  auto closed = eng.advance(t0 + 15 * us_per_minute, t0 + 15 * us_per_minute);
  alerts.wait_entered();

  // The next burst (the rest of a file, 20 batches) cannot fit the one-batch queue.
  const timestamp_us read2 = read1 + us_per_second;
  std::thread reader([&] {
    for (int i = 0; i < 20 * static_cast<int>(engine::batch_size); ++i)
      in.on_unit(asim_line("192.0.2.7", t0 + 2 * us_per_minute, 80), {read2, {}});
    in.on_burst_end();
  });
  while (!progress.busy.load()) std::this_thread::yield();

  // A minute later, far past idle_timeout, the reader still waits: it is active, and the
  // wall clock does not take the watermark (it stays at the first burst's records).
  const timestamp_us later = read2 + us_per_minute;
  EXPECT_TRUE(observe_progress(tracker, id, progress, later));
  tracker.hold_wall_clock(true);
  EXPECT_EQ(tracker.current(later), t0 + 60 * 1000);
  tracker.hold_wall_clock(false);
  // Still active when the burst has ended but the coordinator has not looked since.
  EXPECT_EQ(tracker.current(later + 5 * us_per_second), t0 + 60 * 1000);

  alerts.open();
  reader.join();
  closed.wait();
  EXPECT_EQ(alerts.published(), 1u);
  EXPECT_FALSE(progress.busy.load());
  // Idle again only idle_timeout after it was last seen busy.
  EXPECT_FALSE(observe_progress(tracker, id, progress, later + 9 * us_per_second));
  EXPECT_EQ(tracker.current(later + 9 * us_per_second), t0 + 2 * us_per_minute);
  EXPECT_EQ(tracker.current(later + 11 * us_per_second), later + 11 * us_per_second);
}

}  // namespace
}  // namespace portscand
