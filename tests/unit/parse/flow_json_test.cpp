#include <gtest/gtest.h>

#include "../test_names.hpp"
#include "json_formats_test_util.hpp"

namespace portscand::test {
namespace {

struct expected_flow {
  int line;  // 1-based line of tests/fixtures/flow-json/flows.jsonl
  const char* time;
  const char* src;
  const char* dst;
  std::int32_t dst_port;
  std::uint16_t protocol;
  dvc_action action;
  const char* label;
  const char* device;
};

// The fixture is hand-made (see its NOTICE.md); the values are read off each line by hand.
const expected_flow flows[] = {
    // pmacct: timestamp_start ("YYYY-MM-DD hh:mm:ss.ffffff", UTC without a timezone), peer_ip_src.
    {1, "2024-11-28T10:00:00.123456Z", "203.0.113.60", "198.51.100.20", 22, 6, dvc_action::unknown,
     "pmacct/pmacct", "192.0.2.1"},
    // timestamps_since_epoch text; ip_proto as a number.
    {2, "2024-11-28T10:00:01.500Z", "203.0.113.60", "198.51.100.20", 23, 6, dvc_action::unknown,
     "pmacct/pmacct", "192.0.2.1"},
    // No timestamp_start: timestamp_arrival.
    {3, "2024-11-28T10:01:00Z", "2001:db8::60", "2001:db8::20", 161, 17, dvc_action::unknown,
     "pmacct/pmacct", "192.0.2.1"},
    // ICMP: port_dst 0 is not a port.
    {4, "2024-11-28T10:02:00Z", "203.0.113.61", "198.51.100.20", network_session::no_port, 1,
     dvc_action::unknown, "pmacct/pmacct", "192.0.2.1"},
    // goflow2 v1: TimeFlowStartMs (1732788056008) is preferred to TimeFlowStart (s).
    {7, "2024-11-28T10:00:56.008Z", "203.0.113.62", "198.51.100.21", 80, 6, dvc_action::unknown,
     "netsampler/goflow2", "192.0.2.3"},
    // Zero flow times: TimeReceived 1732788070. ForwardingStatus 130 = dropped.
    {8, "2024-11-28T10:01:10Z", "203.0.113.62", "198.51.100.21", 443, 6, dvc_action::drop,
     "netsampler/goflow2", "192.0.2.3"},
    // Base64 addresses; ForwardingStatus 64 = forwarded.
    {9, "2024-11-28T10:01:18.518Z", "203.0.113.62", "198.51.100.21", 5353, 17, dvc_action::allow,
     "netsampler/goflow2", "192.0.2.3"},
    // goflow2 v2: time_flow_start_ns, proto as a name.
    {10, "2024-11-28T10:01:30Z", "203.0.113.63", "198.51.100.22", 3306, 6, dvc_action::unknown,
     "netsampler/goflow2", "192.0.2.4"},
    // Zero flow times: time_received_ns as RFC 3339 text (truncated to microseconds).
    {11, "2024-11-28T10:01:40.064235Z", "2001:db8::63", "2001:db8::22", network_session::no_port,
     58, dvc_action::unknown, "netsampler/goflow2", "192.0.2.4"},
};

TEST(FlowJson, EveryFlowRecordOfTheFixtureYieldsItsSession) {
  const auto lines = fixture_lines("flow-json/flows.jsonl");
  ASSERT_EQ(lines.size(), 11u);
  for (const auto& e : flows) {
    SCOPED_TRACE("line " + std::to_string(e.line));
    auto s = parse_with("flow-json", lines[e.line - 1]);
    ASSERT_EQ(s.records.size(), 1u);
    const auto& r = s.records[0];
    EXPECT_TRUE(r.has_time);
    EXPECT_EQ(r.time, iso(e.time));
    EXPECT_EQ(ip(r.src), e.src);
    EXPECT_TRUE(r.has_dst);
    EXPECT_EQ(ip(r.dst), e.dst);
    EXPECT_EQ(r.dst_port, e.dst_port);
    EXPECT_EQ(r.protocol, e.protocol);
    EXPECT_EQ(r.action, e.action);
    EXPECT_EQ(label(r.reported_by), e.label);
    EXPECT_EQ(label(r.device), e.device);
  }
}

TEST(FlowJson, PmacctMarkersAndBgpMessagesAreSkipped) {
  const auto lines = fixture_lines("flow-json/flows.jsonl");
  for (std::size_t i : {4u, 5u}) {
    auto s = parse_with("flow-json", lines[i]);
    EXPECT_TRUE(s.records.empty());
    EXPECT_EQ(s.skips, std::vector<std::string>{"not_flow_record"});
  }
}

TEST(FlowJson, PmacctMultiValueMessagesYieldEveryLine) {
  const auto lines = fixture_lines("flow-json/flows.jsonl");
  auto s = parse_with("flow-json", lines[0] + "\n" + lines[1] + "\n" + lines[4] + "\n");
  EXPECT_EQ(s.records.size(), 2u);
  EXPECT_EQ(s.skips, std::vector<std::string>{"not_flow_record"});
}

TEST(FlowJson, AFlowWithoutAnyTimeIsLeftToTheReceiveTime) {
  auto s = parse_with(
      "flow-json",
      R"({"SrcAddr":"203.0.113.9","DstAddr":"192.0.2.1","DstPort":22,"Proto":6,"TimeFlowStart":0,"TimeReceived":0})");
  ASSERT_EQ(s.records.size(), 1u);
  EXPECT_FALSE(s.records[0].has_time);
}

struct malformed_case {
  const char* why;
  std::string input;
  const char* reason;
};

class FlowJsonMalformed : public ::testing::TestWithParam<malformed_case> {};

TEST_P(FlowJsonMalformed, IsRejectedWithItsReason) {
  const auto& c = GetParam();
  auto s = parse_with("flow-json", c.input);
  EXPECT_TRUE(s.records.empty()) << c.why;
  EXPECT_EQ(s.rejects, std::vector<std::string>{c.reason}) << c.why;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, FlowJsonMalformed,
    ::testing::Values(
        malformed_case{"truncated json", R"({"event_type": "purge", "ip_src": "203.0)",
                       "invalid_json"},
        malformed_case{"no source",
                       R"({"event_type": "purge", "ip_dst": "192.0.2.1", "port_dst": 22})",
                       "missing_src_ip"},
        malformed_case{"bad source", R"({"SrcAddr":"203.0.113.999","DstPort":22})", "bad_src_ip"},
        malformed_case{"base64 of the wrong length", R"({"SrcAddr":"AAAAAAA=","DstPort":22})",
                       "bad_src_ip"},
        malformed_case{"base64 with a bad digit", R"({"SrcAddr":"ywB*Pg==","DstPort":22})",
                       "bad_src_ip"},
        malformed_case{"bad port", R"({"src_addr":"203.0.113.9","dst_port":-1})", "bad_dst_port"},
        malformed_case{
            "bad time",
            R"({"event_type": "purge", "ip_src": "203.0.113.9", "timestamp_start": "2024-11-31 10:00:00"})",
            "bad_time"}),
    why_name{});

TEST(FlowJson, TheProbeRecognisesEverySampleUnitAndNoOtherFormats) {
  for (const auto& [format, unit] : sample_units()) {
    SCOPED_TRACE(format + ": " + unit.substr(0, 80));
    EXPECT_EQ(probe_claims("flow-json", unit), format == "flow-json");
  }
}

TEST(FlowJson, AutoDetectionYieldsTheSameRecordsAsTheFixedFormat) {
  const auto lines = fixture_lines("flow-json/flows.jsonl");
  auto fixed = parse_stream("flow-json", lines);
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

}  // namespace
}  // namespace portscand::test

