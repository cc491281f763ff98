// The scale-out handover invariant, without Kafka: a partition's log (session records, ticks,
// marks) is read by one owner; at any position the owner's resume point (offset and
// metadata, as committed) lets a second owner, reading the same log from there, rebuild the
// state and send exactly the alerts the first sent from that position on, with the same
// ids and evidence.
#include "runtime/scale_out.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "event/session_record.hpp"
#include "runtime_test_util.hpp"

namespace portscand {
namespace {

using test::at;
using test::collecting_sink;

// Everything an alert says but when it was sent.
std::string evidence(const alert& a) {
  std::string s = a.alert_id + " " + a.src.to_string() + " " + std::to_string(a.bin_start) + " " +
                  std::to_string(a.ports_count) + " " + std::to_string(a.first_seen) + " " +
                  std::to_string(a.last_seen) + " " + std::to_string(a.event_count) + " [";
  for (auto p : a.ports) s += std::to_string(p) + ",";
  s += "] [";
  for (const auto& l : a.reported_by) s += l + ",";
  return s + "]";
}

struct entry {
  std::string key, value;
};

constexpr std::int32_t partition = 3;

// One owner: a partitioned engine fed through the stage-2 sink.
class owner {
 public:
  owner() : clk_(at("2026-01-15T12:00:00Z")) {
    engine_options o;
    o.partitioned = true;
    o.shards = 2;
    o.window.retention = 70 * us_per_minute;
    eng_ = std::make_unique<engine>(o, std::make_shared<const rule_definition>(default_rule()),
                                    clk_, alerts_, metrics_);
    sink_ = std::make_unique<by_source_sink>(*eng_, 5 * us_per_minute, metrics_);
  }
  ~owner() { eng_->stop(); }

  void assign(std::int64_t committed, const std::string& metadata) {
    std::vector<assigned_partition> parts(1);
    parts[0].key = {"by-source", partition};
    parts[0].committed_known = true;
    parts[0].committed = committed;
    parts[0].metadata = metadata;
    sink_->on_assigned(parts);
    if (committed >= 0) {
      ASSERT_TRUE(parts[0].start);
      EXPECT_EQ(*parts[0].start, committed);
    }
  }
  void read(const std::vector<entry>& log, std::size_t from, std::size_t to) {
    for (std::size_t i = from; i < to; ++i) {
      unit_meta meta;
      meta.key = log[i].key;
      meta.partition = partition;
      meta.offset = static_cast<std::int64_t>(i);
      sink_->on_unit(log[i].value, meta);
    }
    sink_->on_burst_end();
  }
  // What this owner would commit now.
  std::optional<std::pair<std::int64_t, partition_resume>> resume_point() {
    std::optional<std::pair<std::int64_t, partition_resume>> out;
    eng_->visit_tasks([&out](std::int32_t p, partition_task& t) {
          if (p == partition) out = t.resume_point();
        })
        .wait();
    return out;
  }
  std::vector<std::string> alerts() {
    eng_->visit_tasks([](std::int32_t, partition_task&) {}).wait();  // every queued op done
    std::lock_guard lock(alerts_.mu);
    std::vector<std::string> out;
    for (const auto& a : alerts_.got) out.push_back(evidence(a));
    return out;
  }
  std::uint64_t counted(const char* metric) { return metrics_.counter_sum(metric, {}); }

