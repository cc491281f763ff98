#include "parse/syslog_header.hpp"

#include <gtest/gtest.h>

#include <string>

#include "../test_names.hpp"
#include "core/time_zone.hpp"
#include "parse_test_util.hpp"

namespace portscand::test {
namespace {

timestamp_us iso(const char* text) {
  return parse_iso8601(text).value();
}

// Header shapes are the first bytes of real vendor sample lines (the source named in `why`;
// most are fixtures under tests/fixtures/<format>/, provenance in its NOTICE.md), cut after
// a few body bytes: the header is what is under test, the body is checked
// byte for byte.
struct header_case {
  std::string why;
  std::string unit;
  const char* received;  // ISO receive time, "" = 0 (unknown)
  bool is_header;
  int pri;
  const char* time;  // ISO, "" = no header time
  std::string host, app, body;
};

class SyslogHeader : public ::testing::TestWithParam<header_case> {};

TEST_P(SyslogHeader, SplitsTheUnitAsTheCaseSays) {
  const auto& c = GetParam();
  syslog_header h;
  const timestamp_us received = *c.received ? iso(c.received) : 0;
  EXPECT_EQ(parse_syslog_header(c.unit, received, h), c.is_header);
  EXPECT_EQ(h.pri, c.pri);
  if (*c.time) {
    EXPECT_EQ(format_iso8601(h.time), format_iso8601(iso(c.time)));
  } else {
    EXPECT_EQ(h.time, 0) << format_iso8601(h.time);
  }
  EXPECT_EQ(h.host, c.host);
  EXPECT_EQ(h.app, c.app);
  EXPECT_EQ(h.body, c.body);
  // The body is always a suffix of the unit (minus a line end): the decoder relies on it
  // to keep parse_context::padded true for the body.
  std::string_view unit = c.unit;
  while (!unit.empty() && (unit.back() == '\n' || unit.back() == '\r')) unit.remove_suffix(1);
  EXPECT_EQ(h.body.data() + h.body.size(), unit.data() + unit.size());
}

INSTANTIATE_TEST_SUITE_P(
    RealShapes, SyslogHeader,
    ::testing::Values(
        // RFC 5424
        header_case{
            "checkpoint packet drop keeps its pseudo structured data as the body",
            R"(<134>1 2025-01-21T09:36:10Z TEST_HOSTNAME CheckPoint 16953 - [action:"Drop"; flags:"409600";)",
            "", true, 134, "2025-01-21T09:36:10Z", "TEST_HOSTNAME", "CheckPoint",
            R"([action:"Drop"; flags:"409600";)"},
        header_case{
            "checkpoint Fields at 2620 element stays in the body and a bad offset drops only the "
            "time",
            R"(<85>1 2023-01-13T10:10:16--5:00 172.16.2.9 CP-GW - Log [Fields@1.3.6.1.4.1.2620 inzone="DMZ")",
            "", true, 85, "", "172.16.2.9", "CP-GW", R"([Fields@1.3.6.1.4.1.2620 inzone="DMZ")"},
        header_case{"rfc 5424 example with nil structured data and a BOM gives the message alone",
                    "<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - "
                    "\xEF\xBB\xBF'su root' failed",
                    "", true, 34, "2003-10-11T22:14:15.003Z", "mymachine.example.com", "su",
                    "'su root' failed"},
        header_case{"rfc 5424 nil hostname and app name are empty",
                    "<14>1 2026-09-17T12:53:13-04:00 - - - - - hello", "", true, 14,
                    "2026-09-17T16:53:13Z", "", "", "hello"},
        header_case{"meraki epoch after the version keeps epoch device and logtype in the body",
                    "<134>1 1647478988.289402144 MX84_4 flows allow src=10.0.2.170 dst=10.0.0.34",
                    "", true, 134, "", "", "",
                    "1647478988.289402144 MX84_4 flows allow src=10.0.2.170 dst=10.0.0.34"},
        // RFC 3164
        header_case{"iptables with pri takes the year before the receive time",
                    "<161>Oct 10 07:25:12 Hostname kernel: [wan-lan-default-D]IN=eth0 OUT=",
                    "2021-03-12T14:10:18Z", true, 161, "2020-10-10T07:25:12Z", "Hostname", "kernel",
                    "[wan-lan-default-D]IN=eth0 OUT="},
        header_case{"iptables with pri and an iso time",
                    "<6>2021-03-12T14:10:18Z Hostname kernel: [wan-lan-default-D]IN=eth0 OUT=", "",
                    true, 6, "2021-03-12T14:10:18Z", "Hostname", "kernel",
                    "[wan-lan-default-D]IN=eth0 OUT="},
        header_case{"iptables file line without pri and an iso time",
                    "2021-03-12T14:10:18Z Hostname kernel: [wan-lan-default-D]IN=eth0 OUT=", "",
                    true, -1, "2021-03-12T14:10:18Z", "Hostname", "kernel",
                    "[wan-lan-default-D]IN=eth0 OUT="},
        header_case{"iptables file line with a space padded day",
                    "Jan  5 20:17:01 MainFirewall kernel: [WAN_OUT-2000-A]IN=eth0 OUT=eth2",
                    "2021-01-06T00:00:00Z", true, -1, "2021-01-05T20:17:01Z", "MainFirewall",
                    "kernel", "[WAN_OUT-2000-A]IN=eth0 OUT=eth2"},
        header_case{"iptables line without hostname takes the tag",
                    "Jan  8 03:37:09 DENY: IN=eth0 OUT= MAC=90:10:28:5f:62:24",
                    "2021-01-08T03:37:10Z", true, -1, "2021-01-08T03:37:09Z", "", "DENY",
                    "IN=eth0 OUT= MAC=90:10:28:5f:62:24"},
        header_case{"iptables kernel uptime stays in the body",
                    "Jan  5 20:17:01 firewall kernel: [4276041.728154] IN=eno1 OUT=",
                    "2021-01-06T00:00:00Z", true, -1, "2021-01-05T20:17:01Z", "firewall", "kernel",
                    "[4276041.728154] IN=eno1 OUT="},
        header_case{
            "sysmon local time up to a day after receipt stays in the receive year as utc",
            R"(Jan 22 16:17:16 testserver sysmon: <Event><System><Provider Name="Linux-Sysmon")",
            "2026-01-22T13:17:17Z", true, -1, "2026-01-22T16:17:16Z", "testserver", "sysmon",
            R"(<Event><System><Provider Name="Linux-Sysmon")"},
        header_case{"panos csv without tag starts the body at the csv",
                    "Nov 30 16:09:08 PA-220 1,2018/11/30 16:09:07,012801096514,TRAFFIC,end",
                    "2018-11-30T16:09:09Z", true, -1, "2018-11-30T16:09:08Z", "PA-220", "",
                    "1,2018/11/30 16:09:07,012801096514,TRAFFIC,end"},
        header_case{"fortigate pri alone is a header without time",
                    R"(<188>date=2020-04-23 time=12:17:48 devname="testswitch1")", "", true, 188,
                    "", "", "", R"(date=2020-04-23 time=12:17:48 devname="testswitch1")"},
        header_case{"fortigate pri followed by a space",
                    R"(<185> date=2024-02-26 time=11:10:55 devname="FW-INT_01_01")", "", true, 185,
                    "", "", "", R"(date=2024-02-26 time=11:10:55 devname="FW-INT_01_01")"},
        header_case{"fortigate eventtime first is not a timestamp",
                    R"(<185>eventtime=1702257752722386015 tz="+0100")", "", true, 185, "", "", "",
                    R"(eventtime=1702257752722386015 tz="+0100")"},
        // Cisco
        header_case{"asa year and a colon glued to the time",
                    "Apr 15 2013 09:36:50: %ASA-4-106023: Deny tcp src dmz:10.1.2.30/63016", "",
                    true, -1, "2013-04-15T09:36:50Z", "", "",
                    "%ASA-4-106023: Deny tcp src dmz:10.1.2.30/63016"},
        header_case{"asa zone abbreviation converts to utc",
                    "Apr 15 2014 09:34:34 EDT: %ASA-session-5-106100: access-list acl_in", "", true,
                    -1, "2014-04-15T13:34:34Z", "", "",
                    "%ASA-session-5-106100: access-list acl_in"},
        header_case{"asa device id followed by a spaced colon",
                    "Apr 24 2013 16:00:28 INT-FW01 : %ASA-6-106100: access-list inside denied", "",
                    true, -1, "2013-04-24T16:00:28Z", "INT-FW01", "",
                    "%ASA-6-106100: access-list inside denied"},
        header_case{"asa placeholder device id with a glued colon is the host",
                    "Dec 11 2018 08:01:24 <IP>: %ASA-6-302015: Built outbound UDP", "", true, -1,
                    "2018-12-11T08:01:24Z", "<IP>", "", "%ASA-6-302015: Built outbound UDP"},
        header_case{"asa empty device id is only a colon",
                    "Aug 15 2012 23:30:09 : %ASA-6-302016 Teardown UDP connection 40", "", true, -1,
                    "2012-08-15T23:30:09Z", "", "", "%ASA-6-302016 Teardown UDP connection 40"},
        header_case{"asa with pri and a colon before the time and a moscow zone",
                    "<166>:Jan 13 2012 15:51:28 MSK: %ASA-auth-6-113004: AAA user", "", true, 166,
                    "2012-01-13T12:51:28Z", "", "", "%ASA-auth-6-113004: AAA user"},
        header_case{"asa without timestamp but with a device id",
                    "<166>fw01 : %ASA-6-302013: Built inbound TCP", "", true, 166, "", "fw01", "",
                    "%ASA-6-302013: Built inbound TCP"},
        header_case{"ios sequence number milliseconds and show timezone",
                    "<190>123: Jan 02 2006 22:04:05.999 UTC: %SYS-5-CONFIG_I: Configured", "", true,
                    190, "2006-01-02T22:04:05.999Z", "", "", "%SYS-5-CONFIG_I: Configured"},
        header_case{"ios origin id before the time is the host",
                    "<190>123: 2001:db8::1: Jan 02 2006 22:04:05: %SYS-5-CONFIG_I: Configured", "",
                    true, 190, "2006-01-02T22:04:05Z", "2001:db8::1", "",
                    "%SYS-5-CONFIG_I: Configured"},
        header_case{"ios unsynchronised clock star and no year",
                    "<189>43: *Mar  1 00:36:27.583: %SYS-5-CONFIG_I: Configured",
                    "2024-03-02T00:00:00Z", true, 189, "2024-03-01T00:36:27.583Z", "", "",
                    "%SYS-5-CONFIG_I: Configured"},
        header_case{"cef behind a hostname is the body",
                    "<134>Apr 30 10:23:45 fw-pan01 CEF:0|Palo Alto "
                    "Networks|PAN-OS|10.2.0|end|TRAFFIC|3|src=192.0.2.10",
                    "2026-04-30T10:23:46Z", true, 134, "2026-04-30T10:23:45Z", "fw-pan01", "",
                    "CEF:0|Palo Alto Networks|PAN-OS|10.2.0|end|TRAFFIC|3|src=192.0.2.10"},
        header_case{"cef right after the time is not a hostname",
                    "<134>Apr 30 10:23:45 CEF:0|Check Point|VPN-1 & FireWall-1|",
                    "2026-04-30T10:23:46Z", true, 134, "2026-04-30T10:23:45Z", "", "",
                    "CEF:0|Check Point|VPN-1 & FireWall-1|"},
        header_case{"trailing line feed is not part of the body",
                    "<13>Jan  5 20:17:01 host app[42]: msg\r\n", "2021-01-06T00:00:00Z", true, 13,
                    "2021-01-05T20:17:01Z", "host", "app", "msg"},
        // Year inference
        header_case{"december line received on new year belongs to the old year",
                    "Dec 31 23:59:59 h a: m", "2021-01-01T00:00:10Z", true, -1,
                    "2020-12-31T23:59:59Z", "h", "a", "m"},
        header_case{"new year line received before midnight by a fast clock is next year",
                    "Jan  1 00:00:30 h a: m", "2020-12-31T23:59:50Z", true, -1,
                    "2021-01-01T00:00:30Z", "h", "a", "m"},
        header_case{"a time more than a day ahead is last year", "Mar 10 00:00:00 h a: m",
                    "2021-03-08T00:00:00Z", true, -1, "2020-03-10T00:00:00Z", "h", "a", "m"},
        header_case{"february 29 walks back to the last leap year", "Feb 29 12:00:00 h a: m",
                    "2022-03-01T00:00:00Z", true, -1, "2020-02-29T12:00:00Z", "h", "a", "m"},
        header_case{"year less time without a receive time has no time", "Feb 28 12:00:00 h a: m",
                    "", true, -1, "", "h", "a", "m"},
        header_case{"impossible date with a year keeps the header without a time",
                    "Feb 30 2021 12:00:00: %ASA-6-302013: x", "", true, -1, "", "", "",
                    "%ASA-6-302013: x"},
        // Not headers
        header_case{"json object is not a header", R"({"SrcIpAddr":"1.2.3.4"})", "", false, -1, "",
                    "", "", R"({"SrcIpAddr":"1.2.3.4"})"},
        header_case{"cef line is not a header",
                    "CEF:0|Check Point|VPN-1 & FireWall-1|Check Point|Log", "", false, -1, "", "",
                    "", "CEF:0|Check Point|VPN-1 & FireWall-1|Check Point|Log"},
        header_case{"fortigate key value line without pri is not a header",
                    "date=2020-04-23 time=12:17:48 devname=x", "", false, -1, "", "", "",
                    "date=2020-04-23 time=12:17:48 devname=x"},
        header_case{"windows event xml is not a pri", R"(<Event xmlns="http://schemas">)", "",
                    false, -1, "", "", "", R"(<Event xmlns="http://schemas">)"},
        header_case{"pri above 191 is not a pri", "<192>Jan  5 20:17:01 h a: m", "", false, -1, "",
                    "", "", "<192>Jan  5 20:17:01 h a: m"},
        header_case{"day 32 is not a timestamp", "Jan 32 20:17:01 h a: m", "", false, -1, "", "",
                    "", "Jan 32 20:17:01 h a: m"},
        header_case{"a month name alone is not a timestamp", "Mar 5 is a date", "", false, -1, "",
                    "", "", "Mar 5 is a date"},
        header_case{"zeek tsv header is not a header", "#separator \\x09", "", false, -1, "", "",
                    "", "#separator \\x09"},
        header_case{"iso date with a space is not taken without pri",
                    "2024-01-01 10:00:00 host CEF:0|a|b|", "", false, -1, "", "", "",
                    "2024-01-01 10:00:00 host CEF:0|a|b|"},
        header_case{"a bare pri is a header with an empty body", "<13>", "", true, 13, "", "", "",
                    ""}),
    why_name{});

// RFC 5424 structured data (section 6.3): the elements are parsed by the grammar and split
// off; the formats get MSG as the body and the SD beside it. Shapes: util-linux logger's
// default timeQuality element, the RFC's own examples (section 6.5), and hand-written edge
// cases of the grammar (escapes, several elements, malformed elements).
struct sd_case {
  std::string why;
  std::string unit;
  std::string sd;    // what structured_data must be ("" = none split off)
  std::string body;  // what the format gets
};

class StructuredData : public ::testing::TestWithParam<sd_case> {};

TEST_P(StructuredData, SplitsElementsFromTheMessage) {
  const auto& c = GetParam();
  syslog_header h;
  ASSERT_TRUE(parse_syslog_header(c.unit, 0, h));
  EXPECT_EQ(h.structured_data, c.sd);
  EXPECT_EQ(h.body, c.body);
  std::string_view unit = c.unit;
  while (!unit.empty() && (unit.back() == '\n' || unit.back() == '\r')) unit.remove_suffix(1);
  EXPECT_EQ(h.body.data() + h.body.size(), unit.data() + unit.size());
}

INSTANTIATE_TEST_SUITE_P(
    Rfc5424, StructuredData,
    ::testing::Values(
        sd_case{
            "logger default timeQuality element is not part of the message",
            R"(<13>1 2026-12-06T23:30:23.955391+00:00 vm edgefw - - [timeQuality tzKnown="1" isSynced="0"] hello world)",
            R"([timeQuality tzKnown="1" isSynced="0"])", "hello world"},
        sd_case{"logger over tcp with a line feed",
                "<13>1 2026-12-06T23:30:23.974050+00:00 vm cef - - [timeQuality tzKnown=\"1\" "
                "isSynced=\"0\"] CEF:0|a|b|1|2|3|4|src=203.0.113.7\n",
                R"([timeQuality tzKnown="1" isSynced="0"])", "CEF:0|a|b|1|2|3|4|src=203.0.113.7"},
        sd_case{"rfc example with one element and a bom before the message",
                "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 "
                "[exampleSDID@32473 iut=\"3\" eventSource=\"Application\" eventID=\"1011\"] "
                "\xEF\xBB\xBF"
                "An application event log entry...",
                R"([exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"])",
                "An application event log entry..."},
        sd_case{
            "rfc example with two elements and no message: the elements are the record",
            "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 "
            "[exampleSDID@32473 iut=\"3\" eventSource=\"Application\" eventID=\"1011\"]"
            "[examplePriority@32473 class=\"high\"]",
            R"([exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"][examplePriority@32473 class="high"])",
            R"([exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"][examplePriority@32473 class="high"])"},
        sd_case{"escaped quote backslash and bracket stay inside the value",
                R"(<14>1 2026-01-01T00:00:00Z h a - - [x@1 q="say \"hi\"" b="c:\\dir" r="a\]b"] m)",
                R"([x@1 q="say \"hi\"" b="c:\\dir" r="a\]b"])", "m"},
        sd_case{"an unescaped closing bracket inside quotes is value text",
                R"(<14>1 2026-01-01T00:00:00Z h a - - [x@1 r="a]b"] m)", R"([x@1 r="a]b"])", "m"},
        sd_case{"a backslash before an ordinary character is kept",
                R"(<14>1 2026-01-01T00:00:00Z h a - - [x@1 p="C:\tmp"] m)", R"([x@1 p="C:\tmp"])",
                "m"},
        sd_case{"an element without parameters",
                R"(<14>1 2026-01-01T00:00:00Z h a - - [origin] {"k":1})", "[origin]", R"({"k":1})"},
        sd_case{"an empty value", R"(<14>1 2026-01-01T00:00:00Z h a - - [x@1 e=""] m)",
                R"([x@1 e=""])", "m"},
        sd_case{"a blank between elements ends the structured data",
                R"(<14>1 2026-01-01T00:00:00Z h a - - [a] [b] m)", "[a]", "[b] m"},
        sd_case{"unterminated value is not structured data and stays in the body",
                R"(<14>1 2026-01-01T00:00:00Z h a - - [x@1 a="abc] m)", "", R"([x@1 a="abc] m)"},
        sd_case{"unquoted value is not structured data",
                R"(<14>1 2026-01-01T00:00:00Z h a - - [x@1 a=b] m)", "", R"([x@1 a=b] m)"},
        sd_case{"an element glued to the message is not structured data",
                R"(<14>1 2026-01-01T00:00:00Z h a - - [a]m)", "", "[a]m"},
        sd_case{"an empty element is not structured data",
                R"(<14>1 2026-01-01T00:00:00Z h a - - [] m)", "", "[] m"},
        sd_case{"a backslash at the end of the unit is not structured data",
                R"(<14>1 2026-01-01T00:00:00Z h a - - [x@1 a="\)", "", R"([x@1 a="\)"},
        sd_case{"a name longer than 32 bytes is not an sd name",
                "<14>1 2026-01-01T00:00:00Z h a - - [abcdefghijabcdefghijabcdefghijabc] m", "",
                "[abcdefghijabcdefghijabcdefghijabc] m"},
        sd_case{
            "check point key colon value pairs are not rfc 5424 elements",
            R"(<134>1 2025-01-21T09:36:10Z TEST_HOSTNAME CheckPoint 16953 - [action:"Drop"; flags:"409600";])",
            "", R"([action:"Drop"; flags:"409600";])"}),
    why_name{});

