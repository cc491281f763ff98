// SPEC §1, row by row, through the real engine (dispatcher filter + shards + evaluator),
// with records built by hand and the clock injected.
#include "runtime/engine.hpp"

#include <gtest/gtest.h>

#include <algorithm>

#include "detect/rule_loader.hpp"
#include "parse/decoder.hpp"
#include "runtime/input_sink.hpp"
#include "runtime_test_util.hpp"

namespace portscand {
namespace {

using test::at;
using test::collecting_sink;

class harness {
 public:
  explicit harness(detection_mode mode = detection_mode::standard, unsigned shards = 2,
                   rule_definition rule = default_rule(), unsigned ipv6_prefix = 128,
                   bool skip_reply_flows = false)
      : clk_(at("2026-01-15T12:00:00Z")) {
    engine_options o;
    o.ipv6_prefix = ipv6_prefix;
    o.skip_reply_flows = skip_reply_flows;
    o.shards = shards;
    o.mode = mode;
    o.window.retention = 70 * us_per_minute;  // 1 h query period + 10 min lateness
    eng_ = std::make_unique<engine>(o, std::make_shared<const rule_definition>(std::move(rule)),
                                    clk_, sink_, metrics_);
    d_ = eng_->make_dispatcher("test");
  }

  void add(const char* src, timestamp_us t, int port, const char* label = "Fortinet/Fortigate",
           flow_side side = flow_side::unknown) {
    network_session r;
    r.side = side;
    r.src = *ip_address::parse(src);
    r.time = t;
    r.has_time = true;
    r.dst_port = port;
    r.reported_by = label_table::global().intern(label);
    d_->begin_unit(ctx_, nullptr);
    d_->record(r);
  }
  // `count` distinct ports starting at `first_port`, one record each, spread over 60 s from t.
  void scan(const char* src, timestamp_us t, int count, int first_port = 1,
            const char* label = "Fortinet/Fortigate") {
    for (int i = 0; i < count; ++i) add(src, t + (i % 60) * us_per_second, first_port + i, label);
  }

  // Moves the watermark; evaluates what closed (on_close behaviour, lateness 10 min).
  void watermark(timestamp_us w) {
    d_->flush();
    eng_->advance(w, w - 10 * us_per_minute).wait();
  }
  // Lets the shards take every record sent so far, evaluating nothing.
  void settle() {
    d_->flush();
    eng_->advance(INT64_MIN, std::nullopt).wait();
  }
  std::vector<alert> finish() {
    d_->flush();
    eng_->advance(INT64_MAX, INT64_MAX).wait();
    return alerts();
  }
  std::vector<alert> alerts() {
    std::lock_guard lock(sink_.mu);
    auto v = sink_.got;
    std::sort(v.begin(), v.end(), [](const alert& a, const alert& b) {
      return a.bin_start != b.bin_start ? a.bin_start < b.bin_start
                                        : a.src.to_string() < b.src.to_string();
    });
    return v;
  }
  std::uint64_t counted(const char* metric, metric_labels match = {}) {
    return metrics_.counter_sum(metric, match);
  }
  manual_clock& clock() { return clk_; }
  // A reload (SIGHUP): the records sent so far reach the shards before the new rule.
  void set_rule(rule_definition rule) {
    d_->flush();
    eng_->set_rule(std::make_shared<const rule_definition>(std::move(rule)));
  }
  // Decodes a unit as an input does: receive time in the context; the decoder's normalize()
  // chooses between the record's own time, its syslog header's and the receive time.
  void decode(const std::string& unit, timestamp_us received) {
    if (!decoder_) decoder_ = std::make_unique<unit_decoder>(builtin_formats(), "auto");
    parse_context ctx;
    ctx.receive_time = received;
    d_->begin_unit(ctx, decoder_.get());
    decoder_->decode(unit, ctx, *d_);
  }

