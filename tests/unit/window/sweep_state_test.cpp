// The port-sweep rule's window state (lib/window/sweep_state.hpp) inside shard_state:
// exact distinct destinations per (source, port, bin), the keys it frees, sheds and
// checkpoints. Expected figures are worked out by hand next to each case.
#include "window/sweep_state.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/binary_io.hpp"
#include "window/shard_state.hpp"

namespace portscand {
namespace {

const timestamp_us t0 = 1'768'471'500LL * us_per_second;  // 2026-01-15T10:05:00Z, a bin start
constexpr timestamp_us minute = us_per_minute;

network_session rec(const char* src, timestamp_us t, int port, const std::string& dst) {
  network_session r;
  r.src = *ip_address::parse(src);
  r.time = t;
  r.has_time = true;
  r.dst_port = port;
  if (!dst.empty()) {
    r.dst = *ip_address::parse(dst);
    r.has_dst = true;
  }
  return r;
}

std::string host(int i) {
  return "198.19." + std::to_string(i / 250) + "." + std::to_string(i % 250 + 1);
}

window_config sweep_window() {
  window_config c;
  c.sweep = true;
  c.sweep_threshold = 50;
  c.sweep_max_targets = 100;
  return c;
}

struct seen {
  std::string src;
  std::uint16_t port;
  timestamp_us bin;
  std::uint32_t destinations, events;
};

std::vector<seen> sweeps(shard_state& st, timestamp_us close_before) {
  std::vector<seen> out;
  st.evaluate_sweeps(close_before, [&](sweep_view k) {
    out.push_back(
        {k.src.to_string(), k.port, k.bin_start, k.state.destinations.size(), k.state.events});
  });
  return out;
}

TEST(SweepState, CountsDistinctDestinationsPerSourcePortAndBin) {
  shard_state st(sweep_window());
  // 203.0.113.7: port 445 on 60 addresses, each twice (120 records), port 22 on 3 addresses,
  // one record of port 445 without a destination; 203.0.113.8 port 445 on one address.
  for (int i = 0; i < 60; ++i) {
    st.add(rec("203.0.113.7", t0 + i * 1'000'000, 445, host(i)));
    st.add(rec("203.0.113.7", t0 + minute + i * 1'000'000, 445, host(i)));
  }
  for (int i = 0; i < 3; ++i) st.add(rec("203.0.113.7", t0 + 2 * minute, 22, host(i)));
  st.add(rec("203.0.113.7", t0 + 3 * minute, 445, ""));
  st.add(rec("203.0.113.8", t0 + 3 * minute, 445, host(0)));
  // A record without a port feeds the vertical keys only.
  st.add(rec("203.0.113.9", t0 + 3 * minute, -1, host(5)));
  EXPECT_EQ(st.keys(), 3u + 3u);  // three vertical sources, three sweep keys
  auto got = sweeps(st, t0 + 5 * minute);
  ASSERT_EQ(got.size(), 3u);
  std::sort(got.begin(), got.end(), [](const seen& a, const seen& b) {
    return std::tie(a.src, a.port) < std::tie(b.src, b.port);
  });
  EXPECT_EQ(got[0].src, "203.0.113.7");
  EXPECT_EQ(got[0].port, 22);
  EXPECT_EQ(got[0].destinations, 3u);
  EXPECT_EQ(got[1].port, 445);
  EXPECT_EQ(got[1].destinations, 60u);
  EXPECT_EQ(got[1].events, 121u);  // 120 with a destination, 1 without
  EXPECT_EQ(got[2].src, "203.0.113.8");
  EXPECT_EQ(got[2].destinations, 1u);
  // Evaluated once; a late record re-opens its bin for the key it touches alone, and counts
  // once (both rules' bins were evaluated, as the engine does).
  EXPECT_TRUE(sweeps(st, t0 + 5 * minute).empty());
  st.evaluate_closed(t0 + 5 * minute, [](key_view) {});
  st.add(rec("203.0.113.8", t0 + 4 * minute, 445, host(1)));
  got = sweeps(st, t0 + 5 * minute);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].destinations, 2u);
  EXPECT_EQ(st.stats().reopened, 1u);
}

