#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "../test_names.hpp"
#include "parse_test_util.hpp"

namespace portscand::test {
namespace {

const std::string sample = "mde/test-device.DeviceNetworkEvents-subset.log";

bool same_record(const network_session& a, const network_session& b) {
  return a.time == b.time && a.has_time == b.has_time && a.src == b.src && a.dst == b.dst &&
         a.has_dst == b.has_dst && a.dst_port == b.dst_port && a.protocol == b.protocol &&
         a.action == b.action && a.reported_by == b.reported_by && a.device == b.device;
}

// A streaming-API event around the given properties.
std::string event(const std::string& props) {
  return R"({"category":"AdvancedHunting-DeviceNetworkEvents","operationName":"Publish","properties":{)" +
         props + R"(},"tenantId":"t","time":"2024-01-01T12:00:00Z"})";
}

TEST(Mde, EverySampleLineMatchesItsDerivedFields) {
  // Walks the sample and the corpus's derived field values side by side. Only the
  // ActionTypes of ASIM's direction table are sessions: line 1 (NetworkSignatureInspected)
  // and line 3 (DnsConnectionInspected) are skipped although they carry addresses.
  const auto lines = fixture_lines(sample);
  const auto derived = fixture_lines(sample + "-derived-fields.jsonl");
  ASSERT_EQ(lines.size(), derived.size());
  for (std::size_t i = 0; i < lines.size(); ++i) {
    SCOPED_TRACE("line " + std::to_string(i + 1));
    const auto x = nlohmann::json::parse(derived[i]);
    auto s = parse_with("mde", lines[i]);
    EXPECT_TRUE(s.rejects.empty());
    const std::string action = x["ActionType"];
    if (action != "ConnectionFailed") {
      EXPECT_TRUE(s.records.empty());
      EXPECT_EQ(s.skips, std::vector<std::string>{"not_a_connection"});
      continue;
    }
    // Outbound: Local is the source, Remote the destination.
    ASSERT_EQ(s.records.size(), 1u);
    const auto& r = s.records[0];
    EXPECT_EQ(ip(r.src), x["LocalIP"].get<std::string>());
    EXPECT_EQ(ip(r.dst), x["RemoteIP"].get<std::string>());
    EXPECT_EQ(r.dst_port, x["RemotePort"].get<int>());
    EXPECT_EQ(r.protocol, 6);  // "Tcp"
    // The event's Timestamp (7 fractional digits, truncated to µs), not the envelope time.
    ASSERT_TRUE(r.has_time);
    EXPECT_EQ(format_iso8601(r.time),
              format_iso8601(*parse_iso8601(x["Timestamp"].get<std::string>())));
    EXPECT_EQ(format_iso8601(r.time), "2023-07-19T12:17:42.778236Z");
    EXPECT_EQ(r.action, dvc_action::unknown);  // ASIM sets no DvcAction for MDE
    EXPECT_EQ(label(r.device), x["DeviceName"].get<std::string>());
    // The derived file says "Defender for Endpoint"; ASIM's label is the one alerts carry.
    EXPECT_EQ(label(r.reported_by), "Microsoft/M365 Defender for Endpoint");
  }
}

TEST(Mde, InboundActionTypesPutTheRemotePeerFirstAndProbeTheLocalPort) {
  for (const char* action :
       {"InboundConnectionAccepted", "ConnectionFound", "ListeningConnectionCreated"}) {
    auto s = parse_with(
        "mde",
        event(
            std::string(R"("ActionType":")") + action +
            R"(","LocalIP":"10.0.0.5","LocalPort":445,"RemoteIP":"203.0.113.66",)"
            R"("RemotePort":51234,"Protocol":"TcpV4","DeviceName":"pc-7","Timestamp":"2024-01-01T11:59:00Z")"));
    ASSERT_EQ(s.records.size(), 1u) << action;
    const auto& r = s.records[0];
    EXPECT_EQ(ip(r.src), "203.0.113.66") << action;
    EXPECT_EQ(ip(r.dst), "10.0.0.5") << action;
    EXPECT_EQ(r.dst_port, 445) << action;
    EXPECT_EQ(r.protocol, 6) << action;
    EXPECT_EQ(format_iso8601(r.time), "2024-01-01T11:59:00Z");
  }
}

TEST(Mde, OutboundActionTypesKeepTheLocalSideAsTheSource) {
  for (const char* action : {"ConnectionSuccess", "ConnectionFailed", "ConnectionRequest"}) {
    auto s = parse_with(
        "mde",
        event(
            std::string(R"("ActionType":")") + action +
            R"(","LocalIP":"10.0.0.5","LocalPort":50000,"RemoteIP":"198.51.100.9","RemotePort":3389,"Protocol":"Udp")"));
    ASSERT_EQ(s.records.size(), 1u) << action;
    EXPECT_EQ(ip(s.records[0].src), "10.0.0.5");
    EXPECT_EQ(s.records[0].dst_port, 3389);
    EXPECT_EQ(s.records[0].protocol, 17);
  }
}

TEST(Mde, AListeningSocketWithoutPeerIsSkipped) {
  for (const char* remote : {R"("RemoteIP":"")", R"("RemoteIP":null)", R"("RemoteIP":"0.0.0.0")",
                             R"("RemoteIP":"::")"}) {
    auto s = parse_with(
        "mde",
        event(
            std::string(
                R"("ActionType":"ListeningConnectionCreated","LocalIP":"0.0.0.0","LocalPort":8080,)") +
            remote));
    EXPECT_TRUE(s.records.empty()) << remote;
    EXPECT_EQ(s.skips, std::vector<std::string>{"listen_without_peer"}) << remote;
  }
}

TEST(Mde, MappedIpv4AddressesFoldToIpv4) {
  auto s = parse_with(
      "mde",
      event(
          R"("ActionType":"InboundConnectionAccepted","LocalIP":"::ffff:10.0.0.5","LocalPort":22,"RemoteIP":"::ffff:203.0.113.5","RemotePort":1)"));
  ASSERT_EQ(s.records.size(), 1u);
  EXPECT_TRUE(s.records[0].src.is_v4());
  EXPECT_EQ(ip(s.records[0].src), "203.0.113.5");
  EXPECT_EQ(ip(s.records[0].dst), "10.0.0.5");
}

TEST(Mde, TheFlatExportShapeIsReadLikeTheStreamingShape) {
  auto s = parse_with(
      "mde",
      R"({"TenantId":"t","TimeGenerated":"2024-01-01T12:05:00Z","Timestamp":"2024-01-01T12:00:01Z",)"
      R"("DeviceId":"d","DeviceName":"srv-1","ActionType":"InboundConnectionAccepted","RemoteIP":"203.0.113.8",)"
      R"("RemotePort":40000,"LocalIP":"10.1.1.1","LocalPort":22,"Protocol":"Tcp","Type":"DeviceNetworkEvents"})");
  ASSERT_EQ(s.records.size(), 1u);
  const auto& r = s.records[0];
  EXPECT_EQ(ip(r.src), "203.0.113.8");
  EXPECT_EQ(r.dst_port, 22);
  EXPECT_EQ(format_iso8601(r.time), "2024-01-01T12:00:01Z");  // Timestamp before TimeGenerated
  EXPECT_EQ(label(r.device), "srv-1");
}

TEST(Mde, TimeFallsBackToTimeGeneratedThenTheEnvelopeTime) {
  auto a = parse_with(
      "mde",
      R"({"TimeGenerated":"2024-01-01T12:05:00Z","ActionType":"ConnectionSuccess","LocalIP":"10.0.0.1","RemoteIP":"1.1.1.1","RemotePort":53})");
  EXPECT_EQ(format_iso8601(a.records.at(0).time), "2024-01-01T12:05:00Z");
  auto b = parse_with(
      "mde",
      event(
          R"("ActionType":"ConnectionSuccess","LocalIP":"10.0.0.1","RemoteIP":"1.1.1.1","RemotePort":53)"));
  EXPECT_EQ(format_iso8601(b.records.at(0).time), "2024-01-01T12:00:00Z");
  auto c = parse_with(
      "mde", R"({"ActionType":"ConnectionSuccess","LocalIP":"10.0.0.1","RemoteIP":"1.1.1.1"})");
  EXPECT_FALSE(c.records.at(0).has_time);
}

TEST(Mde, ARecordsEnvelopeYieldsEveryEvent) {
  const auto lines = fixture_lines(sample);
  const std::string envelope =
      "{\"records\":[" + lines[0] + "," + lines[1] + "," + lines[2] + "," +
      event(R"("ActionType":"ConnectionSuccess","LocalIP":"bad","RemoteIP":"1.1.1.1")") + "]}";
  auto s = parse_with("mde", envelope);
  ASSERT_EQ(s.records.size(), 1u);
  EXPECT_EQ(ip(s.records[0].dst), "175.16.199.0");
  EXPECT_EQ(s.skips, (std::vector<std::string>{"not_a_connection", "not_a_connection"}));
  EXPECT_EQ(s.rejects, std::vector<std::string>{"bad_src_ip"});
}

TEST(Mde, OtherAdvancedHuntingTablesAreSkipped) {
  auto s = parse_with(
      "mde",
      R"({"category":"AdvancedHunting-DeviceProcessEvents","properties":{"ActionType":"ProcessCreated"}})");
  EXPECT_EQ(s.skips, std::vector<std::string>{"other_table"});
  auto t = parse_with(
      "mde",
      R"({"Type":"DeviceEvents","ActionType":"FirewallInboundConnectionBlocked","RemoteIP":"1.2.3.4"})");
  EXPECT_EQ(t.skips, std::vector<std::string>{"other_table"});
}

TEST(Mde, UnknownProtocolIsLeftEmpty) {
  auto s = parse_with(
      "mde",
      event(
          R"("ActionType":"ConnectionSuccess","LocalIP":"10.0.0.1","RemoteIP":"1.1.1.1","Protocol":"Unknown")"));
  EXPECT_EQ(s.records.at(0).protocol, network_session::no_protocol);
}

struct malformed_case {
  const char* why;
  std::string input;
  const char* reason;
};

class MdeMalformed : public ::testing::TestWithParam<malformed_case> {};

TEST_P(MdeMalformed, IsRejectedWithItsReasonAndNeverYieldsARecord) {
  const auto& c = GetParam();
  auto s = parse_with("mde", c.input);
  EXPECT_TRUE(s.records.empty()) << c.why;
  ASSERT_EQ(s.rejects.size(), 1u) << c.why;
  EXPECT_EQ(s.rejects[0], c.reason) << c.why;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, MdeMalformed,
    ::testing::Values(
        malformed_case{
            "truncated JSON",
            R"({"category":"AdvancedHunting-DeviceNetworkEvents","properties":{"ActionType":"Conn)",
            "invalid_json"},
        malformed_case{"no ActionType", event(R"("LocalIP":"10.0.0.1","RemoteIP":"1.1.1.1")"),
                       "missing_action_type"},
        malformed_case{"ActionType is an object", event(R"("ActionType":{},"LocalIP":"10.0.0.1")"),
                       "bad_action_type"},
        malformed_case{"outbound without LocalIP",
                       event(R"("ActionType":"ConnectionSuccess","RemoteIP":"1.1.1.1")"),
                       "missing_src_ip"},
        malformed_case{
            "inbound RemoteIP is not an address",
            event(
                R"("ActionType":"InboundConnectionAccepted","RemoteIP":"host.example","LocalIP":"10.0.0.1")"),
            "bad_src_ip"},
        malformed_case{
            "an address is an array",
            event(R"("ActionType":"ConnectionSuccess","LocalIP":[1],"RemoteIP":"1.1.1.1")"),
            "bad_ip"},
        malformed_case{
            "the probed port is out of range",
            event(
                R"("ActionType":"ConnectionSuccess","LocalIP":"10.0.0.1","RemoteIP":"1.1.1.1","RemotePort":70000)"),
            "bad_dst_port"},
        malformed_case{
            "inbound probed port is text",
            event(
                R"("ActionType":"InboundConnectionAccepted","RemoteIP":"1.1.1.1","LocalIP":"10.0.0.1","LocalPort":"http")"),
            "bad_dst_port"},
        malformed_case{
            "Timestamp is not a time",
            event(
                R"("ActionType":"ConnectionSuccess","LocalIP":"10.0.0.1","Timestamp":"yesterday")"),
            "bad_time"},
        malformed_case{"properties is a string",
                       R"({"category":"AdvancedHunting-DeviceNetworkEvents","properties":"{}"})",
                       "bad_properties"},
        malformed_case{"records is not an array", R"({"records":{}})", "bad_envelope"},
        malformed_case{"a bare string", R"("ConnectionSuccess")", "not_an_object"}),
    why_name{});

TEST(Mde, TheProbeRecognisesTheSamplesAndTheFlatShape) {
  for (const auto& l : fixture_lines(sample)) {
    const format_entry* e = builtin_formats().detect(l);
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(e->name, "mde");
  }
  const format_entry* flat = builtin_formats().detect(
      R"({"Timestamp":"2024-01-01T12:00:01Z","DeviceName":"srv-1","ActionType":"ConnectionSuccess","RemoteIP":"1.1.1.1"})");
  ASSERT_NE(flat, nullptr);
  EXPECT_EQ(flat->name, "mde");
}

TEST(Mde, TheProbeDoesNotClaimOtherFormatsUnits) {
  const auto* e = builtin_formats().find("mde");
  ASSERT_NE(e, nullptr);
  for (const std::string& unit :
       {fixture_lines("asim/sample.jsonl").at(0), fixture_lines("azure-nsg/test-nsg.log").at(0),
        fixture_lines("azure-firewall/test-networkrules-raw.log").at(1),
        fixture_lines("azure-firewall/test-networkrule-structured-raw.log").at(0),
        fixture_lines("vmconnection/handmade.jsonl").at(0),
        fixture_lines("aws-vpc/test-extra-samples.log").at(0)})
    EXPECT_FALSE(e->probe(std::string_view(unit).substr(0, probe_window))) << unit;
}

TEST(Mde, AutoDetectionYieldsTheSameRecordsAsTheFixedFormat) {
  for (const auto& l : fixture_lines(sample)) {
    auto fixed = parse_with("mde", l);
    auto detected = parse_with("auto", l);
    ASSERT_EQ(fixed.records.size(), detected.records.size());
    EXPECT_EQ(fixed.skips, detected.skips);
    for (std::size_t j = 0; j < fixed.records.size(); ++j)
      EXPECT_TRUE(same_record(fixed.records[j], detected.records[j]));
  }
}

}  // namespace
}  // namespace portscand::test