 private:
  manual_clock clk_;
  metrics_registry metrics_;
  collecting_sink sink_;
  std::unique_ptr<engine> eng_;
  std::unique_ptr<engine::dispatcher> d_;
  std::unique_ptr<unit_decoder> decoder_;
  parse_context ctx_;
};

std::vector<std::string> sources(const std::vector<alert>& alerts) {
  std::vector<std::string> out;
  for (const auto& a : alerts) out.push_back(a.src.to_string());
  return out;
}

const timestamp_us t0 = at("2026-01-15T10:05:00Z");

// The default rule with `exclusions:` read from YAML, as run and reload build it.
rule_definition rule_with(const std::string& yaml) {
  const auto r = load_config_text(yaml, {});
  for (const auto& p : r.problems) ADD_FAILURE() << p.path << ": " << p.message;
  return with_options(default_rule(), r.cfg);
}

TEST(Ipv6Prefix, SourcesAreCountedPerPrefixAndTheAlertNamesIt) {
  harness h(detection_mode::standard, 3,
            rule_with("exclusions: [{name: one, reason: r, sources: ['2001:db8:1:2::ff']}]"), 64);
  // 60 addresses of one /64, one port each (and ::ff, excluded by its whole address), as an
  // address-rotating scanner does; and a /64 next door with 50 ports: no alert.
  for (int i = 1; i <= 60; ++i)
    h.add(("2001:db8:1:2::" + std::to_string(i)).c_str(), t0 + i * us_per_second, 1000 + i);
  h.add("2001:db8:1:2::ff", t0, 7);
  for (int i = 1; i <= 50; ++i)
    h.add(("2001:db8:1:3::" + std::to_string(i)).c_str(), t0 + i * us_per_second, 1000 + i);
  h.scan("203.0.113.7", t0, 60);  // IPv4 keeps its whole address
  const auto a = h.finish();
  ASSERT_EQ(a.size(), 2u);
  EXPECT_EQ(a[0].source_text(), "2001:db8:1:2::/64");
  EXPECT_EQ(a[0].ports_count, 60u);
  EXPECT_EQ(a[0].ports.front(), 1001);
  // UUIDv5 over "rule|2001:db8:1:2::/64|2026-01-15T10:05:00Z", computed with Python's uuid.
  EXPECT_EQ(a[0].alert_id, "c847ce3f-9b43-5812-9aba-3c7660340b4a");
  EXPECT_NE(render_alert(a[0], alert_schema::native).find(R"("SrcIpAddr":"2001:db8:1:2::/64")"),
            std::string::npos);
  EXPECT_EQ(a[1].source_text(), "203.0.113.7");
  EXPECT_EQ(h.counted("portscand_records_excluded_total", {{"exclusion", "one"}}), 1u);
}

TEST(Ipv6Prefix, TheDefaultCountsEachAddress) {
  harness h;
  for (int i = 1; i <= 60; ++i) h.add(("2001:db8:1:2::" + std::to_string(i)).c_str(), t0, 1000 + i);
  EXPECT_TRUE(h.finish().empty());
}

TEST(Suppression, NoAlertForTheSameSourceWithinTheDurationOfItsLastAlert) {
  harness h(detection_mode::standard, 2, rule_with("suppression: {duration: 15m}"));
  const timestamp_us bin = 5 * us_per_minute;
  h.scan("203.0.113.7", t0, 60);            // 10:05 alerts
  h.scan("203.0.113.7", t0 + bin, 60);      // 10:10 suppressed (5 min after)
  h.scan("203.0.113.7", t0 + 2 * bin, 60);  // 10:15 suppressed (10 min)
  h.scan("203.0.113.7", t0 + 3 * bin, 60);  // 10:20 alerts: 15 min is not less than 15 min
  h.scan("203.0.113.7", t0 + 4 * bin, 60);  // 10:25 suppressed by the 10:20 alert
  h.scan("203.0.113.8", t0 + bin, 60);      // another source is not affected
  const auto a = h.finish();
  std::vector<std::string> got;
  for (const auto& x : a) got.push_back(format_iso8601(x.bin_start) + " " + x.src.to_string());
  EXPECT_EQ(got, (std::vector<std::string>{"2026-01-15T10:05:00Z 203.0.113.7",
                                           "2026-01-15T10:10:00Z 203.0.113.8",
                                           "2026-01-15T10:20:00Z 203.0.113.7"}));
  EXPECT_EQ(h.counted("portscand_alerts_suppressed_total"), 3u);
}

TEST(Suppression, OffByDefault) {
  harness h;
  h.scan("203.0.113.7", t0, 60);
  h.scan("203.0.113.7", t0 + 5 * us_per_minute, 60);
  EXPECT_EQ(h.finish().size(), 2u);
}

TEST(Suppression, TheStateSurvivesASerializeAndRestoreOfTheEvaluator) {
  // What the checkpoint carries: an evaluator restored from it suppresses as the first would.
  window_config wc;
  const rule_definition rule = rule_with("suppression: {duration: 1h}");
  shard_state st(wc);
  evaluator first;
  std::vector<alert> out;
  const auto scan = [&](shard_state& s, const char* src, timestamp_us t) {
    for (int p = 1; p <= 60; ++p) {
      network_session r;
      r.src = *ip_address::parse(src);
      r.time = t;
      r.has_time = true;
      r.dst_port = p;
      s.add(r);
    }
  };
  scan(st, "2001:db8::7", t0);
  scan(st, "203.0.113.7", t0);
  first.evaluate(st, rule, t0 + 5 * us_per_minute, 0, out);
  ASSERT_EQ(out.size(), 2u);
  std::string bytes;
  first.serialize_history(bytes);
  evaluator restored;
  ASSERT_TRUE(restored.deserialize_history(bytes));
  EXPECT_EQ(restored.history_entries(), 4u);  // two suppression entries, two incidents
  shard_state later(wc);
  scan(later, "2001:db8::7", t0 + 30 * us_per_minute);
  scan(later, "203.0.113.7", t0 + 30 * us_per_minute);
  scan(later, "203.0.113.9", t0 + 30 * us_per_minute);
  out.clear();
  restored.evaluate(later, rule, t0 + 40 * us_per_minute, 0, out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].src.to_string(), "203.0.113.9");
  EXPECT_EQ(restored.stats().suppressed, 2u);
  // Bytes that are not an encoding leave it empty, never half-read.
  EXPECT_FALSE(restored.deserialize_history(bytes.substr(0, bytes.size() - 3)));
  EXPECT_EQ(restored.history_entries(), 0u);
  EXPECT_TRUE(restored.deserialize_history(""));
}

TEST(Exclusions, ExcludedRecordsDoNotCountAndAreCountedPerEntry) {
  harness h(detection_mode::standard, 2,
            rule_with("exclusions: [{name: low, reason: r, ports: ['1-10']},"
                      " {reason: r, sources: [198.51.100.0/24]}]"));
  h.scan("203.0.113.7", t0, 60);    // ports 1..60: 10 excluded, 50 left: no alert
  h.scan("203.0.113.8", t0, 61);    // 51 left: alerts with 51
  h.scan("198.51.100.9", t0, 100);  // ports 1..10 go to the first entry, the rest to the second
  const auto a = h.finish();
  ASSERT_EQ(sources(a), std::vector<std::string>{"203.0.113.8"});
  EXPECT_EQ(a[0].ports_count, 51u);
  EXPECT_EQ(a[0].ports.front(), 11);
  EXPECT_EQ(h.counted("portscand_records_excluded_total", {{"exclusion", "low"}}), 30u);
  EXPECT_EQ(h.counted("portscand_records_excluded_total", {{"exclusion", "1"}}), 90u);
}

TEST(Exclusions, ASourceExcludedByAReloadWhileItsBinIsOpenDoesNotAlert) {
  harness h;
  h.scan("203.0.113.7", t0, 60);
  h.scan("203.0.113.8", t0, 60);
  h.set_rule(rule_with("exclusions: [{name: s, reason: r, sources: [203.0.113.7/32]}]"));
  h.scan("203.0.113.7", t0, 5, 100);  // after the reload: excluded
  const auto a = h.finish();
  EXPECT_EQ(sources(a), std::vector<std::string>{"203.0.113.8"});
  EXPECT_EQ(h.counted("portscand_records_excluded_total", {{"exclusion", "s"}}), 5u);
  EXPECT_EQ(h.counted("portscand_alerts_excluded_total"), 1u);
}

TEST(Exclusions, AReloadThatRemovesAnExclusionCountsTheRecordsAfterIt) {
  harness h(detection_mode::standard, 2,
            rule_with("exclusions: [{name: s, reason: r, sources: [203.0.113.7/32]}]"));
  h.scan("203.0.113.7", t0, 60);  // excluded
  h.set_rule(default_rule());
  h.scan("203.0.113.7", t0, 51, 1000);
  const auto a = h.finish();
  ASSERT_EQ(sources(a), std::vector<std::string>{"203.0.113.7"});
  EXPECT_EQ(a[0].ports_count, 51u);
  EXPECT_EQ(a[0].ports.front(), 1000);
  EXPECT_EQ(h.counted("portscand_records_excluded_total", {{"exclusion", "s"}}), 60u);
}

// A victim's answers to a connect scan, as a bidirectional exporter reports them: 60 flows
// from the victim to 60 ephemeral ports of the scanner, marked reply by their parser.
void scan_with_replies(harness& h) {
  for (int i = 0; i < 60; ++i) {
    h.add("203.0.113.7", t0 + i * us_per_second, 1 + i, "pmacct/pmacct", flow_side::initiator);
    h.add("198.51.100.2", t0 + i * us_per_second, 40000 + i, "pmacct/pmacct", flow_side::reply);
    h.add("198.51.100.3", t0 + i * us_per_second, 1 + i, "pmacct/pmacct", flow_side::unknown);
  }
}

TEST(ReplyFlows, SkippedRepliesDoNotCountAndAreCounted) {
  harness h(detection_mode::standard, 2, default_rule(), 128, /*skip_reply_flows=*/true);
  scan_with_replies(h);
  // The initiator and the source whose records do not tell alert; the victim does not.
  EXPECT_EQ(sources(h.finish()), (std::vector<std::string>{"198.51.100.3", "203.0.113.7"}));
  EXPECT_EQ(h.counted("portscand_records_filtered_total", {{"reason", "reply_flow"}}), 60u);
  EXPECT_EQ(h.counted("portscand_records_parsed_total"), 180u);
}

TEST(ReplyFlows, WithoutTheOptionRepliesCountAsTheRuleCountsThem) {
  harness h(detection_mode::standard, 2, default_rule(), 128, /*skip_reply_flows=*/false);
  scan_with_replies(h);
  EXPECT_EQ(sources(h.finish()),
            (std::vector<std::string>{"198.51.100.2", "198.51.100.3", "203.0.113.7"}));
  EXPECT_EQ(h.counted("portscand_records_filtered_total", {{"reason", "reply_flow"}}), 0u);
}

TEST(Threshold, FiftyOnePortsAlertAndFiftyDoNot) {
  harness h;
  h.scan("203.0.113.51", t0, 51);
  h.scan("203.0.113.50", t0, 50);
  EXPECT_EQ(sources(h.finish()), std::vector<std::string>{"203.0.113.51"});
}

TEST(SourceFilter, Rfc1918EdgesAreExcludedExactly) {
  harness h;
  for (const char* s : {"172.15.255.255", "172.16.0.0", "172.31.255.255", "172.32.0.0", "10.0.0.1",
                        "192.168.255.255", "192.169.0.1"})
    h.scan(s, t0, 60);
  EXPECT_EQ(sources(h.finish()),
            (std::vector<std::string>{"172.15.255.255", "172.32.0.0", "192.169.0.1"}));
  EXPECT_EQ(h.counted("portscand_records_filtered_total", {{"reason", "private"}}), 4u * 60);
}

TEST(SourceFilter, OnlyTheLiteral127001IsExcluded) {
  harness h;
  h.scan("127.0.0.1", t0, 60);
  h.scan("127.0.0.2", t0, 60);
  EXPECT_EQ(sources(h.finish()), std::vector<std::string>{"127.0.0.2"});
}

TEST(SourceFilter, Ipv6SourcesAlertInDefaultModeExceptLoopbackAndPrivate) {
  harness h;
  for (const char* s : {"2001:db8::7", "::1", "fd00::1", "fe80::1"}) h.scan(s, t0, 60);
  EXPECT_EQ(sources(h.finish()), std::vector<std::string>{"2001:db8::7"});
}

TEST(SourceFilter, SentinelModeDropsEveryIpv6Source) {
  harness h(detection_mode::sentinel);
  h.scan("2001:db8::7", t0, 60);
  h.scan("203.0.113.7", t0, 60);
  EXPECT_EQ(sources(h.finish()), std::vector<std::string>{"203.0.113.7"});
  EXPECT_EQ(h.counted("portscand_records_filtered_total", {{"reason", "ipv6_sentinel"}}), 60u);
}

TEST(SourceFilter, AMappedIpv4SourceIsTheIpv4Source) {
  harness h;
  h.scan("::ffff:203.0.113.9", t0, 30);
  h.scan("203.0.113.9", t0, 30, 31);  // ports 31..60: together 60 distinct
  const auto a = h.finish();
  ASSERT_EQ(sources(a), std::vector<std::string>{"203.0.113.9"});
  EXPECT_EQ(a[0].ports_count, 60u);
}

TEST(DistinctCount, PortlessRecordsAddTheirLabelAndEventsButNoPort) {
  harness h;
  h.scan("203.0.113.7", t0, 51);
  h.add("203.0.113.7", t0 + 5 * us_per_second, network_session::no_port, "AWS/VPC");
  h.add("203.0.113.7", t0 + 6 * us_per_second, network_session::no_port, "AWS/VPC");
  const auto a = h.finish();
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].ports_count, 51u);
  EXPECT_EQ(a[0].event_count, 53u);
  EXPECT_EQ(a[0].reported_by, (std::vector<std::string>{"AWS/VPC", "Fortinet/Fortigate"}));
}

