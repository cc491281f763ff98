#include "window/shard_state.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

namespace portscand {
namespace {

network_session rec(const char* src, timestamp_us t, int port) {
  network_session r;
  r.src = *ip_address::parse(src);
  r.time = t;
  r.has_time = true;
  r.dst_port = port;
  return r;
}

const timestamp_us t0 = 1'768'471'500LL * us_per_second;  // 2026-01-15T10:05:00Z, a bin start

// add_batch prefetches ahead (hints only): its result must be add()'s, record for record,
// across bins, families, repeated keys and late records.
TEST(ShardState, AddBatchLeavesTheStateAddWould) {
  window_config cfg;
  cfg.retention = 20 * us_per_minute;
  shard_state one(cfg), batched(cfg);
  std::vector<network_session> records;
  std::uint32_t x = 12345;
  auto next = [&x] { return x = x * 1103515245u + 12345u; };
  for (int i = 0; i < 20000; ++i) {
    const std::uint32_t k = (next() >> 8) % 3000;
    network_session r;
    r.src = k % 5 == 0 ? *ip_address::parse("2001:db8::" + std::to_string(k)) : ip_address::from_v4(0xcb007100u + k);
    r.time = t0 + static_cast<timestamp_us>((next() >> 8) % 1800) * us_per_second;
    r.has_time = true;
    r.dst_port = static_cast<int>((next() >> 8) % 200);
    records.push_back(r);
  }
  one.advance_watermark(t0 + 40 * us_per_minute);  // the first bins' records are late
  batched.advance_watermark(t0 + 40 * us_per_minute);
  std::size_t late = 0;
  for (const auto& r : records)
    if (one.add(r) == shard_state::add_result::late) ++late;
  std::size_t batched_late = 0;
  for (std::size_t i = 0; i < records.size(); i += 1024)
    batched_late += batched.add_batch(records.data() + i, std::min<std::size_t>(1024, records.size() - i));
  EXPECT_GT(late, 0u);
  EXPECT_EQ(batched_late, late);
  std::string a, b;
  one.serialize(a);
  batched.serialize(b);
  EXPECT_EQ(a, b);
  EXPECT_GT(one.keys(), 1000u);
}

TEST(ShardState, KeysAreCountedPerSourceAndBin) {
  shard_state s(window_config{});
  s.add(rec("203.0.113.1", t0, 1));
  s.add(rec("203.0.113.1", t0 + 1, 2));
  s.add(rec("203.0.113.1", t0 + 5 * us_per_minute, 3));
  s.add(rec("2001:db8::1", t0, 3));
  EXPECT_EQ(s.keys(), 3u);
  EXPECT_EQ(s.bins(), 2u);
}

TEST(ShardState, EvaluatedBinsBehindTheHorizonAreFreedAndUnevaluatedOnesKept) {
  window_config cfg;
  cfg.retention = 70 * us_per_minute;
  shard_state s(cfg);
  s.add(rec("203.0.113.1", t0, 1));
  s.advance_watermark(t0 + 3 * 60 * us_per_minute);
  EXPECT_EQ(s.bins(), 1u) << "never evaluated: must wait for its evaluation";
  std::size_t seen = 0;
  s.evaluate_closed(INT64_MAX, [&seen](key_view) { ++seen; });
  EXPECT_EQ(seen, 1u);
  s.advance_watermark(t0 + 3 * 60 * us_per_minute + 1);
  EXPECT_EQ(s.bins(), 0u);
  EXPECT_EQ(s.keys(), 0u);
}

TEST(ShardState, AReopenedBinPresentsOnlyItsDirtyKeys) {
  shard_state s(window_config{});
  s.add(rec("203.0.113.1", t0, 1));
  s.add(rec("203.0.113.2", t0, 1));
  s.evaluate_closed(INT64_MAX, [](key_view) {});
  s.add(rec("203.0.113.2", t0, 2));
  std::vector<std::string> seen;
  s.evaluate_closed(INT64_MAX, [&seen](key_view k) { seen.push_back(k.src.to_string()); });
  EXPECT_EQ(seen, std::vector<std::string>{"203.0.113.2"});
  EXPECT_EQ(s.stats().reopened, 1u);
}

TEST(ShardState, TheKeyCapShedsTheKeysFarthestFromTheThreshold) {
  window_config cfg;
  cfg.max_keys = 1000;
  shard_state s(cfg);
  // One scanner with 40 ports, then a flood of one-port spoofed sources.
  for (int p = 0; p < 40; ++p) s.add(rec("198.51.100.7", t0, p));
  for (std::uint32_t i = 0; i < 5000; ++i) {
    network_session r = rec("1.0.0.0", t0, 80);
    r.src = ip_address::from_v4(0x01000000u + i);
    s.add(r);
  }
  EXPECT_LE(s.keys(), 1000u);
  EXPECT_GT(s.stats().shed_keys, 0u);
  bool scanner_kept = false;
  s.evaluate_closed(INT64_MAX, [&](key_view k) {
    if (k.src.to_string() == "198.51.100.7") scanner_kept = k.state.ports.size() == 40;
  });
  EXPECT_TRUE(scanner_kept);
}

TEST(ShardState, RecordsOlderThanTheRetentionAreLate) {
  window_config cfg;
  cfg.retention = 70 * us_per_minute;
  shard_state s(cfg);
  s.advance_watermark(t0 + 71 * us_per_minute);
  EXPECT_EQ(s.add(rec("203.0.113.1", t0, 1)), shard_state::add_result::late);
  EXPECT_EQ(s.add(rec("203.0.113.1", t0 + 2 * us_per_minute, 1)), shard_state::add_result::added);
}

}  // namespace
}  // namespace portscand

