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

// evidence() but event_count and ReportedBy.
std::string core(const std::string& evidence) {
  std::size_t cut = evidence.size();
  for (std::size_t i = 0, spaces = 0; i < evidence.size(); ++i)
    if (evidence[i] == ' ' && ++spaces == 6) {
      cut = i;
      break;
    }
  const std::size_t open = evidence.find('[');
  return evidence.substr(0, cut) + " " + evidence.substr(open, evidence.find(']', open) - open + 1);
}

struct entry {
  std::string key, value;
};

constexpr std::int32_t partition = 3;

// One owner: a partitioned engine fed through the stage-2 sink.
class owner {
 public:
  explicit owner(bool sliding = false, timestamp_us retention = 70 * us_per_minute)
      : clk_(at("2026-01-15T12:00:00Z")) {
    engine_options o;
    o.partitioned = true;
    o.shards = 2;
    o.window.retention = retention;
    o.window.sliding = sliding;
    o.write_note = [this](std::int32_t p, const note_record& n) {
      EXPECT_EQ(p, partition);
      std::lock_guard lock(notes_mu_);
      notes_.push_back(n);
    };
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

  // Reads log[from, to) as the owner: the notes its evaluations write land in the log a few
  // entries after the tick that made them (`delay` picks how many), as an append to the
  // partition would. Returns where `to` moved to.
  std::size_t read_writing(std::vector<entry>& log, std::size_t from, std::size_t to,
                           const std::function<std::size_t()>& delay) {
    const auto is_tick = [](const entry& e) {
      return !e.value.empty() && static_cast<std::uint8_t>(e.value[0]) == tick_record_v1;
    };
    for (std::size_t i = from; i < to;) {
      std::size_t tick = i;
      while (tick < to && !is_tick(log[tick])) ++tick;
      read(log, i, std::min(tick + 1, to));
      if (tick == to) break;
      i = tick + 1;
      eng_->visit_tasks([](std::int32_t, partition_task&) {}).wait();
      std::vector<note_record> written;
      {
        std::lock_guard lock(notes_mu_);
        written.swap(notes_);
      }
      const std::size_t at = std::min(log.size(), i + delay());
      for (std::size_t k = 0; k < written.size(); ++k)
        log.insert(log.begin() + static_cast<long>(at + k), {"", encode_note_record(written[k])});
      if (at < to) to += written.size();
    }
    return to;
  }

 private:
  std::mutex notes_mu_;
  std::vector<note_record> notes_;
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
// A scan of ports 1..60 by `src`, one a second from `start` + 1 s.
std::vector<entry> scan(timestamp_us start, const char* src) {
  std::vector<entry> out;
  for (int port = 1; port <= 60; ++port) {
    network_session s;
    s.src = *ip_address::parse(src);
    s.time = start + port * us_per_second;
    s.has_time = true;
    s.dst_port = port;
    std::string value;
    encode_session_record(s, "Fortinet/FortiGate", "", value);
    out.push_back({session_record_key(s.src), value});
  }
  return out;
}

// `persistent`: also a source that hits the same 60 ports, each every 2 minutes, for the
// whole log (over the threshold throughout: in sliding mode it alerts once).
std::vector<entry> make_log(unsigned seed, bool persistent = false) {
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
    if (persistent)
      for (int k = 0; k < 30; ++k)
        session("203.0.113.50", base + k * 2 * us_per_second, (minute % 2) * 30 + k + 1);
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
  const std::vector<entry> burst = scan(burst_time, "203.0.113.99");
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

// The same invariant with sliding windows, where whether a crossing alerts depends on the
// source's earlier alerts (the next allowed crossing): the owner's notes carry them through
// the log. A new owner rebuilt from any resume point sends every alert the first owner sent
// after that point, with the same id, interval, ports and first/last seen; the records of a
// port's activity run from before the resume point are not read again, so its event_count
// may be lower and its ReportedBy may lack a label seen only then.
TEST(ScaleOutHandover, SlidingWindowsHandOverThroughTheirNotes) {
  const std::vector<entry> base = make_log(5, true);
  // A retention shorter than the log, so that most resume points leave records behind.
  const timestamp_us retention = 20 * us_per_minute;
  std::mt19937 rng(3);
  const std::function<std::size_t()> delay = [&rng] { return static_cast<std::size_t>(rng() % 5); };
  std::vector<entry> whole_log = base;
  owner whole(true, retention);
  whole.assign(-1, "");
  whole.read_writing(whole_log, 0, whole_log.size(), delay);
  const std::vector<std::string> all = whole.alerts();
  ASSERT_GT(all.size(), 20u) << "the log must alert enough to prove anything";
  ASSERT_GT(whole_log.size(), base.size()) << "the owner must have written notes";

  std::vector<std::string> all_core;
  for (const auto& a : all) all_core.push_back(core(a));

  std::size_t checked_replays = 0, identical = 0, compared = 0;
  for (std::size_t cut = 50; cut < base.size(); cut += base.size() / 23) {
    for (const bool first_went_on : {false, true}) {
      std::vector<entry> log = base;
      owner first(true, retention);
      first.assign(-1, "");
      std::size_t at_cut = first.read_writing(log, 0, cut, delay);
      // A commit needs every note written in the log before it: read on until it is.
      auto rp = first.resume_point();
      while (!rp && at_cut < log.size()) {
        at_cut = first.read_writing(log, at_cut, at_cut + 1, delay);
        rp = first.resume_point();
      }
      ASSERT_TRUE(rp) << "cut " << cut;
      ASSERT_LE(rp->first, static_cast<std::int64_t>(at_cut));
      const std::size_t sent_before = first.alerts().size();
      // The log as the new owner finds it: with the first owner's notes up to the commit
      // (it stopped there), or beyond (it went on a while and died).
      std::vector<entry> handed;
      if (first_went_on) {
        first.read_writing(log, at_cut, log.size(), delay);
        handed = log;
      } else {
        handed.assign(log.begin(), log.begin() + static_cast<long>(at_cut));
        const std::size_t base_at =
            at_cut - static_cast<std::size_t>(
                         std::count_if(handed.begin(), handed.end(), [](const entry& e) {
                           return !e.value.empty() &&
                                  static_cast<std::uint8_t>(e.value[0]) == note_record_v1;
                         }));
        handed.insert(handed.end(), base.begin() + static_cast<long>(base_at), base.end());
        first.read_writing(log, at_cut, log.size(), delay);
      }
      const std::vector<std::string> first_all = first.alerts();
      ASSERT_EQ(first_all, all) << "cut " << cut << ": reading in two pieces changed the result";
      const std::vector<std::string> after_cut(first_all.begin() + static_cast<long>(sent_before),
                                               first_all.end());

      owner second(true, retention);
      second.assign(rp->first, encode_partition_resume(rp->second));
      second.read_writing(handed, static_cast<std::size_t>(rp->first), handed.size(), delay);
      const std::vector<std::string> rebuilt = second.alerts();
      std::vector<std::string> rebuilt_core;
      for (const auto& a : rebuilt) rebuilt_core.push_back(core(a));
      for (const auto& a : after_cut) {
        ++compared;
        EXPECT_NE(std::find(rebuilt_core.begin(), rebuilt_core.end(), core(a)), rebuilt_core.end())
            << "cut " << cut << (first_went_on ? " (first went on)" : "")
            << ": the new owner does not send " << a;
        identical += std::find(rebuilt.begin(), rebuilt.end(), a) != rebuilt.end() ? 1 : 0;
      }
      for (const auto& a : rebuilt_core)
        EXPECT_NE(std::find(all_core.begin(), all_core.end(), a), all_core.end())
            << "cut " << cut << (first_went_on ? " (first went on)" : "")
            << ": the new owner sends an alert the log does not hold: " << a;
      if (rp->first < static_cast<std::int64_t>(at_cut)) ++checked_replays;
    }
  }
  EXPECT_GT(checked_replays, 10u) << "the cuts must fall where state is held";
  EXPECT_GT(compared, 20u);
  // Most copies are identical in every field: only runs older than the resume point differ.
  EXPECT_GT(identical * 2, compared);
}

// A resume point waits until the owner's notes are in the log before it: a new owner
// starting earlier would decide without them.
TEST(ScaleOutHandover, ASlidingResumePointWaitsForTheOwnersNotes) {
  const timestamp_us t0 = at("2026-01-15T10:00:00Z");
  std::vector<entry> log = scan(t0, "203.0.113.7");
  log.push_back({"", encode_tick_record({t0 + 20 * us_per_minute, t0 + 10 * us_per_minute})});
  for (int i = 0; i < 5; ++i)
    log.push_back(
        {"", encode_mark_record({"instance-a", t0 + 20 * us_per_minute, false, {"in/0"}})});
  owner o(true);
  o.assign(-1, "");
  const std::function<std::size_t()> later = [] { return std::size_t{3}; };
  const std::size_t tick_end = o.read_writing(log, 0, log.size() - 5, later);  // to the tick
  ASSERT_EQ(o.alerts().size(), 1u);
  ASSERT_EQ(log.size(), 67u) << "one note";
  const std::size_t note = tick_end + 3;
  ASSERT_EQ(static_cast<std::uint8_t>(log[note].value[0]), note_record_v1);
  for (std::size_t i = tick_end; i < note; ++i) {
    EXPECT_FALSE(o.resume_point()) << "its note is not in the log before the position yet";
    o.read(log, i, i + 1);
  }
  EXPECT_FALSE(o.resume_point());
  o.read(log, note, note + 1);
  const auto rp = o.resume_point();
  ASSERT_TRUE(rp);
  const std::size_t end = note + 1;
  EXPECT_EQ(rp->second.end, static_cast<std::int64_t>(end));
  // It must be read again: its next allowed crossing (t0 + 51 s + 5 min + 1 us) is after
  // the floor (the late-record horizon: the watermark after the tick's evaluation, t0 +
  // 20 min + 1 us, less the 70 min retention).
  EXPECT_LE(rp->first, static_cast<std::int64_t>(note));
  EXPECT_EQ(rp->second.floor, t0 - 50 * us_per_minute + 1);
}

// Without the notes (a new owner that ignores them) the chain of next allowed crossings
// restarts, and the rebuilt alerts differ: what the notes are for.
TEST(ScaleOutHandover, WithoutNotesASlidingHandoverDiffers) {
  const std::vector<entry> base = make_log(5);
  const std::function<std::size_t()> none = [] { return std::size_t{0}; };
  std::vector<entry> whole_log = base;
  owner whole(true);
  whole.assign(-1, "");
  whole.read_writing(whole_log, 0, whole_log.size(), none);
  std::vector<std::string> all;
  for (const auto& a : whole.alerts()) all.push_back(core(a));
  std::size_t foreign_with = 0, foreign_without = 0;
  for (std::size_t cut = base.size() / 3; cut < base.size(); cut += base.size() / 7) {
    std::vector<entry> log = base;
    owner first(true);
    first.assign(-1, "");
    std::size_t at_cut = first.read_writing(log, 0, cut, none);
    auto rp = first.resume_point();
    ASSERT_TRUE(rp);
    first.read_writing(log, at_cut, log.size(), none);
    for (const bool keep_notes : {true, false}) {
      std::vector<entry> handed;
      for (std::size_t i = 0; i < log.size(); ++i) {
        const bool note =
            !log[i].value.empty() && static_cast<std::uint8_t>(log[i].value[0]) == note_record_v1;
        // Without notes: the resume offset's entries stay where they are (no note before).
        if (keep_notes || !note || i < static_cast<std::size_t>(rp->first))
          handed.push_back(log[i]);
      }
      owner second(true);
      second.assign(rp->first, encode_partition_resume(rp->second));
      second.read(handed, static_cast<std::size_t>(rp->first), handed.size());
      std::size_t& foreign = keep_notes ? foreign_with : foreign_without;
      for (const auto& a : second.alerts())
        if (std::find(all.begin(), all.end(), core(a)) == all.end()) ++foreign;
    }
  }
  EXPECT_EQ(foreign_with, 0u);
  EXPECT_GT(foreign_without, 0u);
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