TEST(SyslogTime, ZoneAbbreviationsAreOffsetsEastOfUtc) {
  EXPECT_EQ(syslog_time::zone_offset("EDT"), -4 * 3600);
  EXPECT_EQ(syslog_time::zone_offset("CEST"), 2 * 3600);
  EXPECT_EQ(syslog_time::zone_offset("UTC"), 0);
  EXPECT_FALSE(syslog_time::zone_offset("IST").has_value());  // India, Ireland or Israel
  EXPECT_FALSE(syslog_time::zone_offset("").has_value());
}

TEST(SyslogTime, LegacyParseStopsBeforeTheZone) {
  syslog_time::legacy_fields f;
  const std::string_view text = "Apr 11 2020 10:42:13.250 PDT rest";
  EXPECT_EQ(syslog_time::parse_legacy(text, f),
            std::string_view("Apr 11 2020 10:42:13.250").size());
  EXPECT_EQ(f.year, 2020);
  EXPECT_EQ(f.micros, 250000u);
  EXPECT_EQ(format_iso8601(*syslog_time::resolve(f, -7 * 3600, 0)), "2020-04-11T17:42:13.250000Z");
}

// What the decoder makes of a header: the format sees the body, the context the header.
class context_probe final : public format_parser {
 public:
  void parse(std::string_view unit, const parse_context& ctx, parse_sink& sink) override {
    body = std::string(unit);
    header_time = ctx.header_time;
    host = std::string(ctx.host);
    app = std::string(ctx.app);
    sd = std::string(ctx.structured_data);
    padded = ctx.padded;
    sink.skipped("probe");
  }
  static inline std::string body, host, app, sd;
  static inline timestamp_us header_time = 0;
  static inline bool padded = false;
};

