#include <gtest/gtest.h>

#include <map>

#include "../test_names.hpp"
#include "core/time_zone.hpp"
#include "firewall_test_util.hpp"

namespace portscand::test {
namespace {

const std::string sample = "fortigate/test-fortinet.log";
const std::string derived = "fortigate/test-fortinet.log-derived-fields.jsonl";

// eventtime of each traffic line, converted by hand (date -u -d @<seconds>, fraction
// truncated to microseconds). The sample's date/time fields disagree with eventtime on
// several lines (edited test data upstream); eventtime is the device's own epoch.
const std::map<std::size_t, std::string> traffic_times = {
    {2, "2020-06-24T01:16:08Z"},         {26, "2020-04-18T17:11:51.390385Z"},
    {27, "2020-04-18T17:11:48.751434Z"}, {28, "2020-04-18T17:10:57.509058Z"},
    {29, "2020-04-18T17:14:39.841464Z"}, {30, "2020-04-18T17:14:29.291463Z"},
    {44, "2020-06-24T01:16:08Z"},        {46, "2023-05-02T07:31:46.143815Z"},
    {56, "2024-05-23T13:20:06.883543Z"},
};

dvc_action expected_action(const std::string& fortios) {
  if (fortios == "accept") return dvc_action::allow;
  if (fortios == "deny") return dvc_action::deny;
  return dvc_action::unknown;  // close, ip-conn: ASIM leaves DvcAction empty
}

TEST(Fortigate, EveryTrafficRecordOfTheSampleMatchesTheLiteralFieldsOfTheCrossCheckFile) {
  const auto lines = fixture_lines(sample);
  ASSERT_EQ(lines.size(), 56u);
  json_rows rows(derived);
  std::size_t checked = 0;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    auto row = rows.row(i);
    const auto line_no = static_cast<std::size_t>(*int_field(row, "line"));
    if (*str_field(row, "type") != "traffic") continue;
    const auto s = parse_with("fortigate", lines.at(line_no - 1));
    const std::string action = *str_field(row, "action");
    if (action == "dns") {  // ASIM drops FortiGate DNS rows
      EXPECT_TRUE(s.records.empty()) << line_no;
      EXPECT_EQ(s.skips, std::vector<std::string>{"dns"}) << line_no;
      continue;
    }
    ASSERT_EQ(s.records.size(), 1u) << "line " << line_no;
    const auto& r = s.records[0];
    EXPECT_EQ(ip(r.src), *str_field(row, "srcip")) << line_no;
    ASSERT_TRUE(r.has_dst) << line_no;
    EXPECT_EQ(ip(r.dst), *str_field(row, "dstip")) << line_no;
    const auto dport = int_field(row, "dstport");
    EXPECT_EQ(r.dst_port, dport ? *dport : network_session::no_port) << line_no;
    EXPECT_EQ(r.protocol, *int_field(row, "proto")) << line_no;
    EXPECT_EQ(r.action, expected_action(action)) << line_no;
    EXPECT_EQ(label(r.reported_by), "Fortinet/Fortigate") << line_no;
    ASSERT_TRUE(r.has_time) << line_no;
    EXPECT_EQ(format_iso8601(r.time), traffic_times.at(line_no)) << line_no;
    ++checked;
  }
  EXPECT_EQ(checked, traffic_times.size());
}

TEST(Fortigate, TheSampleYieldsNineSessionsAndSkipsEveryOtherKnownRecord) {
  const auto lines = fixture_lines(sample);
  std::size_t records = 0, skips = 0;
  std::vector<std::size_t> rejected_lines;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const auto s = parse_with("fortigate", lines[i]);
    records += s.records.size();
    skips += s.skips.size();
    if (!s.rejects.empty()) {
      EXPECT_EQ(s.rejects, std::vector<std::string>{"missing_type"}) << i + 1;
      rejected_lines.push_back(i + 1);
    }
  }
  EXPECT_EQ(records, 9u);
  EXPECT_EQ(skips, 45u);  // 44 utm/event records + 1 dns traffic row
  // Lines 47 and 48 are FortiClient EMS text without a type= key.
  EXPECT_EQ(rejected_lines, (std::vector<std::size_t>{47, 48}));
}