TEST(DistinctCount, FiftyPortsPlusPortlessRecordsDoNotAlert) {
  harness h;
  h.scan("203.0.113.7", t0, 50);
  for (int i = 0; i < 10; ++i) h.add("203.0.113.7", t0, network_session::no_port);
  EXPECT_TRUE(h.finish().empty());
}

TEST(DistinctCount, PortZeroAnd65535Count) {
  harness h;
  h.scan("203.0.113.7", t0, 49, 1000);
  h.add("203.0.113.7", t0, 0);
  h.add("203.0.113.7", t0, 65535);
  const auto a = h.finish();
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].ports_count, 51u);
  EXPECT_EQ(a[0].ports.front(), 0);
  EXPECT_EQ(a[0].ports.back(), 65535);
}

TEST(DistinctCount, DuplicatePortsCountOnce) {
  harness h;
  for (int round = 0; round < 3; ++round) h.scan("203.0.113.7", t0, 40);
  EXPECT_TRUE(h.finish().empty());
}

TEST(Caps, AttemptedPortsAreTheFirstHundredAscendingAndReportedByTheFirstTwenty) {
  harness h;
  for (int i = 0; i < 150; ++i) {
    char label[32];
    std::snprintf(label, sizeof label, "V%02d/P", 29 - i % 30);
    h.add("203.0.113.7", t0 + i * us_per_second, 1000 - i * 3, label);  // descending arrival
  }
  const auto a = h.finish();
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].ports_count, 150u);
  ASSERT_EQ(a[0].ports.size(), 100u);
  EXPECT_EQ(a[0].ports.front(), 1000 - 149 * 3);
  EXPECT_TRUE(std::is_sorted(a[0].ports.begin(), a[0].ports.end()));
  EXPECT_EQ(a[0].ports.back(), 1000 - 50 * 3);
  ASSERT_EQ(a[0].reported_by.size(), 20u);
  EXPECT_EQ(a[0].reported_by.front(), "V00/P");
  EXPECT_EQ(a[0].reported_by.back(), "V19/P");
}