format_registry probe_registry() {
  format_registry r;
  r.add({"probe", "records what the decoder hands over",
         [] { return std::make_unique<context_probe>(); },
         [](std::string_view head) { return head.substr(0, 1) != "{"; }});
  return r;
}

TEST(DecoderSyslogHeader, TheFormatGetsTheBodyAndTheContextTheHeader) {
  const format_registry r = probe_registry();
  unit_decoder d(r, "probe");
  collecting_sink sink;
  parse_context ctx;
  ctx.receive_time = iso("2013-04-15T09:40:00Z");
  ctx.padded = true;
  d.decode("<166>Apr 15 09:36:50 fw01 kernel: hello\n", ctx, sink);
  EXPECT_EQ(context_probe::body, "hello");
  EXPECT_EQ(format_iso8601(context_probe::header_time), "2013-04-15T09:36:50Z");
  EXPECT_EQ(context_probe::host, "fw01");
  EXPECT_EQ(context_probe::app, "kernel");
  EXPECT_TRUE(context_probe::padded);
}

TEST(DecoderSyslogHeader, AHeaderWithoutTimeKeepsTheTransportsHeaderTime) {
  const format_registry r = probe_registry();
  unit_decoder d(r, "probe");
  collecting_sink sink;
  parse_context ctx;
  ctx.header_time = iso("2020-01-01T00:00:00Z");
  ctx.host = "relay";
  d.decode("<188>date=2020-04-23 time=12:17:48", ctx, sink);
  EXPECT_EQ(context_probe::body, "date=2020-04-23 time=12:17:48");
  EXPECT_EQ(format_iso8601(context_probe::header_time), "2020-01-01T00:00:00Z");
  EXPECT_EQ(context_probe::host, "relay");
}

