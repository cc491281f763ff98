// ReportedBy of sliding-window alerts: each run keeps each label with the time it was first
// seen in the run, and an alert takes the labels seen at or before its crossing. Late
// records and merged runs move a run's first time; a label's own time must not follow it.
// Every expected list below is worked out by hand in the comment next to it.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/time.hpp"
#include "detect/evaluator.hpp"
#include "detect/rule.hpp"
#include "window/shard_state.hpp"

namespace portscand {
namespace {

const timestamp_us t0 = 1'768'471'500LL * us_per_second;  // 2026-01-15T10:05:00Z
constexpr timestamp_us sec = us_per_second;

const label_id fortigate = label_table::global().intern("Fortinet/FortiGate");
const label_id asa = label_table::global().intern("Cisco/ASA");
const label_id zscaler = label_table::global().intern("Zscaler/ZIA");

network_session rec(const char* src, timestamp_us t, int port, label_id label) {
  network_session r;
  r.src = *ip_address::parse(src);
  r.time = t;
  r.has_time = true;
  r.dst_port = port;
  r.reported_by = label;
  return r;
}

window_config sliding() {
  window_config c;
  c.sliding = true;
  return c;
}

std::vector<alert> evaluate(shard_state& s) {
  evaluator ev;
  std::vector<alert> out;
  ev.evaluate(s, default_rule(), INT64_MAX, 0, out);
  return out;
}

// Port 7: a FortiGate record at t0 + 100 s, then a late ASA record at t0 + 20 s: the run
// starts at t0 + 20 s, FortiGate was first seen at t0 + 100 s. 49 ports at t0 + 30 s
// (Zscaler) make 50 with port 7; port 8 at t0 + 60 s (Zscaler) makes 51 > 50: the crossing
// is t0 + 60 s. Seen by then: ASA (20 s) and Zscaler (30 s, 60 s); FortiGate (100 s) not.
std::vector<network_session> late_record_case() {
  const char* src = "203.0.113.9";
  std::vector<network_session> v;
  v.push_back(rec(src, t0 + 100 * sec, 7, fortigate));
  for (int p = 100; p < 149; ++p) v.push_back(rec(src, t0 + 30 * sec, p, zscaler));
  v.push_back(rec(src, t0 + 60 * sec, 8, zscaler));
  v.push_back(rec(src, t0 + 20 * sec, 7, asa));
  return v;
}

TEST(SlidingLabels, ALabelFirstSeenAfterTheCrossingIsLeftOutThoughALateRecordMovedItsRun) {
  shard_state s(sliding());
  for (const auto& r : late_record_case()) s.add(r);
  const auto alerts = evaluate(s);
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].bin_end, t0 + 60 * sec);
  EXPECT_EQ(alerts[0].ports_count, 51u);
  EXPECT_EQ(alerts[0].first_seen, t0 + 20 * sec);
  EXPECT_EQ(alerts[0].reported_by, (std::vector<std::string>{"Cisco/ASA", "Zscaler/ZIA"}));
}

TEST(SlidingLabels, TheLabelTimesSurviveACheckpoint) {
  shard_state s(sliding());
  for (const auto& r : late_record_case()) s.add(r);
  std::string bytes;
  s.serialize(bytes);
  shard_state restored(sliding());
  ASSERT_TRUE(restored.deserialize(bytes, label_table::global()));
  std::string again;
  restored.serialize(again);
  EXPECT_EQ(again, bytes);
  const auto alerts = evaluate(restored);
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].reported_by, (std::vector<std::string>{"Cisco/ASA", "Zscaler/ZIA"}));
}

// Port 7: FortiGate at t0 (run 1), ASA at t0 + 400 s (run 2: 400 s > 5 min apart), then a
// late ASA record at t0 + 200 s, within 5 minutes of both: one run [t0, t0 + 400 s] with
// FortiGate at t0 and ASA at t0 + 200 s (the bridge, not run 2's 400 s). 49 ports at t0 +
// 150 s (Zscaler) make 50; port 8 at t0 + 250 s makes 51: the crossing is t0 + 250 s, by
// which FortiGate, ASA (200 s) and Zscaler were all seen.
TEST(SlidingLabels, ABridgedRunKeepsEachLabelsEarliestTime) {
  const char* src = "198.51.100.20";
  shard_state s(sliding());
  s.add(rec(src, t0, 7, fortigate));
  s.add(rec(src, t0 + 400 * sec, 7, asa));
  for (int p = 100; p < 149; ++p) s.add(rec(src, t0 + 150 * sec, p, zscaler));
  s.add(rec(src, t0 + 250 * sec, 8, zscaler));
  s.add(rec(src, t0 + 200 * sec, 7, asa));
  const auto alerts = evaluate(s);
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].bin_end, t0 + 250 * sec);
  EXPECT_EQ(alerts[0].ports_count, 51u);
  EXPECT_EQ(alerts[0].reported_by,
            (std::vector<std::string>{"Cisco/ASA", "Fortinet/FortiGate", "Zscaler/ZIA"}));
}

// Without the bridge, run 2's ASA (t0 + 400 s) is after the crossing, and run 1 holds only
// FortiGate: ReportedBy is FortiGate and Zscaler.
TEST(SlidingLabels, WithoutTheBridgeTheLaterRunsLabelIsLeftOut) {
  const char* src = "198.51.100.21";
  shard_state s(sliding());
  s.add(rec(src, t0, 7, fortigate));
  s.add(rec(src, t0 + 400 * sec, 7, asa));
  for (int p = 100; p < 149; ++p) s.add(rec(src, t0 + 150 * sec, p, zscaler));
  s.add(rec(src, t0 + 250 * sec, 8, zscaler));
  const auto alerts = evaluate(s);
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].bin_end, t0 + 250 * sec);
  EXPECT_EQ(alerts[0].reported_by, (std::vector<std::string>{"Fortinet/FortiGate", "Zscaler/ZIA"}));
}

}  // namespace
}  // namespace portscand
