#include <gtest/gtest.h>
#include <simdjson.h>

#include "../test_names.hpp"
#include "parse_test_util.hpp"

namespace portscand::test {
namespace {

std::string xml_5156() {
  return fixture_text("windows-wfp/msdocs-event-5156.clean.xml");
}

std::string replaced(std::string s, std::string_view from, std::string_view to) {
  const auto p = s.find(from);
  EXPECT_NE(p, std::string::npos) << from;
  if (p != std::string::npos) s.replace(p, from.size(), to);
  return s;
}

std::string ms(timestamp_us t) {
  return format_iso8601(t - t % 1000);
}

TEST(WindowsWfp, TheOutboundWinlogbeat5156MatchesElasticsExpectedOutput) {
  // test-5156.json-expected.json: source 10.47.0.151:49691 -> destination 10.47.0.110:389,
  // tcp, outbound, event.type "allowed", @timestamp 2023-01-17T22:18:03.557Z (Elastic keeps
  // milliseconds of winlog.time_created 2023-01-17T22:18:03.5577972Z; we keep microseconds).
  simdjson::dom::parser json;
  const simdjson::padded_string expected_text(
      fixture_text("windows-wfp/test-5156.json-expected.json"));
  simdjson::dom::element e = json.parse(expected_text)["expected"].at(0);
  for (const std::string& unit : {fixture_text("windows-wfp/test-5156.json"),
                                  fixture_lines("windows-wfp/oneline.log").at(0)}) {
    auto s = parse_with("windows-wfp", unit);
    ASSERT_EQ(s.records.size(), 1u);
    const auto& r = s.records[0];
    EXPECT_EQ(ip(r.src), std::string_view(e["source"]["ip"]));
    EXPECT_EQ(ip(r.dst), std::string_view(e["destination"]["ip"]));
    EXPECT_EQ(r.dst_port, int64_t(e["destination"]["port"]));
    EXPECT_EQ(r.protocol, protocol_from_name(std::string_view(e["network"]["transport"])));
    EXPECT_EQ(std::string_view(e["network"]["direction"].at(0)), "outbound");
    EXPECT_EQ(std::string_view(e["event"]["type"].at(2)), "allowed");
    EXPECT_EQ(r.action, dvc_action::allow);
    EXPECT_EQ(ms(r.time), format_iso8601(*parse_iso8601(std::string_view(e["@timestamp"]))));
    EXPECT_EQ(format_iso8601(r.time), "2023-01-17T22:18:03.557797Z");
    EXPECT_EQ(label(r.reported_by), "Microsoft/Windows Firewall");
    EXPECT_EQ(label(r.device), "COMPUTER1.contoso.com");
  }
}

TEST(WindowsWfp, TheInboundWinlogbeat5157IsTurnedToInitiatorOrientation) {
  // expected-normalized.jsonl line 2 (derived): SourceAddress 10.47.0.110:137, DestAddress
  // 10.47.0.255:137, UDP, Direction %%14592 (inbound), blocked. Inbound WFP events put the
  // local side in Source*, so the record reads DestAddress -> SourceAddress:SourcePort.
  // (That makes the broadcast address the "initiator" here: this upstream sample looks
  // edited; the rule never counts 10/8 sources anyway.)
  for (const std::string& unit : {fixture_text("windows-wfp/test-5157.json"),
                                  fixture_lines("windows-wfp/oneline.log").at(1)}) {
    auto s = parse_with("windows-wfp", unit);
    ASSERT_EQ(s.records.size(), 1u);
    const auto& r = s.records[0];
    EXPECT_EQ(ip(r.src), "10.47.0.255");
    EXPECT_EQ(ip(r.dst), "10.47.0.110");
    EXPECT_EQ(r.dst_port, 137);
    EXPECT_EQ(r.protocol, 17);
    EXPECT_EQ(r.action, dvc_action::deny);
    EXPECT_EQ(format_iso8601(r.time), "2023-01-17T22:18:03.557797Z");
  }
}

TEST(WindowsWfp, BindEvent5158IsSkipped) {
  for (const std::string& unit :
       {fixture_text("windows-wfp/test-5158.json"), fixture_lines("windows-wfp/oneline.log").at(2),
        fixture_text("windows-wfp/msdocs-event-5158.clean.xml"),
        fixture_text("windows-wfp/msdocs-event-5158.verbatim.xml.txt")}) {
    auto s = parse_with("windows-wfp", unit);
    EXPECT_TRUE(s.records.empty());
    EXPECT_TRUE(s.rejects.empty());
    EXPECT_EQ(s.skips, std::vector<std::string>{"not_a_connection_event"});
  }
}

struct msdocs_row {
  const char* event;
  const char* time;
  const char* src;
  const char* dst;
  std::int32_t port;
  dvc_action action;
};

TEST(WindowsWfp, TheMicrosoftDocsXmlEventsMatchTheCorpusTable) {
  // The msdocs events read initiator first by hand (both inbound, TCP; see
  // expected-normalized.jsonl and tests/fixtures/windows-wfp/NOTICE.md).
  const msdocs_row rows[] = {
      {"5156", "2015-09-22T05:24:22.622090Z", "10.0.0.100", "10.0.0.10", 3333, dvc_action::allow},
      {"5157", "2015-09-22T03:46:51.662750Z", "10.0.0.100", "10.0.0.10", 3333, dvc_action::deny},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.event);
    // The verbatim page text has Event Viewer's "- " markers and doubled backslashes; the
    // clean copy is well-formed XML. Only Application differs, which the record does not use.
    for (const char* kind : {".clean.xml", ".verbatim.xml.txt"}) {
      auto s = parse_with(
          "windows-wfp", fixture_text(std::string("windows-wfp/msdocs-event-") + row.event + kind));
      ASSERT_EQ(s.records.size(), 1u) << kind;
      const auto& r = s.records[0];
      EXPECT_EQ(format_iso8601(r.time), row.time);
      EXPECT_EQ(ip(r.src), row.src);
      EXPECT_EQ(ip(r.dst), row.dst);
      EXPECT_EQ(r.dst_port, row.port);
      EXPECT_EQ(r.protocol, 6);
      EXPECT_EQ(r.action, row.action);
      EXPECT_EQ(label(r.reported_by), "Microsoft/Windows Firewall");
      EXPECT_EQ(label(r.device), "DC01.contoso.local");
    }
  }
}

// ASIM's SecurityEvent/WindowsEvent WFP parsers map SourceAddress/SourcePort -> Src and
// DestAddress/DestPort -> Dst whatever the Direction (ASIM-MAPPINGS "Orientation"):
// `sentinel` mode does exactly that, read off the msdocs events and Elastic's 5157 by hand.
TEST(WindowsWfp, SentinelModeKeepsInboundEventsAsWrittenLikeAsim) {
  parse_context ctx;
  ctx.mode = detection_mode::sentinel;
  const struct {
    std::string unit;
    const char* src;
    const char* dst;
    std::int32_t port;
  } rows[] = {
      {xml_5156(), "10.0.0.10", "10.0.0.100", 49278},
      {fixture_text("windows-wfp/msdocs-event-5156.verbatim.xml.txt"), "10.0.0.10", "10.0.0.100",
       49278},
      {fixture_text("windows-wfp/msdocs-event-5157.clean.xml"), "10.0.0.10", "10.0.0.100", 49218},
      {fixture_text("windows-wfp/test-5157.json"), "10.47.0.110", "10.47.0.255", 137},
  };
  for (const auto& row : rows) {
    for (const char* format : {"windows-wfp", "auto"}) {
      auto s = parse_with(format, row.unit, ctx);
      ASSERT_EQ(s.records.size(), 1u) << format << ": " << row.unit.substr(0, 60);
      EXPECT_EQ(ip(s.records[0].src), row.src);
      EXPECT_EQ(ip(s.records[0].dst), row.dst);
      EXPECT_EQ(s.records[0].dst_port, row.port);
    }
  }
  // The default mode turns the same events to the initiator (TheMicrosoftDocsXmlEvents...).
  EXPECT_EQ(ip(parse_with("windows-wfp", xml_5156()).records.at(0).src), "10.0.0.100");
  // Outbound events read the same in both modes.
  const auto out = replaced(xml_5156(), "%%14592", "%%14593");
  const auto out_sentinel = parse_with("windows-wfp", out, ctx).records.at(0);
  const auto out_default = parse_with("windows-wfp", out).records.at(0);
  EXPECT_EQ(out_sentinel.src, out_default.src);
  EXPECT_EQ(out_sentinel.dst, out_default.dst);
  EXPECT_EQ(out_sentinel.dst_port, out_default.dst_port);
}

TEST(WindowsWfp, OneLineXmlParsesLikeThePrettyFile) {
  auto a = parse_with("windows-wfp", xml_5156());
  auto b = parse_with("windows-wfp", fixture_lines("windows-wfp/oneline.log").at(3));
  ASSERT_EQ(a.records.size(), 1u);
  ASSERT_EQ(b.records.size(), 1u);
  EXPECT_EQ(a.records[0].src, b.records[0].src);
  EXPECT_EQ(a.records[0].time, b.records[0].time);
}

TEST(WindowsWfp, OutboundEventsAreTakenAsWritten) {
  auto s = parse_with("windows-wfp", replaced(xml_5156(), "%%14592", "%%14593"));
  ASSERT_EQ(s.records.size(), 1u);
  EXPECT_EQ(ip(s.records[0].src), "10.0.0.10");
  EXPECT_EQ(ip(s.records[0].dst), "10.0.0.100");
  EXPECT_EQ(s.records[0].dst_port, 49278);
}

TEST(WindowsWfp, RenderedDirectionWordsAreUnderstood) {
  auto in = parse_with("windows-wfp", replaced(xml_5156(), "%%14592", "Inbound"));
  EXPECT_EQ(in.records.at(0).dst_port, 3333);
  auto out = parse_with("windows-wfp", replaced(xml_5156(), "%%14592", "Outbound"));
  EXPECT_EQ(out.records.at(0).dst_port, 49278);
  // Unknown direction: nothing to go by, so the fields are taken as written.
  auto unknown = parse_with("windows-wfp",
                            replaced(xml_5156(), "<Data Name=\"Direction\">%%14592</Data>", ""));
  EXPECT_EQ(unknown.records.at(0).dst_port, 49278);
}

TEST(WindowsWfp, PacketDrop5152IsADenyWithTheSameOrientationRule) {
  std::string xml = replaced(fixture_text("windows-wfp/msdocs-event-5157.clean.xml"),
                             "<EventID>5157</EventID>", "<EventID>5152</EventID>");
  auto s = parse_with("windows-wfp", xml);
  ASSERT_EQ(s.records.size(), 1u);
  EXPECT_EQ(s.records[0].action, dvc_action::deny);
  EXPECT_EQ(ip(s.records[0].src), "10.0.0.100");
  EXPECT_EQ(s.records[0].dst_port, 3333);
}

TEST(WindowsWfp, IcmpEventsHaveNoPort) {
  auto s = parse_with("windows-wfp", replaced(xml_5156(), "<Data Name=\"Protocol\">6</Data>",
                                              "<Data Name=\"Protocol\">1</Data>"));
  ASSERT_EQ(s.records.size(), 1u);
  EXPECT_EQ(s.records[0].protocol, 1);
  EXPECT_FALSE(s.records[0].has_port());
}

TEST(WindowsWfp, ASentinelSecurityEventRowWithEventDataXmlIsParsed) {
  auto s = parse_with(
      "windows-wfp",
      R"({"TimeGenerated":"2026-11-28T10:05:00Z","Computer":"srv-01","EventSourceName":"Microsoft-Windows-Security-Auditing",)"
      R"("Channel":"Security","EventID":5157,"EventData":"<EventData xmlns=\"http://schemas.microsoft.com/win/2004/08/events/event\">)"
      R"(<Data Name=\"Direction\">%%14592</Data><Data Name=\"SourceAddress\">10.1.0.5</Data><Data Name=\"SourcePort\">445</Data>)"
      R"(<Data Name=\"DestAddress\">203.0.113.66</Data><Data Name=\"DestPort\">51000</Data><Data Name=\"Protocol\">6</Data></EventData>"})");
  ASSERT_EQ(s.records.size(), 1u);
  const auto& r = s.records[0];
  EXPECT_EQ(ip(r.src), "203.0.113.66");
  EXPECT_EQ(ip(r.dst), "10.1.0.5");
  EXPECT_EQ(r.dst_port, 445);
  EXPECT_EQ(r.action, dvc_action::deny);
  EXPECT_EQ(format_iso8601(r.time), "2026-11-28T10:05:00Z");
  EXPECT_EQ(label(r.device), "srv-01");
}