TEST(DecoderSyslogHeader, JsonUnitsReachTheFormatUntouched) {
  const format_registry r = probe_registry();
  unit_decoder d(r, "probe");
  collecting_sink sink;
  d.decode("  [\"<13>Jan  5 20:17:01 h a: m\"]", parse_context{}, sink);
  EXPECT_EQ(context_probe::body, "  [\"<13>Jan  5 20:17:01 h a: m\"]");
}

TEST(DecoderSyslogHeader, AHeaderWithNothingAfterItIsAnEmptyUnit) {
  auto s = parse_with("auto", "<13>Jan  5 20:17:01 host app: ");
  EXPECT_EQ(s.skips, std::vector<std::string>{"empty"});
}

TEST(DecoderSyslogHeader, AutoDetectionProbesTheBody) {
  // The asim probe wants '{' first: it only matches once the header is off.
  parse_context ctx;
  ctx.receive_time = iso("2026-01-01T00:00:00Z");
  auto s = parse_with("auto", R"(<13>Jan  1 00:00:00 host app: {"SrcIpAddr":"203.0.113.7"})", ctx);
  ASSERT_EQ(s.records.size(), 1u);
  EXPECT_EQ(ip(s.records[0].src), "203.0.113.7");
}

// util-linux logger with its default options: RFC 5424 with the timeQuality element. Bodies:
// an ASIM record (tests/fixtures/asim), a Check Point CEF line and a Cisco ASA line from the
// vendor samples (tests/fixtures/cef, tests/fixtures/cisco-asa).
constexpr std::string_view logger_header =
    R"(<13>1 2026-11-28T10:06:00.123456+00:00 vm edgefw - - [timeQuality tzKnown="1" isSynced="0"] )";

