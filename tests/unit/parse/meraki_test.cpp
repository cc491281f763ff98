#include <gtest/gtest.h>

#include "../test_names.hpp"
#include "firewall_test_util.hpp"

namespace portscand::test {
namespace {

const std::string flows = "meraki/test-flows.log";
const std::string flows_derived = "meraki/test-flows.log-derived-fields.jsonl";
const std::string flows_expected = "meraki/test-flows.log-expected.lines1-3.json";
const std::string ip_flow = "meraki/test-ip-flow.log";
const std::string ip_flow_derived = "meraki/test-ip-flow.log-derived-fields.jsonl";

// "<134>1 " is the syslog part; the Meraki payload starts at the epoch.
std::string body_of(const std::string& line) {
  return line.substr(line.find(' ') + 1);
}

TEST(Meraki, TheFirstThreeFlowsMatchTheUpstreamExpectedOutput) {
  const auto lines = fixture_lines(flows);
  simdjson::dom::parser p;
  simdjson::dom::element doc = p.load(std::string(PORTSCAND_FIXTURES) + "/" + flows_expected);
  simdjson::dom::array expected = doc["expected"];
  std::size_t n = 0;
  for (simdjson::dom::element e : expected) {
    const std::string line = lines.at(n++);
    const auto s = parse_with("meraki", line);
    ASSERT_EQ(s.records.size(), 1u) << n;
    const auto& r = s.records[0];
    // Upstream keeps milliseconds; we keep microseconds.
    const auto ts = parse_iso8601(std::string_view(e["@timestamp"]));
    ASSERT_TRUE(ts.has_value());
    EXPECT_EQ(r.time / 1000, *ts / 1000) << n;
    EXPECT_EQ(ip(r.src), std::string_view(e["source"]["ip"])) << n;
    EXPECT_EQ(ip(r.dst), std::string_view(e["destination"]["ip"])) << n;
    EXPECT_EQ(r.dst_port, int64_t(e["destination"]["port"])) << n;
    EXPECT_EQ(r.protocol, protocol_from_name(std::string_view(e["network"]["protocol"]))) << n;
    EXPECT_EQ(label(r.device), std::string_view(e["observer"]["hostname"])) << n;
    // flows.op is the allow/deny keyword; line 2 ("pattern: 1 all") has none upstream.
    std::string_view op;
    if (e["cisco_meraki"]["flows"]["op"].get(op) == simdjson::SUCCESS)
      EXPECT_EQ(r.action, op == "allow" ? dvc_action::allow : dvc_action::deny) << n;
    else
      EXPECT_EQ(r.action, dvc_action::unknown) << n;
    EXPECT_EQ(label(r.reported_by), "Cisco/Meraki") << n;
  }
  EXPECT_EQ(n, 3u);
}

dvc_action expected_action(simdjson::dom::element row) {
  auto word = [](const std::string& s) {
    std::string w = s.substr(0, s.find(' '));
    for (auto& c : w) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return w;
  };
  std::string w;
  if (auto op = str_field(row, "op"))
    w = word(*op);
  else if (auto pattern = str_field(row, "pattern"))
    w = word(*pattern);
  if (w == "allow") return dvc_action::allow;
  if (w == "deny") return dvc_action::deny;
  return dvc_action::unknown;  // "1 all", "Group Policy Allow"
}

void check_against_derived(const std::string& sample, const std::string& derived,
                           std::size_t expected_rows) {
  const auto lines = fixture_lines(sample);
  json_rows rows(derived);
  ASSERT_EQ(rows.size(), expected_rows);
  for (std::size_t i = 0; i < rows.size(); ++i) {
    auto row = rows.row(i);
    const auto n = static_cast<std::size_t>(*int_field(row, "line"));
    for (const std::string& unit : {lines.at(n - 1), body_of(lines.at(n - 1))}) {
      const auto s = parse_with("meraki", unit);
      ASSERT_EQ(s.records.size(), 1u) << sample << ":" << n;
      const auto& r = s.records[0];
      EXPECT_EQ(ip(r.src), *str_field(row, "src")) << n;
      ASSERT_TRUE(r.has_dst) << n;
      EXPECT_EQ(ip(r.dst), *str_field(row, "dst")) << n;
      const auto dport = int_field(row, "dport");
      EXPECT_EQ(r.dst_port, dport ? *dport : network_session::no_port) << n;
      EXPECT_EQ(r.protocol, protocol_from_name(*str_field(row, "protocol"))) << n;
      EXPECT_EQ(r.action, expected_action(row)) << n;
      EXPECT_EQ(label(r.device), *str_field(row, "device")) << n;
      EXPECT_EQ(label(r.reported_by), "Cisco/Meraki") << n;
      ASSERT_TRUE(r.has_time) << n;
      EXPECT_EQ(r.time / 1000, *parse_iso8601(*str_field(row, "time_utc_ms")) / 1000) << n;
    }
  }
}

TEST(Meraki, EveryFlowsAndFirewallRecordMatchesTheCrossCheckFile) {
  check_against_derived(flows, flows_derived, 17);
}

TEST(Meraki, EveryIpFlowRecordMatchesTheCrossCheckFile) {
  check_against_derived(ip_flow, ip_flow_derived, 8);
}

TEST(Meraki, TheEpochKeepsMicroseconds) {
  const auto r = parse_with("meraki", fixture_lines(flows).at(0)).records.at(0);
  EXPECT_EQ(r.time, 1'647'478'988'289'402);
}

TEST(Meraki, IcmpAndIgmpFlowsHaveNoPort) {
  const auto lines = fixture_lines(flows);
  for (std::size_t n : {4, 5, 6, 9}) {
    const auto r = parse_with("meraki", lines.at(n - 1)).records.at(0);
    EXPECT_FALSE(r.has_port()) << n;
  }
  EXPECT_EQ(parse_with("meraki", lines.at(3)).records.at(0).protocol, 58);  // icmp6
  EXPECT_EQ(parse_with("meraki", lines.at(4)).records.at(0).protocol, 2);   // protocol=2
}

TEST(Meraki, AddressesWithPortsAndBracketedIpv6AreSplit) {
  const auto v4 =
      parse_with("meraki",
                 "1700000000.5 MX68 firewall src=203.0.113.4:51000 dst=198.51.100.9:445 "
                 "protocol=tcp/ip pattern: deny all");
  ASSERT_EQ(v4.records.size(), 1u);
  EXPECT_EQ(ip(v4.records[0].src), "203.0.113.4");
  EXPECT_EQ(ip(v4.records[0].dst), "198.51.100.9");
  EXPECT_EQ(v4.records[0].dst_port, 445);
  EXPECT_EQ(v4.records[0].protocol, 6);
  EXPECT_EQ(v4.records[0].action, dvc_action::deny);
  const auto v6 = parse_with("meraki",
                             "1700000000.5 MX68 flows deny src=[2001:db8::4]:51000 "
                             "dst=[2001:db8::9]:22 protocol=tcp");
  ASSERT_EQ(v6.records.size(), 1u);
  EXPECT_EQ(ip(v6.records[0].src), "2001:db8::4");
  EXPECT_EQ(ip(v6.records[0].dst), "2001:db8::9");
  EXPECT_EQ(v6.records[0].dst_port, 22);
  EXPECT_EQ(v6.records[0].action, dvc_action::deny);
  // dport wins over the port inside dst.
  const auto both = parse_with(
      "meraki", "1700000000.5 MX68 flows src=203.0.113.4 dst=198.51.100.9:80 dport=8080");
  EXPECT_EQ(both.records.at(0).dst_port, 8080);
}

TEST(Meraki, NonFlowEventsAreSkipped) {
  for (const char* line :
       {"<134>1 1700000000.1 MX84 urls src=203.0.113.4:51000 dst=198.51.100.9:80 "
        "mac=00:11:22:33:44:55 request: GET http://example.com/",
        "<134>1 1700000000.1 MX84 events dhcp lease of ip 192.0.2.5 from server mac "
        "00:11:22:33:44:55",
        // Sumo Logic's "Cisco Meraki" page: a security_event that is not an IDS alert.
        "2019-07-16 04:00:30 Local0.Info 172.40.20.177 1 1561036264.565291108 australia_sydney "
        "security_event security_filtering_file_scanned url=http://tlu123.dl123.delivery.m "
        "src=192.168.1.1:54060 dst=192.168.1.2:80 mac=20:1C:BC:B2:0F:20 name='' "
        "disposition=malicious action=block",
        "<134>1 1700000000.1 MR18 airmarshal_events type=rogue_ssid_detected ssid='x'"}) {
    const auto s = parse_with("meraki", line);
    EXPECT_TRUE(s.records.empty()) << line;
    EXPECT_EQ(s.skips, std::vector<std::string>{"not_a_flow"}) << line;
    EXPECT_EQ(detected_format(line), "meraki") << line;
  }
}

const std::string ids = "meraki/documented-ids-alerts.log";

// Expected values read off the documented lines by hand (tests/fixtures/meraki/NOTICE.md).
TEST(Meraki, IdsAlertsAreSessionsWithThePortOfTheirDestinationAndTheAlertsOwnTime) {
  const auto lines = fixture_lines(ids);
  ASSERT_EQ(lines.size(), 3u);
  // IBM's sample: security_event ids_alerted, dst=ip:port, timestamp= differs from the header
  // epoch (1516050030.553653046) and wins, as in ASIM.
  auto s = parse_with("meraki", lines[0]);
  ASSERT_EQ(s.records.size(), 1u);
  auto r = s.records[0];
  EXPECT_EQ(ip(r.src), "10.79.70.235");
  EXPECT_EQ(ip(r.dst), "172.21.47.130");
  EXPECT_EQ(r.dst_port, 61019);
  EXPECT_EQ(r.protocol, 6);
  EXPECT_TRUE(r.has_time);
  EXPECT_EQ(r.time, 1'516'050'030'236'281);
  EXPECT_EQ(r.action, dvc_action::unknown);  // ASIM maps no DvcAction for IDS rows
  EXPECT_EQ(label(r.device), "cisco.meraki.test");
  EXPECT_EQ(label(r.reported_by), "Cisco/Meraki");
  EXPECT_TRUE(s.ignored.empty());
  // Sumo Logic's sample: timestamp= is a placeholder; the header epoch stands in and the
  // unreadable field is counted.
  s = parse_with("meraki", lines[1]);
  ASSERT_EQ(s.records.size(), 1u);
  r = s.records[0];
  EXPECT_EQ(ip(r.src), "23.6.199.123");
  EXPECT_EQ(ip(r.dst), "10.1.10.51");
  EXPECT_EQ(r.dst_port, 56938);
  EXPECT_EQ(r.time, 1'563'249'630'774'247);
  EXPECT_EQ(label(r.device), "remote_DC1_appliance");
  EXPECT_EQ(s.ignored, std::vector<std::string>{"bad_time_field"});
  // The older ids-alerts event type (ASIM keeps it too); this one names no destination.
  s = parse_with("meraki", lines[2]);
  ASSERT_EQ(s.records.size(), 1u);
  r = s.records[0];
  EXPECT_EQ(ip(r.src), "74.125.140.132");
  EXPECT_FALSE(r.has_dst);
  EXPECT_FALSE(r.has_port());
  EXPECT_EQ(r.time, 1'377'449'842'512'569);
  EXPECT_EQ(label(r.device), "MX84");
}

TEST(Meraki, IdsAlertsAreDetectedAndBothSubtypeSpellingsCount) {
  for (const auto& l : fixture_lines(ids)) EXPECT_EQ(detected_format(l), "meraki") << l;
  expect_auto_matches("meraki", fixture_lines(ids));
  const auto dashed =
      parse_with("meraki",
                 "1700000000.5 MX84 security_event ids-alerted signature=1:2:3 priority=2 "
                 "timestamp=1700000001.25 direction=ingress protocol=udp/ip src=203.0.113.4:5353 "
                 "dst=198.51.100.9:161 message: PROTOCOL-SNMP request udp");
  ASSERT_EQ(dashed.records.size(), 1u);
  EXPECT_EQ(dashed.records[0].dst_port, 161);
  EXPECT_EQ(dashed.records[0].protocol, 17);
  EXPECT_EQ(dashed.records[0].time, 1'700'000'001'250'000);
}

TEST(Meraki, AnIdsAlertBodyWhoseEpochAndDeviceAreTakenByAHeaderParserUsesTheContext) {
  parse_context ctx;
  ctx.header_time = 1'516'050'030 * us_per_second;
  ctx.host = "cisco.meraki.test";
  const std::string line = fixture_lines(ids).at(0);
  const std::string body = line.substr(line.find("security_event"));
  const auto s = parse_with("meraki", body, ctx);
  ASSERT_EQ(s.records.size(), 1u);
  EXPECT_EQ(s.records[0].time, 1'516'050'030'236'281);  // timestamp= still wins
  EXPECT_EQ(s.records[0].dst_port, 61019);
  EXPECT_EQ(label(s.records[0].device), "cisco.meraki.test");
  EXPECT_EQ(detected_format(body), "meraki");
  // Other security_event subtypes are no session body.
  EXPECT_EQ(parse_with("meraki", "security_event security_filtering_file_scanned src=1.2.3.4", ctx)
                .rejects,
            std::vector<std::string>{"no_meraki_header"});
}

TEST(Meraki, AnIdsAlertsMessageTextIsNeverReadAsPairs) {
  // The signature text may quote a URL with its own src=/dst=/timestamp= (the Azure-Sentinel
  // sample file splices such text after "message:"); only the pairs before it count.
  const auto s =
      parse_with("meraki",
                 "1700000000.5 MX84 security_event ids_alerted signature=1:2:3 protocol=tcp/ip "
                 "src=203.0.113.4:80 message: EXPLOIT url=http://x/?a dst=192.0.2.1:22 "
                 "timestamp=1600000000.0");
  ASSERT_EQ(s.records.size(), 1u);
  EXPECT_FALSE(s.records[0].has_dst);
  EXPECT_FALSE(s.records[0].has_port());
  EXPECT_EQ(s.records[0].time, 1'700'000'000'500'000);
}

TEST(Meraki, ABodyWhoseEpochAndDeviceAreTakenByAHeaderParserUsesTheContext) {
  parse_context ctx;
  ctx.header_time = 1'700'000'000 * us_per_second;
  ctx.host = "MX84-hq";
  const std::string body =
      "flows allow src=203.0.113.4 dst=198.51.100.9 protocol=udp sport=5 dport=53";
  const auto s = parse_with("meraki", body, ctx);
  ASSERT_EQ(s.records.size(), 1u);
  EXPECT_EQ(s.records[0].time, ctx.header_time);
  EXPECT_EQ(label(s.records[0].device), "MX84-hq");
  EXPECT_EQ(s.records[0].dst_port, 53);
  EXPECT_EQ(detected_format(body), "meraki");
  const auto no_header = parse_with("meraki", body);
  EXPECT_FALSE(no_header.records.at(0).has_time);
}

TEST(Meraki, ALineBehindABsdSyslogHeaderParsesTheSame) {
  const std::string body = body_of(fixture_lines(flows).at(10));
  const auto bare = parse_with("meraki", body);
  const auto behind = parse_with("meraki", "<134>Jan 25 00:00:48 10.0.0.1 " + body);
  ASSERT_EQ(bare.records.size(), 1u);
  ASSERT_EQ(behind.records.size(), 1u);
  EXPECT_TRUE(same_session(bare.records[0], behind.records[0]));
}

struct malformed_case {
  const char* why;
  std::string input;
  const char* reason;
};

class MerakiMalformed : public ::testing::TestWithParam<malformed_case> {};

TEST_P(MerakiMalformed, IsRejectedWithItsReasonAndNeverYieldsARecord) {
  const auto& c = GetParam();
  const auto s = parse_with("meraki", c.input);
  EXPECT_TRUE(s.records.empty()) << c.why;
  ASSERT_EQ(s.rejects.size(), 1u) << c.why;
  EXPECT_EQ(s.rejects[0], c.reason) << c.why;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, MerakiMalformed,
    ::testing::Values(
        malformed_case{"no epoch device and event type", "hello src=203.0.113.4",
                       "no_meraki_header"},
        malformed_case{"no source", "1700000000.1 MX84 flows dst=198.51.100.9 dport=22",
                       "missing_src_ip"},
        malformed_case{"source is a mac", "1700000000.1 MX84 flows src=00:11:22:33:44:55 dport=22",
                       "bad_src_ip"},
        malformed_case{"bracket never closed", "1700000000.1 MX84 flows src=[2001:db8::4 dport=22",
                       "bad_src_ip"},
        malformed_case{"dport above 65535", "1700000000.1 MX84 flows src=203.0.113.4 dport=65536",
                       "bad_dst_port"},
        malformed_case{"port inside dst is text",
                       "1700000000.1 MX84 flows src=203.0.113.4 dst=198.51.100.9:ssh",
                       "bad_dst_port"},
        malformed_case{"epoch fraction longer than nanoseconds",
                       "1700000000.1234567890 MX84 flows src=203.0.113.4", "bad_time"}),
    why_name{});

TEST(Meraki, TheProbeRecognisesEverySampleLineAndBody) {
  for (const char* rel : {"meraki/test-flows.log", "meraki/test-ip-flow.log"})
    for (const auto& l : fixture_lines(rel)) {
      EXPECT_EQ(detected_format(l), "meraki") << l;
      EXPECT_EQ(detected_format(body_of(l)), "meraki") << l;
    }
}

TEST(Meraki, TheProbeLeavesOtherFormatsAlone) {
  for (const auto& u : foreign_units()) EXPECT_NE(detected_format(u), "meraki") << u;
  for (const char* rel :
       {"fortigate/test-fortinet.log", "panos/test-panw-panos-traffic-sample.first34.log",
        "checkpoint/test-r81x.log", "checkpoint/test-packet-drop.log"})
    for (const auto& l : fixture_lines(rel)) EXPECT_NE(detected_format(l), "meraki") << l;
}

TEST(Meraki, AutoDetectionYieldsTheSameRecordsAsTheFixedFormat) {
  for (const char* rel : {"meraki/test-flows.log", "meraki/test-ip-flow.log"}) {
    const auto lines = fixture_lines(rel);
    expect_auto_matches("meraki", lines);
    std::vector<std::string> bodies;
    for (const auto& l : lines) bodies.push_back(body_of(l));
    expect_auto_matches("meraki", bodies);
  }
}

}  // namespace
}  // namespace portscand::test
