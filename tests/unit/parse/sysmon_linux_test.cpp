#include <gtest/gtest.h>
#include <simdjson.h>

#include "../test_names.hpp"
#include "parse_test_util.hpp"

namespace portscand::test {
namespace {

constexpr const char* fixture = "sysmon-linux/pop-ecx-wazuh-blog-sysmon3.log";

std::string real_line() {
  return fixture_lines(fixture).at(0);
}

// The real record with one substring replaced (the malformed and variant cases).
std::string real_with(std::string_view from, std::string_view to) {
  std::string s = real_line();
  const auto p = s.find(from);
  EXPECT_NE(p, std::string::npos) << from;
  if (p != std::string::npos) s.replace(p, from.size(), to);
  return s;
}

std::string replace_in(std::string s, std::string_view from, std::string_view to) {
  const auto p = s.find(from);
  EXPECT_NE(p, std::string::npos) << from;
  if (p != std::string::npos) s.replace(p, from.size(), to);
  return s;
}

TEST(SysmonLinux, TheRealEventThreeLineYieldsItsSession) {
  // Read by hand from the XML: UtcTime 2026-01-22 13:17:16.412 (UTC), tcp,
  // 192.168.2.2:37678 -> 192.168.2.3:3307, Computer testserver. Sysmon has no action.
  auto s = parse_with("sysmon-linux", real_line());
  ASSERT_EQ(s.records.size(), 1u);
  const auto& r = s.records[0];
  EXPECT_TRUE(r.has_time);
  EXPECT_EQ(format_iso8601(r.time), "2026-01-22T13:17:16.412000Z");
  EXPECT_EQ(ip(r.src), "192.168.2.2");
  ASSERT_TRUE(r.has_dst);
  EXPECT_EQ(ip(r.dst), "192.168.2.3");
  EXPECT_EQ(r.dst_port, 3307);
  EXPECT_EQ(r.protocol, 6);
  EXPECT_EQ(r.action, dvc_action::unknown);
  EXPECT_EQ(label(r.reported_by), "Microsoft/Sysmon for Linux");
  EXPECT_EQ(label(r.device), "testserver");
}

TEST(SysmonLinux, TheSampleAgreesWithTheCorpusDerivedFields) {
  const auto lines = fixture_lines(fixture);
  const auto derived =
      fixture_lines("sysmon-linux/pop-ecx-wazuh-blog-sysmon3.log-derived-fields.jsonl");
  ASSERT_EQ(lines.size(), derived.size());
  simdjson::dom::parser json;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    SCOPED_TRACE(i + 1);
    const simdjson::padded_string padded(derived[i]);
    simdjson::dom::element d = json.parse(padded);
    auto s = parse_with("sysmon-linux", lines[i]);
    ASSERT_EQ(s.records.size(), 1u);
    const auto& r = s.records[0];
    EXPECT_EQ(std::string_view(d["EventID"]), "3");
    EXPECT_EQ(ip(r.src), std::string_view(d["SourceIp"]));
    EXPECT_EQ(ip(r.dst), std::string_view(d["DestinationIp"]));
    EXPECT_EQ(r.dst_port, int64_t(d["DestinationPort"]));
    EXPECT_EQ(r.protocol, protocol_from_name(std::string_view(d["Protocol"])));
    // UtcTime "2026-01-22 13:17:16.412" is UTC; the syslog header (16:17:16) is local time.
    EXPECT_EQ(r.time, *parse_iso8601(std::string_view(d["UtcTime"])));
    EXPECT_EQ(label(r.reported_by), std::string(std::string_view(d["vendor"])) + "/" +
                                        std::string(std::string_view(d["product"])));
    // The wazuh decoder the blog quotes agrees on the source.
    EXPECT_EQ(ip(r.src), std::string_view(d["upstream_wazuh_logtest_output"]["srcip"]));
  }
}

TEST(SysmonLinux, TheBodyAloneParsesLikeTheLineWithItsSyslogHeader) {
  const std::string line = real_line();
  const std::string body = line.substr(line.find("<Event>"));
  auto a = parse_with("sysmon-linux", line);
  auto b = parse_with("sysmon-linux", body);
  ASSERT_EQ(a.records.size(), 1u);
  ASSERT_EQ(b.records.size(), 1u);
  EXPECT_EQ(a.records[0].time, b.records[0].time);
  EXPECT_EQ(a.records[0].src, b.records[0].src);
  EXPECT_EQ(a.records[0].dst_port, b.records[0].dst_port);
}

TEST(SysmonLinux, HandWrittenIpv6InboundEventKeepsSysmonsOrientation) {
  // Initiated=false: the remote 2001:db8::50 connected to local sshd; Sysmon already names
  // the initiator as Source, so nothing is swapped (ASIM does not swap either).
  auto s = parse_with("sysmon-linux", fixture_lines("sysmon-linux/handmade.log").at(0));
  ASSERT_EQ(s.records.size(), 1u);
  const auto& r = s.records[0];
  EXPECT_EQ(ip(r.src), "2001:db8::50");
  EXPECT_EQ(ip(r.dst), "2001:db8::10");
  EXPECT_EQ(r.dst_port, 22);
  EXPECT_EQ(r.protocol, 6);
  EXPECT_EQ(format_iso8601(r.time), "2026-02-03T04:05:06.789000Z");
  EXPECT_EQ(label(r.device), "web-01.example.org");
}

TEST(SysmonLinux, HandWrittenUdpBodyWithSingleQuotedAttributesParses) {
  auto s = parse_with("sysmon-linux", fixture_lines("sysmon-linux/handmade.log").at(1));
  ASSERT_EQ(s.records.size(), 1u);
  const auto& r = s.records[0];
  EXPECT_EQ(ip(r.src), "203.0.113.9");
  EXPECT_EQ(ip(r.dst), "198.51.100.7");
  EXPECT_EQ(r.dst_port, 53);
  EXPECT_EQ(r.protocol, 17);
  EXPECT_EQ(format_iso8601(r.time), "2026-02-03T04:05:07Z");
}

TEST(SysmonLinux, OtherEventIdsAreSkippedNotRejected) {
  auto s = parse_with("sysmon-linux", fixture_lines("sysmon-linux/handmade.log").at(2));
  EXPECT_TRUE(s.records.empty());
  EXPECT_TRUE(s.rejects.empty());
  EXPECT_EQ(s.skips, std::vector<std::string>{"not_network_connection"});
}

TEST(SysmonLinux, TimeCreatedIsTheFallbackThenTheSyslogHeaderTime) {
  auto a = parse_with("sysmon-linux",
                      real_with("<Data Name=\"UtcTime\">2026-01-22 13:17:16.412</Data>", ""));
  ASSERT_EQ(a.records.size(), 1u);
  EXPECT_EQ(format_iso8601(a.records[0].time), "2026-01-22T13:17:16.405709Z");

  std::string neither = real_with("<Data Name=\"UtcTime\">2026-01-22 13:17:16.412</Data>", "");
  neither.replace(
      neither.find("<TimeCreated"),
      std::string("<TimeCreated SystemTime=\"2026-01-22T13:17:16.405709000Z\"/>").size(), "");
  auto b = parse_with("sysmon-linux", neither);
  ASSERT_EQ(b.records.size(), 1u);
  EXPECT_FALSE(b.records[0].has_time);

  parse_context ctx;
  ctx.header_time = *parse_iso8601("2026-01-22T13:17:16Z");
  auto c = parse_with("sysmon-linux", neither, ctx);
  ASSERT_EQ(c.records.size(), 1u);
  EXPECT_TRUE(c.records[0].has_time);
  EXPECT_EQ(c.records[0].time, ctx.header_time);
}

TEST(SysmonLinux, TheSyslogHostNamesTheDeviceWhenTheEventHasNoComputer) {
  // The decoder splits the line's own syslog header off, and its HOST replaces whatever
  // host the transport put in the context (syslog_header.hpp). This test used to hand the
  // full line (header host "testserver") with ctx.host "relay-host" and expect
  // "relay-host": written before the decoder stripped headers, when the parser never saw
  // the line's host. The header host is renamed here so that each source is told apart.
  parse_context ctx;
  ctx.host = "relay-host";
  const std::string header_host =
      real_with("16:17:16 testserver sysmon:", "16:17:16 syslog-host sysmon:");
  auto s = parse_with("sysmon-linux",
                      replace_in(header_host, "<Computer>testserver</Computer>", ""), ctx);
  ASSERT_EQ(s.records.size(), 1u);
  EXPECT_EQ(label(s.records[0].device), "syslog-host");
  // A bare body (a transport that parsed the header itself): the context's host.
  const std::string no_computer = real_with("<Computer>testserver</Computer>", "");
  auto b = parse_with("sysmon-linux", no_computer.substr(no_computer.find("<Event")), ctx);
  ASSERT_EQ(b.records.size(), 1u);
  EXPECT_EQ(label(b.records[0].device), "relay-host");
  // <Computer> wins over any syslog host.
  auto t = parse_with("sysmon-linux", header_host, ctx);
  EXPECT_EQ(label(t.records.at(0).device), "testserver");
}

TEST(SysmonLinux, EntitiesInValuesAreDecoded) {
  auto s = parse_with("sysmon-linux", real_with("<Computer>testserver</Computer>",
                                                "<Computer>lab&amp;test&#x2D;01</Computer>"));
  ASSERT_EQ(s.records.size(), 1u);
  EXPECT_EQ(label(s.records[0].device), "lab&test-01");
}

TEST(SysmonLinux, TheProbeRecognisesTheSamplesAndNothingElse) {
  const format_entry* e = builtin_formats().find("sysmon-linux");
  ASSERT_NE(e, nullptr);
  EXPECT_TRUE(e->probe(real_line()));
  for (const auto& l : fixture_lines("sysmon-linux/handmade.log")) EXPECT_TRUE(e->probe(l));
  EXPECT_FALSE(e->probe(fixture_text("windows-wfp/msdocs-event-5156.clean.xml")));
  EXPECT_FALSE(e->probe(fixture_lines("windows-wfp/oneline.log").at(0)));
  EXPECT_FALSE(e->probe(fixture_lines("iptables/test-iptables-raw.log").at(0)));
  EXPECT_FALSE(e->probe(fixture_lines("zscaler-nss/test-firewall.log").at(0)));
  EXPECT_FALSE(e->probe(R"({"SrcIpAddr":"1.2.3.4"})"));
}

TEST(SysmonLinux, AutoDetectionGivesTheSameRecordsAsTheFixedFormat) {
  std::vector<std::string> lines = fixture_lines(fixture);
  for (const auto& l : fixture_lines("sysmon-linux/handmade.log")) lines.push_back(l);
  for (const auto& l : lines) {
    auto fixed = parse_with("sysmon-linux", l);
    auto autod = parse_with("auto", l);
    ASSERT_EQ(fixed.records.size(), autod.records.size());
    EXPECT_EQ(fixed.skips, autod.skips);
    for (std::size_t i = 0; i < fixed.records.size(); ++i) {
      EXPECT_EQ(fixed.records[i].src, autod.records[i].src);
      EXPECT_EQ(fixed.records[i].dst_port, autod.records[i].dst_port);
      EXPECT_EQ(fixed.records[i].time, autod.records[i].time);
      EXPECT_EQ(fixed.records[i].reported_by, autod.records[i].reported_by);
    }
  }
}

struct malformed_case {
  const char* why;
  std::string input;
  const char* reason;
};

class SysmonLinuxMalformed : public ::testing::TestWithParam<malformed_case> {};

TEST_P(SysmonLinuxMalformed, IsRejectedWithItsReason) {
  const auto& c = GetParam();
  auto s = parse_with("sysmon-linux", c.input);
  EXPECT_TRUE(s.records.empty()) << c.why;
  ASSERT_EQ(s.rejects.size(), 1u) << c.why;
  EXPECT_EQ(s.rejects[0], c.reason) << c.why;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, SysmonLinuxMalformed,
    ::testing::Values(
        malformed_case{"a syslog relay cut the message at 1024 bytes", real_line().substr(0, 1024),
                       "truncated_xml"},
        malformed_case{"no event XML at all", "Jan 22 16:17:16 testserver sysmon: started",
                       "no_event_xml"},
        malformed_case{"a mismatched end tag", real_with("</EventData>", "</EventDat>"),
                       "malformed_xml"},
        malformed_case{"the source is not an address",
                       real_with(">192.168.2.2<", ">192.168.2.256<"), "bad_src_ip"},
        malformed_case{"the source is missing",
                       real_with("<Data Name=\"SourceIp\">192.168.2.2</Data>", ""),
                       "missing_src_ip"},
        malformed_case{"the source holds an unknown entity",
                       real_with(">192.168.2.2<", ">192.168.2.2&nbsp;<"), "bad_src_ip"},
        malformed_case{"the destination is not an address", real_with(">192.168.2.3<", ">host-3<"),
                       "bad_dst_ip"},
        malformed_case{"the port is out of range", real_with(">3307<", ">70000<"), "bad_dst_port"},
        malformed_case{"the port is not a number", real_with(">3307<", ">mysql<"), "bad_dst_port"},
        malformed_case{"the time is not a time", real_with("2026-01-22 13:17:16.412", "yesterday"),
                       "bad_time"},
        malformed_case{
            "the source is given twice",
            real_with("<Data Name=\"SourceHostname\">",
                      "<Data Name=\"SourceIp\">10.0.0.1</Data><Data Name=\"SourceHostname\">"),
            "duplicate_field"},
        malformed_case{
            "the computer holds an unknown entity",
            real_with("<Computer>testserver</Computer>", "<Computer>a&bogus;</Computer>"),
            "bad_xml_entity"},
        malformed_case{"the provider is Windows Sysmon",
                       real_with("Linux-Sysmon\" Guid", "Microsoft-Windows-Sysmon\" Guid"),
                       "not_linux_sysmon"},
        malformed_case{"the event id is not a number",
                       real_with("<EventID>3</EventID>", "<EventID>three</EventID>"),
                       "bad_event_id"},
        malformed_case{"the event id is missing", real_with("<EventID>3</EventID>", ""),
                       "missing_event_id"},
        malformed_case{"a value hides in CDATA",
                       real_with("<Data Name=\"RuleName\">-</Data>", "<![CDATA[x]]>"),
                       "unsupported_xml"}),
    why_name{});

}  // namespace
}  // namespace portscand::test