TEST(DecoderStructuredData, AnAsimBodyBehindLoggersDefaultHeaderIsARecord) {
  const std::string unit =
      std::string(logger_header) +
      R"({"TimeGenerated":"2026-11-28T10:05:10.000Z","SrcIpAddr":"203.0.113.0","DstIpAddr":"198.51.100.1","DstPortNumber":1000,"NetworkProtocol":"TCP","DvcAction":"Deny","EventVendor":"Fortinet","EventProduct":"Fortigate"})";
  for (const char* format : {"asim", "auto"}) {
    auto s = parse_with(format, unit);
    EXPECT_TRUE(s.rejects.empty()) << format << ": " << s.rejects.front();
    ASSERT_EQ(s.records.size(), 1u) << format;
    EXPECT_EQ(ip(s.records[0].src), "203.0.113.0");
    EXPECT_EQ(s.records[0].dst_port, 1000);
  }
}

TEST(DecoderStructuredData, ACefBodyBehindLoggersDefaultHeaderIsDetected) {
  const std::string unit =
      std::string(logger_header) +
      "CEF:0|Check Point|VPN-1 & FireWall-1|Check Point|Log|https|Unknown|act=Accept "
      "destinationTranslatedAddress=0.0.0.0 destinationTranslatedPort=0 deviceDirection=0 "
      "rt=1543270652000 sourceTranslatedAddress=192.168.103.254 sourceTranslatedPort=35398 "
      "spt=49363 dpt=443 cs2Label=Rule Name layer_name=Network layer_uuid=x "
      "match_id=4 parent_rule=0 rule_action=Accept rule_uid=y ifname=eth0 logid=0 "
      "loguid={0x5bfc70fc,0x1,0x3b09e00a,0xc0000000} origin=192.168.1.1 "
      "originsicname=cn\\=cp_mgmt,o\\=gw-8be69c..ba5xxz "
      "sequencenum=1 version=5 dst=192.168.1.1 inzone=Internal outzone=Local proto=6 "
      "service_id=https src=192.168.1.100";
  auto s = parse_with("auto", unit);
  EXPECT_TRUE(s.rejects.empty()) << s.rejects.front();
  ASSERT_EQ(s.records.size(), 1u);
  EXPECT_EQ(ip(s.records[0].src), "192.168.1.100");
  EXPECT_EQ(s.records[0].dst_port, 443);
}