TEST(WindowsWfp, ASentinelWindowsEventRowWithEventDataObjectIsParsed) {
  auto s = parse_with(
      "windows-wfp",
      R"({"TimeGenerated":"2026-11-28T10:05:01Z","Computer":"srv-02","Provider":"Microsoft-Windows-Security-Auditing",)"
      R"("EventID":"5156","EventData":{"Direction":"%%14593","SourceAddress":"10.1.0.6","SourcePort":"50000",)"
      R"("DestAddress":"198.51.100.9","DestPort":"443","Protocol":"6"}})");
  ASSERT_EQ(s.records.size(), 1u);
  EXPECT_EQ(ip(s.records[0].src), "10.1.0.6");
  EXPECT_EQ(s.records[0].dst_port, 443);
  EXPECT_EQ(s.records[0].action, dvc_action::allow);
}

TEST(WindowsWfp, EventsBehindASyslogHeaderParseLikeTheBareEvent) {
  const std::string json_line = fixture_lines("windows-wfp/oneline.log").at(0);
  const std::string xml_line = fixture_lines("windows-wfp/oneline.log").at(3);
  auto a = parse_with("windows-wfp", "<14>Jan 17 22:18:03 COMPUTER1 winlogbeat: " + json_line);
  auto b = parse_with("windows-wfp", "<14>Sep 22 05:24:22 DC01 MSWinEventLog: " + xml_line);
  ASSERT_EQ(a.records.size(), 1u);
  ASSERT_EQ(b.records.size(), 1u);
  EXPECT_EQ(ip(a.records[0].src), "10.47.0.151");
  EXPECT_EQ(ip(b.records[0].src), "10.0.0.100");
  EXPECT_EQ(
      parse_with("auto", "<14>Sep 22 05:24:22 DC01 MSWinEventLog: " + xml_line).records.size(), 1u);
}