namespace portscand::test {
namespace {

// pmacct writes the collector's local time unless timestamps_utc is set: a zone-less time is
// read in the input's `timezone`; epoch numbers are not.
TEST(FlowJson, AZoneLessTimeIsReadInTheInputsTimeZone) {
  std::string error;
  auto zone = local_zone::find("-07:00", error);
  ASSERT_TRUE(zone) << error;
  parse_context ctx;
  ctx.zone = &*zone;
  auto s =
      parse_with("flow-json",
                 R"({"peer_ip_src":"192.0.2.1","ip_src":"203.0.113.60","ip_dst":"198.51.100.20",)"
                 R"("port_dst":22,"ip_proto":"tcp","timestamp_start":"2024-11-28 10:00:00"})",
                 ctx);
  ASSERT_EQ(s.records.size(), 1u);
  EXPECT_EQ(format_iso8601(s.records[0].time), "2024-11-28T17:00:00Z");
  s = parse_with("flow-json",
                 R"({"peer_ip_src":"192.0.2.1","ip_src":"203.0.113.60","ip_dst":"198.51.100.20",)"
                 R"("port_dst":22,"ip_proto":"tcp","timestamp_start":"1732788000"})",
                 ctx);
  ASSERT_EQ(s.records.size(), 1u);
  EXPECT_EQ(format_iso8601(s.records[0].time), "2024-11-28T10:00:00Z");
}

}  // namespace
}  // namespace portscand::test