TEST(DecoderStructuredData, AnAsaBodyBehindLoggersDefaultHeaderIsDetectedAndTakesTheHeaderTime) {
  const std::string unit =
      std::string(logger_header) +
      R"(%ASA-4-106023: Deny tcp src dmz:10.1.2.30/63016 dst outside:192.168.0.8/53 by access-group "acl_dmz" [0xe3aab522, 0x0])";
  auto s = parse_with("auto", unit);
  EXPECT_TRUE(s.rejects.empty()) << s.rejects.front();
  ASSERT_EQ(s.records.size(), 1u);
  EXPECT_EQ(ip(s.records[0].src), "10.1.2.30");
  EXPECT_EQ(s.records[0].dst_port, 53);
  EXPECT_EQ(format_iso8601(s.records[0].time), "2026-11-28T10:06:00.123456Z");
}

TEST(DecoderStructuredData, TheFormatSeesTheMessageAndTheContextTheElements) {
  const format_registry r = probe_registry();
  unit_decoder d(r, "probe");
  collecting_sink sink;
  d.decode(std::string(logger_header) + "hello", parse_context{}, sink);
  EXPECT_EQ(context_probe::body, "hello");
  EXPECT_EQ(context_probe::sd, R"([timeQuality tzKnown="1" isSynced="0"])");
}

