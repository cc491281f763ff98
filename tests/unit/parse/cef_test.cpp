#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "../test_names.hpp"
#include "core/time_zone.hpp"
#include "parse_test_util.hpp"

namespace portscand::test {
namespace {

timestamp_us iso(const char* text) {
  return parse_iso8601(text).value();
}

// The corpus sample against the values the Beats CEF decoder produced for the same events
// (`*-expected-normalized.jsonl`, one object per line, in line order).
TEST(Cef, CorpusSampleMatchesTheDecodedValuesLineByLine) {
  const auto lines = fixture_lines("cef/elastic-cef-checkpoint-asa.cef");
  const auto expected =
      fixture_lines("cef/elastic-cef-checkpoint-asa.cef-expected-normalized.jsonl");
  ASSERT_EQ(lines.size(), 4u);
  ASSERT_EQ(expected.size(), 4u);
  for (std::size_t i = 0; i < lines.size(); ++i) {
    SCOPED_TRACE("line " + std::to_string(i + 1));
    const auto e = nlohmann::json::parse(expected[i]);
    ASSERT_EQ(e["line"].get<std::size_t>(), i + 1);
    const auto s = parse_with("cef", lines[i]);
    if (i == 0) {
      ASSERT_EQ(s.records.size(), 1u);
      const auto& r = s.records[0];
      EXPECT_EQ(ip(r.src), e["source.ip"].get<std::string>());
      ASSERT_TRUE(r.has_dst);
      EXPECT_EQ(ip(r.dst), e["destination.ip"].get<std::string>());
      EXPECT_EQ(r.dst_port, e["destination.port"].get<int>());
      EXPECT_EQ(r.protocol, protocol_from_name(e["network.transport"].get<std::string>()));
      EXPECT_EQ(e["event.action"], "Accept");
      EXPECT_EQ(r.action, dvc_action::allow);  // ASIM: Accept -> Allow
      ASSERT_TRUE(r.has_time);
      EXPECT_EQ(r.time, iso(e["deviceReceiptTime(rt)"].get<std::string>().c_str()));
      EXPECT_EQ(label(r.reported_by), "Check Point/Firewall");
    } else if (i == 1) {
      // No src/dst at all (an e-mail inspection record): not a session.
      EXPECT_TRUE(e["source.ip"].is_null());
      EXPECT_TRUE(s.records.empty());
      EXPECT_EQ(s.skips, std::vector<std::string>{"no_network_tuple"});
    } else if (i == 2) {
      // IPv6 only in c6a2/c6a3 ("Source/Destination IPv6 Address"). Beats leaves source.ip
      // empty and so does ASIM (it reads SourceIP only); we take them as the tuple so that
      // an IPv6 scanner reported this way is not invisible. No port, no rt.
      ASSERT_EQ(s.records.size(), 1u);
      const auto& r = s.records[0];
      EXPECT_EQ(ip(r.src), e["cef.extensions.deviceCustomIPv6Address2(Source IPv6 Address)"]);
      EXPECT_EQ(ip(r.dst), e["cef.extensions.deviceCustomIPv6Address3(Destination IPv6 Address)"]);
      EXPECT_FALSE(r.has_port());
      EXPECT_EQ(r.action, dvc_action::drop);
      EXPECT_FALSE(r.has_time);
      EXPECT_EQ(r.protocol, network_session::no_protocol);
      EXPECT_EQ(label(r.reported_by), "Check Point/Firewall");
    } else {
      // CISCO|ASA 305012 (NAT teardown): not in the ASA parser's message-id list.
      EXPECT_EQ(e["event.code"], "305012");
      EXPECT_TRUE(s.records.empty());
      EXPECT_EQ(s.skips, std::vector<std::string>{"not_a_session"});
    }
  }
}

TEST(Cef, AutoDetectionYieldsTheSameRecordsAsTheFixedFormat) {
  for (const auto& line : fixture_lines("cef/elastic-cef-checkpoint-asa.cef")) {
    const auto fixed = parse_with("cef", line);
    const auto autod = parse_with("auto", line);
    ASSERT_EQ(fixed.records.size(), autod.records.size());
    for (std::size_t i = 0; i < fixed.records.size(); ++i) {
      EXPECT_EQ(fixed.records[i].src, autod.records[i].src);
      EXPECT_EQ(fixed.records[i].dst_port, autod.records[i].dst_port);
      EXPECT_EQ(fixed.records[i].reported_by, autod.records[i].reported_by);
    }
    EXPECT_EQ(fixed.skips, autod.skips);
  }
}

TEST(Cef, TheCheckPointSampleKeepsDeviceAndTimeBehindASyslogHeader) {
  // The corpus line as a collector would receive it: the header's host is the device.
  const auto line = fixture_lines("cef/elastic-cef-checkpoint-asa.cef").at(0);
  parse_context ctx;
  ctx.receive_time = iso("2018-11-26T22:17:40Z");
  const auto s = parse_with("auto", "<134>Nov 26 22:17:33 gw-01 " + line, ctx);
  ASSERT_EQ(s.records.size(), 1u);
  EXPECT_EQ(label(s.records[0].device), "gw-01");
  EXPECT_EQ(format_iso8601(s.records[0].time), "2018-11-26T22:17:32Z");  // rt, not the header
}

TEST(Cef, ThePrefixOfAnUnrecognisedHeaderIsSkippedToTheCefText) {
  const auto line = fixture_lines("cef/elastic-cef-checkpoint-asa.cef").at(0);
  const auto s = parse_with("auto", "2018-11-26 22:17:33 gw-01 " + line);
  ASSERT_EQ(s.records.size(), 1u);
  EXPECT_EQ(ip(s.records[0].src), "192.168.101.100");
}

TEST(Cef, DvchostNamesTheDeviceAheadOfTheSyslogHost) {
  // The corpus ASA line carries dvchost=super; its message id is changed to one the ASA
  // parser keeps, so that a record comes out.
  auto line = fixture_lines("cef/elastic-cef-checkpoint-asa.cef").at(3);
  line.replace(line.find("|305012|"), 8, "|302016|");
  parse_context ctx;
  ctx.host = "relay";
  const auto s = parse_with("cef", line, ctx);
  ASSERT_EQ(s.records.size(), 1u);
  EXPECT_EQ(label(s.records[0].device), "super");
  EXPECT_EQ(label(s.records[0].reported_by), "Cisco/ASA");
  EXPECT_EQ(s.records[0].protocol, 17);
  EXPECT_FALSE(s.records[0].has_dst);
  EXPECT_EQ(format_iso8601(s.records[0].time), "2017-01-11T00:54:54Z");
}

// Vendor rules. No real raw CEF from PAN-OS, FortiGate or Zscaler is public (see the fixture
// NOTICE): each line below is constructed to pin ONE rule of the ASIM parser for that
// connector, with documentation addresses. They are not vendor samples.
struct rule_case {
  std::string why;
  std::string line;
  const char* outcome;  // "record", or the skip/reject reason
  std::string label;
  dvc_action action = dvc_action::unknown;
  std::int32_t port = network_session::no_port;
};

class CefRules : public ::testing::TestWithParam<rule_case> {};

TEST_P(CefRules, FollowTheAsimParserOfTheConnector) {
  const auto& c = GetParam();
  const auto s = parse_with("cef", c.line);
  if (std::string_view(c.outcome) == "record") {
    ASSERT_EQ(s.records.size(), 1u)
        << (s.skips.empty() ? "" : s.skips[0]) << (s.rejects.empty() ? "" : s.rejects[0]);
    EXPECT_EQ(label(s.records[0].reported_by), c.label);
    EXPECT_EQ(s.records[0].action, c.action);
    EXPECT_EQ(s.records[0].dst_port, c.port);
  } else {
    EXPECT_TRUE(s.records.empty());
    std::vector<std::string> reasons = s.skips;
    reasons.insert(reasons.end(), s.rejects.begin(), s.rejects.end());
    EXPECT_EQ(reasons, std::vector<std::string>{c.outcome});
  }
}

const std::string tuple = "src=203.0.113.7 dst=198.51.100.1 spt=40000 dpt=22 proto=TCP";

INSTANTIATE_TEST_SUITE_P(
    Constructed, CefRules,
    ::testing::Values(
        rule_case{"pan os traffic is a session with the asim label",
                  "CEF:0|Palo Alto Networks|PAN-OS|10.1|end|TRAFFIC|1|act=reset-both " + tuple,
                  "record", "Palo Alto/PanOS", dvc_action::reset, 22},
        rule_case{"pan os reset client resets the source",
                  "CEF:0|Palo Alto Networks|PAN-OS|10.1|end|TRAFFIC|1|act=reset client " + tuple,
                  "record", "Palo Alto/PanOS", dvc_action::reset_source, 22},
        rule_case{"pan os threat records are not sessions",
                  "CEF:0|Palo Alto Networks|PAN-OS|10.1|url|THREAT|1|act=alert " + tuple,
                  "not_traffic"},
        rule_case{"pan os match is case sensitive as in asim",
                  "CEF:0|Palo Alto Networks|PAN-OS|10.1|end|traffic|1|act=allow " + tuple,
                  "not_traffic"},
        rule_case{"other palo alto products are left to their own parsers",
                  "CEF:0|Palo Alto Networks|LF|2.0|end|TRAFFIC|1|act=allow " + tuple,
                  "not_a_session"},
        rule_case{"fortigate traffic gets the fixed product spelling",
                  "CEF:0|Fortinet|Fortigate|v6.0.3|00013|traffic:forward "
                  "accept|3|cat=traffic:forward act=accept " +
                      tuple,
                  "record", "Fortinet/Fortigate", dvc_action::allow, 22},
        rule_case{
            "fortigate without act takes the action from the name",
            "CEF:0|Fortinet|FortiGate-100F|v7|00013|traffic:forward deny|3|cat=traffic:forward " +
                tuple,
            "record", "Fortinet/Fortigate", dvc_action::deny, 22},
        rule_case{"fortigate close has no asim action",
                  "CEF:0|Fortinet|Fortigate|v7|00013|traffic:forward close|3|cat=traffic:forward "
                  "act=close " +
                      tuple,
                  "record", "Fortinet/Fortigate", dvc_action::unknown, 22},
        rule_case{
            "fortigate dns is excluded",
            "CEF:0|Fortinet|Fortigate|v7|54000|utm:dns dns-response|3|cat=traffic:local act=dns " +
                tuple,
            "dns"},
        rule_case{"fortigate utm records are not traffic",
                  "CEF:0|Fortinet|Fortigate|v7|13312|utm:webfilter blocked|3|cat=utm:webfilter "
                  "act=blocked " +
                      tuple,
                  "not_traffic"},
        rule_case{"check point without the space is the same connector",
                  "CEF:0|CheckPoint|VPN-1 & FireWall-1|R81|Log|ssh|Unknown|act=Reject " + tuple,
                  "record", "Check Point/Firewall", dvc_action::deny, 22},
        rule_case{"check point dropped is not an asim action",
                  "CEF:0|Check Point|VPN-1 & FireWall-1|R81|Log|ssh|Unknown|act=Dropped " + tuple,
                  "record", "Check Point/Firewall", dvc_action::unknown, 22},
        rule_case{"check point cn2 is an icmp type not a port",
                  "CEF:0|Check Point|VPN-1 & FireWall-1|R81|Log|icmp|Unknown|act=Drop "
                  "src=203.0.113.7 dst=198.51.100.1 proto=1 cn2=8 cn3=0",
                  "record", "Check Point/Firewall", dvc_action::drop, network_session::no_port},
        rule_case{
            "zscaler firewall gets the zia label",
            "CEF:0|Zscaler|NSSFWlog|5.7|Block/ICMP|Block/ICMP|5|act=Block/ICMP cn1=8080 " + tuple,
            "record", "Zscaler/ZIA Firewall", dvc_action::drop_icmp, 22},
        rule_case{
            "zscaler allow with a reason is allow",
            "CEF:0|Zscaler|NSSFWlog|5.7|Allow|Allow|5|act=Allow due to insufficient app data " +
                tuple,
            "record", "Zscaler/ZIA Firewall", dvc_action::allow, 22},
        rule_case{"zscaler web log is a web session",
                  "CEF:0|Zscaler|NSSWeblog|5.7|Allowed|Allowed|5|act=Allowed " + tuple,
                  "web_session"},
        rule_case{"cisco asa deny id is deny", "CEF:0|Cisco|ASA|9.8|106023|Deny|5|" + tuple,
                  "record", "Cisco/ASA", dvc_action::deny, 22},
        rule_case{"cisco asa 106100 is deny only when the message says denied",
                  "CEF:0|Cisco|ASA|9.8|106100|acl|5|msg=access-list in permitted tcp " + tuple,
                  "record", "Cisco/ASA", dvc_action::allow, 22},
        rule_case{"cisco asa teardown has no action",
                  "CEF:0|Cisco|ASA|9.8|302014|Teardown|5|" + tuple, "record", "Cisco/ASA",
                  dvc_action::unknown, 22},
        rule_case{"cisco asa nat messages are not sessions",
                  "CEF:0|Cisco|ASA|9.8|305011|Built dynamic|5|" + tuple, "not_a_session"},
        rule_case{"other vendors are labelled as their header says",
                  "CEF:0|Acme|Edge FW|1.0|100|conn|5|act=blocked " + tuple, "record",
                  "Acme/Edge FW", dvc_action::drop, 22},
        rule_case{"generic action terms are whole words",
                  "CEF:0|Acme|Edge FW|1.0|100|conn|5|act=autoallowance " + tuple, "record",
                  "Acme/Edge FW", dvc_action::unknown, 22},
        rule_case{"other vendors need both addresses",
                  "CEF:0|Acme|Edge FW|1.0|100|conn|5|src=203.0.113.7 dpt=22", "no_network_tuple"},
        rule_case{"escaped pipes belong to the vendor name",
                  "CEF:0|Acme\\|Labs|Edge\\\\FW|1.0|100|conn|5|" + tuple, "record",
                  "Acme|Labs/Edge\\FW", dvc_action::unknown, 22},
        rule_case{"custom number one is never a port",
                  "CEF:0|Acme|Edge FW|1.0|100|conn|5|src=203.0.113.7 dst=198.51.100.1 cn1=443 "
                  "cn1Label=Port",
                  "record", "Acme/Edge FW", dvc_action::unknown, network_session::no_port}),
    why_name{});

TEST(CefExtension, ValuesRunUntilTheNextKeyAndKeepSpacesAndEscapes) {
  // Shapes from the corpus lines: a value with spaces ("cs5=Business / Economy"), escaped
  // '=' (originsicname=CN\=R80,...), a leading space before the first key, a dotted key.
  const auto s =
      parse_with("cef",
                 "CEF:0|Acme|FW|1|1|n|1| cs5=Business / Economy originsicname=CN\\=R80,O\\=x "
                 "dvchost=fw\\=1 a.b.c=url?x=1 src=203.0.113.7 dst=198.51.100.1 dpt=8443 "
                 "act=block and log");
  ASSERT_EQ(s.records.size(), 1u);
  EXPECT_EQ(label(s.records[0].device), "fw=1");
  EXPECT_EQ(s.records[0].dst_port, 8443);
  EXPECT_EQ(s.records[0].action, dvc_action::drop);  // "block and log": the term "block"
}

TEST(CefExtension, AnUnescapedEqualsSignStaysInsideTheValue) {
  const auto s = parse_with("cef",
                            "CEF:0|Acme|FW|1|1|n|1|request=http://x/?a=b&c=d src=203.0.113.7 "
                            "dst=198.51.100.1 dpt=80");
  ASSERT_EQ(s.records.size(), 1u);
  EXPECT_EQ(ip(s.records[0].src), "203.0.113.7");
  EXPECT_EQ(s.records[0].dst_port, 80);
}

TEST(CefExtension, AnEscapedBackslashBeforeASpaceEndsTheValue) {
  // "\\n" in the corpus ASA line is an escaped backslash and an 'n', then the next key.
  const auto s =
      parse_with("cef", "CEF:0|Acme|FW|1|1|n|1|trail=a,,,\\\\n src=203.0.113.7 dst=198.51.100.1");
  ASSERT_EQ(s.records.size(), 1u);
  EXPECT_EQ(ip(s.records[0].src), "203.0.113.7");
}

struct time_case {
  std::string why;
  std::string ext;
  const char* received;
  const char* expected;  // ISO, "" = no own time, "bad_time" = rejected
};

class CefTimes : public ::testing::TestWithParam<time_case> {};

TEST_P(CefTimes, ParseAsTheCefSpecWritesThem) {
  const auto& c = GetParam();
  parse_context ctx;
  if (*c.received) ctx.receive_time = iso(c.received);
  const auto s =
      parse_with("cef", "CEF:0|Acme|FW|1|1|n|1|src=203.0.113.7 dst=198.51.100.1 " + c.ext, ctx);
  if (std::string_view(c.expected) == "bad_time") {
    EXPECT_EQ(s.rejects, std::vector<std::string>{"bad_time"});
    return;
  }
  ASSERT_EQ(s.records.size(), 1u);
  if (*c.expected) {
    ASSERT_TRUE(s.records[0].has_time);
    EXPECT_EQ(format_iso8601(s.records[0].time), format_iso8601(iso(c.expected)));
  } else {
    EXPECT_FALSE(s.records[0].has_time);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Formats, CefTimes,
    ::testing::Values(
        time_case{"epoch milliseconds", "rt=1543270652000", "", "2018-11-26T22:17:32Z"},
        time_case{"date with year as in the corpus", "rt=Apr 11 2020 10:42:13", "",
                  "2020-04-11T10:42:13Z"},
        time_case{"milliseconds and a zone abbreviation", "rt=Apr 11 2020 10:42:13.250 PDT", "",
                  "2020-04-11T17:42:13.250Z"},
        time_case{"java gmt offset zone", "rt=Apr 11 2020 10:42:13 GMT+01:00", "",
                  "2020-04-11T09:42:13Z"},
        time_case{"year less date takes the receive year", "rt=Apr 11 10:42:13",
                  "2020-04-12T00:00:00Z", "2020-04-11T10:42:13Z"},
        time_case{"year less date without receive time is no time", "rt=Apr 11 10:42:13", "", ""},
        time_case{"receipt time wins over start", "start=1543270600000 rt=1543270652000", "",
                  "2018-11-26T22:17:32Z"},
        time_case{"start is the fallback for rt", "start=Nov 26 2018 22:16:40", "",
                  "2018-11-26T22:16:40Z"},
        time_case{"no time at all", "dpt=1", "", ""},
        time_case{"an unknown zone is rejected", "rt=Apr 11 2020 10:42:13 XYZ", "", "bad_time"},
        time_case{"text that is no time is rejected", "rt=yesterday", "", "bad_time"},
        time_case{"february 30 is rejected", "rt=Feb 30 2020 10:42:13", "", "bad_time"}),
    why_name{});

// Event time per vendor, following each ASIM parser's time mapping (ASIM-MAPPINGS.md):
// FortiGate's EventStartTime is FTNTFGTstart or start, else TimeGenerated, for which the
// record's own FTNTFGTeventtime stands in (FortiGate sends no rt); PAN-OS's is start (the
// generated time in PAN-OS's CEF template). The FortiGate lines are Fortinet's own CEF
// example (FortiOS log message reference, "Traffic log support for CEF"), cut to the fields
// that matter; the PAN-OS line is constructed.
const std::string fgt_doc =
    "CEF:0|Fortinet|Fortigate|v6.0.3|00013|traffic:forward close|3|"
    "deviceExternalId=FGT5HD3915800610 FTNTFGTlogid=0000000013 cat=traffic:forward "
    "FTNTFGTsubtype=forward FTNTFGTlevel=notice FTNTFGTvd=vdom1 src=10.1.100.11 spt=54190 "
    "dst=52.53.140.235 dpt=443 proto=6 act=close ";

struct vendor_time_case {
  std::string why;
  std::string unit;
  const char* expected;  // ISO, "" = no own time, "bad_time" = rejected
  std::vector<std::string> ignored;
};

class CefVendorTimes : public ::testing::TestWithParam<vendor_time_case> {};

TEST_P(CefVendorTimes, FollowTheVendorsAsimMapping) {
  const auto& c = GetParam();
  const auto s = parse_with("cef", c.unit);
  if (std::string_view(c.expected) == "bad_time") {
    EXPECT_EQ(s.rejects, std::vector<std::string>{"bad_time"});
    return;
  }
  EXPECT_TRUE(s.rejects.empty()) << s.rejects.front();
  ASSERT_EQ(s.records.size(), 1u);
  if (*c.expected) {
    ASSERT_TRUE(s.records[0].has_time);
    EXPECT_EQ(format_iso8601(s.records[0].time), format_iso8601(iso(c.expected)));
  } else {
    EXPECT_FALSE(s.records[0].has_time);
  }
  EXPECT_EQ(s.ignored, c.ignored);
}

INSTANTIATE_TEST_SUITE_P(
    Vendors, CefVendorTimes,
    ::testing::Values(
        vendor_time_case{"fortigate without rt takes its eventtime",
                         fgt_doc + "FTNTFGTeventtime=1545937675",
                         "2018-12-27T19:07:55Z",
                         {}},
        vendor_time_case{"fortigate eventtime in nanoseconds keeps microseconds",
                         fgt_doc + "FTNTFGTeventtime=1647873918304240923",
                         "2022-03-21T14:45:18.304240Z",
                         {}},
        vendor_time_case{"sentinel's renamed fortigate keys are read too",
                         fgt_doc + "FortinetFortiGateeventtime=1647873918304240923",
                         "2022-03-21T14:45:18.304240Z",
                         {}},
        vendor_time_case{"fortigate session start is asim's event start and wins",
                         fgt_doc + "FTNTFGTeventtime=1545937675 FTNTFGTstart=1545937600",
                         "2018-12-27T19:06:40Z",
                         {}},
        vendor_time_case{"fortigate start without a zone is read in its tz field",
                         fgt_doc + "FTNTFGTtz=-0800 start=Dec 27 2018 11:06:40 "
                                   "FTNTFGTeventtime=1545937675",
                         "2018-12-27T19:06:40Z",
                         {}},
        vendor_time_case{"fortigate start wins over rt",
                         fgt_doc + "rt=1545937675000 start=1545937600000",
                         "2018-12-27T19:06:40Z",
                         {}},
        vendor_time_case{"a malformed fortigate start leaves the eventtime and is counted",
                         fgt_doc + "start=soon FTNTFGTeventtime=1545937675",
                         "2018-12-27T19:07:55Z",
                         {"bad_time_field"}},
        vendor_time_case{"pan os start is the generated time and wins over the receive time",
                         "CEF:0|Palo Alto Networks|PAN-OS|10.2.4|end|TRAFFIC|1|rt=Nov 30 2018 "
                         "16:09:08 start=Nov 30 2018 16:09:07 src=203.0.113.7 dst=198.51.100.1 "
                         "dpt=443 act=allow",
                         "2018-11-30T16:09:07Z",
                         {}},
        vendor_time_case{"a malformed rt beside a usable start is counted, not fatal",
                         "CEF:0|Acme|FW|1|1|n|1|src=203.0.113.7 dst=198.51.100.1 "
                         "rt=Feb 30 2020 10:42:13 start=1543270652000",
                         "2018-11-26T22:17:32Z",
                         {"bad_time_field"}},
        vendor_time_case{"when every time present is malformed the record is rejected",
                         fgt_doc + "start=soon FTNTFGTeventtime=later",
                         "bad_time",
                         {}}),
    why_name{});

TEST(Cef, ZoneLessDatesAreReadInTheInputsTimeZone) {
  std::string error;
  auto zone = local_zone::find("America/Los_Angeles", error);
  ASSERT_TRUE(zone) << error;
  parse_context ctx;
  ctx.zone = &*zone;
  const std::string head = "CEF:0|Acme|FW|1|1|n|1|src=203.0.113.7 dst=198.51.100.1 ";
  auto s = parse_with("cef", head + "rt=Dec 27 2018 11:07:55", ctx);
  EXPECT_EQ(format_iso8601(s.records.at(0).time), "2018-12-27T19:07:55Z");
  // A zone in the value, and epoch times, are not the input zone's business.
  s = parse_with("cef", head + "rt=Dec 27 2018 11:07:55 GMT+01:00", ctx);
  EXPECT_EQ(format_iso8601(s.records.at(0).time), "2018-12-27T10:07:55Z");
  s = parse_with("cef", head + "rt=1545937675000", ctx);
  EXPECT_EQ(format_iso8601(s.records.at(0).time), "2018-12-27T19:07:55Z");
}

struct malformed_case {
  std::string why;
  std::string input;
  const char* reason;
};

class CefMalformed : public ::testing::TestWithParam<malformed_case> {};

TEST_P(CefMalformed, IsRejectedWithItsReason) {
  const auto& c = GetParam();
  const auto s = parse_with("cef", c.input);
  EXPECT_TRUE(s.records.empty());
  EXPECT_EQ(s.rejects, std::vector<std::string>{c.reason});
}

INSTANTIATE_TEST_SUITE_P(
    Cases, CefMalformed,
    ::testing::Values(
        malformed_case{"header cut short", "CEF:0|Check Point|VPN-1 & FireWall-1|Check Point|Log",
                       "bad_cef_header"},
        malformed_case{"escaped pipe does not end a field", "CEF:0|a|b|c|d|e|f\\|src=1.2.3.4",
                       "bad_cef_header"},
        malformed_case{"version is not a number", "CEF:x|a|b|c|d|e|f|src=1.2.3.4 dst=1.2.3.5",
                       "bad_cef_header"},
        malformed_case{"no cef text at all", "hello world", "no_cef_header"},
        malformed_case{"source is not an address", "CEF:0|a|b|c|d|e|f|src=host1 dst=1.2.3.5",
                       "bad_src_ip"},
        malformed_case{"port above 65535", "CEF:0|a|b|c|d|e|f|src=1.2.3.4 dst=1.2.3.5 dpt=70000",
                       "bad_dst_port"},
        malformed_case{"port is not a number", "CEF:0|a|b|c|d|e|f|src=1.2.3.4 dst=1.2.3.5 dpt=ssh",
                       "bad_dst_port"},
        malformed_case{"negative port", "CEF:0|a|b|c|d|e|f|src=1.2.3.4 dst=1.2.3.5 dpt=-1",
                       "bad_dst_port"}),
    why_name{});

TEST(CefProbe, RecognisesTheSampleAndCefBehindAPrefix) {
  const auto& cef = builtin_formats().find("cef")->probe;
  for (const auto& line : fixture_lines("cef/elastic-cef-checkpoint-asa.cef"))
    EXPECT_TRUE(cef(line));
  EXPECT_TRUE(cef("2024-01-01 10:00:00 host CEF:0|a|b|c|d|e|f|"));
}

TEST(CefProbe, DoesNotClaimOtherFormatsUnits) {
  const auto& cef = builtin_formats().find("cef")->probe;
  // Bodies of other formats' corpus lines (after the syslog header).
  EXPECT_FALSE(cef(R"({"SrcIpAddr":"1.2.3.4","msg":"CEF:0|a|b|"})"));
  EXPECT_FALSE(cef(R"([{"msg":" CEF:0|a|"}])"));
  EXPECT_FALSE(cef(R"(date=2020-04-23 time=12:17:48 devname="testswitch1" devid="somerouterid")"));
  EXPECT_FALSE(cef("%ASA-4-106023: Deny tcp src dmz:10.1.2.30/63016 dst outside:192.168.0.8/53"));
  EXPECT_FALSE(cef("[wan-lan-default-D]IN=eth0 OUT= MAC=90:10:20:76:8d:20 SRC=67.43.156.15"));
  EXPECT_FALSE(cef("1,2018/11/30 16:09:07,012801096514,TRAFFIC,end,2049"));
  EXPECT_FALSE(cef("CEF: not a version"));
}

}  // namespace
}  // namespace portscand::test