namespace portscand::test {
namespace {

// The side of a flow from its ORed TCP flags (FIN 0x01, SYN 0x02, RST 0x04, PSH 0x08,
// ACK 0x10, RFC 9293 header bits as NetFlow/IPFIX tcpControlBits and pmacct write them).
struct flags_case {
  const char* why;
  std::string record;
  flow_side side;
};

class FlowJsonTcpFlags : public ::testing::TestWithParam<flags_case> {};

TEST_P(FlowJsonTcpFlags, GiveTheSideOfTheFlow) {
  const auto& c = GetParam();
  auto s = parse_with("flow-json", c.record);
  ASSERT_EQ(s.records.size(), 1u) << c.why;
  EXPECT_EQ(s.records[0].side, c.side) << c.why;
}

std::string pmacct(const char* proto, const char* flags_field) {
  return std::string(R"({"event_type":"purge","ip_src":"198.51.100.2","ip_dst":"198.51.100.1",)") +
         R"("port_src":80,"port_dst":41234,"ip_proto":")" + proto + "\"" + flags_field +
         R"(,"timestamp_start":"1796638609.183763","packets":1,"bytes":60})";
}

INSTANTIATE_TEST_SUITE_P(
    Cases, FlowJsonTcpFlags,
    ::testing::Values(
        flags_case{"pmacct text \"2\": a bare SYN (connect or SYN probe)",
                   pmacct("tcp", R"(,"tcp_flags":"2")"), flow_side::initiator},
        flags_case{"SYN+FIN (3): still no ACK", pmacct("tcp", R"(,"tcp_flags":"3")"),
                   flow_side::initiator},
        flags_case{"SYN+RST (6): a SYN scan's probe and the scanner kernel's reset",
                   pmacct("tcp", R"(,"tcp_flags":"6")"), flow_side::initiator},
        flags_case{"RST+ACK (20): a closed port's answer to a SYN",
                   pmacct("tcp", R"(,"tcp_flags":"20")"), flow_side::reply},
        flags_case{"RST+ACK+FIN (21) without SYN", pmacct("tcp", R"(,"tcp_flags":"21")"),
                   flow_side::reply},
        flags_case{"SYN+ACK (18) ORed: a server's SYN-ACK or a client's whole handshake",
                   pmacct("tcp", R"(,"tcp_flags":"18")"), flow_side::unknown},
        flags_case{"SYN+ACK+RST (22): a connect scan of an open port, ORed",
                   pmacct("tcp", R"(,"tcp_flags":"22")"), flow_side::unknown},
        flags_case{"ACK (16): mid-connection, or an ACK scan's probe",
                   pmacct("tcp", R"(,"tcp_flags":"16")"), flow_side::unknown},
        flags_case{"RST alone (4): an answer to an ACK probe, or an abort",
                   pmacct("tcp", R"(,"tcp_flags":"4")"), flow_side::unknown},
        flags_case{"FIN alone (1): a FIN scan's probe", pmacct("tcp", R"(,"tcp_flags":"1")"),
                   flow_side::unknown},
        flags_case{"0: no flags seen", pmacct("tcp", R"(,"tcp_flags":"0")"), flow_side::unknown},
        flags_case{"no tcp_flags field", pmacct("tcp", ""), flow_side::unknown},
        flags_case{"unreadable tcp_flags", pmacct("tcp", R"(,"tcp_flags":"x")"),
                   flow_side::unknown},
        flags_case{"flags above 16 bits are not flags", pmacct("tcp", R"(,"tcp_flags":"65538")"),
                   flow_side::unknown},
        flags_case{"pmacct as a number", pmacct("6", R"(,"tcp_flags":20)"), flow_side::reply},
        flags_case{"UDP: TCP flags mean nothing", pmacct("udp", R"(,"tcp_flags":"2")"),
                   flow_side::unknown},
        flags_case{
            "goflow2 v1 TCPFlags",
            R"({"Type":"IPFIX","TimeReceived":1732788056,"SamplerAddress":"192.0.2.3","SrcAddr":"203.0.113.62","DstAddr":"198.51.100.21","SrcPort":51000,"DstPort":80,"Proto":6,"TCPFlags":2})",
            flow_side::initiator},
        flags_case{
            "goflow2 v2 tcp_flags",
            R"({"type":"IPFIX","time_received_ns":1732788056000000000,"sampler_address":"192.0.2.4","src_addr":"198.51.100.22","dst_addr":"203.0.113.63","src_port":3306,"dst_port":51000,"proto":"TCP","tcp_flags":20})",
            flow_side::reply}),
    why_name{});

}  // namespace
}  // namespace portscand::test