TEST(Bins, ThirtyPlusThirtyAcrossABinBoundaryDoNotAlert) {
  harness h;
  for (int i = 0; i < 30; ++i) h.add("203.0.113.7", at("2026-01-15T10:04:59.999999Z"), i);
  for (int i = 30; i < 60; ++i) h.add("203.0.113.7", at("2026-01-15T10:05:00Z"), i);
  EXPECT_TRUE(h.finish().empty());
}

TEST(Bins, TheAlertIsStampedWithTheBinStartAndItsWindow) {
  harness h;
  h.scan("203.0.113.7", at("2026-01-15T10:07:13Z"), 51);
  const auto a = h.finish();
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(format_iso8601(a[0].bin_start), "2026-01-15T10:05:00Z");
  EXPECT_EQ(format_iso8601(a[0].bin_end), "2026-01-15T10:10:00Z");
  EXPECT_EQ(format_iso8601(a[0].first_seen), "2026-01-15T10:07:13Z");
  EXPECT_EQ(format_iso8601(a[0].last_seen), "2026-01-15T10:08:03Z");  // 51 records, 1 s apart
}

TEST(OutOfOrder, RecordsWithinTheLatenessLandInTheirBin) {
  harness h;
  h.scan("203.0.113.7", t0, 30);
  h.watermark(at("2026-01-15T10:14:00Z"));  // bin 10:05 ends 10:10, closes at 10:20
  h.scan("203.0.113.7", t0 + 10 * us_per_second, 30, 31);
  h.watermark(at("2026-01-15T10:21:00Z"));
  const auto a = h.alerts();
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].ports_count, 60u);
}