TEST(SweepState, ARuleExcludedRecordFeedsOnlyTheOtherRule) {
  shard_state st(sweep_window());
  network_session r = rec("203.0.113.7", t0, 445, host(0));
  r.excluded_from = network_session::sweep_rule;
  st.add(r);
  EXPECT_EQ(st.keys(), 1u);  // the vertical key only
  EXPECT_TRUE(sweeps(st, t0 + 5 * minute).empty());
  r.excluded_from = network_session::vertical_rule;
  st.add(r);
  EXPECT_EQ(st.keys(), 2u);  // and now the sweep key; the vertical key saw one record
  std::uint32_t vertical_events = 0;
  st.evaluate_closed(t0 + 5 * minute, [&](key_view k) { vertical_events = k.state.events; });
  EXPECT_EQ(vertical_events, 1u);
}

TEST(SweepState, TheSweepRuleAloneKeepsNoVerticalKeys) {
  window_config c = sweep_window();
  c.vertical = false;
  shard_state st(c);
  st.set_source_offset(40);
  st.add(rec("203.0.113.7", t0, 445, host(0)));
  EXPECT_EQ(st.keys(), 1u);
  EXPECT_EQ(st.bins(), 1u);
  // Scale-out's resume point sees the sweep bins.
  const auto held = st.held_bins();
  ASSERT_EQ(held.size(), 1u);
  EXPECT_EQ(held[0], std::make_pair(t0, std::int64_t{40}));
  // Evaluated bins behind the retention horizon are freed.
  sweeps(st, t0 + 5 * minute);
  st.advance_watermark(t0 + 5 * minute + c.retention);
  EXPECT_EQ(st.keys(), 0u);
  EXPECT_EQ(st.stats().freed_bins, 1u);
}

TEST(SweepState, HeldBinsTakeTheSmallestOffsetOfEitherRule) {
  shard_state st(sweep_window());
  network_session r = rec("203.0.113.7", t0, 445, host(0));
  r.excluded_from = network_session::vertical_rule;  // seen by the sweep rule only
  st.set_source_offset(7);
  st.add(r);
  st.set_source_offset(9);
  st.add(rec("203.0.113.8", t0 + minute, 80, host(1)));
  const auto held = st.held_bins();
  ASSERT_EQ(held.size(), 1u);
  EXPECT_EQ(held[0].second, 7);
}

TEST(SweepState, CrossingHandlerFiresOnceWhenTheCountPassesTheThreshold) {
  window_config c = sweep_window();
  c.early_alerts = true;
  shard_state st(c);
  std::vector<std::uint32_t> crossings;
  st.set_sweep_crossing_handler(
      [&](sweep_view k) { crossings.push_back(k.state.destinations.size()); });
  for (int i = 0; i < 50; ++i) st.add(rec("203.0.113.7", t0 + i, 445, host(i)));
  st.add(rec("203.0.113.7", t0 + 60, 445, host(3)));  // a repeat: no new destination
  EXPECT_TRUE(crossings.empty());
  for (int i = 50; i < 80; ++i) st.add(rec("203.0.113.7", t0 + 100 + i, 445, host(i)));
  EXPECT_EQ(crossings, std::vector<std::uint32_t>{51});
}

TEST(SweepState, SheddingKeepsKeysOverTheThresholdAndDropsTheFewestDestinationsFirst) {
  window_config c = sweep_window();
  c.vertical = false;
  c.max_keys = 10;
  c.sweep_threshold = 3;
  shard_state st(c);
  // A sweeper over the threshold (4 destinations), then one key with 2 destinations, then
  // singles: at the 10th key the cap sheds down to 9 (10 - 10/10), dropping the oldest
  // single-destination key.
  for (int i = 0; i < 4; ++i) st.add(rec("203.0.113.1", t0 + i, 445, host(i)));
  st.add(rec("203.0.113.2", t0 + 10, 445, host(0)));
  st.add(rec("203.0.113.2", t0 + 11, 445, host(1)));
  for (int k = 0; k < 9; ++k)
    st.add(rec(("203.0.113." + std::to_string(10 + k)).c_str(), t0 + 20 + k, 80, host(k)));
  EXPECT_EQ(st.stats().shed_keys, 1u);
  EXPECT_EQ(st.stats().shed_by_distance[0], 1u);  // 3 + 1 - 1 = 3 destinations short
  std::vector<std::string> left;
  for (const auto& s : sweeps(st, t0 + 5 * minute)) left.push_back(s.src);
  EXPECT_EQ(left.size(), 10u);
  EXPECT_NE(std::find(left.begin(), left.end(), "203.0.113.1"), left.end());
  EXPECT_NE(std::find(left.begin(), left.end(), "203.0.113.2"), left.end());
  EXPECT_EQ(std::find(left.begin(), left.end(), "203.0.113.10"), left.end());  // oldest single
}