namespace portscand::test {
namespace {

// Real pmacctd output (see the fixture's NOTICE.md); the sides worked out by hand from the
// flags with the rule of README "Reply flows".
TEST(FlowJson, CapturedPmacctFlowsOfAConnectScanGiveTheirSides) {
  const auto lines = fixture_lines("flow-json/pmacctd-nmap-sT.jsonl");
  ASSERT_EQ(lines.size(), 7u);
  const struct {
    const char* src;
    std::int32_t dst_port;
    flow_side side;
  } expected[] = {
      {"198.51.100.1", 135, flow_side::initiator},  // 2: SYN
      {"198.51.100.2", 43574, flow_side::reply},    // 20: RST+ACK, closed port
      {"198.51.100.1", 80, flow_side::unknown},     // 22: SYN, ACK, RST ORed
      {"198.51.100.2", 40686, flow_side::unknown},  // 18: the SYN-ACK, not told from a client
      {"198.51.100.1", 80, flow_side::unknown},     // 19
      {"198.51.100.2", 40672, flow_side::unknown},  // 19, the same bits from the server
      {"::", network_session::no_port, flow_side::unknown},  // ipv6-icmp
  };
  for (std::size_t i = 0; i < lines.size(); ++i) {
    SCOPED_TRACE("line " + std::to_string(i + 1));
    auto s = parse_with("flow-json", lines[i]);
    ASSERT_EQ(s.records.size(), 1u);
    EXPECT_EQ(ip(s.records[0].src), expected[i].src);
    EXPECT_EQ(s.records[0].dst_port, expected[i].dst_port);
    EXPECT_EQ(s.records[0].side, expected[i].side);
    EXPECT_EQ(format_iso8601(s.records[0].time),
              i == 6 ? "2026-12-07T10:40:46Z" : "2026-12-07T10:40:47Z");
  }
}

}  // namespace
}  // namespace portscand::test
