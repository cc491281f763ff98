#include <gtest/gtest.h>

#include <map>

#include "../test_names.hpp"
#include "core/time_zone.hpp"
#include "firewall_test_util.hpp"

namespace portscand::test {
namespace {

const std::string sample = "panos/test-panw-panos-traffic-sample.first34.log";
const std::string derived = "panos/test-panw-panos-traffic-sample.first34.log-derived-fields.jsonl";

// The generated time (CSV field 6) is the record's event time: when the dataplane logged the
// session (ASIM's TimeGenerated stands for it; Elastic's pipeline sets @timestamp from it).
// The session start time (field 35) is minutes older for long sessions (line 1: 15:59:04 vs
// 16:09:07) and would bin a session where it began, not where it was logged. The expected
// values are the cross-check file's generated_time, a device-local time read as UTC here.
std::string generated_iso(simdjson::dom::element row) {
  std::string t = *str_field(row, "generated_time");  // "2018/11/30 16:09:07"
  t[4] = t[7] = '-';
  t[10] = 'T';
  return t + "Z";
}

// The sample's lines carry a BSD syslog header "Nov 30 16:09:08 PA-220 "; the body starts
// after the host name.
std::string body_of(const std::string& line) {
  const std::string host = "PA-220 ";
  return line.substr(line.find(host) + host.size());
}

void expect_matches_row(const network_session& r, simdjson::dom::element row, std::size_t n) {
  EXPECT_EQ(ip(r.src), *str_field(row, "src")) << n;
  ASSERT_TRUE(r.has_dst) << n;
  EXPECT_EQ(ip(r.dst), *str_field(row, "dst")) << n;
  const std::string proto = *str_field(row, "proto");
  EXPECT_EQ(r.protocol, protocol_from_name(proto)) << n;
  const auto dport = *int_field(row, "dport");
  // ICMP sessions are logged with port 0: no port.
  EXPECT_EQ(r.dst_port, proto == "icmp" ? network_session::no_port : dport) << n;
  EXPECT_EQ(*str_field(row, "action"), "allow") << n;
  EXPECT_EQ(r.action, dvc_action::allow) << n;
  EXPECT_EQ(label(r.reported_by), "Palo Alto/PanOS") << n;
  EXPECT_EQ(label(r.device), "PA-220") << n;
  ASSERT_TRUE(r.has_time) << n;
  EXPECT_EQ(format_iso8601(r.time), generated_iso(row)) << n;
}

TEST(Panos, EverySampleRecordMatchesTheLiteralFieldsOfTheCrossCheckFile) {
  const auto lines = fixture_lines(sample);
  ASSERT_EQ(lines.size(), 34u);
  json_rows rows(derived);
  ASSERT_EQ(rows.size(), 34u);
  for (std::size_t i = 0; i < rows.size(); ++i) {
    auto row = rows.row(i);
    const auto n = static_cast<std::size_t>(*int_field(row, "line"));
    ASSERT_EQ(*str_field(row, "type"), "TRAFFIC");
    // Lines 24-27 have edited subtypes (drop, deny, "", test) upstream; the record is a
    // TRAFFIC session whatever the subtype, and the action field is what counts.
    for (const std::string& unit : {lines.at(n - 1), body_of(lines.at(n - 1))}) {
      const auto s = parse_with("panos", unit);
      ASSERT_EQ(s.records.size(), 1u) << n;
      expect_matches_row(s.records[0], row, n);
    }
  }
}

TEST(Panos, ThePreNatSourceIsTheScanSource) {
  const auto r = parse_with("panos", fixture_lines(sample).at(0)).records.at(0);
  EXPECT_EQ(ip(r.src), "192.168.15.207");  // not the NAT source 192.168.1.63
  EXPECT_EQ(r.dst_port, 443);              // not the NAT port
}

// A TRAFFIC record of 53 fields with test values; fields can be overridden by position.
std::string traffic(std::map<std::size_t, std::string> overrides = {}, std::size_t count = 53) {
  std::vector<std::string> f(count);
  auto set = [&](std::size_t i, std::string v) {
    if (i < count) f[i] = std::move(v);
  };
  set(0, "1");
  set(1, "2024/02/03 10:00:05");
  set(2, "013201001234");
  set(3, "TRAFFIC");
  set(4, "drop");
  set(6, "2024/02/03 10:00:04");
  set(7, "203.0.113.50");
  set(8, "198.51.100.20");
  set(11, "deny-all");
  set(24, "51515");
  set(25, "3389");
  set(29, "tcp");
  set(30, "deny");
  set(35, "2024/02/03 10:00:01");
  set(52, "fw-edge-1");
  for (auto& [i, v] : overrides) set(i, v);
  std::string out;
  for (std::size_t i = 0; i < count; ++i) {
    if (i > 0) out += ',';
    out += f[i];
  }
  return out;
}

TEST(Panos, ASynthesisedDenyRecordYieldsEveryNormalizedField) {
  const auto s = parse_with("panos", traffic());
  ASSERT_EQ(s.records.size(), 1u);
  const auto& r = s.records[0];
  EXPECT_EQ(ip(r.src), "203.0.113.50");
  EXPECT_EQ(ip(r.dst), "198.51.100.20");
  EXPECT_EQ(r.dst_port, 3389);
  EXPECT_EQ(r.protocol, 6);
  EXPECT_EQ(r.action, dvc_action::deny);
  EXPECT_EQ(format_iso8601(r.time), "2024-02-03T10:00:04Z");  // generated, not start (10:00:01)
  EXPECT_EQ(label(r.device), "fw-edge-1");
  EXPECT_EQ(label(r.reported_by), "Palo Alto/PanOS");
}

TEST(Panos, ActionsMapLikeAsim) {
  auto action = [](const char* a) {
    return parse_with("panos", traffic({{30, a}})).records.at(0).action;
  };
  EXPECT_EQ(action("allow"), dvc_action::allow);
  EXPECT_EQ(action("deny"), dvc_action::deny);
  EXPECT_EQ(action("drop"), dvc_action::drop);
  EXPECT_EQ(action("drop-icmp"), dvc_action::drop_icmp);
  EXPECT_EQ(action("reset-client"), dvc_action::reset_source);
  EXPECT_EQ(action("reset-server"), dvc_action::reset_destination);
  EXPECT_EQ(action("reset-both"), dvc_action::reset);
  EXPECT_EQ(action("sinkhole"), dvc_action::unknown);
}

TEST(Panos, QuotedFieldsMayHoldCommasWithoutShiftingPositions) {
  const auto s = parse_with("panos", traffic({{11, R"("deny, log ""all""")"}, {14, "\"a,b\""}}));
  ASSERT_EQ(s.records.size(), 1u);
  EXPECT_EQ(ip(s.records[0].src), "203.0.113.50");
  EXPECT_EQ(s.records[0].dst_port, 3389);
  EXPECT_EQ(s.records[0].action, dvc_action::deny);
}

TEST(Panos, TheGeneratedTimeIsTheEventTimeAndTheReceiveTimeItsFallback) {
  // A record cut right after the action (older exports), one with an empty start, one with
  // no generated time.
  const auto short_record = parse_with("panos", traffic({}, 31));
  ASSERT_EQ(short_record.records.size(), 1u);
  EXPECT_EQ(format_iso8601(short_record.records[0].time), "2024-02-03T10:00:04Z");
  const auto empty_start = parse_with("panos", traffic({{35, ""}}));
  EXPECT_EQ(format_iso8601(empty_start.records.at(0).time), "2024-02-03T10:00:04Z");
  const auto no_generated = parse_with("panos", traffic({{35, ""}, {6, ""}}));
  EXPECT_EQ(format_iso8601(no_generated.records.at(0).time), "2024-02-03T10:00:05Z");
}

// PAN-OS 10.x and later append a High Resolution Timestamp (the generated time with
// milliseconds and the device's UTC offset) to every log type; in TRAFFIC logs it is field
// 102. The line is the sample's line 1 with fields 53..105 added after Palo Alto's
// documented TRAFFIC field list (empty where the sample has no value) and a high-resolution
// time from a device in UTC+8: constructed, not captured.
std::string with_high_res(const std::string& body, const std::string& high_res) {
  std::string out = body;
  for (std::size_t i = 53; i <= 105; ++i) {
    out += ',';
    if (i == 102) out += high_res;
  }
  return out;
}

TEST(Panos, TheHighResolutionTimestampCarriesTheDevicesOffset) {
  const std::string line1 = body_of(fixture_lines(sample).at(0));
  const auto s = parse_with("panos", with_high_res(line1, "2018-12-01T00:09:07.771+08:00"));
  ASSERT_EQ(s.records.size(), 1u);
  EXPECT_EQ(format_iso8601(s.records[0].time), "2018-11-30T16:09:07.771000Z");
  // UTC-7: without the offset every record would be seven hours late.
  const auto west = parse_with("panos", with_high_res(line1, "2018-11-30T09:09:07.250-07:00"));
  ASSERT_EQ(west.records.size(), 1u);
  EXPECT_EQ(format_iso8601(west.records[0].time), "2018-11-30T16:09:07.250000Z");
}

TEST(Panos, ZoneLessTimesAreReadInTheInputsTimeZone) {
  std::string error;
  auto zone = local_zone::find("Asia/Shanghai", error);
  ASSERT_TRUE(zone) << error;
  parse_context ctx;
  ctx.zone = &*zone;
  // The sample's line 1, its generated time 2018/11/30 16:09:07 read in UTC+8.
  const auto s = parse_with("panos", body_of(fixture_lines(sample).at(0)), ctx);
  ASSERT_EQ(s.records.size(), 1u);
  EXPECT_EQ(format_iso8601(s.records[0].time), "2018-11-30T08:09:07Z");
  // A record's own offset wins over the input's zone.
  const auto own = parse_with(
      "panos", with_high_res(body_of(fixture_lines(sample).at(0)), "2018-11-30T09:09:07-07:00"),
      ctx);
  EXPECT_EQ(format_iso8601(own.records.at(0).time), "2018-11-30T16:09:07Z");
}

TEST(Panos, WithoutADeviceNameTheSyslogHostIsTheDevice) {
  parse_context ctx;
  ctx.host = "pa-header-host";
  const auto s = parse_with("panos", traffic({{52, ""}}), ctx);
  EXPECT_EQ(label(s.records.at(0).device), "pa-header-host");
  const auto short_record = parse_with("panos", traffic({}, 40), ctx);
  EXPECT_EQ(label(short_record.records.at(0).device), "pa-header-host");
}

TEST(Panos, OtherLogTypesAreSkipped) {
  for (const char* type : {"THREAT", "SYSTEM", "CONFIG", "GLOBALPROTECT", "USERID"}) {
    const auto s = parse_with("panos", traffic({{3, type}}));
    EXPECT_TRUE(s.records.empty()) << type;
    EXPECT_EQ(s.skips, std::vector<std::string>{"not_traffic"}) << type;
  }
  // A SYSTEM log is much shorter than a TRAFFIC one: skipped, not truncated.
  const auto sys = parse_with(
      "panos",
      "1,2024/02/03 10:00:05,013201001234,SYSTEM,general,0,2024/02/03 10:00:05,,general,,"
      "0,0,general,informational,\"User admin logged in via Web from 192.0.2.1\",1,0x0");
  EXPECT_EQ(sys.skips, std::vector<std::string>{"not_traffic"});
}

TEST(Panos, UnitsWithAnyKindOfSyslogHeaderParseTheSame) {
  const std::string body = traffic();
  const auto bare = parse_with("panos", body);
  for (const std::string& prefix :
       {std::string("<14>Feb  3 10:00:05 fw-edge-1 "), std::string("<14>"),
        std::string("<14>1 2024-02-03T10:00:05Z fw-edge-1 - - - - ")}) {
    const auto s = parse_with("panos", prefix + body);
    ASSERT_EQ(s.records.size(), 1u) << prefix;
    EXPECT_TRUE(same_session(bare.records.at(0), s.records[0])) << prefix;
    EXPECT_EQ(detected_format(prefix + body), "panos") << prefix;
  }
}

struct malformed_case {
  const char* why;
  std::string input;
  const char* reason;
};

class PanosMalformed : public ::testing::TestWithParam<malformed_case> {};

TEST_P(PanosMalformed, IsRejectedWithItsReasonAndNeverYieldsARecord) {
  const auto& c = GetParam();
  const auto s = parse_with("panos", c.input);
  EXPECT_TRUE(s.records.empty()) << c.why;
  ASSERT_EQ(s.rejects.size(), 1u) << c.why;
  EXPECT_EQ(s.rejects[0], c.reason) << c.why;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, PanosMalformed,
    ::testing::Values(
        malformed_case{"no receive time signature", "hello,world,TRAFFIC", "no_panos_header"},
        malformed_case{"cut before the action", traffic({}, 30), "truncated_record"},
        malformed_case{"empty source", traffic({{7, ""}}), "missing_src_ip"},
        malformed_case{"source is not an address", traffic({{7, "203.0.113"}}), "bad_src_ip"},
        malformed_case{"port above 65535", traffic({{25, "65536"}}), "bad_dst_port"},
        malformed_case{"port is text", traffic({{25, "rdp"}}), "bad_dst_port"},
        malformed_case{"unterminated quote", traffic({{11, "\"deny-all"}}), "bad_quoting"},
        malformed_case{"text after a closing quote", traffic({{11, "\"deny\"all"}}), "bad_quoting"},
        malformed_case{"no readable time at all",
                       traffic({{35, ""}, {6, "2024/02/30 10:00:00"}, {1, "2024/02/30 10:00:00"}}),
                       "bad_time"}),
    why_name{});

TEST(Panos, TheProbeRecognisesEverySampleLineAndBody) {
  for (const auto& l : fixture_lines(sample)) {
    EXPECT_EQ(detected_format(l), "panos") << l;
    EXPECT_EQ(detected_format(body_of(l)), "panos") << l;
  }
}

TEST(Panos, TheProbeLeavesOtherFormatsAlone) {
  for (const auto& u : foreign_units()) EXPECT_NE(detected_format(u), "panos") << u;
  for (const char* rel :
       {"fortigate/test-fortinet.log", "checkpoint/test-r81x.log",
        "checkpoint/test-packet-drop.log", "meraki/test-flows.log", "meraki/test-ip-flow.log"})
    for (const auto& l : fixture_lines(rel)) EXPECT_NE(detected_format(l), "panos") << l;
}

TEST(Panos, AutoDetectionYieldsTheSameRecordsAsTheFixedFormat) {
  expect_auto_matches("panos", fixture_lines(sample));
  std::vector<std::string> bodies;
  for (const auto& l : fixture_lines(sample)) bodies.push_back(body_of(l));
  expect_auto_matches("panos", bodies);
}

}  // namespace
}  // namespace portscand::test