TEST(SweepState, CheckpointRoundTripKeepsCountsFlagsAndEvidence) {
  window_config c = sweep_window();
  label_table labels;
  shard_state st(c, labels);
  for (int i = 0; i < 70; ++i) {
    network_session r = rec("2001:db8::7", t0 + i * 1000, 3389, host(i));
    r.reported_by = labels.intern(i % 2 ? "Palo Alto Networks/PAN-OS" : "Fortinet/FortiGate");
    r.action = i % 3 ? dvc_action::deny : dvc_action::allow;
    r.protocol = 6;
    st.add(r);
  }
  sweeps(st, t0 + 5 * minute);  // evaluated: the bin flags must survive too
  std::string bytes;
  st.serialize(bytes);
  EXPECT_EQ(bytes.substr(4, 4), std::string("\x04\0\0\0", 4));  // version 4: with sweep keys
  shard_state back(c, labels);
  ASSERT_TRUE(back.deserialize(bytes, labels));
  EXPECT_EQ(back.keys(), st.keys());
  std::string again;
  back.serialize(again);
  EXPECT_EQ(again, bytes);
  // The evaluated bin is not visited again; a new record to a known address adds nothing.
  EXPECT_TRUE(sweeps(back, t0 + 5 * minute).empty());
  back.add(rec("2001:db8::7", t0 + 2 * minute, 3389, host(0)));
  const auto got = sweeps(back, t0 + 5 * minute);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].destinations, 70u);
  EXPECT_EQ(got[0].events, 71u);

  // Without the sweep rule the same bytes restore the vertical keys and drop the sweep
  // keys; a state without sweep keys is version 3, as before the rule existed.
  shard_state vertical_only(window_config{}, labels);
  ASSERT_TRUE(vertical_only.deserialize(bytes, labels));
  EXPECT_EQ(vertical_only.keys(), 1u);
  std::string v3;
  vertical_only.serialize(v3);
  EXPECT_EQ(v3.substr(4, 4), std::string("\x03\0\0\0", 4));
  shard_state sweep_from_v3(c, labels);
  ASSERT_TRUE(sweep_from_v3.deserialize(v3, labels));
  EXPECT_EQ(sweep_from_v3.keys(), 1u);
}

TEST(SweepState, DamagedCheckpointBytesAreRefusedWithoutReadingPastThem) {
  window_config c = sweep_window();
  label_table labels;
  shard_state st(c, labels);
  for (int i = 0; i < 5; ++i) st.add(rec("203.0.113.7", t0 + i, 445, host(i)));
  std::string bytes;
  st.serialize(bytes);
  // Every truncation fails cleanly and leaves the state empty.
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    shard_state back(c, labels);
    EXPECT_FALSE(back.deserialize(std::string_view(bytes).substr(0, n), labels)) << n;
    EXPECT_EQ(back.keys(), 0u);
  }
  // A destination written twice is corrupt (the count would be wrong).
  std::string doubled = bytes;
  const auto text = [](const std::string& ip) {
    const auto b = ip_address::parse(ip)->bytes();  // a copy: parse returns a temporary
    return std::string(reinterpret_cast<const char*>(b.data()), b.size());
  };
  const std::string first = text(host(0)), second = text(host(1));
  const auto at = doubled.find(second);
  ASSERT_NE(at, std::string::npos);
  doubled.replace(at, 16, first);
  shard_state back(c, labels);
  EXPECT_FALSE(back.deserialize(doubled, labels));
}

}  // namespace
}  // namespace portscand