TEST(LateData, ARecordWithinTheHorizonReopensAnEvaluatedBinAndAlerts) {
  harness h;
  h.scan("203.0.113.7", t0, 50);
  h.watermark(at("2026-01-15T10:30:00Z"));  // evaluated: 50 ports, no alert
  EXPECT_TRUE(h.alerts().empty());
  h.add("203.0.113.7", t0 + us_per_second, 5000);  // 20 min late, horizon is 70 min
  h.watermark(at("2026-01-15T10:31:00Z"));
  const auto a = h.alerts();
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].ports_count, 51u);
}

TEST(LateData, ARecordBeyondTheHorizonIsDroppedAndCounted) {
  harness h;
  h.scan("203.0.113.7", t0, 50);
  h.watermark(at("2026-01-15T11:30:00Z"));  // horizon: 10:20; the bin ended 10:10
  h.add("203.0.113.7", t0 + us_per_second, 5000);
  EXPECT_TRUE(h.finish().empty());
  EXPECT_EQ(h.counted("portscand_records_late_total"), 1u);
}

TEST(FutureSkew, RecordsMoreThanFiveMinutesAheadOfTheWallClockAreDropped) {
  harness h;  // wall clock 12:00
  h.scan("203.0.113.7", at("2026-01-15T12:05:30Z"), 60);
  h.scan("203.0.113.8", at("2026-01-15T12:04:00Z"), 60);
  EXPECT_EQ(sources(h.finish()), std::vector<std::string>{"203.0.113.8"});
  EXPECT_EQ(h.counted("portscand_records_filtered_total", {{"reason", "future"}}), 60u);
}

// FortiOS's CEF traffic example (log message reference, "Traffic log support for CEF") with
// its FTNTFGTeventtime left out, a documentation-range source and the port varied: a record
// with no time of its own, behind an RFC 5424 header that has one. Constructed.
std::string fortigate_cef_without_time(timestamp_us header_time, int port) {
  return "<189>1 " + format_iso8601(header_time) +
         " FGT-A-LOG - - - CEF:0|Fortinet|Fortigate|v6.0.3|00013|traffic:forward close|3|"
         "deviceExternalId=FGT5HD3915800610 FTNTFGTlogid=0000000013 cat=traffic:forward "
         "src=203.0.113.7 spt=54190 dst=52.53.140.235 dpt=" +
         std::to_string(port) + " proto=6 act=close";
}

TEST(EventTime, ARecordWithoutItsOwnTimeIsBinnedOnItsSyslogHeaderTime) {
  // Sixty sessions ten minutes apart over ten hours, received together at 11:59: binned on
  // the receive time they would make one 60-port bin (the false positive of issue 12).
  harness h;
  for (int i = 0; i < 60; ++i)
    h.decode(
        fortigate_cef_without_time(at("2026-01-15T01:00:00Z") + i * 10 * us_per_minute, 8000 + i),
        at("2026-01-15T11:59:00Z"));
  EXPECT_TRUE(h.finish().empty());
}

TEST(EventTime, HeaderTimesInOneBinAlertInThatBinNotTheReceiveBin) {
  harness h;
  for (int i = 0; i < 60; ++i)
    h.decode(fortigate_cef_without_time(at("2026-01-15T10:05:00Z") + i * us_per_second, 8000 + i),
             at("2026-01-15T11:59:00Z"));
  const auto alerts = h.finish();
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(format_iso8601(alerts[0].bin_start), "2026-01-15T10:05:00Z");
}

TEST(OncePerKey, AKeyThatAlertedNeverAlertsAgainEvenWhenItGrows) {
  harness h;
  h.scan("203.0.113.7", t0, 51);
  h.watermark(at("2026-01-15T10:30:00Z"));
  ASSERT_EQ(h.alerts().size(), 1u);
  h.scan("203.0.113.7", t0, 40, 100);  // late, within the horizon: re-opens the bin
  h.watermark(at("2026-01-15T10:31:00Z"));
  EXPECT_EQ(h.finish().size(), 1u);
}

TEST(OncePerKey, TheSameSourceAlertsOncePerBin) {
  harness h;
  h.scan("203.0.113.7", t0, 51);
  h.scan("203.0.113.7", t0 + 5 * us_per_minute, 51);
  const auto a = h.finish();
  ASSERT_EQ(a.size(), 2u);
  EXPECT_NE(a[0].alert_id, a[1].alert_id);
}

TEST(Shards, TheResultDoesNotDependOnTheShardCount) {
  auto run = [](unsigned shards) {
    harness h(detection_mode::standard, shards);
    for (int s = 0; s < 40; ++s) {
      const std::string src = "198.51.100." + std::to_string(s);
      h.scan(src.c_str(), t0 + s * us_per_second, 45 + s % 10);
    }
    std::vector<std::string> out;
    for (const auto& a : h.finish()) out.push_back(a.alert_id + std::to_string(a.ports_count));
    return out;
  };
  const auto one = run(1);
  EXPECT_EQ(one.size(), 16u);  // 45..54 ports: the sources with 51..54 alert
  EXPECT_EQ(run(3), one);
}

