// The syslog output's bytes: CEF escaping and mapping, the RFC 5424 header and RFC 6587
// octet counting. Expected strings are written out by hand from the CEF and RFC texts.
#include "publish/syslog_format.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <nlohmann/json.hpp>

#include "event/network_session.hpp"
#include "ocsf_schema.hpp"
#include "parse/cef.hpp"

namespace portscand {
namespace {

// 2026-11-28T10:05:00Z is 1795860300 s after the epoch; the bin ends 300 s later.
alert awkward_alert() {
  auto r = std::make_shared<rule_metadata>();
  r->id = "rule|1";
  r->name = "Scan = bad";
  r->version = "2";
  r->severity = "High";
  r->tactics = {"Discovery"};
  r->techniques = {"T1046"};
  r->title_format = "Scan from {{SrcIpAddr}} | 3\\ports";
  r->description_format = "line1\nline2 a=b c\\d";
  alert a;
  a.rule = r;
  a.alert_id = "00000000-0000-5000-8000-000000000001";
  a.src = *ip_address::parse("198.51.100.7");
  a.bin_start = 1795860300LL * us_per_second;
  a.bin_end = a.bin_start + 300 * us_per_second;
  a.first_seen = a.bin_start + 1'500'000;
  a.last_seen = a.bin_end - 750'000;
  a.detected_at = a.bin_end + 123'456;
  a.ports = {22, 80, 443};
  a.ports_count = 3;
  a.reported_by = {"Fortinet/FortiGate", "PAN|OS"};
  a.event_count = 12;
  return a;
}

TEST(CefEscape, HeaderEscapesPipeAndBackslashAndFlattensLineBreaks) {
  EXPECT_EQ(cef_escape_header(R"(a|b\c)"), R"(a\|b\\c)");
  EXPECT_EQ(cef_escape_header("x\r\ny=z"), "x  y=z");
  EXPECT_EQ(cef_escape_header(""), "");
}

TEST(CefEscape, ExtensionEscapesEqualsBackslashAndLineBreaks) {
  EXPECT_EQ(cef_escape_extension(R"(a=b\c|d)"), R"(a\=b\\c|d)");
  EXPECT_EQ(cef_escape_extension("l1\nl2\rl3"), R"(l1\nl2\rl3)");
}

TEST(CefSeverity, RuleSeveritiesOnTheZeroToTenScale) {
  EXPECT_EQ(cef_severity("Informational"), 1);
  EXPECT_EQ(cef_severity("Low"), 3);
  EXPECT_EQ(cef_severity("Medium"), 5);
  EXPECT_EQ(cef_severity("High"), 8);
  EXPECT_EQ(cef_severity("Critical"), 10);
  EXPECT_EQ(syslog_severity_for_rule("Informational"), 6);
  EXPECT_EQ(syslog_severity_for_rule("High"), 3);
}

TEST(RenderCef, MapsEveryFieldAndEscapesHeaderAndExtension) {
  const std::string expected =
      R"(CEF:0|portscand|portscand|9.9\|9|rule\|1|Scan from 198.51.100.7 \| 3\\ports|8|)"
      R"(rt=1795860600123 start=1795860301500 end=1795860599250 src=198.51.100.7 cnt=12 )"
      R"(externalId=00000000-0000-5000-8000-000000000001 cat=Discovery )"
      R"(cs1Label=AttemptedPorts cs1=22,80,443 cn1Label=AttemptedPortsCount cn1=3 )"
      R"(cs2Label=ReportedBy cs2=Fortinet/FortiGate,PAN|OS cs3Label=Techniques cs3=T1046 )"
      R"(cs4Label=RuleName cs4=Scan \= bad cs5Label=BinStart cs5=2026-11-28T10:05:00Z )"
      R"(msg=line1\nline2 a\=b c\\d)";
  EXPECT_EQ(render_cef(awkward_alert(), "9.9|9"), expected);
}

TEST(RenderCef, IPv6SourceGoesToC6a2) {
  alert a = awkward_alert();
  a.src = *ip_address::parse("2001:db8::5");
  a.reported_by.clear();
  a.rule = std::make_shared<rule_metadata>(*a.rule);
  const std::string cef = render_cef(a, "1");
  EXPECT_NE(cef.find(" c6a2=2001:db8::5 c6a2Label=Source IPv6 Address cnt=12 "), std::string::npos)
      << cef;
  EXPECT_EQ(cef.find(" src="), std::string::npos);
  EXPECT_EQ(cef.find("cs2"), std::string::npos);  // nothing reported it: no empty field
}

// The case evidence (README "syslog/CEF field mapping"): one IPv4 target and one protocol
// fill dst and proto; the targets list, the incident and the outcome counts their own keys.
TEST(RenderCef, CarriesTargetsOutcomesAndTheIncident) {
  alert a = awkward_alert();
  a.incident_id = "11111111-2222-5333-8444-555555555555";
  a.has_targets = true;
  a.targets = {{*ip_address::parse("192.0.2.10"), 12}};
  a.protocols = protocol_bit(6);
  a.outcomes = {2, 7, 3};
  const auto m = parse_cef_message(render_cef(a, "1"));
  ASSERT_TRUE(m);
  std::map<std::string, std::string> ext(m->extension.begin(), m->extension.end());
  EXPECT_EQ(m->extension.size(), ext.size());
  EXPECT_EQ(ext["dst"], "192.0.2.10");
  EXPECT_EQ(ext["proto"], "TCP");
  EXPECT_EQ(ext["cs6Label"], "IncidentId");
  EXPECT_EQ(ext["cs6"], "11111111-2222-5333-8444-555555555555");
  EXPECT_EQ(ext["flexString1Label"], "Targets");
  EXPECT_EQ(ext["flexString1"], "192.0.2.10 (12)");
  EXPECT_EQ(ext["cn2Label"], "AllowedAttempts");
  EXPECT_EQ(ext["cn2"], "2");
  EXPECT_EQ(ext["cn3Label"], "BlockedAttempts");
  EXPECT_EQ(ext["cn3"], "10");  // 7 denied + 3 dropped

  // Two targets (one IPv6), the list cut, two protocols: no single dst or proto to name.
  a.targets.push_back({*ip_address::parse("2001:db8::1"), 1});
  a.targets_truncated = true;
  a.protocols |= protocol_bit(17);
  const auto m2 = parse_cef_message(render_cef(a, "1"));
  ASSERT_TRUE(m2);
  std::map<std::string, std::string> ext2(m2->extension.begin(), m2->extension.end());
  EXPECT_EQ(ext2.count("dst"), 0u);
  EXPECT_EQ(ext2.count("proto"), 0u);
  EXPECT_EQ(ext2["flexString1"], "192.0.2.10 (12), 2001:db8::1 (1), ...");
}

TEST(RenderCef, AnEarlyAlertNamesItsFinalAlert) {
  alert a = awkward_alert();
  auto ext_of = [](const alert& x) {
    const auto m = parse_cef_message(render_cef(x, "1"));
    EXPECT_TRUE(m);
    return m ? std::map<std::string, std::string>(m->extension.begin(), m->extension.end())
             : std::map<std::string, std::string>{};
  };
  EXPECT_EQ(ext_of(a).count("flexString2"), 0u);
  a.early = true;
  a.final_alert_id = "11111111-2222-5333-8444-555555555555";
  auto ext = ext_of(a);
  EXPECT_EQ(ext["flexString2Label"], "FinalAlertId");
  EXPECT_EQ(ext["flexString2"], "11111111-2222-5333-8444-555555555555");
  EXPECT_EQ(ext["externalId"], a.alert_id);
}

// README "Port sweeps": the port swept in dpt, the distinct addresses in cn1 (labelled so).
TEST(RenderCef, ASweepAlertNamesThePortAndTheTargetCount) {
  alert a = awkward_alert();
  a.swept_port = 3389;
  a.target_count = 240;
  a.ports = {3389};
  a.ports_count = 1;
  const auto m = parse_cef_message(render_cef(a, "1"));
  ASSERT_TRUE(m);
  std::map<std::string, std::string> ext(m->extension.begin(), m->extension.end());
  EXPECT_EQ(ext["dpt"], "3389");
  EXPECT_EQ(ext["cn1Label"], "TargetCount");
  EXPECT_EQ(ext["cn1"], "240");
  const auto v = parse_cef_message(render_cef(awkward_alert(), "1"));
  ASSERT_TRUE(v);
  std::map<std::string, std::string> vext(v->extension.begin(), v->extension.end());
  EXPECT_EQ(vext.count("dpt"), 0u);
  EXPECT_EQ(vext["cn1Label"], "AttemptedPortsCount");
}

TEST(RenderCef, ParsesBackWithOurCefParserToTheSameValues) {
  const alert a = awkward_alert();
  const auto m = parse_cef_message(render_cef(a, "9.9|9"));
  ASSERT_TRUE(m);
  EXPECT_EQ(m->vendor, "portscand");
  EXPECT_EQ(m->device_version, "9.9|9");
  EXPECT_EQ(m->signature, "rule|1");
  EXPECT_EQ(m->name, "Scan from 198.51.100.7 | 3\\ports");
  EXPECT_EQ(m->severity, "8");
  std::map<std::string, std::string> ext(m->extension.begin(), m->extension.end());
  EXPECT_EQ(m->extension.size(), ext.size());  // no key twice
  EXPECT_EQ(ext["src"], "198.51.100.7");
  EXPECT_EQ(ext["cs1"], "22,80,443");
  EXPECT_EQ(ext["cs4"], "Scan = bad");
  EXPECT_EQ(ext["msg"], "line1\nline2 a=b c\\d");
  EXPECT_EQ(ext["cs2"], "Fortinet/FortiGate,PAN|OS");
}

TEST(Rfc5424, HeaderFieldsAndPriority) {
  syslog_header_fields h;
  h.facility = 16;  // local0
  h.hostname = "sensor-1";
  h.app_name = "portscand";
  h.procid = "42";
  // High -> err (3): PRI = 16 * 8 + 3 = 131.
  EXPECT_EQ(rfc5424_message(h, awkward_alert(), "BODY"),
            "<131>1 2026-11-28T10:10:00.123456Z sensor-1 portscand 42 alert - BODY");
  h.facility = 4;  // auth
  h.severity = 1;  // alert, fixed by configuration
  h.hostname.clear();
  alert a = awkward_alert();
  a.detected_at = a.bin_end;  // whole second: no fraction
  EXPECT_EQ(rfc5424_message(h, a, "x"), "<33>1 2026-11-28T10:10:00Z - portscand 42 alert - x");
}

TEST(OctetCounting, LengthInBytesThenASpace) {
  // "<14>1" is 5 bytes, six " -" fields 12 more, " hi" 3: 20.
  EXPECT_EQ(octet_counted("<14>1 - - - - - - hi"), "20 <14>1 - - - - - - hi");
  // Bytes, not characters: U+00E9 is two bytes in UTF-8.
  EXPECT_EQ(octet_counted("\xc3\xa9"), "2 \xc3\xa9");
  EXPECT_EQ(octet_counted(""), "0 ");
}

TEST(SyslogBody, JsonBodyIsTheAlertInTheOutputsSchema) {
  const alert a = awkward_alert();
  const auto native =
      nlohmann::json::parse(syslog_body_for(a, syslog_body::json, output_schema::native, "1"));
  EXPECT_EQ(native["alert_id"], a.alert_id);
  const auto ocsf =
      nlohmann::json::parse(syslog_body_for(a, syslog_body::json, output_schema::ocsf, "1"));
  EXPECT_EQ(ocsf["class_uid"], 2004);
  EXPECT_EQ(test::detection_finding_problems(ocsf), "");
}

}  // namespace
}  // namespace portscand
