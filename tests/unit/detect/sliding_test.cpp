// The sliding window (evaluation.window: sliding) through the evaluator: every expected
// figure below is worked out by hand in the comment next to it.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "core/ip_network.hpp"
#include "core/time.hpp"
#include "detect/evaluator.hpp"
#include "detect/exclusions.hpp"
#include "detect/rule.hpp"
#include "window/shard_state.hpp"

namespace portscand {
namespace {

const timestamp_us t0 = 1'768'471'500LL * us_per_second;  // 2026-01-15T10:05:00Z, a bin start
constexpr timestamp_us sec = us_per_second;
constexpr timestamp_us minute = us_per_minute;

network_session rec(const char* src, timestamp_us t, int port, label_id label = 0) {
  network_session r;
  r.src = *ip_address::parse(src);
  r.time = t;
  r.has_time = true;
  r.dst_port = port;
  r.reported_by = label;
  return r;
}

window_config config(bool sliding) {
  window_config c;
  c.sliding = sliding;
  return c;
}

std::vector<alert> run(shard_state& state, const std::vector<network_session>& records,
                       timestamp_us close_before = INT64_MAX) {
  const rule_definition rule = default_rule();
  evaluator ev;
  for (const auto& r : records) state.add(r);
  std::vector<alert> out;
  ev.evaluate(state, rule, close_before, 0, out);
  return out;
}

// The case: 30 ports in the last 2.5 minutes of bin [10:05, 10:10) (one every 5 s
// from 10:07:30) and 30 in the first 2.5 minutes of the next (one every 5 s from 10:10:00).
std::vector<network_session> straddling_scan() {
  std::vector<network_session> v;
  for (int i = 0; i < 30; ++i)
    v.push_back(rec("203.0.113.7", t0 + 150 * sec + i * 5 * sec, 1000 + i));
  for (int i = 0; i < 30; ++i)
    v.push_back(rec("203.0.113.7", t0 + 300 * sec + i * 5 * sec, 2000 + i));
  return v;
}

TEST(Sliding, StraddlingScanAlertsOnlyInSlidingMode) {
  shard_state tumbling(config(false));
  EXPECT_TRUE(run(tumbling, straddling_scan()).empty());  // 30 + 30 per bin: never > 50

  shard_state sliding(config(true));
  const auto alerts = run(sliding, straddling_scan());
  ASSERT_EQ(alerts.size(), 1u);
  const alert& a = alerts[0];
  // The 51st port is 2020 at 10:10:00 + 20 x 5 s = 10:11:40; the 5 minutes up to it,
  // [10:06:40, 10:11:40], hold all 30 ports of the first half and 2000..2020.
  EXPECT_EQ(a.bin_end, t0 + 400 * sec);
  EXPECT_EQ(a.bin_start, t0 + 100 * sec);
  EXPECT_EQ(a.ports_count, 51u);
  std::vector<std::uint16_t> expected;
  for (int p = 1000; p < 1030; ++p) expected.push_back(static_cast<std::uint16_t>(p));
  for (int p = 2000; p <= 2020; ++p) expected.push_back(static_cast<std::uint16_t>(p));
  EXPECT_EQ(a.ports, expected);
  EXPECT_EQ(a.first_seen, t0 + 150 * sec);
  EXPECT_EQ(a.last_seen, t0 + 400 * sec);
  EXPECT_EQ(a.alert_id,
            make_sliding_alert_id(default_rule().metadata->id, a.src.to_string(), a.bin_start));
  EXPECT_NE(a.alert_id, make_alert_id(default_rule().metadata->id, a.src, a.bin_start));
}

// The interval is closed and exactly 5 minutes: 51 ports at t and t + 5 min alert, the
// same with the last port 1 us later do not (50 + 1 never meet in one interval).
TEST(Sliding, IntervalIsFiveMinutesWithBothEndsIncluded) {
  for (const timestamp_us last : {t0 + 5 * minute, t0 + 5 * minute + 1}) {
    std::vector<network_session> v;
    for (int p = 0; p < 50; ++p) v.push_back(rec("198.51.100.9", t0, p));
    v.push_back(rec("198.51.100.9", last, 50));
    shard_state s(config(true));
    const auto alerts = run(s, v);
    if (last == t0 + 5 * minute) {
      ASSERT_EQ(alerts.size(), 1u);
      EXPECT_EQ(alerts[0].bin_start, t0);
      EXPECT_EQ(alerts[0].ports_count, 51u);
    } else {
      EXPECT_TRUE(alerts.empty());
    }
  }
  // 50 distinct ports, repeated many times inside 5 minutes: never more than 50.
  std::vector<network_session> v;
  for (int k = 0; k < 10; ++k)
    for (int p = 0; p < 50; ++p) v.push_back(rec("198.51.100.9", t0 + k * 20 * sec + p, p));
  shard_state s(config(true));
  EXPECT_TRUE(run(s, v).empty());
}

// A paced scan, one new port every 6 s for 20 minutes (ports 0..199 at t0 + 6 s x i). The
// 5 minutes up to record i hold records i-50..i: 51 ports from i = 50 (t0 + 300 s). The next
// alert may only start after that interval ([t0, t0 + 300 s]): the first record after
// t0 + 600 s is i = 101 (t0 + 606 s), then i = 152 (t0 + 912 s); i = 203 is past the end.
TEST(Sliding, ASourceAlertsAgainOnlyAfterThePreviousIntervalHasPassed) {
  std::vector<network_session> v;
  for (int i = 0; i < 200; ++i) v.push_back(rec("192.0.2.44", t0 + i * 6 * sec, i));
  shard_state s(config(true));
  const auto alerts = run(s, v);
  ASSERT_EQ(alerts.size(), 3u);
  EXPECT_EQ(alerts[0].bin_end, t0 + 300 * sec);
  EXPECT_EQ(alerts[1].bin_end, t0 + 606 * sec);
  EXPECT_EQ(alerts[2].bin_end, t0 + 912 * sec);
  for (const auto& a : alerts) EXPECT_EQ(a.ports_count, 51u);
  EXPECT_EQ(alerts[1].ports.front(), 51);  // [t0 + 306 s, t0 + 606 s]: ports 51..101
  EXPECT_EQ(alerts[1].ports.back(), 101);
}

// Ports 0..50 (port i first at t0 + i s), each repeated every 30 s for 15 minutes: the
// count reaches 51 at t0 + 50 s and stays there. The same ports never alert again; a new
// port after the first interval (port 999 at t0 + 400 s, > t0 + 350 s) does, with 52 ports.
TEST(Sliding, OnlyANewPortAfterThePreviousIntervalRaisesAnotherAlert) {
  std::vector<network_session> v;
  for (int p = 0; p <= 50; ++p)
    for (timestamp_us t = t0 + p * sec; t < t0 + 15 * minute; t += 30 * sec)
      v.push_back(rec("192.0.2.45", t, p));
  shard_state s(config(true));
  auto alerts = run(s, v);
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].bin_end, t0 + 50 * sec);
  v.push_back(rec("192.0.2.45", t0 + 400 * sec, 999));
  shard_state s2(config(true));
  alerts = run(s2, v);
  ASSERT_EQ(alerts.size(), 2u);
  EXPECT_EQ(alerts[1].bin_end, t0 + 400 * sec);
  EXPECT_EQ(alerts[1].ports_count, 52u);
}