// The issue's reproduction through an input as the daemon builds it (input_sink: decoder,
// dispatcher, metrics): 60 Filebeat events around PAN-OS CEF lines of a 60-port scan alert,
// every envelope is counted as unwrapped, and an envelope without a message is a counted
// rejection under format "envelope".
TEST(InputSink, FilebeatEnvelopesAroundCefAlertAndAreCounted) {
  manual_clock clk(at("2026-12-06T12:00:00Z"));
  metrics_registry metrics;
  collecting_sink alerts;
  engine_options o;
  o.shards = 2;
  o.window.retention = 70 * us_per_minute;
  engine eng(o, std::make_shared<const rule_definition>(default_rule()), clk, alerts, metrics);
  {
    input_sink in(eng, "fw-cef", "auto", event_time_source::record, nullptr, false);
    unit_meta meta;
    meta.receive_time = at("2026-12-06T10:20:00Z");
    for (int port = 1; port <= 60; ++port) {
      // No rt=, no syslog header: the record takes the envelope's @timestamp.
      const std::string unit =
          R"({"@timestamp":"2026-12-06T10:01:)" + std::string(port % 60 < 10 ? "0" : "") +
          std::to_string(port % 60) +
          R"(.000Z","agent":{"type":"filebeat"},"ecs":{"version":"8.0.0"},"host":{"name":"fw1"},)"
          R"("message":"CEF:0|Palo Alto Networks|PAN-OS|10.2|end|TRAFFIC|1|act=deny )"
          R"(src=203.0.113.66 dst=198.51.100.10 spt=40000 proto=TCP dpt=)" +
          std::to_string(port) + "\"}";
      in.on_unit(unit, meta);
    }
    in.on_unit(R"({"source_type":"kafka","timestamp":"2026-12-06T10:01:00Z"})", meta);
    in.on_burst_end();
  }
  eng.advance(INT64_MAX, INT64_MAX).wait();
  std::vector<alert> got;
  {
    std::lock_guard lock(alerts.mu);
    got = alerts.got;
  }
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].src.to_string(), "203.0.113.66");
  EXPECT_EQ(got[0].ports_count, 60u);
  EXPECT_EQ(got[0].bin_start, at("2026-12-06T10:00:00Z"));
  EXPECT_EQ(metrics.counter_sum("portscand_records_unwrapped_total",
                                {{"input", "fw-cef"}, {"envelope", "filebeat"}}),
            60u);
  EXPECT_EQ(metrics.counter_sum("portscand_records_parsed_total", {{"format", "cef"}}), 60u);
  EXPECT_EQ(metrics.counter_sum("portscand_records_rejected_total",
                                {{"format", "envelope"}, {"reason", "envelope_without_message"}}),
            1u);
  eng.stop();
}

}  // namespace
}  // namespace portscand