TEST(WindowsWfp, AJsonArrayYieldsEachEvent) {
  const auto l = fixture_lines("windows-wfp/oneline.log");
  auto s = parse_with("windows-wfp", "[" + l.at(0) + "," + l.at(2) + "," + l.at(1) + "]");
  EXPECT_EQ(s.records.size(), 2u);
  EXPECT_EQ(s.skips.size(), 1u);
}

TEST(WindowsWfp, WithoutAnEventTimeTheHeaderTimeIsUsed) {
  std::string xml =
      replaced(xml_5156(), "<TimeCreated SystemTime=\"2015-09-22T05:24:22.622090200Z\" />", "");
  EXPECT_FALSE(parse_with("windows-wfp", xml).records.at(0).has_time);
  parse_context ctx;
  ctx.header_time = *parse_iso8601("2015-09-22T05:24:23Z");
  auto s = parse_with("windows-wfp", xml, ctx);
  EXPECT_EQ(s.records.at(0).time, ctx.header_time);
}

TEST(WindowsWfp, TheProbeRecognisesTheSamplesAndNothingElse) {
  const format_entry* e = builtin_formats().find("windows-wfp");
  ASSERT_NE(e, nullptr);
  for (const char* f :
       {"test-5156.json", "test-5157.json", "test-5158.json", "msdocs-event-5156.clean.xml",
        "msdocs-event-5157.verbatim.xml.txt", "msdocs-event-5158.clean.xml"})
    EXPECT_TRUE(e->probe(fixture_text(std::string("windows-wfp/") + f).substr(0, probe_window)))
        << f;
  for (const auto& l : fixture_lines("windows-wfp/oneline.log"))
    EXPECT_TRUE(e->probe(l.substr(0, probe_window)));
  EXPECT_FALSE(e->probe(fixture_lines("sysmon-linux/pop-ecx-wazuh-blog-sysmon3.log").at(0)));
  EXPECT_FALSE(e->probe(fixture_lines("iptables/test-iptables-raw.log").at(0)));
  EXPECT_FALSE(e->probe(fixture_lines("zscaler-nss/test-firewall-http-endpoint.log").at(0)));
  EXPECT_FALSE(e->probe(R"({"SrcIpAddr":"1.2.3.4","EventVendor":"Microsoft"})"));
  // Windows Sysmon shipped by Winlogbeat is not a WFP event.
  EXPECT_FALSE(
      e->probe(R"({"winlog":{"provider_name":"Microsoft-Windows-Sysmon","event_id":"3"}})"));
  // Elastic's ECS document of a 5156 keeps winlog.event_data but carries ECS source/
  // destination: it is the ecs format's, nested or with dotted flat keys.
  const std::string ecs_doc = fixture_lines("ecs/windows-5156.ecs.jsonl").at(0);
  EXPECT_FALSE(e->probe(ecs_doc.substr(0, probe_window)));
  EXPECT_FALSE(
      e->probe(R"({"winlog": {"event_id": "5156"}, "destination" : { "ip": "10.47.0.110" }})"));
  EXPECT_FALSE(e->probe(R"({"winlog.event_id":"5156","source.ip":"10.47.0.151"})"));
  // ... while a raw Winlogbeat document whose event_data merely names a Source stays here.
  EXPECT_TRUE(
      e->probe(R"({"winlog":{"event_id":"5156","event_data":{"SourceAddress":"1.2.3.4"}}})"));
}