// Same records, any arrival order, evaluated step by step as a watermark would (each step
// closing only what lies more than the lateness behind the newest record seen): the same
// alerts, ids and evidence as all at once.
TEST(Sliding, ArrivalOrderWithinLatenessDoesNotChangeTheAlerts) {
  std::vector<network_session> v = straddling_scan();
  for (int i = 0; i < 200; ++i) v.push_back(rec("192.0.2.44", t0 + i * 6 * sec, i));
  for (int i = 0; i < 300; ++i) v.push_back(rec("2001:db8::5", t0 + i * sec, 7 + i % 3));
  std::sort(v.begin(), v.end(), [](const auto& a, const auto& b) { return a.time < b.time; });
  shard_state whole(config(true));
  const auto expected = run(whole, v);
  ASSERT_EQ(expected.size(), 4u);

  const rule_definition rule = default_rule();
  std::mt19937 rng(7);
  for (int round = 0; round < 5; ++round) {
    // Displace each record by up to 2 minutes of arrival (the lateness used is 3 minutes).
    std::vector<std::pair<timestamp_us, network_session>> arrivals;
    std::uniform_int_distribution<timestamp_us> jitter(0, 2 * minute);
    for (const auto& r : v) arrivals.emplace_back(r.time + jitter(rng), r);
    std::sort(arrivals.begin(), arrivals.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    shard_state s(config(true));
    evaluator ev;
    std::vector<alert> got;
    timestamp_us newest = INT64_MIN;
    for (std::size_t i = 0; i < arrivals.size(); ++i) {
      s.add(arrivals[i].second);
      newest = std::max(newest, arrivals[i].second.time);
      if (i % 37 == 0) {
        s.advance_watermark(newest);
        ev.evaluate(s, rule, newest - 3 * minute, 0, got);
      }
    }
    ev.evaluate(s, rule, INT64_MAX, 0, got);
    ASSERT_EQ(got.size(), expected.size()) << "round " << round;
    std::sort(got.begin(), got.end(), [](const auto& a, const auto& b) {
      return std::tie(a.bin_end, a.alert_id) < std::tie(b.bin_end, b.alert_id);
    });
    auto want = expected;
    std::sort(want.begin(), want.end(), [](const auto& a, const auto& b) {
      return std::tie(a.bin_end, a.alert_id) < std::tie(b.bin_end, b.alert_id);
    });
    for (std::size_t i = 0; i < got.size(); ++i) {
      EXPECT_EQ(got[i].alert_id, want[i].alert_id);
      EXPECT_EQ(got[i].bin_start, want[i].bin_start);
      EXPECT_EQ(got[i].ports, want[i].ports);
      EXPECT_EQ(got[i].ports_count, want[i].ports_count);
      EXPECT_EQ(got[i].first_seen, want[i].first_seen);
    }
  }
}

// A port seen at t0 and t0 + 10 min has two runs; a late record at t0 + 5 min joins them.
// With 50 such ports no 5-minute interval holds more than 50 ports; counting a port once per
// run (had the bridge not merged them) would see 100 around t0 + 5 min.
TEST(Sliding, ARecordBridgingTwoRunsMergesThem) {
  std::vector<network_session> v;
  for (int p = 0; p < 50; ++p) v.push_back(rec("192.0.2.99", t0, p));
  for (int p = 0; p < 50; ++p) v.push_back(rec("192.0.2.99", t0 + 10 * minute, p));
  for (int p = 0; p < 50; ++p) v.push_back(rec("192.0.2.99", t0 + 5 * minute, p));
  shard_state s(config(true));
  EXPECT_TRUE(run(s, v).empty());
  // One more port in [t0 + 5 min, t0 + 10 min] makes 51: the crossing is that record.
  v.push_back(rec("192.0.2.99", t0 + 7 * minute, 999));
  shard_state s2(config(true));
  const auto alerts = run(s2, v);
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].bin_end, t0 + 7 * minute);
  EXPECT_EQ(alerts[0].ports_count, 51u);
}

