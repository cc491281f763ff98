#include <gtest/gtest.h>
#include <simdjson.h>

#include <map>

#include "../test_names.hpp"
#include "parse_test_util.hpp"

namespace portscand::test {
namespace {

constexpr const char* fixture = "iptables/test-iptables-raw.log";

// The action each log prefix of the sample stands for, read by hand: EdgeOS/UniFi rule
// names end in -A/-D/-R (accept/drop/reject); the others are words.
dvc_action expected_action(const simdjson::dom::element& prefix) {
  if (prefix.is_null()) return dvc_action::unknown;
  static const std::map<std::string, dvc_action, std::less<>> by_prefix = {
      {"wan-lan-default-D", dvc_action::drop}, {"DENY", dvc_action::deny},
      {"DROP_INPUT", dvc_action::drop},        {"LAN_LOCAL-default-A", dvc_action::allow},
      {"WAN_OUT-2000-A", dvc_action::allow},   {"source-dest-default-D", dvc_action::drop},
      {"SOMETHING-1234-A", dvc_action::allow},
  };
  return by_prefix.at(std::string(std::string_view(prefix)));
}

TEST(Iptables, EveryLineOfTheSampleAgreesWithTheCorpusDerivedFields) {
  const auto lines = fixture_lines(fixture);
  const auto derived = fixture_lines("iptables/test-iptables-raw.log-derived-fields.jsonl");
  ASSERT_EQ(lines.size(), 24u);
  ASSERT_EQ(derived.size(), lines.size());
  simdjson::dom::parser json;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    SCOPED_TRACE("line " + std::to_string(i + 1));
    const simdjson::padded_string padded(derived[i]);
    simdjson::dom::element d = json.parse(padded);
    auto s = parse_with("iptables", lines[i]);
    ASSERT_EQ(s.records.size(), 1u);
    const auto& r = s.records[0];
    EXPECT_EQ(ip(r.src), ip(*ip_address::parse(std::string_view(d["src"]))));
    ASSERT_TRUE(r.has_dst);
    EXPECT_EQ(ip(r.dst), ip(*ip_address::parse(std::string_view(d["dst"]))));
    EXPECT_EQ(r.protocol, protocol_from_name(std::string_view(d["proto"])));
    if (d["dpt"].is_null())
      EXPECT_FALSE(r.has_port());
    else
      EXPECT_EQ(r.dst_port, int64_t(d["dpt"]));
    EXPECT_EQ(r.action, expected_action(d["log_prefix"]));
    // The derived file says "Linux"/"netfilter/iptables"; Sentinel has no iptables parser,
    // so the label is this project's choice: Linux/iptables.
    EXPECT_EQ(label(r.reported_by), "Linux/iptables");
    // The kernel's [uptime] is not a time of day: the only time is the syslog header's,
    // which the decoder splits off into ctx.header_time. Lines 2 and 3 carry an RFC 3339
    // header time; the BSD headers of the others have no year and, with no receive time
    // in this test, cannot be placed (syslog_header.hpp), so those records have no time.
    // (This test used to expect no time on every line: written before the decoder
    // stripped headers, when the parser never saw a header time in a bare parse.)
    if (i == 1 || i == 2) {
      ASSERT_TRUE(r.has_time);
      EXPECT_EQ(format_iso8601(r.time), "2021-03-12T14:10:18Z");
    } else {
      EXPECT_FALSE(r.has_time);
    }
  }
}

TEST(Iptables, TheSlowScanLinesAreDroppedSynsToOneHost) {
  const auto lines = fixture_lines(fixture);
  std::vector<std::int32_t> ports;
  for (std::size_t i = 4; i < 14; ++i) {
    auto s = parse_with("iptables", lines[i]);
    ASSERT_EQ(s.records.size(), 1u);
    EXPECT_EQ(ip(s.records[0].dst), "172.16.54.114");
    EXPECT_EQ(s.records[0].action, dvc_action::drop);
    ports.push_back(s.records[0].dst_port);
  }
  EXPECT_EQ(ports, (std::vector<std::int32_t>{445, 1433, 445, 80, 445, 445, 445, 445, 139, 8088}));
}

TEST(Iptables, TheQuotedPacketOfAnIcmpErrorDoesNotOverwriteTheOuterFields) {
  auto s = parse_with("iptables", fixture_lines(fixture).at(3));
  ASSERT_EQ(s.records.size(), 1u);
  const auto& r = s.records[0];
  EXPECT_EQ(ip(r.src), "192.168.2.71");
  EXPECT_EQ(ip(r.dst), "192.168.2.83");
  EXPECT_EQ(r.protocol, 1);
  EXPECT_FALSE(r.has_port());
  EXPECT_EQ(r.action, dvc_action::deny);
}

TEST(Iptables, FullyExpandedIpv6IsNormalised) {
  auto s = parse_with("iptables", fixture_lines(fixture).at(15));
  ASSERT_EQ(s.records.size(), 1u);
  EXPECT_EQ(ip(s.records[0].src), "fe80::84:88ff:feae:790a");
  EXPECT_EQ(ip(s.records[0].dst), "ff02::16");
  EXPECT_EQ(s.records[0].protocol, 58);
}

TEST(Iptables, Ip6tablesTcpLinesWithHoplimitCarryTheirPort) {
  auto s = parse_with(
      "iptables",
      "kernel: [ 1234.5678] [UFW BLOCK] IN=eth0 OUT= MAC=00:11:22:33:44:55:66:77:88:99:aa:bb:86:dd "
      "SRC=2001:db8::bad DST=2001:db8::1 LEN=80 TC=0 HOPLIMIT=57 FLOWLBL=0 PROTO=TCP "
      "SPT=40000 DPT=3389 WINDOW=1024 RES=0x00 SYN URGP=0");
  ASSERT_EQ(s.records.size(), 1u);
  EXPECT_EQ(ip(s.records[0].src), "2001:db8::bad");
  EXPECT_EQ(s.records[0].dst_port, 3389);
  EXPECT_EQ(s.records[0].action, dvc_action::deny);
}

TEST(Iptables, TheHeaderTimeAndHostAreTheRecordsTimeAndDevice) {
  parse_context ctx;
  ctx.header_time = *parse_iso8601("2026-01-08T03:37:09Z");
  ctx.host = "example-host";
  auto s = parse_with("iptables", fixture_lines(fixture).at(4), ctx);
  ASSERT_EQ(s.records.size(), 1u);
  EXPECT_TRUE(s.records[0].has_time);
  EXPECT_EQ(s.records[0].time, ctx.header_time);
  EXPECT_EQ(label(s.records[0].device), "example-host");
}

TEST(Iptables, ABodyWithoutSyslogHeaderParsesLikeTheFullLine) {
  const std::string line = fixture_lines(fixture).at(4);
  const std::string body = line.substr(line.find("kernel: "));
  auto a = parse_with("iptables", line);
  auto b = parse_with("iptables", body);
  auto c = parse_with("iptables", line.substr(line.find("iptables DROP_INPUT")));
  ASSERT_EQ(a.records.size(), 1u);
  ASSERT_EQ(b.records.size(), 1u);
  ASSERT_EQ(c.records.size(), 1u);
  EXPECT_EQ(a.records[0].src, b.records[0].src);
  EXPECT_EQ(a.records[0].dst_port, c.records[0].dst_port);
  EXPECT_EQ(b.records[0].action, dvc_action::drop);
  EXPECT_EQ(c.records[0].action, dvc_action::drop);
}

struct prefix_case {
  const char* why;
  std::string line;
  dvc_action action;
};

class IptablesPrefix : public ::testing::TestWithParam<prefix_case> {};

TEST_P(IptablesPrefix, GivesTheAction) {
  const auto& c = GetParam();
  auto s = parse_with("iptables", c.line);
  ASSERT_EQ(s.records.size(), 1u) << c.why;
  EXPECT_EQ(s.records[0].action, c.action) << c.why;
}

const std::string tail_fields =
    "IN=eth0 OUT= SRC=203.0.113.5 DST=198.51.100.2 LEN=40 PROTO=TCP SPT=1 DPT=22 SYN";

INSTANTIATE_TEST_SUITE_P(
    Cases, IptablesPrefix,
    ::testing::Values(
        prefix_case{"UFW block", "[UFW BLOCK] " + tail_fields, dvc_action::deny},
        prefix_case{"UFW allow", "kernel: [UFW ALLOW] " + tail_fields, dvc_action::allow},
        prefix_case{"UFW audit says nothing", "kernel: [UFW AUDIT] " + tail_fields,
                    dvc_action::unknown},
        prefix_case{"a prefix glued to IN", "kernel: DROP" + tail_fields, dvc_action::drop},
        prefix_case{"lower case reject", "kernel: fw-reject: " + tail_fields, dvc_action::deny},
        prefix_case{"an accept word", "kernel: ACCEPT-LOG " + tail_fields, dvc_action::allow},
        prefix_case{"an EdgeOS reject rule", "kernel: [WAN_LOCAL-20-R]" + tail_fields,
                    dvc_action::deny},
        prefix_case{"no prefix at all", "kernel: [16571.459614] " + tail_fields,
                    dvc_action::unknown},
        prefix_case{"a host name with drop in it behind the kernel tag",
                    "Oct 10 07:25:12 dropbox kernel: " + tail_fields, dvc_action::unknown},
        prefix_case{"a host name with drop in it without kernel tag",
                    "<4>Oct 10 07:25:12 dropbox " + tail_fields, dvc_action::unknown},
        prefix_case{"a tag after an RFC 3339 time", "2021-03-12T14:10:18Z DENY: " + tail_fields,
                    dvc_action::deny}),
    why_name{});

TEST(Iptables, TheProbeRecognisesTheSamplesAndNothingElse) {
  const format_entry* e = builtin_formats().find("iptables");
  ASSERT_NE(e, nullptr);
  for (const auto& l : fixture_lines(fixture)) EXPECT_TRUE(e->probe(l)) << l;
  EXPECT_FALSE(e->probe(fixture_lines("sysmon-linux/pop-ecx-wazuh-blog-sysmon3.log").at(0)));
  EXPECT_FALSE(e->probe(fixture_lines("zscaler-nss/test-firewall.log").at(0)));
  EXPECT_FALSE(e->probe(fixture_lines("windows-wfp/oneline.log").at(0)));
  EXPECT_FALSE(
      e->probe("CEF:0|Zscaler|NSSFWlog|5.7|Allow|r|3|act=Allow src=1.2.3.4 dst=5.6.7.8 dpt=22"));
  EXPECT_FALSE(e->probe("LOGIN=alice SRC=1.2.3.4 DST=5.6.7.8"));
}

TEST(Iptables, AutoDetectionGivesTheSameRecordsAsTheFixedFormat) {
  for (const auto& l : fixture_lines(fixture)) {
    auto fixed = parse_with("iptables", l);
    auto autod = parse_with("auto", l);
    ASSERT_EQ(fixed.records.size(), 1u);
    ASSERT_EQ(autod.records.size(), 1u);
    EXPECT_EQ(fixed.records[0].src, autod.records[0].src);
    EXPECT_EQ(fixed.records[0].dst_port, autod.records[0].dst_port);
    EXPECT_EQ(fixed.records[0].action, autod.records[0].action);
    EXPECT_EQ(fixed.records[0].reported_by, autod.records[0].reported_by);
  }
}

struct malformed_case {
  const char* why;
  std::string input;
  const char* reason;
};

class IptablesMalformed : public ::testing::TestWithParam<malformed_case> {};

TEST_P(IptablesMalformed, IsRejectedWithItsReason) {
  const auto& c = GetParam();
  auto s = parse_with("iptables", c.input);
  EXPECT_TRUE(s.records.empty()) << c.why;
  ASSERT_EQ(s.rejects.size(), 1u) << c.why;
  EXPECT_EQ(s.rejects[0], c.reason) << c.why;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, IptablesMalformed,
    ::testing::Values(
        malformed_case{"not a netfilter line", "Oct 10 07:25:12 host sshd[1]: Accepted publickey",
                       "no_netfilter_fields"},
        malformed_case{"IN without OUT", "kernel: IN=eth0 SRC=1.2.3.4 DST=5.6.7.8",
                       "no_netfilter_fields"},
        malformed_case{"no source", "IN=eth0 OUT= DST=5.6.7.8 PROTO=TCP SPT=1 DPT=2",
                       "missing_src_ip"},
        malformed_case{"an empty source", "IN=eth0 OUT= SRC= DST=5.6.7.8 PROTO=TCP SPT=1 DPT=2",
                       "missing_src_ip"},
        malformed_case{"a bad source", "IN=eth0 OUT= SRC=1.2.3 DST=5.6.7.8 PROTO=TCP SPT=1 DPT=2",
                       "bad_src_ip"},
        malformed_case{"a bad destination",
                       "IN=eth0 OUT= SRC=1.2.3.4 DST=5.6.7.8.9 PROTO=TCP SPT=1 DPT=2",
                       "bad_dst_ip"},
        malformed_case{"a port out of range",
                       "IN=eth0 OUT= SRC=1.2.3.4 DST=5.6.7.8 PROTO=TCP SPT=1 DPT=65536",
                       "bad_dst_port"},
        malformed_case{"a port that is not a number",
                       "IN=eth0 OUT= SRC=1.2.3.4 DST=5.6.7.8 PROTO=UDP SPT=1 DPT=x",
                       "bad_dst_port"}),
    why_name{});

}  // namespace
}  // namespace portscand::test