namespace portscand {
namespace {

std::vector<std::string> early_ids(const std::vector<alert>& alerts) {
  std::vector<std::string> out;
  for (const auto& a : alerts)
    if (a.early) out.push_back(format_iso8601(a.bin_start) + " " + a.source_text());
  return out;
}

TEST(EarlyAlerts, AnAlertAtTheCrossingWithTheEvidenceSoFarAndTheFinalAlertAsBefore) {
  harness h(detection_mode::standard, 2, rule_with("early_alerts: {enabled: true}"));
  h.scan("203.0.113.7", t0, 60);   // ports 1..60 at t0 + 0..59 s: the 51st port at +50 s
  h.scan("198.51.100.9", t0, 50);  // 50 ports: never over the threshold
  h.settle();                      // no evaluation: the bin is still open
  const auto early = h.alerts();
  ASSERT_EQ(early.size(), 1u);
  const alert& e = early[0];
  EXPECT_TRUE(e.early);
  EXPECT_EQ(e.source_text(), "203.0.113.7");
  EXPECT_EQ(e.ports_count, 51u);
  EXPECT_EQ(e.ports.front(), 1);
  EXPECT_EQ(e.ports.back(), 51);
  EXPECT_EQ(e.event_count, 51u);
  EXPECT_EQ(e.first_seen, t0);
  EXPECT_EQ(e.last_seen, t0 + 50 * us_per_second);
  EXPECT_EQ(e.bin_start, t0);
  EXPECT_EQ(e.bin_end, t0 + 5 * us_per_minute);
  // UUIDv5 over "<rule id>|203.0.113.7|2026-01-15T10:05:00Z|early", and without "|early"
  // (the final alert's id); the incident over "...|incident". Computed with Python's uuid5.
  EXPECT_EQ(e.alert_id, "28e8ae37-12b0-5043-829e-4a6889837b4d");
  EXPECT_EQ(e.final_alert_id, "456c89a4-ee06-592b-bb15-4205e5262e11");
  EXPECT_EQ(e.incident_id, "cd99001c-7f78-52cb-8ebe-debd7baa7a90");
  EXPECT_EQ(h.counted("portscand_early_alerts_total", {{"outcome", "sent"}}), 1u);
  EXPECT_EQ(h.counted("portscand_alerts_total"), 0u);  // final alerts only

  // The bin's final alert: as without early alerts, field for field.
  harness plain;
  plain.scan("203.0.113.7", t0, 60);
  plain.scan("198.51.100.9", t0, 50);
  const auto expected = plain.finish();
  const auto all = h.finish();
  ASSERT_EQ(all.size(), 2u);
  ASSERT_EQ(expected.size(), 1u);
  const alert& final_alert = all[0].early ? all[1] : all[0];
  EXPECT_FALSE(final_alert.early);
  EXPECT_EQ(render_alert(final_alert, alert_schema::native),
            render_alert(expected[0], alert_schema::native));
  EXPECT_EQ(final_alert.alert_id, e.final_alert_id);
  EXPECT_EQ(final_alert.incident_id, e.incident_id);
  EXPECT_EQ(final_alert.ports_count, 60u);
}

TEST(EarlyAlerts, OffByDefault) {
  harness h;
  h.scan("203.0.113.7", t0, 60);
  h.settle();
  EXPECT_TRUE(h.alerts().empty());
  EXPECT_EQ(h.finish().size(), 1u);
}

TEST(EarlyAlerts, AReopenedKeyThatAlertedGetsNoEarlyAlert) {
  harness h(detection_mode::standard, 2, rule_with("early_alerts: {enabled: true}"));
  h.scan("203.0.113.7", t0, 60);
  h.watermark(t0 + 16 * us_per_minute);  // the bin is evaluated: early + final
  ASSERT_EQ(h.alerts().size(), 2u);
  h.scan("203.0.113.7", t0, 10, 100);  // late records with new ports re-open the bin
  h.settle();
  EXPECT_EQ(h.alerts().size(), 2u);
  EXPECT_EQ(h.counted("portscand_early_alerts_total", {{"outcome", "sent"}}), 1u);
}

TEST(EarlyAlerts, SuppressionHoldsBackTheEarlyAlertsOfBinsItWouldSuppress) {
  harness h(detection_mode::standard, 2,
            rule_with("early_alerts: {enabled: true}\nsuppression: {duration: 15m}"));
  const timestamp_us bin = 5 * us_per_minute;
  h.scan("203.0.113.7", t0, 60);            // 10:05: early alert
  h.scan("203.0.113.7", t0 + bin, 60);      // 10:10: held back (an early alert 5 min before)
  h.scan("203.0.113.7", t0 + 3 * bin, 60);  // 10:20: 15 min is not less than 15 min
  h.settle();
  EXPECT_EQ(early_ids(h.alerts()), (std::vector<std::string>{"2026-01-15T10:05:00Z 203.0.113.7",
                                                             "2026-01-15T10:20:00Z 203.0.113.7"}));
  EXPECT_EQ(h.counted("portscand_early_alerts_total", {{"outcome", "suppressed"}}), 1u);
  // The final alerts decide as they always did: 10:05 and 10:20, 10:10 suppressed.
  h.watermark(t0 + 36 * us_per_minute);  // evaluates the bins before 10:31
  const auto all = h.alerts();
  std::vector<std::string> finals;
  for (const auto& a : all)
    if (!a.early) finals.push_back(format_iso8601(a.bin_start));
  EXPECT_EQ(finals, (std::vector<std::string>{"2026-01-15T10:05:00Z", "2026-01-15T10:20:00Z"}));
  // A bin 10 min after the 10:20 alerts is held back.
  h.scan("203.0.113.7", t0 + 5 * bin, 60);
  h.settle();
  EXPECT_EQ(h.counted("portscand_early_alerts_total", {{"outcome", "suppressed"}}), 2u);
}

TEST(EarlyAlerts, AReloadTurnsThemOnAndAKeyAlreadyOverTheThresholdAlertsAtItsNextNewPort) {
  harness h;
  h.scan("203.0.113.7", t0, 30);
  h.scan("198.51.100.9", t0, 55);  // over the threshold before the reload: nothing yet
  h.set_rule(rule_with("early_alerts: {enabled: true}"));
  h.scan("198.51.100.9", t0, 10, 1);  // known ports: still nothing
  h.settle();
  EXPECT_TRUE(h.alerts().empty());
  h.scan("203.0.113.7", t0 + 30 * us_per_second, 30, 31);  // ports 31..60: the 51st crosses
  h.scan("198.51.100.9", t0, 5, 56);                       // port 56 is new
  h.settle();
  const auto a = h.alerts();
  ASSERT_EQ(a.size(), 2u);
  std::vector<std::string> got;
  for (const auto& x : a) got.push_back(x.source_text() + " " + std::to_string(x.ports_count));
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, (std::vector<std::string>{"198.51.100.9 56", "203.0.113.7 51"}));
  h.set_rule(default_rule());  // and off again
  h.scan("192.0.2.200", t0, 60);
  h.settle();
  EXPECT_EQ(h.alerts().size(), 2u);
}

}  // namespace
}  // namespace portscand