// Records without a port add no state; a late record past the retention is dropped.
TEST(Sliding, PortlessAndTooLateRecords) {
  shard_state s(config(true));
  s.add(rec("192.0.2.1", t0, network_session::no_port));
  EXPECT_EQ(s.keys(), 0u);
  s.advance_watermark(t0 + 200 * minute);
  EXPECT_EQ(s.add(rec("192.0.2.1", t0, 80)), shard_state::add_result::late);
  EXPECT_EQ(s.keys(), 0u);
}

// Runs far enough behind the evaluated point and the retention horizon are freed, never
// before the rule has seen them.
TEST(Sliding, StateIsFreedOnlyAfterEvaluation) {
  shard_state s(config(true));
  const rule_definition rule = default_rule();
  evaluator ev;
  std::vector<alert> out;
  for (const auto& r : straddling_scan()) s.add(r);
  s.advance_watermark(t0 + 300 * minute);  // far past retention, nothing evaluated yet
  EXPECT_EQ(s.keys(), 1u);
  ev.evaluate(s, rule, t0 + 290 * minute, 0, out);
  EXPECT_EQ(out.size(), 1u);
  s.advance_watermark(t0 + 300 * minute + 1);
  EXPECT_EQ(s.keys(), 0u);
  EXPECT_LT(s.memory_bytes(), 1024u);  // an empty index
}