TEST(WindowsWfp, TheProbesOfWindowsWfpAndEcsAreDisjointOnWfpDocuments) {
  const format_entry* wfp = builtin_formats().find("windows-wfp");
  const format_entry* ecs = builtin_formats().find("ecs");
  ASSERT_NE(wfp, nullptr);
  ASSERT_NE(ecs, nullptr);
  std::vector<std::string> raw = fixture_lines("windows-wfp/oneline.log");
  for (const char* f : {"test-5156.json", "test-5157.json", "test-5158.json"})
    raw.push_back(fixture_text(std::string("windows-wfp/") + f));
  for (const auto& u : raw) {
    const std::string head = u.substr(0, probe_window);
    EXPECT_TRUE(wfp->probe(head)) << head;
    EXPECT_FALSE(ecs->probe(head)) << head;
    EXPECT_EQ(builtin_formats().detect(u)->name, "windows-wfp");
  }
  const std::string doc = fixture_lines("ecs/windows-5156.ecs.jsonl").at(0);
  EXPECT_FALSE(wfp->probe(doc.substr(0, probe_window)));
  EXPECT_TRUE(ecs->probe(doc.substr(0, probe_window)));
  EXPECT_EQ(builtin_formats().detect(doc)->name, "ecs");
}

TEST(WindowsWfp, TheFixedFormatStillReadsTheWinlogPartOfAnEcsDocument) {
  // Configured as windows-wfp, Elastic's ECS document is read through its winlog.event_data
  // (the same event as test-5156.json): same tuple, and winlog.time_created's microseconds
  // where ecs would keep @timestamp's milliseconds.
  auto s = parse_with("windows-wfp", fixture_lines("ecs/windows-5156.ecs.jsonl").at(0));
  ASSERT_EQ(s.records.size(), 1u);
  const auto& r = s.records[0];
  EXPECT_EQ(ip(r.src), "10.47.0.151");
  EXPECT_EQ(ip(r.dst), "10.47.0.110");
  EXPECT_EQ(r.dst_port, 389);
  EXPECT_EQ(r.action, dvc_action::allow);
  EXPECT_EQ(format_iso8601(r.time), "2023-01-17T22:18:03.557797Z");
  EXPECT_EQ(label(r.reported_by), "Microsoft/Windows Firewall");
  auto e = parse_with("auto", fixture_lines("ecs/windows-5156.ecs.jsonl").at(0));
  ASSERT_EQ(e.records.size(), 1u);
  EXPECT_EQ(label(e.records[0].reported_by), "Elastic/ECS");
  EXPECT_EQ(format_iso8601(e.records[0].time), "2023-01-17T22:18:03.557000Z");
}