namespace portscand {
namespace {

// README "Several rules": one pass feeds both rules; an exclusion entry that names the sweep
// rule takes records from it alone; a record is counted once per entry however many rules
// it is excluded from.
TEST(EngineRules, EveryRecordFeedsBothRulesAndPerRuleExclusionsCountOnce) {
  const auto cfg = load_config_text(R"(
rules: [builtin:port-scan, builtin:port-sweep]
exclusions:
  - {name: all, reason: a scanner nobody is paged for, sources: [198.51.100.0/24]}
  - {name: dns, reason: resolvers ask every server, ports: [53],
     rules: [842a5b8e-315e-42ef-bb51-ef4a30b32fce]}
)",
                                    {});
  ASSERT_TRUE(cfg.problems.empty()) << cfg.problems[0].path << ": " << cfg.problems[0].message;
  const auto loaded = load_rules(cfg.cfg);
  ASSERT_TRUE(loaded.problems.empty());
  const auto rules = std::make_shared<const rule_set>(with_options(loaded.rules, cfg.cfg));
  manual_clock clk(at("2026-01-15T12:00:00Z"));
  collecting_sink sink;
  metrics_registry metrics;
  engine_options o;
  o.shards = 2;
  o.window.retention = 70 * us_per_minute;
  engine eng(o, rules, clk, sink, metrics);
  auto d = eng.make_dispatcher("test");
  parse_context ctx;
  const auto send = [&](const char* src, timestamp_us t, int port, int host) {
    network_session r;
    r.src = *ip_address::parse(src);
    r.time = t;
    r.has_time = true;
    r.dst_port = port;
    r.dst = *ip_address::parse("198.19.0." + std::to_string(host));
    r.has_dst = true;
    d->begin_unit(ctx, nullptr);
    d->record(r);
  };
  const timestamp_us bin = at("2026-01-15T10:05:00Z");
  // 203.0.113.7: port 53 and port 445 each on 60 hosts, and ports 1..60 on host 200.
  for (int h = 1; h <= 60; ++h) {
    send("203.0.113.7", bin + h * us_per_second, 53, h);
    send("203.0.113.7", bin + h * us_per_second, 445, h);
    send("203.0.113.7", bin + h * us_per_second, h, 200);
  }
  // 198.51.100.5 does the same sweep of 445: excluded from both rules.
  for (int h = 1; h <= 60; ++h) send("198.51.100.5", bin + h * us_per_second, 445, h);
  d->flush();
  eng.advance(INT64_MAX, INT64_MAX).wait();
  std::vector<alert> got;
  {
    std::lock_guard lock(sink.mu);
    got = sink.got;
  }
  std::sort(got.begin(), got.end(),
            [](const alert& a, const alert& b) { return a.swept_port < b.swept_port; });
  ASSERT_EQ(got.size(), 2u);
  // The vertical scan: ports 1..60 and 445 (53 is one of 1..60), all 180 records.
  EXPECT_EQ(got[0].rule->id, "1da9853f-3dea-4ea9-b7e5-26730da3d537");
  EXPECT_EQ(got[0].ports_count, 61u);
  EXPECT_EQ(got[0].event_count, 180u);
  // The sweep of 445; the sweep of 53 is excluded for the sweep rule.
  EXPECT_EQ(got[1].rule->id, "842a5b8e-315e-42ef-bb51-ef4a30b32fce");
  EXPECT_EQ(got[1].swept_port, 445);
  EXPECT_EQ(got[1].target_count, 60u);
  EXPECT_EQ(got[1].src.to_string(), "203.0.113.7");
  // Each excluded record once per entry: 60 of 198.51.100.5; 60 sweep records of port 53
  // and the scan's record to port 53.
  EXPECT_EQ(metrics.counter_sum("portscand_records_excluded_total", {{"exclusion", "all"}}), 60u);
  EXPECT_EQ(metrics.counter_sum("portscand_records_excluded_total", {{"exclusion", "dns"}}), 61u);
  // The alerts by rule: one each, and together the rules' total.
  EXPECT_EQ(metrics.counter_sum("portscand_rule_alerts_total", {{"kind", "vertical"}}), 1u);
  EXPECT_EQ(metrics.counter_sum("portscand_rule_alerts_total", {{"kind", "sweep"}}), 1u);
  EXPECT_EQ(metrics.counter_sum("portscand_alerts_total"), 2u);
  eng.stop();
}

// A reload (set_rules) takes the sweep rule's new threshold from the next evaluation, the
// window state kept: a 60-address sweep counted before the reload does not alert at 80.
TEST(EngineRules, AReloadedSweepThresholdAppliesToTheOpenBins) {
  const auto loaded = load_rules(load_config_text("rules: [builtin:port-sweep]\n", {}).cfg);
  ASSERT_TRUE(loaded.problems.empty());
  manual_clock clk(at("2026-01-15T12:00:00Z"));
  collecting_sink sink;
  metrics_registry metrics;
  engine_options o;
  o.shards = 1;
  o.window.retention = 70 * us_per_minute;
  engine eng(o, std::make_shared<const rule_set>(loaded.rules), clk, sink, metrics);
  auto d = eng.make_dispatcher("test");
  parse_context ctx;
  const timestamp_us bin = at("2026-01-15T10:05:00Z");
  const auto sweep = [&](const char* src, timestamp_us start) {
    for (int h = 1; h <= 60; ++h) {
      network_session r;
      r.src = *ip_address::parse(src);
      r.time = start + h * us_per_second;
      r.has_time = true;
      r.dst_port = 3389;
      r.dst = *ip_address::parse("198.19.0." + std::to_string(h));
      r.has_dst = true;
      d->begin_unit(ctx, nullptr);
      d->record(r);
    }
    d->flush();
  };
  sweep("203.0.113.7", bin);
  rule_definition raised = *loaded.rules.sweep;
  raised.threshold = 80;
  eng.set_rules(std::make_shared<const rule_set>(
      rule_set{nullptr, std::make_shared<const rule_definition>(raised)}));
  sweep("203.0.113.8", bin + 5 * us_per_minute);
  eng.advance(INT64_MAX, INT64_MAX).wait();
  std::lock_guard lock(sink.mu);
  EXPECT_TRUE(sink.got.empty());       // neither sweep has more than 80 addresses
  EXPECT_EQ(eng.snapshot().keys, 2u);  // both keys were kept through the reload
}

}  // namespace
}  // namespace portscand