namespace portscand {
namespace {

TEST(ShardStateCheckpoint, ARoundTripKeepsEveryKeyPortLabelFlagAndTheWatermark) {
  label_table& labels = label_table::global();
  shard_state a(window_config{});
  for (int p = 0; p < 5000; ++p) {  // reaches the bitmap tier
    network_session r = rec("203.0.113.1", t0 + p, p);
    r.reported_by = labels.intern(p % 2 ? "Fortinet/Fortigate" : "AWS/VPC");
    a.add(r);
  }
  a.add(rec("2001:db8::1", t0 + 5 * us_per_minute, 22));
  a.evaluate_closed(t0 + 5 * us_per_minute, [](key_view k) { k.state.flags |= key_state::alerted; });
  a.advance_watermark(t0 + 7 * us_per_minute);
  std::string bytes;
  a.serialize(bytes);

  shard_state b(window_config{});
  ASSERT_TRUE(b.deserialize(bytes, labels));
  EXPECT_EQ(b.keys(), a.keys());
  EXPECT_EQ(b.bins(), 2u);
  EXPECT_EQ(b.watermark(), a.watermark());
  std::string again;
  b.serialize(again);
  EXPECT_EQ(again, bytes);
  // The evaluated bin stays evaluated (its key alerted); the open one is still to evaluate.
  std::vector<std::string> seen;
  b.evaluate_closed(INT64_MAX, [&seen](key_view k) { seen.push_back(k.src.to_string()); });
  EXPECT_EQ(seen, std::vector<std::string>{"2001:db8::1"});
}

TEST(ShardStateCheckpoint, CorruptOrTruncatedBytesAreRefusedNotCrashed) {
  shard_state a(window_config{});
  for (int p = 0; p < 100; ++p) a.add(rec("203.0.113.1", t0, p));
  std::string bytes;
  a.serialize(bytes);
  shard_state b(window_config{});
  for (std::size_t cut = 0; cut < bytes.size(); cut += 7) EXPECT_FALSE(b.deserialize(std::string_view(bytes).substr(0, cut), label_table::global()));
  std::string flipped = bytes;
  flipped[4] ^= 0x55;  // the version
  EXPECT_FALSE(b.deserialize(flipped, label_table::global()));
  EXPECT_EQ(b.keys(), 0u);
  window_config other;
  other.bin_width = 10 * us_per_minute;
  shard_state c(other);
  EXPECT_FALSE(c.deserialize(bytes, label_table::global())) << "a state of another bin width";
}

}  // namespace
}  // namespace portscand