TEST(WindowsWfp, AutoDetectionGivesTheSameRecordsAsTheFixedFormat) {
  std::vector<std::string> units = fixture_lines("windows-wfp/oneline.log");
  units.push_back(fixture_text("windows-wfp/test-5156.json"));
  units.push_back(fixture_text("windows-wfp/msdocs-event-5157.verbatim.xml.txt"));
  for (const auto& u : units) {
    auto fixed = parse_with("windows-wfp", u);
    auto autod = parse_with("auto", u);
    ASSERT_EQ(fixed.records.size(), autod.records.size());
    EXPECT_EQ(fixed.skips, autod.skips);
    for (std::size_t i = 0; i < fixed.records.size(); ++i) {
      EXPECT_EQ(fixed.records[i].src, autod.records[i].src);
      EXPECT_EQ(fixed.records[i].dst_port, autod.records[i].dst_port);
      EXPECT_EQ(fixed.records[i].time, autod.records[i].time);
    }
  }
}

struct malformed_case {
  const char* why;
  std::string input;
  const char* reason;
};

class WindowsWfpMalformed : public ::testing::TestWithParam<malformed_case> {};

TEST_P(WindowsWfpMalformed, IsRejectedWithItsReason) {
  const auto& c = GetParam();
  auto s = parse_with("windows-wfp", c.input);
  EXPECT_TRUE(s.records.empty()) << c.why;
  ASSERT_EQ(s.rejects.size(), 1u) << c.why;
  EXPECT_EQ(s.rejects[0], c.reason) << c.why;
}