 private:
  manual_clock clk_;
  metrics_registry metrics_;
  collecting_sink alerts_;
  std::unique_ptr<engine> eng_;
  std::unique_ptr<by_source_sink> sink_;
};

// A log with scanners across bins (some crossing bin edges), background sources, copies of
// records (a stage-1 instance that re-read its input), late records that re-open evaluated
// bins, records behind the retention horizon, marks, and the owner's ticks as an owner
// following the records' time would write them.
std::vector<entry> make_log(unsigned seed) {
  std::mt19937 rng(seed);
  std::vector<entry> log;
  const timestamp_us t0 = at("2026-01-15T10:00:00Z");
  auto session = [&](const std::string& src, timestamp_us t, int port) {
    network_session s;
    s.src = *ip_address::parse(src);
    s.time = t;
    s.has_time = true;
    s.dst_port = port;
    s.protocol = 6;
    std::string value;
    encode_session_record(s, port % 3 == 0 ? "Palo Alto Networks/PAN-OS" : "Fortinet/FortiGate", "",
                          value);
    log.push_back({session_record_key(s.src), value});
  };
  timestamp_us last_tick = t0;
  for (int minute = 0; minute < 90; ++minute) {
    const timestamp_us base = t0 + minute * us_per_minute;
    for (int i = 0; i < 200; ++i) {
      const timestamp_us t = base + static_cast<timestamp_us>(rng() % 60) * us_per_second;
      const int kind = static_cast<int>(rng() % 10);
      if (kind < 5) {  // background: few ports per source
        session("198.18." + std::to_string(rng() % 4) + "." + std::to_string(rng() % 200), t,
                static_cast<int>(443 + rng() % 3));
      } else if (kind < 9) {  // scanners: many ports, some pacing across bin edges
        const int scanner = static_cast<int>(rng() % 6);
        session("203.0.113." + std::to_string(10 + scanner), t,
                static_cast<int>(1 + rng() % (scanner < 3 ? 400 : 70)));
      } else {  // a copy of an earlier record, or a late one (minutes back, or hours back)
        if (!log.empty() && rng() % 2 == 0) {
          log.push_back(log[rng() % log.size()]);
        } else {
          const timestamp_us back = (rng() % 4 == 0 ? 100 : 1 + rng() % 20) * us_per_minute;
          session("203.0.113." + std::to_string(10 + rng() % 6), t - back,
                  static_cast<int>(1000 + rng() % 2000));
        }
      }
    }
    if (minute % 7 == 3)
      log.push_back({"", encode_mark_record({"instance-a", base, false, {"in/0"}})});
    // The owner's tick: watermark at this minute, evaluation of what closed 10 min ago.
    if (base - last_tick >= 2 * us_per_minute) {
      log.push_back({"", encode_tick_record({base, base - 10 * us_per_minute})});
      last_tick = base;
    }
  }
  log.push_back({"", encode_tick_record({INT64_MAX, INT64_MAX})});  // the end: close all
  return log;
}

TEST(ScaleOutHandover, ANewOwnerRebuildsTheStateFromAnyResumePoint) {
  const std::vector<entry> log = make_log(7);
  owner whole;
  whole.assign(-1, "");
  whole.read(log, 0, log.size());
  const std::vector<std::string> all = whole.alerts();
  ASSERT_GT(all.size(), 10u) << "the log must alert enough to prove anything";

  std::size_t checked_replays = 0;
  for (std::size_t cut = 50; cut < log.size(); cut += log.size() / 23) {
    owner first;
    first.assign(-1, "");
    first.read(log, 0, cut);
    const std::size_t sent_before = first.alerts().size();
    const auto rp = first.resume_point();
    ASSERT_TRUE(rp) << "cut " << cut;
    ASSERT_LE(rp->first, static_cast<std::int64_t>(cut));
    EXPECT_LE(rp->second.end, static_cast<std::int64_t>(cut));
    // The first owner goes on, as if it had not lost the partition.
    first.read(log, cut, log.size());
    const std::vector<std::string> first_all = first.alerts();
    EXPECT_EQ(first_all, all) << "cut " << cut << ": reading in two pieces changed the result";
    const std::vector<std::string> after_cut(first_all.begin() + static_cast<long>(sent_before),
                                             first_all.end());

    owner second;
    second.assign(rp->first, encode_partition_resume(rp->second));
    second.read(log, static_cast<std::size_t>(rp->first), log.size());
    const std::vector<std::string> rebuilt = second.alerts();
    // Everything the first owner sent after the cut, the second sends too, identically...
    for (const auto& a : after_cut)
      EXPECT_NE(std::find(rebuilt.begin(), rebuilt.end(), a), rebuilt.end())
          << "cut " << cut << ": the new owner does not send " << a;
    // ...and whatever else it sends (alerts re-sent from before the cut) are copies.
    for (const auto& a : rebuilt)
      EXPECT_NE(std::find(all.begin(), all.end(), a), all.end())
          << "cut " << cut << ": the new owner sends an alert the log does not hold: " << a;
    if (rp->first < static_cast<std::int64_t>(cut)) ++checked_replays;
  }
  EXPECT_GT(checked_replays, 5u) << "the cuts must fall where bins are open";
}

TEST(ScaleOutHandover, WithoutTheResumeMetadataTheRebuiltAlertsDiffer) {
  // What the metadata is for: just after the resume offset the log holds a scan of a bin
  // the first owner had long left behind (its records came too late and were dropped). A
  // new owner given the offset alone starts without a watermark, takes them and alerts on
  // a bin the first owner never alerted; with the metadata it drops them too.
  std::vector<entry> log = make_log(11);
  const std::size_t cut = log.size() * 19 / 20;
  owner probe;
  probe.assign(-1, "");
  probe.read(log, 0, cut);
  const auto rp0 = probe.resume_point();
  ASSERT_TRUE(rp0);
  const auto at_offset = static_cast<std::size_t>(rp0->first) + 1;
  const timestamp_us burst_time = at("2026-01-15T08:00:00Z");
  ASSERT_GT(rp0->second.watermark - 70 * us_per_minute, burst_time + us_per_minute)
      << "the burst must be behind the retention horizon there";
  std::vector<entry> burst;
  for (int port = 1; port <= 60; ++port) {
    network_session s;
    s.src = *ip_address::parse("203.0.113.99");
    s.time = burst_time + port * us_per_second;
    s.has_time = true;
    s.dst_port = port;
    std::string value;
    encode_session_record(s, "Fortinet/FortiGate", "", value);
    burst.push_back({session_record_key(s.src), value});
  }
  log.insert(log.begin() + static_cast<long>(at_offset), burst.begin(), burst.end());

  owner whole;
  whole.assign(-1, "");
  whole.read(log, 0, log.size());
  const std::vector<std::string> all = whole.alerts();
  for (const auto& a : all) ASSERT_EQ(a.find("203.0.113.99"), std::string::npos) << a;

  owner first;
  first.assign(-1, "");
  first.read(log, 0, cut + burst.size());
  const auto rp = first.resume_point();
  ASSERT_TRUE(rp);
  ASSERT_EQ(rp->first, rp0->first);
  auto rebuilt = [&](const std::string& metadata) {
    owner second;
    second.assign(rp->first, metadata);
    second.read(log, static_cast<std::size_t>(rp->first), log.size());
    std::size_t foreign = 0;
    for (const auto& a : second.alerts())
      if (std::find(all.begin(), all.end(), a) == all.end()) ++foreign;
    if (metadata.empty()) {
      EXPECT_EQ(second.counted("portscand_scale_out_resume_metadata_missing_total"), 1u);
    }
    return foreign;
  };
  EXPECT_EQ(rebuilt(encode_partition_resume(rp->second)), 0u);
  EXPECT_GT(rebuilt(""), 0u);
}

TEST(ScaleOutSink, CountsWhatItRefuses) {
  owner o;
  o.assign(-1, "");
  std::vector<entry> log = {{"not-an-ip", "\x01"},
                            {"", "\x02short"},
                            {"", std::string("\x03\x05", 2)},
                            {"1.2.3.4", "\x09whatever"}};
  o.read(log, 0, log.size());
  EXPECT_EQ(o.counted("portscand_records_rejected_total"), 4u);
}

TEST(ScaleOutSink, MarksGiveTheSmallestLiveInstanceWatermark) {
  manual_clock clk(at("2026-01-15T12:00:00Z"));
  metrics_registry metrics;
  collecting_sink alerts;
  engine_options o;
  o.partitioned = true;
  o.shards = 1;
  engine eng(o, std::make_shared<const rule_definition>(default_rule()), clk, alerts, metrics);
  by_source_sink sink(eng, 5 * us_per_minute, metrics);
  std::vector<assigned_partition> parts(2);
  parts[0].key = {"t", 0};
  parts[1].key = {"t", 1};
  for (auto& p : parts) p.committed_known = true;
  sink.on_assigned(parts);
  const timestamp_us now = 1'000'000'000'000'000;
  EXPECT_FALSE(sink.upstream_watermark(now, 15 * us_per_second, 1));
  auto mark = [&](std::int32_t p, std::int64_t off, const char* who, timestamp_us wm, bool final) {
    unit_meta meta;
    meta.partition = p;
    meta.offset = off;
    sink.on_unit(encode_mark_record({who, wm, final, {"in/0"}}), meta);
  };
  mark(0, 0, "a", 500, false);
  mark(1, 0, "b", 300, false);
  mark(1, 1, "a", 700, false);
  // The clock of read_at is the wall clock: query with it.
  const auto wall = [] {
    return std::chrono::duration_cast<std::chrono::microseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  };
  EXPECT_EQ(sink.upstream_watermark(wall(), 15 * us_per_second, 1), 300);
  // Two input partitions, and nobody has said it reads the second: it may hold the oldest
  // records of all, so nothing may close.
  EXPECT_FALSE(sink.upstream_watermark(wall(), 15 * us_per_second, 2));
  mark(1, 2, "b", 900, true);  // b stops reading: no longer waited for
  EXPECT_EQ(sink.upstream_watermark(wall(), 15 * us_per_second, 1), 500);
  // An instance silent for longer than the expiry is taken for gone.
  EXPECT_FALSE(sink.upstream_watermark(wall() + 16 * us_per_second, 15 * us_per_second, 1));
  std::vector<partition_key> revoked{{"t", 0}, {"t", 1}};
  sink.on_revoked(revoked);
  EXPECT_FALSE(sink.upstream_watermark(wall(), 15 * us_per_second, 1));
  eng.stop();
}

}  // namespace
}  // namespace portscand