// A checkpoint taken half-way and restored gives the alerts the uninterrupted run gives
// (same ids, same evidence), including the once-per-interval memory; the kinds do not mix.
TEST(Sliding, CheckpointRoundTripKeepsAlertsAndPolicy) {
  std::vector<network_session> v;
  for (int i = 0; i < 200; ++i) v.push_back(rec("192.0.2.44", t0 + i * 6 * sec, i));
  const rule_definition rule = default_rule();
  shard_state whole(config(true));
  const auto expected = run(whole, v);
  ASSERT_EQ(expected.size(), 3u);

  shard_state first(config(true));
  evaluator ev;
  std::vector<alert> got;
  for (int i = 0; i < 120; ++i) first.add(v[static_cast<std::size_t>(i)]);
  first.advance_watermark(v[119].time);
  ev.evaluate(first, rule, t0 + 400 * sec, 0, got);  // alert 1 (t0 + 300 s) only
  ASSERT_EQ(got.size(), 1u);
  std::string bytes;
  first.serialize(bytes);

  label_table labels;
  shard_state restored(config(true), labels);
  ASSERT_TRUE(restored.deserialize(bytes, labels));
  std::string again;
  restored.serialize(again);
  EXPECT_EQ(again, bytes);
  evaluator ev2(labels);
  for (std::size_t i = 100; i < v.size(); ++i) restored.add(v[i]);  // overlap: replayed records
  ev2.evaluate(restored, rule, INT64_MAX, 0, got);
  ASSERT_EQ(got.size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(got[i].alert_id, expected[i].alert_id);
    EXPECT_EQ(got[i].ports, expected[i].ports);
  }

  shard_state tumbling(config(false));
  EXPECT_FALSE(tumbling.deserialize(bytes, labels));
  std::string tumbling_bytes;
  tumbling.add(rec("192.0.2.1", t0, 80));
  tumbling.serialize(tumbling_bytes);
  EXPECT_EQ(tumbling_bytes.substr(4, 4), std::string("\x03\0\0\0", 4));  // tumbling: version 3
  shard_state sliding(config(true));
  EXPECT_FALSE(sliding.deserialize(tumbling_bytes, labels));
  // Truncations never decode.
  for (std::size_t n = 0; n < bytes.size(); n += 7) {
    shard_state t(config(true), labels);
    EXPECT_FALSE(t.deserialize(std::string_view(bytes).substr(0, n), labels)) << n;
  }
}

// Scale-out's handover (lib/runtime/README.md, "Sliding windows"), on the paced scan of
// ASourceAlertsAgainOnlyAfterThePreviousIntervalHasPassed (alerts at t0 + 300, 606, 912 s).
std::vector<network_session> paced_scan() {
  std::vector<network_session> v;
  for (int i = 0; i < 200; ++i) v.push_back(rec("192.0.2.44", t0 + i * 6 * sec, i));
  return v;
}

// A re-read below the previous owner's position decides nothing; the note it reads there
// (the previous owner's alert at t0 + 300 s: next allowed t0 + 600 s + 1 us) makes the
// later decisions those of the uninterrupted run.
TEST(SlidingHandover, AReReadDecidesNothingAndTheNotesCarryTheDecisions) {
  const rule_definition rule = default_rule();
  evaluator ev;
  std::vector<alert> out;
  shard_state s(config(true));
  sliding_state& w = *s.sliding_window();
  w.keep_notes(true);
  for (const auto& r : paced_scan()) s.add(r);
  w.set_replaying(true);
  ev.evaluate(s, rule, t0 + 400 * sec, 0, out);
  EXPECT_TRUE(out.empty());
  EXPECT_TRUE(w.take_notes().empty());
  w.set_replaying(false);
  w.apply_note(*ip_address::parse("192.0.2.44"), t0 + 600 * sec + 1);
  ev.evaluate(s, rule, INT64_MAX, 0, out);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].bin_end, t0 + 606 * sec);
  EXPECT_EQ(out[1].bin_end, t0 + 912 * sec);
  // Its own decisions become notes: next allowed after each interval.
  const auto notes = w.take_notes();
  ASSERT_EQ(notes.size(), 2u);
  EXPECT_EQ(notes[0].second, t0 + 906 * sec + 1);
  EXPECT_EQ(notes[1].second, t0 + 1212 * sec + 1);
  EXPECT_EQ(notes[1].first.to_string(), "192.0.2.44");
  // Notes only raise it: an older note changes nothing.
  shard_state again(config(true));
  for (const auto& r : paced_scan()) again.add(r);
  again.sliding_window()->apply_note(*ip_address::parse("192.0.2.44"), t0 + 600 * sec + 1);
  again.sliding_window()->apply_note(*ip_address::parse("192.0.2.44"), t0 + 10 * sec);
  out.clear();
  ev.evaluate(again, rule, INT64_MAX, 0, out);
  EXPECT_EQ(out.size(), 2u);
}

