#include <gtest/gtest.h>

#include <regex>

#include "../test_names.hpp"
#include "json_formats_test_util.hpp"

namespace portscand::test {
namespace {

// ASimNetworkSessionCorelightZeek reports EventVendor "Corelight", EventProduct "Zeek" for
// every conn row. (The corpus' derived files say "Zeek"/"Zeek conn.log": that is the corpus
// authors' description of the log, not Sentinel's label.)
constexpr const char* zeek_label = "Corelight/Zeek";

TEST(ZeekConn, EveryJsonRecordOfTheSampleMatchesTheDerivedFields) {
  const auto lines = fixture_lines("zeek-conn/test-conn.log");
  const auto expected = fixture_lines("zeek-conn/test-conn.log-derived-fields.jsonl");
  ASSERT_EQ(lines.size(), 18u);
  ASSERT_EQ(expected.size(), lines.size());
  for (std::size_t i = 0; i < lines.size(); ++i) {
    SCOPED_TRACE("line " + std::to_string(i + 1));
    const expected_line e(expected[i]);
    auto s = parse_with("zeek-conn", lines[i]);
    ASSERT_EQ(s.records.size(), 1u);
    const auto& r = s.records[0];
    EXPECT_TRUE(r.has_time);
    EXPECT_EQ(r.time, iso(e.str("/time_utc")));
    EXPECT_EQ(ip(r.src), e.str("/src"));
    EXPECT_TRUE(r.has_dst);
    EXPECT_EQ(ip(r.dst), e.str("/dst"));
    const std::uint16_t proto = protocol_from_name(e.str("/proto"));
    EXPECT_EQ(r.protocol, proto);
    if (proto == 1) {
      // Line 4 is ICMP: Zeek puts the ICMP type/code in id.orig_p/id.resp_p (derived dport
      // 3 is the code); we report no port instead of a fake one.
      EXPECT_FALSE(r.has_port());
    } else {
      EXPECT_EQ(r.dst_port, *e.num("/dport"));
    }
    // No REJ in this sample: Zeek records carry no device action.
    EXPECT_EQ(r.action, dvc_action::unknown);
    EXPECT_EQ(label(r.reported_by), zeek_label);
  }
}

TEST(ZeekConn, TheTsvScanSampleYieldsTenSessionsAndSkipsItsHeaderLines) {
  const auto lines = fixture_lines("zeek-conn/zeek-training-scan-conn.log");
  const auto expected = fixture_lines("zeek-conn/zeek-training-scan-conn.log-derived-fields.jsonl");
  auto s = parse_stream("zeek-conn", lines);
  // 8 header lines before the records (#separator .. #types) and #close after them.
  EXPECT_EQ(s.skips, std::vector<std::string>(9, "header"));
  EXPECT_TRUE(s.rejects.empty());
  ASSERT_EQ(s.records.size(), 10u);
  ASSERT_EQ(expected.size(), 10u);
  for (std::size_t i = 0; i < expected.size(); ++i) {
    SCOPED_TRACE("record " + std::to_string(i + 1));
    const expected_line e(expected[i]);
    const auto& r = s.records[i];
    EXPECT_EQ(r.time, iso(e.str("/time_utc")));
    EXPECT_EQ(ip(r.src), e.str("/src"));
    EXPECT_EQ(ip(r.dst), e.str("/dst"));
    EXPECT_EQ(r.dst_port, *e.num("/dport"));
    EXPECT_EQ(r.protocol, 6);
    // conn_state S0 (SYN, no reply): a silent port, not a reset.
    EXPECT_EQ(r.action, dvc_action::unknown);
    EXPECT_EQ(label(r.reported_by), zeek_label);
  }
}

TEST(ZeekConn, HeaderlessTsvLinesUseZeeksDefaultConnColumns) {
  auto s = parse_with("zeek-conn",
                      "1601881609.964763\tCJ146Xe0SzPmxiSI7\t59.144.161.171\t60917\t128.3.140.172"
                      "\t445\ttcp\t-\t-\t-\t-\tREJ\tF\tF\t0\tSr\t1\t48\t1\t40\t-");
  ASSERT_EQ(s.records.size(), 1u);
  EXPECT_EQ(ip(s.records[0].src), "59.144.161.171");
  EXPECT_EQ(s.records[0].dst_port, 445);
  EXPECT_EQ(s.records[0].action, dvc_action::reset);
  // A conn record is the connection as its originator (id.orig_h) opened it.
  EXPECT_EQ(s.records[0].side, flow_side::initiator);
}

TEST(ZeekConn, AFieldsHeaderSetsTheColumnOrderOfTheLinesAfterIt) {
  auto s = parse_stream("zeek-conn", {"#separator \\x09", "#path\tconn",
                                      "#fields\tproto\tid.resp_p\tid.resp_h\tid.orig_h\tts",
                                      "udp\t161\t192.0.2.1\t203.0.113.9\t1700000000.5",
                                      "tcp\t-\t192.0.2.1\t203.0.113.9\t1700000001"});
  ASSERT_EQ(s.records.size(), 2u);
  EXPECT_EQ(ip(s.records[0].src), "203.0.113.9");
  EXPECT_EQ(s.records[0].dst_port, 161);
  EXPECT_EQ(s.records[0].protocol, 17);
  EXPECT_EQ(format_iso8601(s.records[0].time), "2023-11-14T22:13:20.500000Z");
  // "-" is Zeek's unset marker: no port.
  EXPECT_FALSE(s.records[1].has_port());
}

TEST(ZeekConn, ACustomSeparatorHeaderIsHonoured) {
  auto s = parse_stream("zeek-conn",
                        {"#separator \\x2c", "#fields,ts,id.orig_h,id.resp_h,id.resp_p,proto",
                         "1700000000,203.0.113.9,192.0.2.1,22,tcp"});
  ASSERT_EQ(s.records.size(), 1u);
  EXPECT_EQ(s.records[0].dst_port, 22);
}

TEST(ZeekConn, DataLinesOfAnotherLogPathAreSkipped) {
  auto s = parse_stream(
      "zeek-conn", {"#path\tdns", "1700000000.1\tCabc123\t203.0.113.9\t5353\t192.0.2.1\t53\tudp"});
  EXPECT_TRUE(s.records.empty());
  EXPECT_EQ(s.skips, (std::vector<std::string>{"header", "not_conn_log"}));
}

TEST(ZeekConn, SeveralTsvLinesInOneUnitAreAllRead) {
  auto s = parse_with("zeek-conn",
                      "#path\tconn\n"
                      "1700000000.1\tCa\t203.0.113.9\t1\t192.0.2.1\t80\ttcp\t-\t-\t-\t-\tS0\n"
                      "1700000000.2\tCb\t203.0.113.9\t2\t192.0.2.1\t81\ttcp\t-\t-\t-\t-\tS0\n");
  ASSERT_EQ(s.records.size(), 2u);
  EXPECT_EQ(s.records[1].dst_port, 81);
}

// Hand-written Corelight-shaped record (Corelight adds _path, _system_name, _write_ts).
TEST(ZeekConn, CorelightConnRecordsUseTheSensorNameAsDevice) {
  auto s = parse_with(
      "zeek-conn",
      R"({"_path":"conn","_system_name":"cl-sensor-01","_write_ts":"2024-06-13T12:14:40.000000Z",)"
      R"("ts":"2024-06-13T12:14:37.013007Z","uid":"CL0jWq3WeMU4py67t7","id.orig_h":"203.0.113.9",)"
      R"("id.orig_p":51000,"id.resp_h":"192.0.2.1","id.resp_p":3389,"proto":"tcp","conn_state":"REJ"})");
  ASSERT_EQ(s.records.size(), 1u);
  const auto& r = s.records[0];
  EXPECT_EQ(label(r.device), "cl-sensor-01");
  EXPECT_EQ(format_iso8601(r.time), "2024-06-13T12:14:37.013007Z");
  EXPECT_EQ(r.dst_port, 3389);
  EXPECT_EQ(r.action, dvc_action::reset);
  EXPECT_EQ(label(r.reported_by), zeek_label);
}

TEST(ZeekConn, CorelightReducedConnRecordsCountAndOtherPathsAreSkipped) {
  EXPECT_EQ(
      parse_with("zeek-conn", R"({"_path":"conn_red","id.orig_h":"203.0.113.9","id.resp_p":22})")
          .records.size(),
      1u);
  auto dns = parse_with("zeek-conn", R"({"_path":"dns","id.orig_h":"203.0.113.9","id.resp_p":53})");
  EXPECT_TRUE(dns.records.empty());
  EXPECT_EQ(dns.skips, std::vector<std::string>{"not_conn_log"});
}

TEST(ZeekConn, ReNestedIdObjectsAreReadLikeDottedKeys) {
  auto s = parse_with(
      "zeek-conn",
      R"({"ts":1700000000,"id":{"orig_h":"203.0.113.9","orig_p":1,"resp_h":"192.0.2.1","resp_p":8080},"proto":"tcp"})");
  ASSERT_EQ(s.records.size(), 1u);
  EXPECT_EQ(s.records[0].dst_port, 8080);
}

// The sample's lines with the four id.* keys re-nested as {"id":{...}} (what a pipeline
// writes), keys kept in order; `sep` goes between "id": and the object.
std::vector<std::string> renested_sample(const std::string& sep) {
  static const std::regex dotted(
      R"re("id\.orig_h":("[^"]*"),"id\.orig_p":(\d+),"id\.resp_h":("[^"]*"),"id\.resp_p":(\d+))re");
  std::vector<std::string> out;
  for (const auto& l : fixture_lines("zeek-conn/test-conn.log")) {
    std::string n = std::regex_replace(
        l, dotted, "\"id\":" + sep + R"({"orig_h":$1,"orig_p":$2,"resp_h":$3,"resp_p":$4})");
    EXPECT_NE(n, l);
    out.push_back(std::move(n));
  }
  return out;
}

TEST(ZeekConn, AutoDetectsConnRecordsWithANestedIdObject) {
  const auto dotted = parse_stream("zeek-conn", fixture_lines("zeek-conn/test-conn.log"));
  ASSERT_EQ(dotted.records.size(), 18u);
  // (A line break inside a record would be split by the NDJSON reader; only the probe is
  // checked for it below.)
  for (const auto& l : renested_sample("\n  ")) EXPECT_EQ(detected(l), "zeek-conn") << l;
  for (const std::string sep : {"", " "}) {
    const auto lines = renested_sample(sep);
    for (const auto& l : lines) EXPECT_EQ(detected(l), "zeek-conn") << l;
    const auto autod = parse_stream("auto", lines);
    ASSERT_EQ(autod.records.size(), dotted.records.size());
    EXPECT_TRUE(autod.rejects.empty());
    for (std::size_t i = 0; i < dotted.records.size(); ++i) {
      EXPECT_EQ(autod.records[i].src, dotted.records[i].src) << i;
      EXPECT_EQ(autod.records[i].dst, dotted.records[i].dst) << i;
      EXPECT_EQ(autod.records[i].dst_port, dotted.records[i].dst_port) << i;
      EXPECT_EQ(autod.records[i].time, dotted.records[i].time) << i;
    }
  }
}

TEST(ZeekConn, TheNestedIdProbeWantsAConnIdObject) {
  // An "id" that is not an object, or an object without Zeek's keys, is not a conn id.
  EXPECT_NE(detected(R"({"id":"orig_h","ts":1700000000})"), "zeek-conn");
  EXPECT_NE(detected(R"({"id":{"name":"x","orig_h":"192.0.2.1"}})"), "zeek-conn");
  // Vectra's metadata_type still wins over the nested id.
  EXPECT_NE(detected(R"({"metadata_type":"metadata_isession","id":{"orig_h":"192.0.2.1"}})"),
            "zeek-conn");
  EXPECT_EQ(detected(R"({"ts":1,"id" : {"resp_p":22,"orig_h":"192.0.2.1"}})"), "zeek-conn");
}

TEST(ZeekConn, SeveralJsonLinesInOneUnitAreAllRead) {
  const auto lines = fixture_lines("zeek-conn/test-conn.log");
  auto s = parse_with("zeek-conn", lines[0] + "\n" + lines[1] + "\r\n\n" + lines[2]);
  EXPECT_EQ(s.records.size(), 3u);
}

TEST(ZeekConn, TheSyslogHostIsTheDeviceWhenTheRecordNamesNone) {
  parse_context ctx;
  ctx.host = "zeek-box";
  auto s = parse_with("zeek-conn", R"({"id.orig_h":"203.0.113.9","id.resp_p":22})", ctx);
  ASSERT_EQ(s.records.size(), 1u);
  EXPECT_EQ(label(s.records[0].device), "zeek-box");
  EXPECT_FALSE(s.records[0].has_time);
}

struct malformed_case {
  const char* why;
  std::string input;
  const char* reason;
};

class ZeekConnMalformed : public ::testing::TestWithParam<malformed_case> {};

TEST_P(ZeekConnMalformed, IsRejectedWithItsReason) {
  const auto& c = GetParam();
  auto s = parse_with("zeek-conn", c.input);
  EXPECT_TRUE(s.records.empty()) << c.why;
  EXPECT_EQ(s.rejects, std::vector<std::string>{c.reason}) << c.why;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, ZeekConnMalformed,
    ::testing::Values(
        malformed_case{"truncated json", R"({"id.orig_h":"203.0.113.9","id.resp_p":2)",
                       "invalid_json"},
        malformed_case{"no originator", R"({"id.resp_h":"192.0.2.1","id.resp_p":22})",
                       "missing_src_ip"},
        malformed_case{"originator is not an address", R"({"id.orig_h":"host-a","id.resp_p":22})",
                       "bad_src_ip"},
        malformed_case{"originator is an object", R"({"id.orig_h":{},"id.resp_p":22})",
                       "bad_src_ip"},
        malformed_case{"port out of range", R"({"id.orig_h":"203.0.113.9","id.resp_p":70000})",
                       "bad_dst_port"},
        malformed_case{"port is text", R"({"id.orig_h":"203.0.113.9","id.resp_p":"ssh"})",
                       "bad_dst_port"},
        malformed_case{"time is not a time", R"({"ts":"soon","id.orig_h":"203.0.113.9"})",
                       "bad_time"},
        malformed_case{"tsv port is not a number",
                       "1700000000.1\tCa\t203.0.113.9\t1\t192.0.2.1\tx\ttcp\t-\t-\t-\t-\tS0",
                       "bad_dst_port"},
        malformed_case{"tsv line is short", "1700000000.1\tCa\t203.0.113.9\t1\t192.0.2.1\t80\ttcp",
                       "missing_columns"},
        malformed_case{"tsv unset originator",
                       "1700000000.1\tCa\t-\t1\t192.0.2.1\t80\ttcp\t-\t-\t-\t-\tS0",
                       "missing_src_ip"},
        malformed_case{"a bare number", "[42]", "not_an_object"}),
    why_name{});

TEST(ZeekConn, TheProbeRecognisesEverySampleUnitAndNoOtherFormats) {
  for (const auto& [format, unit] : sample_units()) {
    SCOPED_TRACE(format + ": " + unit.substr(0, 80));
    EXPECT_EQ(probe_claims("zeek-conn", unit), format == "zeek-conn");
  }
}

TEST(ZeekConn, AutoDetectionYieldsTheSameRecordsAsTheFixedFormat) {
  for (const char* file : {"zeek-conn/test-conn.log", "zeek-conn/zeek-training-scan-conn.log"}) {
    const auto lines = fixture_lines(file);
    auto fixed = parse_stream("zeek-conn", lines);
    auto autod = parse_stream("auto", lines);
    ASSERT_EQ(autod.records.size(), fixed.records.size());
    EXPECT_EQ(autod.skips, fixed.skips);
    for (std::size_t i = 0; i < fixed.records.size(); ++i) {
      EXPECT_EQ(autod.records[i].src, fixed.records[i].src);
      EXPECT_EQ(autod.records[i].dst_port, fixed.records[i].dst_port);
      EXPECT_EQ(autod.records[i].time, fixed.records[i].time);
      EXPECT_EQ(autod.records[i].reported_by, fixed.records[i].reported_by);
    }
  }
}

}  // namespace
}  // namespace portscand::test