namespace portscand::test {
namespace {

// One packet's TCP flags, as nf_log prints them after RES= (CWR ECE URG ACK PSH RST SYN FIN
// order, before URGP=), give the side of the packet: a LOG rule that logs every packet also
// logs the answers.
TEST(Iptables, TheTcpFlagWordsGiveTheSideOfThePacket) {
  const std::string head =
      "kernel: [16571.459614] LOG-ALL: IN=eth0 OUT= MAC=00:11:22:33:44:55:66:77:88:99:aa:bb:08:00 ";
  const std::string probe =
      "SRC=203.0.113.9 DST=198.51.100.2 LEN=60 TOS=0x00 PREC=0x00 TTL=64 ID=1 DF PROTO=TCP "
      "SPT=41234 DPT=22 WINDOW=64240 RES=0x00 ";
  const std::string answer =
      "SRC=198.51.100.2 DST=203.0.113.9 LEN=40 TOS=0x00 PREC=0x00 TTL=64 ID=0 DF PROTO=TCP "
      "SPT=22 DPT=41234 WINDOW=0 RES=0x00 ";
  const struct {
    std::string line;
    flow_side side;
  } cases[] = {
      {head + probe + "SYN URGP=0", flow_side::initiator},
      {head + answer + "ACK SYN URGP=0", flow_side::reply},       // SYN-ACK: open port
      {head + answer + "ACK RST URGP=0", flow_side::reply},       // closed port
      {head + probe + "ACK PSH URGP=0", flow_side::unknown},      // data
      {head + probe + "ACK URGP=0", flow_side::unknown},          // ACK scan probe
      {head + answer + "RST URGP=0", flow_side::unknown},         // answer to an ACK probe
      {head + probe + "FIN PSH URG URGP=0", flow_side::unknown},  // Xmas probe
      {head + probe + "URGP=0", flow_side::unknown},              // NULL probe
      // Words before RES= are IP flags or the prefix, never TCP flags.
      {"kernel: [1.0] SYN-FLOOD SYN: IN=eth0 OUT= SRC=203.0.113.9 DST=198.51.100.2 LEN=40 "
       "PROTO=TCP SPT=41234 DPT=22 WINDOW=0 RES=0x00 ACK RST URGP=0",
       flow_side::reply},
      {"kernel: [1.0] IN=eth0 OUT= SRC=203.0.113.9 DST=198.51.100.2 LEN=40 SYN PROTO=TCP "
       "SPT=41234 DPT=22 WINDOW=0 RES=0x00 URGP=0",
       flow_side::unknown},
      {"kernel: [1.0] IN=eth0 OUT= SRC=203.0.113.9 DST=198.51.100.2 LEN=40 PROTO=UDP "
       "SPT=41234 DPT=53 LEN=20 SYN",
       flow_side::unknown},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.line);
    auto s = parse_with("iptables", c.line);
    ASSERT_EQ(s.records.size(), 1u);
    EXPECT_EQ(s.records[0].side, c.side);
  }
  // The slow scan of the sample: dropped SYNs, initiators all.
  const auto lines = fixture_lines(fixture);
  for (std::size_t i = 4; i < 14; ++i) {
    auto s = parse_with("iptables", lines[i]);
    ASSERT_EQ(s.records.size(), 1u);
    EXPECT_EQ(s.records[0].side, flow_side::initiator) << "line " << i + 1;
  }
}

}  // namespace
}  // namespace portscand::test