// A state rebuilt from part of the log: crossings before its floor are the previous
// owner's. Without the floor the first port it holds (i = 40 at t0 + 240 s, its records
// from there on) would alert at i = 90 (t0 + 540 s), which the whole log never alerts.
TEST(SlidingHandover, CrossingsBeforeTheFloorAreNotDecided) {
  const rule_definition rule = default_rule();
  evaluator ev;
  const auto v = paced_scan();
  const std::vector<network_session> tail(v.begin() + 40, v.end());
  std::vector<alert> out;
  shard_state without(config(true));
  for (const auto& r : tail) without.add(r);
  ev.evaluate(without, rule, INT64_MAX, 0, out);
  ASSERT_FALSE(out.empty());
  EXPECT_EQ(out[0].bin_end, t0 + 540 * sec);

  out.clear();
  shard_state with(config(true));
  with.sliding_window()->set_floor(t0 + 541 * sec);
  with.sliding_window()->apply_note(*ip_address::parse("192.0.2.44"), t0 + 600 * sec + 1);
  for (const auto& r : tail) with.add(r);
  ev.evaluate(with, rule, INT64_MAX, 0, out);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].bin_end, t0 + 606 * sec);
  EXPECT_EQ(out[1].bin_end, t0 + 912 * sec);
}

// A note for a source this state holds no records of keeps it (no runs, its next allowed
// crossing) until the late-record horizon passes that time: records that come meanwhile
// cannot alert before it.
TEST(SlidingHandover, ANoteKeepsASourceWithoutRecordsUntilTheHorizonPassesIt) {
  const rule_definition rule = default_rule();
  evaluator ev;
  std::vector<alert> out;
  window_config c = config(true);
  c.retention = 10 * minute;
  shard_state s(c);
  s.sliding_window()->apply_note(*ip_address::parse("192.0.2.44"), t0 + 600 * sec + 1);
  ev.evaluate(s, rule, t0, 0, out);
  s.advance_watermark(t0 + 8 * minute);   // horizon t0 - 2 min: kept
  s.advance_watermark(t0 + 15 * minute);  // horizon t0 (what was evaluated): kept
  EXPECT_EQ(s.keys(), 1u);
  for (const auto& r : paced_scan())
    if (r.time >= t0 + 5 * minute) s.add(r);
  ev.evaluate(s, rule, INT64_MAX, 0, out);
  ASSERT_EQ(out.size(), 2u);  // 51 ports by t0 + 600 s (i = 50..100), blocked until then
  EXPECT_EQ(out[0].bin_end, t0 + 606 * sec);
  EXPECT_EQ(out[1].bin_end, t0 + 912 * sec);
  shard_state gone(c);
  gone.sliding_window()->apply_note(*ip_address::parse("192.0.2.44"), t0 + 600 * sec + 1);
  ev.evaluate(gone, rule, t0 + 11 * minute, 0, out);
  gone.advance_watermark(t0 + 21 * minute);  // horizon t0 + 11 min: past it, dropped
  EXPECT_EQ(gone.keys(), 0u);
}

