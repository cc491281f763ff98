#include <gtest/gtest.h>

#include "../test_names.hpp"
#include "json_formats_test_util.hpp"

namespace portscand::test {
namespace {

// No ASIM parser exists for Suricata; the label is this project's choice (lib/parse/README.md).
constexpr const char* suricata_label = "OISF/Suricata";

TEST(SuricataEve, OnlyTheFlowEventOfTheSampleIsASessionAndItMatchesTheDerivedFields) {
  const auto lines = fixture_lines("suricata-eve/test-eve-small.log");
  const auto expected = fixture_lines("suricata-eve/test-eve-small.log-derived-fields.jsonl");
  ASSERT_EQ(lines.size(), 12u);
  ASSERT_EQ(expected.size(), 12u);
  for (std::size_t i = 0; i < lines.size(); ++i) {
    SCOPED_TRACE("line " + std::to_string(i + 1));
    const expected_line e(expected[i]);
    auto s = parse_with("suricata-eve", lines[i]);
    EXPECT_TRUE(s.rejects.empty());
    if (e.str("/event_type") != "flow") {
      // alert, ssh, http, fileinfo, dns, stats, tls: not sessions (see the README section).
      EXPECT_TRUE(s.records.empty());
      EXPECT_EQ(s.skips, std::vector<std::string>{"not_flow_event"});
      continue;
    }
    ASSERT_EQ(s.records.size(), 1u);
    const auto& r = s.records[0];
    EXPECT_EQ(ip(r.src), ip(*ip_address::parse(e.str("/src_ip"))));
    EXPECT_EQ(ip(r.dst), ip(*ip_address::parse(e.str("/dest_ip"))));
    EXPECT_EQ(r.dst_port, *e.num("/dest_port"));
    EXPECT_EQ(r.protocol, protocol_from_name(e.str("/proto")));
    EXPECT_EQ(r.action, dvc_action::unknown);
    EXPECT_EQ(label(r.reported_by), suricata_label);
    // The derived file gives the event timestamp (15:51:54.001329-0400); the record's time
    // is flow.start, read by hand from line 8: 2018-07-05T15:51:23.453468-0400.
    EXPECT_EQ(r.time, iso("2018-07-05T19:51:23.453468Z"));
  }
}

TEST(SuricataEve, FullyExpandedIpv6AddressesAreNormalised) {
  const auto lines = fixture_lines("suricata-eve/test-eve-small.log");
  auto s = parse_with("suricata-eve", lines[7]);
  ASSERT_EQ(s.records.size(), 1u);
  EXPECT_EQ(ip(s.records[0].src), "fe80::fada:cff:fedc:87f1");
  EXPECT_EQ(ip(s.records[0].dst), "ff02::1:2");
}

TEST(SuricataEve, TheEventTimestampIsUsedWhenTheFlowHasNoStart) {
  auto s = parse_with(
      "suricata-eve",
      R"({"timestamp":"2020-12-09T16:02:43.000505+0000","event_type":"flow","src_ip":"203.0.113.5","src_port":1,"dest_ip":"192.0.2.1","dest_port":445,"proto":"TCP","host":"ids-01","flow":{"state":"new"}})");
  ASSERT_EQ(s.records.size(), 1u);
  EXPECT_EQ(format_iso8601(s.records[0].time), "2020-12-09T16:02:43.000505Z");
  EXPECT_EQ(label(s.records[0].device), "ids-01");
}

TEST(SuricataEve, IcmpFlowsHaveNoPort) {
  auto s = parse_with(
      "suricata-eve",
      R"({"event_type":"flow","src_ip":"203.0.113.5","dest_ip":"192.0.2.1","proto":"ICMP","icmp_type":8,"icmp_code":0})");
  ASSERT_EQ(s.records.size(), 1u);
  EXPECT_FALSE(s.records[0].has_port());
  EXPECT_EQ(s.records[0].protocol, 1);
}

TEST(SuricataEve, NetflowAndAlertEventsAreSkippedToAvoidCountingAConnectionTwice) {
  for (const char* t : {"netflow", "alert", "anomaly", "drop"}) {
    auto s = parse_with(
        "suricata-eve",
        std::string(R"({"event_type":")") + t +
            R"(","src_ip":"203.0.113.5","dest_ip":"192.0.2.1","dest_port":80,"proto":"TCP"})");
    EXPECT_TRUE(s.records.empty()) << t;
    EXPECT_EQ(s.skips, std::vector<std::string>{"not_flow_event"}) << t;
  }
}

TEST(SuricataEve, SeveralLinesInOneUnitAreAllRead) {
  const auto lines = fixture_lines("suricata-eve/test-eve-small.log");
  auto s = parse_with("suricata-eve", lines[6] + "\n" + lines[7] + "\n" + lines[7]);
  EXPECT_EQ(s.records.size(), 2u);
  EXPECT_EQ(s.skips.size(), 1u);
}

struct malformed_case {
  const char* why;
  std::string input;
  const char* reason;
};

class SuricataEveMalformed : public ::testing::TestWithParam<malformed_case> {};

TEST_P(SuricataEveMalformed, IsRejectedWithItsReason) {
  const auto& c = GetParam();
  auto s = parse_with("suricata-eve", c.input);
  EXPECT_TRUE(s.records.empty()) << c.why;
  EXPECT_EQ(s.rejects, std::vector<std::string>{c.reason}) << c.why;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, SuricataEveMalformed,
    ::testing::Values(
        malformed_case{"truncated json", R"({"event_type":"flow","src_ip":"203.0.1)",
                       "invalid_json"},
        malformed_case{"no event type", R"({"src_ip":"203.0.113.5","dest_port":80})",
                       "missing_event_type"},
        malformed_case{"flow without source",
                       R"({"event_type":"flow","dest_ip":"192.0.2.1","dest_port":80})",
                       "missing_src_ip"},
        malformed_case{"bad source", R"({"event_type":"flow","src_ip":"203.0.113","dest_port":80})",
                       "bad_src_ip"},
        malformed_case{"bad port",
                       R"({"event_type":"flow","src_ip":"203.0.113.5","dest_port":99999})",
                       "bad_dst_port"},
        malformed_case{
            "bad time",
            R"({"timestamp":"2020-13-09T16:02:43+0000","event_type":"flow","src_ip":"203.0.113.5"})",
            "bad_time"}),
    why_name{});

TEST(SuricataEve, TheProbeRecognisesEverySampleUnitAndNoOtherFormats) {
  for (const auto& [format, unit] : sample_units()) {
    SCOPED_TRACE(format + ": " + unit.substr(0, 80));
    EXPECT_EQ(probe_claims("suricata-eve", unit), format == "suricata-eve");
  }
}

TEST(SuricataEve, AutoDetectionYieldsTheSameRecordsAsTheFixedFormat) {
  const auto lines = fixture_lines("suricata-eve/test-eve-small.log");
  auto fixed = parse_stream("suricata-eve", lines);
  auto autod = parse_stream("auto", lines);
  ASSERT_EQ(autod.records.size(), fixed.records.size());
  EXPECT_EQ(autod.skips, fixed.skips);
  for (std::size_t i = 0; i < fixed.records.size(); ++i) {
    EXPECT_EQ(autod.records[i].src, fixed.records[i].src);
    EXPECT_EQ(autod.records[i].dst_port, fixed.records[i].dst_port);
    EXPECT_EQ(autod.records[i].time, fixed.records[i].time);
  }
}

}  // namespace
}  // namespace portscand::test
