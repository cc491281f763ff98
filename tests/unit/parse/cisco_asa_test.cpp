#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <optional>
#include <set>

#include "../test_names.hpp"
#include "parse/syslog_header.hpp"
#include "parse_test_util.hpp"

namespace portscand::test {
namespace {

timestamp_us iso(const std::string& text) {
  return parse_iso8601(text).value();
}

const std::set<std::string> session_ids = {
    "106001", "106002", "106006", "106007", "106010", "106012", "106013", "106014",
    "106015", "106016", "106017", "106018", "106020", "106021", "106022", "106023",
    "106100", "302013", "302015", "302020", "710002", "710003", "710004", "710005"};
const std::set<std::string> teardown_ids = {"302014", "302016", "302021"};

// Every line of the corpus sample against the Elastic pipeline's expected output for it
// (`test-sample.log-expected-normalized.jsonl`, transcribed from upstream). Where we read a
// message differently, the comment at that branch says why.
TEST(CiscoAsa, CorpusSampleMatchesTheElasticExpectedOutputLineByLine) {
  const auto lines = fixture_lines("cisco-asa/test-sample.log");
  const auto expected = fixture_lines("cisco-asa/test-sample.log-expected-normalized.jsonl");
  ASSERT_EQ(lines.size(), 93u);
  ASSERT_EQ(expected.size(), 93u);
  std::size_t records = 0, teardowns = 0, others = 0, names = 0;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    SCOPED_TRACE("line " + std::to_string(i + 1) + ": " + lines[i]);
    const auto e = nlohmann::json::parse(expected[i]);
    ASSERT_EQ(e["line"].get<std::size_t>(), i + 1);
    EXPECT_EQ(e["observer.vendor"], "Cisco");
    const std::string code = e["event.code"];
    const auto s = parse_with("cisco-asa", lines[i]);
    if (teardown_ids.count(code)) {
      // A teardown has no direction keyword: its "for" side is the outside host whether the
      // connection went in or out (compare line 9 with line 12), so Elastic's src/dst is the
      // responder/initiator pair for every outbound connection. The Built line of the same
      // connection carries the direction; teardowns are skipped.
      EXPECT_EQ(s.skips, std::vector<std::string>{"teardown"});
      ++teardowns;
      continue;
    }
    if (!session_ids.count(code)) {  // NAT xlate, URL, dynamic filter, ICMP deny, IPsec SA
      EXPECT_TRUE(s.records.empty());
      EXPECT_EQ(s.skips, std::vector<std::string>{"not_a_session"});
      ++others;
      continue;
    }
    if (e["source.ip"].is_null()) {
      // Lines 44/45: a Built outbound whose initiator is the ASA "names" alias OCSP_Server
      // (Elastic: source.address). No address, no record.
      EXPECT_EQ(e["source.address"], "OCSP_Server");
      EXPECT_EQ(s.rejects, std::vector<std::string>{"src_is_a_name"});
      ++names;
      continue;
    }
    ASSERT_EQ(s.records.size(), 1u);
    const auto& r = s.records[0];
    std::string src = e["source.ip"], dst = e["destination.ip"];
    std::uint16_t proto = e["network.transport"].is_null()
                              ? network_session::no_protocol
                              : protocol_from_name(e["network.transport"].get<std::string>());
    if (code == "302020") {
      // "Built inbound ICMP connection for faddr F gaddr G laddr L": inbound means the foreign
      // host sent the first packet (Cisco's reference; these are type 3 errors FROM faddr).
      // Elastic puts laddr as source here, we put faddr. Elastic also leaves the transport
      // empty for 302020 (network.type icmp instead); it is ICMP.
      std::swap(src, dst);
      EXPECT_TRUE(e["network.transport"].is_null());
      proto = 1;
    }
    EXPECT_EQ(ip(r.src), src);
    ASSERT_TRUE(r.has_dst);
    EXPECT_EQ(ip(r.dst), dst);
    if (e["destination.port"].is_null()) {
      EXPECT_FALSE(r.has_port());
    } else {
      EXPECT_EQ(r.dst_port, e["destination.port"].get<int>());
    }
    EXPECT_EQ(r.protocol, proto);
    ASSERT_TRUE(r.has_time);  // the header's time
    EXPECT_EQ(r.time, iso(e["@timestamp"]));
    const auto& types = e["event.type"];
    const bool denied = std::find(types.begin(), types.end(), "denied") != types.end();
    EXPECT_EQ(r.action, denied ? dvc_action::deny : dvc_action::allow);
    EXPECT_EQ(label(r.reported_by), "Cisco/ASA");
    ++records;
  }
  // Counted from the message ids of the raw file: 106006 x1, 106007 x2, 106015 x2, 106016 x8,
  // 106023 x8, 106100 x21, 302013 x12 (2 with a name), 302015 x3, 302020 x3; teardowns
  // 302014 x10, 302016 x5, 302021 x2; 16 lines of other ids.
  EXPECT_EQ(records, 58u);
  EXPECT_EQ(names, 2u);
  EXPECT_EQ(teardowns, 17u);
  EXPECT_EQ(others, 16u);
}

TEST(CiscoAsa, BuiltOutboundTakesTheToSideAsTheInitiator) {
  // Line 11: real 10.123.3.42/4953 (mapped 10.123.3.130/45392) connects to 192.168.2.1/80.
  const auto line = fixture_lines("cisco-asa/test-sample.log").at(10);
  const auto s = parse_with("cisco-asa", line);
  ASSERT_EQ(s.records.size(), 1u);
  EXPECT_EQ(ip(s.records[0].src), "10.123.3.42");  // the real address, not the mapped one
  EXPECT_EQ(ip(s.records[0].dst), "192.168.2.1");
  EXPECT_EQ(s.records[0].dst_port, 80);
}

TEST(CiscoAsa, TheSyslogDeviceIdNamesTheDevice) {
  const auto lines = fixture_lines("cisco-asa/test-sample.log");
  EXPECT_EQ(label(parse_with("cisco-asa", lines.at(3)).records.at(0).device), "INT-FW01");
  EXPECT_EQ(label(parse_with("cisco-asa", lines.at(55)).records.at(0).device), "GIFRCHN01");
  EXPECT_EQ(parse_with("cisco-asa", lines.at(0)).records.at(0).device, label_table::empty_id);
}

TEST(CiscoAsa, AMessageWithoutHeaderTimeHasNoOwnTime) {
  const auto s =
      parse_with("cisco-asa",
                 "%ASA-4-106023: Deny udp src dmz:192.168.1.33/5555 dst outside:192.168.0.12/53 "
                 "by access-group \"dmz\" [0x123a465e, 0x4c7bf613]");
  ASSERT_EQ(s.records.size(), 1u);
  EXPECT_FALSE(s.records[0].has_time);
}

// `logging timestamp`: the ASA writes its own time at the start of the message. Bare, the
// syslog header parser takes it as the header; behind a shipper's header (its read time) the
// device's timestamp is still the event time. Expected times worked out by hand from the lines.
constexpr const char* deny_1001 =
    "%ASA-4-106023: Deny tcp src outside:203.0.113.67/40000 dst dmz:198.51.100.20/1001 by "
    "access-group \"acl_outside\" [0x0, 0x0]";

struct shipped_case {
  std::string why;
  std::string prefix;  // everything before the message id
  const char* expected;
  const char* zone = nullptr;  // the input's timezone, nullptr = UTC
  const char* device = "";     // "" = the context's host is not checked
};

class CiscoAsaDeviceTime : public ::testing::TestWithParam<shipped_case> {};

TEST_P(CiscoAsaDeviceTime, IsTheEventTimeWhateverHeaderTheShipperAdds) {
  const auto& c = GetParam();
  std::string error;
  std::optional<local_zone> zone;
  if (c.zone != nullptr) {
    zone = local_zone::find(c.zone, error);
    ASSERT_TRUE(zone) << error;
  }
  parse_context ctx;
  ctx.receive_time = iso("2026-12-07T10:51:05Z");  // the shipper read it a day later
  ctx.zone = zone ? &*zone : nullptr;
  for (const char* format : {"cisco-asa", "auto"}) {
    SCOPED_TRACE(format);
    const auto s = parse_with(format, c.prefix + deny_1001, ctx);
    ASSERT_EQ(s.records.size(), 1u);
    const auto& r = s.records[0];
    ASSERT_TRUE(r.has_time);
    EXPECT_EQ(r.time, iso(c.expected));
    EXPECT_EQ(ip(r.src), "203.0.113.67");
    EXPECT_EQ(r.dst_port, 1001);
    if (*c.device) EXPECT_EQ(label(r.device), c.device);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, CiscoAsaDeviceTime,
    ::testing::Values(
        shipped_case{"bare", "Dec 06 2026 10:01:00: ", "2026-12-06T10:01:00Z"},
        // rsyslog omkafka's default RSYSLOG_FileFormat: "<read time> <host> <tag> <line>".
        shipped_case{"rsyslog file format",
                     "2026-12-07T10:51:00.123456+00:00 collector1 asa Dec 06 2026 10:01:00: ",
                     "2026-12-06T10:01:00Z"},
        shipped_case{"rsyslog file format with a tag ending in a colon",
                     "2026-12-07T10:51:00.123456+00:00 collector1 asa: Dec 06 2026 10:01:00: ",
                     "2026-12-06T10:01:00Z"},
        // syslog-ng kafka-c's default "$ISODATE $HOST $MSGHDR$MSG" (no program: no MSGHDR).
        shipped_case{
            "syslog-ng default",
            "2026-12-07T10:51:00+00:00 collector1 Dec 06 2026 10:01:00: ", "2026-12-06T10:01:00Z"},
        shipped_case{"bsd header", "<13>Dec  7 10:51:00 collector1 Dec 06 2026 10:01:00: ",
                     "2026-12-06T10:01:00Z"},
        shipped_case{"bsd header, device time without a year",
                     "<13>Dec  7 10:51:00 collector1 Dec 06 10:01:00: ", "2026-12-06T10:01:00Z"},
        shipped_case{"milliseconds",
                     "2026-12-07T10:51:00+00:00 collector1 Dec 06 2026 10:01:00.123: ",
                     "2026-12-06T10:01:00.123Z"},
        shipped_case{
            "logging timestamp rfc5424",
            "2026-12-07T10:51:00+00:00 collector1 2026-12-06T10:01:00Z: ", "2026-12-06T10:01:00Z"},
        shipped_case{
            "rfc5424 device time with an offset",
            "<13>Dec  7 10:51:00 collector1 2026-12-06T11:01:00+01:00: ", "2026-12-06T10:01:00Z"},
        // Berlin is UTC+1 in December: the device's wall clock 11:01 is 10:01 UTC.
        shipped_case{"device-local time in the input's zone",
                     "2026-12-07T10:51:00+00:00 collector1 Dec 06 2026 11:01:00: ",
                     "2026-12-06T10:01:00Z", "Europe/Berlin"},
        shipped_case{"rfc5424 device time without an offset in the input's zone",
                     "2026-12-07T10:51:00+00:00 collector1 2026-12-06T11:01:00: ",
                     "2026-12-06T10:01:00Z", "Europe/Berlin"},
        shipped_case{"zone abbreviation",
                     "2026-12-07T10:51:00+00:00 collector1 Dec 06 2026 05:01:00 EST: ",
                     "2026-12-06T10:01:00Z", "Europe/Berlin"},
        // "logging device-id hostname": the device's name, not the shipper's, names the device.
        shipped_case{"device id",
                     "2026-12-07T10:51:00+00:00 collector1 Dec 06 2026 10:01:00 INT-FW01 : ",
                     "2026-12-06T10:01:00Z", nullptr, "INT-FW01"},
        shipped_case{"no device id: the shipper's host",
                     "2026-12-07T10:51:00+00:00 collector1 Dec 06 2026 10:01:00: ",
                     "2026-12-06T10:01:00Z", nullptr, "collector1"},
        shipped_case{"placeholder device id of the elastic sample",
                     "2026-12-07T10:51:00+00:00 collector1 Dec 11 2018 08:01:38 <IP>: ",
                     "2018-12-11T08:01:38Z", nullptr, "<IP>"},
        shipped_case{
            "id glued to the time's colon",
            "2026-12-07T10:51:00+00:00 collector1 Dec 06 2026 10:01:00:", "2026-12-06T10:01:00Z"},
        // Without a time of the device's own, the header's time is the record's.
        shipped_case{"no device time", "2026-12-07T10:51:00+00:00 collector1 ",
                     "2026-12-07T10:51:00Z"},
        shipped_case{
            "text that is not a timestamp",
            "2026-12-07T10:51:00+00:00 collector1 Dec 32 2026 10:01:00: ", "2026-12-07T10:51:00Z"}),
    why_name{});

TEST(CiscoAsa, AYearlessDeviceTimeWithoutReceiveTimeFallsBackToTheHeaderTime) {
  // Receive time 0: "Dec 06" cannot be given a year (parsers never read the clock).
  const auto s =
      parse_with("cisco-asa",
                 std::string("2026-12-07T10:51:00+00:00 collector1 Dec 06 10:01:00: ") + deny_1001);
  ASSERT_EQ(s.records.size(), 1u);
  ASSERT_TRUE(s.records[0].has_time);
  EXPECT_EQ(s.records[0].time, iso("2026-12-07T10:51:00Z"));
}

TEST(CiscoAsa, FtdFirstPacketTimeBeatsTheDeviceTimestamp) {
  const auto s = parse_with(
      "cisco-asa",
      "2026-12-07T10:51:00+00:00 collector1 Dec 06 2026 10:01:00: %FTD-6-430002: "
      "AccessControlRuleAction: Block, SrcIP: 203.0.113.67, DstIP: 198.51.100.20, SrcPort: "
      "40000, DstPort: 1001, Protocol: tcp, FirstPacketSecond: 2026-12-06T10:00:59Z");
  ASSERT_EQ(s.records.size(), 1u);
  EXPECT_EQ(s.records[0].time, iso("2026-12-06T10:00:59Z"));
  const auto t = parse_with("cisco-asa",
                            "2026-12-07T10:51:00+00:00 collector1 Dec 06 2026 10:01:00: "
                            "%FTD-6-430002: AccessControlRuleAction: Block, SrcIP: 203.0.113.67, "
                            "DstIP: 198.51.100.20, DstPort: 1001, Protocol: tcp");
  ASSERT_EQ(t.records.size(), 1u);
  EXPECT_EQ(t.records[0].time, iso("2026-12-06T10:01:00Z"));
}

TEST(CiscoAsa, AutoDetectionYieldsTheSameRecordsAsTheFixedFormat) {
  for (const auto& line : fixture_lines("cisco-asa/test-sample.log")) {
    SCOPED_TRACE(line);
    const auto fixed = parse_with("cisco-asa", line);
    const auto autod = parse_with("auto", line);
    ASSERT_EQ(fixed.records.size(), autod.records.size());
    for (std::size_t i = 0; i < fixed.records.size(); ++i) {
      EXPECT_EQ(fixed.records[i].src, autod.records[i].src);
      EXPECT_EQ(fixed.records[i].dst_port, autod.records[i].dst_port);
      EXPECT_EQ(fixed.records[i].time, autod.records[i].time);
    }
    EXPECT_EQ(fixed.skips, autod.skips);
    EXPECT_EQ(fixed.rejects, autod.rejects);
  }
}

// Message ids the corpus lacks. Each line follows the message text of Cisco's ASA syslog
// reference for that id (the shapes public test suites use); addresses are documentation
// ranges. They are constructed, not captured.
struct id_case {
  std::string why;
  std::string line;
  const char* src;
  const char* dst;  // "" = no destination address
  std::int32_t port;
  std::uint16_t protocol;
  dvc_action action;
  const char* label = "Cisco/ASA";
};

class CiscoAsaIds : public ::testing::TestWithParam<id_case> {};

TEST_P(CiscoAsaIds, YieldTheInitiatorAndTheProbedPort) {
  const auto& c = GetParam();
  const auto s = parse_with("cisco-asa", c.line);
  ASSERT_EQ(s.records.size(), 1u) << (s.skips.empty() ? "" : s.skips[0])
                                  << (s.rejects.empty() ? "" : s.rejects[0]);
  const auto& r = s.records[0];
  EXPECT_EQ(ip(r.src), c.src);
  if (*c.dst) {
    ASSERT_TRUE(r.has_dst);
    EXPECT_EQ(ip(r.dst), c.dst);
  } else {
    EXPECT_FALSE(r.has_dst);
  }
  EXPECT_EQ(r.dst_port, c.port);
  EXPECT_EQ(r.protocol, c.protocol);
  EXPECT_EQ(r.action, c.action);
  EXPECT_EQ(label(r.reported_by), c.label);
}

constexpr auto no_port = network_session::no_port;
constexpr auto no_proto = network_session::no_protocol;

INSTANTIATE_TEST_SUITE_P(
    Constructed, CiscoAsaIds,
    ::testing::Values(
        id_case{"106001 inbound tcp denied",
                "<162>Sep 21 14:00:10 asa01 %ASA-2-106001: Inbound TCP connection denied from "
                "203.0.113.143/27501 to 198.51.100.208/110 flags SYN  on interface outside",
                "203.0.113.143", "198.51.100.208", 110, 6, dvc_action::deny},
        id_case{"106002 outbound list deny has no ports",
                "%ASA-2-106002: udp Connection denied by outbound list acl_out src 192.0.2.10 "
                "dest 198.51.100.7",
                "192.0.2.10", "198.51.100.7", no_port, 17, dvc_action::deny},
        id_case{"106010 with interfaces and ports",
                "%ASA-3-106010: Deny inbound tcp src outside:203.0.113.233/2620 dst "
                "dmz:198.51.100.145/135",
                "203.0.113.233", "198.51.100.145", 135, 6, dvc_action::deny},
        id_case{"106010 protocol number form",
                "%ASA-3-106010: Deny inbound protocol 47 src outside:203.0.113.185 dst "
                "outside:198.51.100.120",
                "203.0.113.185", "198.51.100.120", no_port, 47, dvc_action::deny},
        id_case{"106012 ip options deny without ports",
                "%ASA-6-106012: Deny IP from 203.0.113.5 to 198.51.100.9, IP options: \"Router "
                "Alert\"",
                "203.0.113.5", "198.51.100.9", no_port, no_proto, dvc_action::deny},
        id_case{"106013 echo to a pat address is a drop",
                "%ASA-2-106013: Dropping echo request from 203.0.113.10 to PAT address "
                "198.51.100.1",
                "203.0.113.10", "198.51.100.1", no_port, 1, dvc_action::drop},
        id_case{"106014 icmp has no port",
                "Nov 15 2021 11:41:46: %ASA-3-106014: Deny inbound icmp src outside:203.0.113.50 "
                "dst inside:192.168.223.7 (type 3, code 3)",
                "203.0.113.50", "192.168.223.7", no_port, 1, dvc_action::deny},
        id_case{"106021 reverse path check",
                "%ASA-1-106021: Deny TCP reverse path check from 203.0.113.7 to 198.51.100.2 on "
                "interface outside",
                "203.0.113.7", "198.51.100.2", no_port, 6, dvc_action::deny},
        id_case{"106023 icmp with type and code has no port",
                "%ASA-4-106023: Deny icmp src outside:203.0.113.81 dst inside:198.51.100.10 (type "
                "8, code 0) by access-group \"outside_access_in\" [0x0, 0x0]",
                "203.0.113.81", "198.51.100.10", no_port, 1, dvc_action::deny},
        id_case{"106023 with an identity user after the source",
                "%ASA-4-106023: Deny tcp src outside:203.0.113.81/51515(LOCAL\\jdoe) dst "
                "inside:198.51.100.10/3389 by access-group \"in\" [0x0, 0x0]",
                "203.0.113.81", "198.51.100.10", 3389, 6, dvc_action::deny},
        id_case{"106100 over ipv6",
                "%ASA-6-106100: access-list v6in denied tcp outside/2001:db8::7(40001) -> "
                "inside/2001:db8:1::10(22) hit-cnt 1 first hit [0x0, 0x0]",
                "2001:db8::7", "2001:db8:1::10", 22, 6, dvc_action::deny},
        id_case{"302015 built inbound udp",
                "%ASA-6-302015: Built inbound UDP connection 9 for outside:203.0.113.7/5353 "
                "(203.0.113.7/5353) to inside:10.0.0.5/161 (198.51.100.5/161)",
                "203.0.113.7", "10.0.0.5", 161, 17, dvc_action::allow},
        id_case{"302020 outbound ping starts at laddr",
                "%ASA-6-302020: Built outbound ICMP connection for faddr 198.51.100.8/0 gaddr "
                "203.0.113.1/17 laddr 10.0.0.4/17",
                "10.0.0.4", "198.51.100.8", no_port, 1, dvc_action::allow},
        id_case{
            "710002 service name becomes the port",
            "%ASA-7-710002: TCP access permitted from 203.0.113.9/52000 to inside:10.0.0.1/https",
            "203.0.113.9", "10.0.0.1", 443, 6, dvc_action::allow},
        id_case{"710003 to the box denied with a numeric port",
                "Apr 15 2017 00:22:42 192.0.2.1 : %ASA-3-710003: TCP access denied by ACL from "
                "203.0.113.160/8949 to outside:198.51.100.38/23",
                "203.0.113.160", "198.51.100.38", 23, 6, dvc_action::deny},
        id_case{"710003 unknown service name leaves the port unset",
                "%ASA-3-710003: UDP access denied by ACL from 203.0.113.160/8949 to "
                "outside:198.51.100.38/mycustomsvc",
                "203.0.113.160", "198.51.100.38", no_port, 17, dvc_action::deny},
        id_case{"710005 request discarded is a drop",
                "%ASA-7-710005: UDP request discarded from 203.0.113.4/137 to "
                "outside:198.51.100.255/137",
                "203.0.113.4", "198.51.100.255", 137, 17, dvc_action::drop},
        id_case{
            "ftd asa engine message gets the ftd label",
            "%FTD-4-106023: Deny tcp src outside:203.0.113.81/40000 dst inside:198.51.100.10/445 "
            "by access-group \"CSM_FW_ACL_\" [0x97aa021a, 0x0]",
            "203.0.113.81", "198.51.100.10", 445, 6, dvc_action::deny, "Cisco/FTD"},
        // The 430002 shape of Cisco's FTD syslog guide example, as Sentinel's FTD parser reads it.
        id_case{"ftd connection event block with reset",
                "Apr 14 2019 12:52:31 firepower %FTD-6-430002: AccessControlRuleAction: Block with "
                "reset, SrcIP: 192.168.170.155, DstIP: 198.51.100.22, SrcPort: 49905, DstPort: "
                "443, Protocol: tcp, IngressInterface: Inside_1, EgressInterface: Outside_1",
                "192.168.170.155", "198.51.100.22", 443, 6, dvc_action::reset, "Cisco/FTD"}),
    why_name{});

struct bad_case {
  std::string why;
  std::string line;
  const char* reason;
  bool skipped = false;
};

class CiscoAsaNotRecords : public ::testing::TestWithParam<bad_case> {};

TEST_P(CiscoAsaNotRecords, AreSkippedOrRejectedWithTheirReason) {
  const auto& c = GetParam();
  const auto s = parse_with("cisco-asa", c.line);
  EXPECT_TRUE(s.records.empty());
  EXPECT_EQ(c.skipped ? s.skips : s.rejects, std::vector<std::string>{c.reason});
}

INSTANTIATE_TEST_SUITE_P(
    Cases, CiscoAsaNotRecords,
    ::testing::Values(
        bad_case{"no message id", "Deny tcp src dmz:10.1.2.30/63016", "no_message_id"},
        bad_case{"message id with five digits", "%ASA-4-10602: Deny tcp", "no_message_id"},
        bad_case{"built without a direction",
                 "%ASA-6-302013: Built TCP connection 1 for a:1.2.3.4/1 to b:5.6.7.8/2",
                 "bad_message"},
        bad_case{"built without the to side",
                 "%ASA-6-302013: Built inbound TCP connection 1 for outside:203.0.113.1/1234",
                 "bad_message"},
        bad_case{"deny without a destination",
                 "%ASA-4-106023: Deny tcp src outside:203.0.113.1/1234", "bad_message"},
        bad_case{"source is not an address",
                 "%ASA-2-106001: Inbound TCP connection denied from 203.0.113.300/1 to "
                 "198.51.100.1/80 flags SYN",
                 "bad_src_ip"},
        bad_case{"port above 65535",
                 "%ASA-2-106001: Inbound TCP connection denied from 203.0.113.3/1 to "
                 "198.51.100.1/80000 flags SYN",
                 "bad_dst_port"},
        bad_case{"106100 that is not an access list",
                 "%ASA-6-106100: something else permitted tcp a/1.2.3.4(1) -> b/5.6.7.8(2)",
                 "bad_message"},
        bad_case{"config change is not a session",
                 "%ASA-5-111008: User 'enable_15' executed the 'write memory' command.",
                 "not_a_session", true},
        bad_case{"ftd intrusion ids on an asa are not sessions",
                 "%ASA-1-430001: SrcIP: 203.0.113.1", "not_a_session", true},
        bad_case{"ftd event without addresses",
                 "%FTD-6-430003: EventPriority: Low, ConnectionID: 1", "no_network_tuple", true}),
    why_name{});

TEST(CiscoAsaProbe, RecognisesEveryBodyOfTheSample) {
  const auto& probe = builtin_formats().find("cisco-asa")->probe;
  for (const auto& line : fixture_lines("cisco-asa/test-sample.log")) {
    syslog_header h;
    parse_syslog_header(line, 0, h);
    EXPECT_TRUE(probe(h.body)) << line;
  }
}

TEST(CiscoAsaProbe, DoesNotClaimOtherFormatsUnits) {
  const auto& probe = builtin_formats().find("cisco-asa")->probe;
  EXPECT_FALSE(probe("CEF:0|Cisco|ASA|9.8|106023|Deny|5|msg=%ASA-4-106023: Deny tcp"));
  EXPECT_FALSE(probe(R"({"message":" %ASA-4-106023: Deny tcp"})"));
  EXPECT_FALSE(probe(R"(date=2020-04-23 time=12:17:48 devname="testswitch1" msg="50%")"));
  EXPECT_FALSE(probe("[wan-lan-default-D]IN=eth0 OUT= MAC=90:10:20:76:8d:20 SRC=67.43.156.15"));
  EXPECT_FALSE(probe("%SYS-5-CONFIG_I: Configured from console by console"));
  EXPECT_FALSE(probe("%ASA-x-106023: Deny"));
}

}  // namespace
}  // namespace portscand::test