// What a new owner must re-read (shard_state::held_bins in sliding mode): the panes from two
// widths before the floor, so that a port's run that began long before is rebuilt starting
// before every undecided interval and the alert's first_seen stays the interval start. Port
// 9 is hit every 4 minutes from 10:00; a scan of 50 ports from 10:32:00 to 10:32:30 (late,
// after evaluation closed 10:30 and the watermark reached 10:40) crosses at 10:32:30 with
// port 9: interval [10:27:30, 10:32:30], first_seen 10:27:30 (port 9's run began before).
// From 10:25 only, port 9's run would start at 10:28 and first_seen would say so.
TEST(SlidingHandover, TheReReadKeepsFirstSeenOfARunThatBeganLongBefore) {
  const rule_definition rule = default_rule();
  window_config c = config(true);
  c.retention = 10 * minute;
  const timestamp_us ten = t0 - 5 * minute;  // 10:00
  std::vector<network_session> before, after;
  for (timestamp_us t = ten; t <= ten + 28 * minute; t += 4 * minute)
    before.push_back(rec("203.0.113.9", t, 9));
  after.push_back(rec("203.0.113.9", ten + 32 * minute, 9));
  for (int i = 0; i < 50; ++i)
    after.push_back(rec("203.0.113.9", ten + 32 * minute + 30 * sec * i / 49, 100 + i));

  evaluator whole_ev;
  std::vector<alert> whole_out, rebuilt_out;
  shard_state whole(c);
  std::int64_t offset = 0;
  for (const auto& r : before) {
    whole.set_source_offset(offset++);
    whole.add(r);
  }
  whole_ev.evaluate(whole, rule, ten + 30 * minute, 0, whole_out);
  whole.advance_watermark(ten + 40 * minute);
  ASSERT_EQ(whole.decided_before(), ten + 30 * minute);
  const auto panes = whole.held_bins();
  ASSERT_FALSE(panes.empty());
  EXPECT_EQ(panes.front().first, ten + 20 * minute);

  evaluator rebuilt_ev;
  shard_state rebuilt(c);
  rebuilt.sliding_window()->set_floor(whole.decided_before());
  for (const auto& r : before)  // under the watermark in force where they were read
    if (floor_to(r.time, 5 * minute) >= panes.front().first) rebuilt.add(r);
  rebuilt.advance_watermark(ten + 40 * minute);
  for (const auto& r : after) {
    whole.add(r);
    rebuilt.add(r);
  }
  whole_ev.evaluate(whole, rule, INT64_MAX, 0, whole_out);
  rebuilt_ev.evaluate(rebuilt, rule, INT64_MAX, 0, rebuilt_out);
  ASSERT_EQ(whole_out.size(), 1u);
  ASSERT_EQ(rebuilt_out.size(), 1u);
  EXPECT_EQ(whole_out[0].bin_end, ten + 32 * minute + 30 * sec);
  EXPECT_EQ(whole_out[0].first_seen, ten + 27 * minute + 30 * sec);
  EXPECT_EQ(rebuilt_out[0].first_seen, whole_out[0].first_seen);
  EXPECT_EQ(rebuilt_out[0].alert_id, whole_out[0].alert_id);
  EXPECT_EQ(rebuilt_out[0].ports, whole_out[0].ports);
}

// The key cap sheds the benign sources first and never the one over the threshold.
TEST(Sliding, SheddingKeepsTheScanner) {
  window_config c = config(true);
  c.max_keys = 100;
  shard_state s(c);
  std::vector<network_session> v;
  for (int p = 0; p < 60; ++p) v.push_back(rec("203.0.113.50", t0 + p * sec, p));
  for (int k = 0; k < 300; ++k)
    v.push_back(rec(("198.18.0." + std::to_string(k % 250)).c_str(), t0 + 70 * sec + k, 443));
  const auto alerts = run(s, v);
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].src.to_string(), "203.0.113.50");
  EXPECT_GT(s.stats().shed_keys, 0u);
  EXPECT_LE(s.keys(), 100u);
  std::uint64_t bands = 0;
  for (auto b : s.stats().shed_by_distance) bands += b;
  EXPECT_EQ(bands, s.stats().shed_keys);
}