TEST(Fortigate, UtmAndEventRecordsAreSkippedAsNotTraffic) {
  const auto lines = fixture_lines(sample);
  for (std::size_t n : {1, 3, 12, 41, 45, 52}) {
    const auto s = parse_with("fortigate", lines.at(n - 1));
    EXPECT_TRUE(s.records.empty()) << n;
    EXPECT_EQ(s.skips, std::vector<std::string>{"not_traffic"}) << n;
  }
}

TEST(Fortigate, DevnameBecomesTheDevice) {
  const auto lines = fixture_lines(sample);
  EXPECT_EQ(label(parse_with("fortigate", lines.at(1)).records.at(0).device), "testswitch1");
  EXPECT_EQ(label(parse_with("fortigate", lines.at(55)).records.at(0).device), "SMBFT.......");
}

TEST(Fortigate, IcmpSessionsHaveNoPortAndKeepTheirProtocol) {
  const auto lines = fixture_lines(sample);
  const auto v6 = parse_with("fortigate", lines.at(26)).records.at(0);
  EXPECT_FALSE(v6.has_port());
  EXPECT_EQ(v6.protocol, 58);
  EXPECT_EQ(ip(v6.src), "2a02:cf40:add:4002:91f2:a9b2:e09a:6fc6");
  const auto v4 = parse_with("fortigate", lines.at(27)).records.at(0);
  EXPECT_FALSE(v4.has_port());
  EXPECT_EQ(v4.protocol, 1);
}

const std::string traffic_head =
    R"(devname="FG-1" devid="FGT60F" logid="0000000013" type="traffic" subtype="forward" )"
    R"(srcip=203.0.113.9 srcport=40000 dstip=198.51.100.1 dstport=3389 proto=6 )";

TEST(Fortigate, EventtimeInSecondsMillisMicrosOrNanosGivesTheSameTime) {
  for (const char* et :
       {"1700000000", "1700000000000", "1700000000000000", "1700000000000000000"}) {
    const auto s = parse_with("fortigate", traffic_head + "action=\"deny\" eventtime=" + et);
    ASSERT_EQ(s.records.size(), 1u) << et;
    EXPECT_EQ(format_iso8601(s.records[0].time), "2023-11-14T22:13:20Z") << et;
  }
}

TEST(Fortigate, WithoutEventtimeDateAndTimeAreReadInTheirZone) {
  auto at = [](const std::string& extra) {
    const auto s = parse_with("fortigate", traffic_head + "date=2020-04-23 time=12:17:48 " + extra);
    return s.records.empty() ? std::string("no record") : format_iso8601(s.records[0].time);
  };
  EXPECT_EQ(at(R"(tz="-0500")"), "2020-04-23T17:17:48Z");
  EXPECT_EQ(at(R"(tz="+01:00")"), "2020-04-23T11:17:48Z");
  EXPECT_EQ(at("tz=+0530"), "2020-04-23T06:47:48Z");
  EXPECT_EQ(at(R"(tz="UTC-5:00")"), "2020-04-23T17:17:48Z");
  EXPECT_EQ(at(""), "2020-04-23T12:17:48Z");  // no tz: UTC
  // Two tz keys (FortiOS 7 utm logs): the first one that reads as an offset counts.
  EXPECT_EQ(at(R"(tz="-0500" tz="+0100")"), "2020-04-23T17:17:48Z");
}