std::string row(std::string_view event_data, std::string_view extra = "") {
  return std::string(R"({"EventID":5156,)") + std::string(extra) + R"("EventData":{)" +
         std::string(event_data) + "}}";
}

INSTANTIATE_TEST_SUITE_P(
    Cases, WindowsWfpMalformed,
    ::testing::Values(
        malformed_case{"neither JSON nor event XML", "Sep 22 05:24:22 DC01 something happened",
                       "no_event"},
        malformed_case{"truncated JSON",
                       fixture_lines("windows-wfp/oneline.log").at(0).substr(0, 700),
                       "invalid_json"},
        malformed_case{"truncated XML", xml_5156().substr(0, 900), "truncated_xml"},
        malformed_case{"a mismatched XML end tag",
                       replaced(xml_5156(), "</EventData>", "</Eventdata>"), "malformed_xml"},
        malformed_case{"no event id", R"({"EventData":{"SourceAddress":"1.2.3.4"}})",
                       "missing_event_id"},
        malformed_case{"an event id that is not a number", replaced(xml_5156(), ">5156<", ">51x6<"),
                       "bad_event_id"},
        malformed_case{"the inbound initiator is missing",
                       replaced(xml_5156(), "<Data Name=\"DestAddress\">10.0.0.100</Data>", ""),
                       "missing_src_ip"},
        malformed_case{"the initiator is not an address",
                       replaced(xml_5156(), ">10.0.0.100<", ">10.0.0.300<"), "bad_src_ip"},
        malformed_case{"the target is not an address",
                       replaced(xml_5156(), ">10.0.0.10<", ">dc01<"), "bad_dst_ip"},
        malformed_case{"the probed port is out of range", replaced(xml_5156(), ">3333<", ">99999<"),
                       "bad_dst_port"},
        malformed_case{"the protocol is not a number",
                       replaced(xml_5156(), "\"Protocol\">6<", "\"Protocol\">tcp<"),
                       "bad_protocol"},
        malformed_case{"the time is not a time",
                       replaced(xml_5156(), "2015-09-22T05:24:22.622090200Z", "22/09/2015"),
                       "bad_time"},
        malformed_case{"a port that is an object",
                       row(R"("SourceAddress":"1.2.3.4","DestPort":{})"), "bad_field_type"},
        malformed_case{"an entity that is not defined",
                       replaced(xml_5156(), ">10.0.0.100<", ">10.0.0.100&x;<"), "bad_src_ip"},
        malformed_case{"a bare JSON number", "{1}", "invalid_json"}),
    why_name{});

}  // namespace
}  // namespace portscand::test