// The rule-level options of a tumbling bin hold for a sliding alert too: a source an
// exclusion covers at alert time (a reload while its records were counted) does not alert,
// and with ipv6_prefix the alert's source is the prefix, its id computed over that text.
TEST(Sliding, ExclusionsAtAlertTimeAndIpv6PrefixesApply) {
  rule_definition rule = default_rule();
  exclusion_config e;
  e.name = "scanner";
  e.reason = "vulnerability scanner";
  std::string error;
  e.sources.push_back(*ip_network::parse("203.0.113.0/24", error));
  rule.exclusions = std::make_shared<const exclusion_set>(std::vector<exclusion_config>{e});
  {
    shard_state state(config(true));
    for (const auto& r : straddling_scan()) state.add(r);
    evaluator ev;
    std::vector<alert> out;
    ev.evaluate(state, rule, INT64_MAX, 0, out);
    EXPECT_TRUE(out.empty());
    EXPECT_EQ(ev.stats().excluded, 1u);
  }
  // 2001:db8:1:2::/64 as the dispatcher hands it over (the address cut to its prefix):
  // 60 ports in 5 minutes, across the 10:10 bin edge.
  shard_state state(config(true));
  for (auto r : straddling_scan()) {
    r.src = *ip_address::parse("2001:db8:1:2::");
    state.add(r);
  }
  evaluator ev;
  ev.set_ipv6_prefix(64);
  std::vector<alert> out;
  ev.evaluate(state, default_rule(), INT64_MAX, 0, out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].source_text(), "2001:db8:1:2::/64");
  EXPECT_EQ(out[0].alert_id, make_sliding_alert_id(default_rule().metadata->id, "2001:db8:1:2::/64",
                                                   out[0].bin_start));
}

}  // namespace
}  // namespace portscand

// ReportedBy of sliding-window alerts: each run keeps each label with the time it was first
// seen in the run, and an alert takes the labels seen at or before its crossing. Late
// records and merged runs move a run's first time; a label's own time must not follow it.
// Every expected list below is worked out by hand in the comment next to it.
namespace portscand {
namespace {

const label_id fortigate = label_table::global().intern("Fortinet/FortiGate");
const label_id asa = label_table::global().intern("Cisco/ASA");
const label_id zscaler = label_table::global().intern("Zscaler/ZIA");

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
  shard_state s(config(true));
  for (const auto& r : late_record_case()) s.add(r);
  const auto alerts = run(s, {});
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].bin_end, t0 + 60 * sec);
  EXPECT_EQ(alerts[0].ports_count, 51u);
  EXPECT_EQ(alerts[0].first_seen, t0 + 20 * sec);
  EXPECT_EQ(alerts[0].reported_by, (std::vector<std::string>{"Cisco/ASA", "Zscaler/ZIA"}));
}

TEST(SlidingLabels, TheLabelTimesSurviveACheckpoint) {
  shard_state s(config(true));
  for (const auto& r : late_record_case()) s.add(r);
  std::string bytes;
  s.serialize(bytes);
  shard_state restored(config(true));
  ASSERT_TRUE(restored.deserialize(bytes, label_table::global()));
  std::string again;
  restored.serialize(again);
  EXPECT_EQ(again, bytes);
  const auto alerts = run(restored, {});
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
  shard_state s(config(true));
  s.add(rec(src, t0, 7, fortigate));
  s.add(rec(src, t0 + 400 * sec, 7, asa));
  for (int p = 100; p < 149; ++p) s.add(rec(src, t0 + 150 * sec, p, zscaler));
  s.add(rec(src, t0 + 250 * sec, 8, zscaler));
  s.add(rec(src, t0 + 200 * sec, 7, asa));
  const auto alerts = run(s, {});
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
  shard_state s(config(true));
  s.add(rec(src, t0, 7, fortigate));
  s.add(rec(src, t0 + 400 * sec, 7, asa));
  for (int p = 100; p < 149; ++p) s.add(rec(src, t0 + 150 * sec, p, zscaler));
  s.add(rec(src, t0 + 250 * sec, 8, zscaler));
  const auto alerts = run(s, {});
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].bin_end, t0 + 250 * sec);
  EXPECT_EQ(alerts[0].reported_by, (std::vector<std::string>{"Fortinet/FortiGate", "Zscaler/ZIA"}));
}

}  // namespace
}  // namespace portscand