TEST(Fortigate, DateAndTimeWithoutTzAreReadInTheInputsTimeZone) {
  // FortiOS's own example (log message reference, "Traffic log support for CEF"): date=
  // 2018-12-27 time=11:07:55 is eventtime 1545937675, 19:07:55 UTC: the device runs at UTC-8.
  std::string error;
  auto zone = local_zone::find("America/Los_Angeles", error);
  ASSERT_TRUE(zone) << error;
  parse_context ctx;
  ctx.zone = &*zone;
  const auto s = parse_with("fortigate", traffic_head + "date=2018-12-27 time=11:07:55", ctx);
  ASSERT_EQ(s.records.size(), 1u);
  EXPECT_EQ(format_iso8601(s.records[0].time), "2018-12-27T19:07:55Z");
  // The record's own tz wins over the input's zone.
  const auto own =
      parse_with("fortigate", traffic_head + "date=2018-12-27 time=11:07:55 tz=+0100", ctx);
  EXPECT_EQ(format_iso8601(own.records.at(0).time), "2018-12-27T10:07:55Z");
}

TEST(Fortigate, ARecordWithoutAnyTimeTakesTheSyslogHeaderTimeOrNone) {
  const auto none = parse_with("fortigate", traffic_head + "action=accept");
  ASSERT_EQ(none.records.size(), 1u);
  EXPECT_FALSE(none.records[0].has_time);
  parse_context ctx;
  ctx.header_time = 1'700'000'000 * us_per_second;
  ctx.host = "fw-from-header";
  const auto with_header =
      parse_with("fortigate", "logid=0000000013 type=traffic srcip=203.0.113.9 dstport=22", ctx);
  ASSERT_EQ(with_header.records.size(), 1u);
  EXPECT_TRUE(with_header.records[0].has_time);
  EXPECT_EQ(with_header.records[0].time, ctx.header_time);
  EXPECT_EQ(label(with_header.records[0].device), "fw-from-header");
}

TEST(Fortigate, ActionsMapLikeAsim) {
  auto action = [](const char* a) {
    return parse_with("fortigate", traffic_head + "action=" + a).records.at(0).action;
  };
  EXPECT_EQ(action("accept"), dvc_action::allow);
  EXPECT_EQ(action("\"deny\""), dvc_action::deny);
  EXPECT_EQ(action("client-rst"), dvc_action::reset_source);
  EXPECT_EQ(action("server-rst"), dvc_action::reset_destination);
  EXPECT_EQ(action("close"), dvc_action::unknown);
  EXPECT_EQ(action("timeout"), dvc_action::unknown);
  EXPECT_EQ(action("ip-conn"), dvc_action::unknown);
}

TEST(Fortigate, KeysInsideQuotedValuesAreNotKeys) {
  const auto s = parse_with(
      "fortigate",
      R"(logid="0000000013" msg="spoof type=utm srcip=9.9.9.9 dstport=1" type="traffic" )"
      R"(srcip=203.0.113.9 dstip=198.51.100.1 dstport=8443 proto=6 action="accept" )"
      R"(devname="edge fw \"one\"")");
  ASSERT_EQ(s.records.size(), 1u);
  EXPECT_EQ(ip(s.records[0].src), "203.0.113.9");
  EXPECT_EQ(s.records[0].dst_port, 8443);
  EXPECT_EQ(label(s.records[0].device), R"(edge fw \"one\")");
}

TEST(Fortigate, ALineStillCarryingASyslogHeaderParsesTheSame) {
  const auto lines = fixture_lines(sample);
  const std::string body = lines.at(1).substr(lines.at(1).find('>') + 1);
  const auto bare = parse_with("fortigate", body);
  const auto rfc3164 = parse_with("fortigate", "<189>Apr 23 01:16:08 testswitch1 " + body);
  const auto rfc5424 =
      parse_with("fortigate", "<189>1 2020-04-23T01:16:08Z testswitch1 - - - - " + body);
  ASSERT_EQ(bare.records.size(), 1u);
  ASSERT_EQ(rfc3164.records.size(), 1u);
  ASSERT_EQ(rfc5424.records.size(), 1u);
  EXPECT_TRUE(same_session(bare.records[0], rfc3164.records[0]));
  EXPECT_TRUE(same_session(bare.records[0], rfc5424.records[0]));
  EXPECT_EQ(detected_format(body), "fortigate");
  EXPECT_EQ(detected_format("<189>Apr 23 01:16:08 testswitch1 " + body), "fortigate");
}