TEST(DecoderStructuredData, ElementsWithoutAMessageAreTheRecord) {
  // Check Point's Fields@ form carries the whole record in its element (and writes a blank
  // before the closing bracket, which the grammar does not allow and the parser tolerates).
  std::string line;
  for (const auto& l : fixture_lines("checkpoint/test-r81x.log"))
    if (l.find("[Fields@") != std::string::npos) {
      line = l;
      break;
    }
  ASSERT_FALSE(line.empty());
  syslog_header h;
  ASSERT_TRUE(parse_syslog_header(line, 0, h));
  EXPECT_EQ(h.structured_data.substr(0, 8), "[Fields@");
  EXPECT_EQ(h.body, h.structured_data);
  auto s = parse_with("auto", line);
  EXPECT_TRUE(s.rejects.empty()) << s.rejects.front();
  ASSERT_EQ(s.records.size(), 1u);
  EXPECT_EQ(ip(s.records[0].src), "81.2.69.192");
  EXPECT_EQ(s.records[0].dst_port, 443);
}

TEST(SyslogHeaderZone, BsdTimesAreReadInTheInputsTimeZone) {
  std::string error;
  auto zone = local_zone::find("America/New_York", error);
  ASSERT_TRUE(zone) << error;
  syslog_header h;
  const timestamp_us received = iso("2013-04-24T21:00:00Z");
  // Header shapes of the cisco-asa sample (tests/fixtures/cisco-asa).
  ASSERT_TRUE(parse_syslog_header(
      "Apr 24 2013 16:00:28 INT-FW01 : %ASA-6-106100: access-list inside denied udp", received, h,
      &*zone));
  EXPECT_EQ(format_iso8601(h.time), "2013-04-24T20:00:28Z");  // EDT, UTC-4
  ASSERT_TRUE(parse_syslog_header("<166>Jan 13 09:36:50 fw01 kernel: x", received, h, &*zone));
  EXPECT_EQ(format_iso8601(h.time), "2013-01-13T14:36:50Z");  // EST, UTC-5; year inferred
  // A zone the header names, and an RFC 5424 time with its offset, win.
  ASSERT_TRUE(parse_syslog_header(
      "Apr 15 2014 09:34:34 EDT: %ASA-session-5-106100: access-list acl_in permitted", received, h,
      &*zone));
  EXPECT_EQ(format_iso8601(h.time), "2014-04-15T13:34:34Z");
  ASSERT_TRUE(parse_syslog_header("<13>1 2026-12-06T23:30:23.955391+00:00 vm edgefw - - - x",
                                  received, h, &*zone));
  EXPECT_EQ(format_iso8601(h.time), "2026-12-06T23:30:23.955391Z");
  // An RFC 3339 time without an offset in a BSD header is zone-less too.
  ASSERT_TRUE(
      parse_syslog_header("<6>2021-03-12T14:10:18 Hostname kernel: x", received, h, &*zone));
  EXPECT_EQ(format_iso8601(h.time), "2021-03-12T19:10:18Z");
}

TEST(SyslogHeaderZone, TheDecoderReadsHeadersInTheContextsZone) {
  std::string error;
  auto zone = local_zone::find("+08:00", error);
  ASSERT_TRUE(zone) << error;
  const format_registry r = probe_registry();
  unit_decoder d(r, "probe");
  collecting_sink sink;
  parse_context ctx;
  ctx.receive_time = iso("2013-04-15T09:40:00Z");
  ctx.zone = &*zone;
  d.decode("<166>Apr 15 09:36:50 fw01 kernel: hello\n", ctx, sink);
  EXPECT_EQ(format_iso8601(context_probe::header_time), "2013-04-15T01:36:50Z");
}

}  // namespace
}  // namespace portscand::test