struct malformed_case {
  const char* why;
  std::string input;
  const char* reason;
};

class FortigateMalformed : public ::testing::TestWithParam<malformed_case> {};

TEST_P(FortigateMalformed, IsRejectedWithItsReasonAndNeverYieldsARecord) {
  const auto& c = GetParam();
  const auto s = parse_with("fortigate", c.input);
  EXPECT_TRUE(s.records.empty()) << c.why;
  ASSERT_EQ(s.rejects.size(), 1u) << c.why;
  EXPECT_EQ(s.rejects[0], c.reason) << c.why;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, FortigateMalformed,
    ::testing::Values(
        malformed_case{"no type key", "logid=0000000013 srcip=203.0.113.9 dstport=22",
                       "missing_type"},
        malformed_case{"empty type", "logid=1 type=\"\" srcip=203.0.113.9", "missing_type"},
        malformed_case{"no source", "logid=1 type=traffic dstip=198.51.100.1 dstport=22",
                       "missing_src_ip"},
        malformed_case{"source is not an address", "logid=1 type=traffic srcip=203.0.113.999",
                       "bad_src_ip"},
        malformed_case{"port above 65535", "logid=1 type=traffic srcip=203.0.113.9 dstport=70000",
                       "bad_dst_port"},
        malformed_case{"port is not a number", "logid=1 type=traffic srcip=203.0.113.9 dstport=ssh",
                       "bad_dst_port"},
        malformed_case{"port is negative", "logid=1 type=traffic srcip=203.0.113.9 dstport=-1",
                       "bad_dst_port"},
        malformed_case{"eventtime is not a number and no date",
                       "logid=1 type=traffic srcip=203.0.113.9 eventtime=soon", "bad_time"},
        malformed_case{"date is February 30th",
                       "logid=1 type=traffic srcip=203.0.113.9 date=2023-02-30 time=10:00:00",
                       "bad_time"},
        malformed_case{
            "tz is not an offset",
            "logid=1 type=traffic srcip=203.0.113.9 date=2023-02-03 time=10:00:00 tz=CET",
            "bad_time"}),
    why_name{});

TEST(Fortigate, TheProbeRecognisesEverySampleLineWithFortiOsKeys) {
  const auto lines = fixture_lines(sample);
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const std::size_t n = i + 1;
    // 47 and 48 carry neither logid nor type: nothing marks them as FortiOS.
    EXPECT_EQ(detected_format(lines[i]), n == 47 || n == 48 ? "" : "fortigate") << n;
  }
}

TEST(Fortigate, TheProbeLeavesOtherFormatsAlone) {
  for (const auto& u : foreign_units()) EXPECT_NE(detected_format(u), "fortigate") << u;
  for (const char* rel :
       {"panos/test-panw-panos-traffic-sample.first34.log", "checkpoint/test-r81x.log",
        "checkpoint/test-packet-drop.log", "meraki/test-flows.log", "meraki/test-ip-flow.log"})
    for (const auto& l : fixture_lines(rel)) EXPECT_NE(detected_format(l), "fortigate") << l;
}

TEST(Fortigate, AutoDetectionYieldsTheSameRecordsAsTheFixedFormat) {
  auto lines = fixture_lines(sample);
  lines.erase(lines.begin() + 46, lines.begin() + 48);  // 47, 48: unknown to every probe
  expect_auto_matches("fortigate", lines);
}

}  // namespace
}  // namespace portscand::test
