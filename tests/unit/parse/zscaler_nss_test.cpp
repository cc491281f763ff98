#include <gtest/gtest.h>
#include <simdjson.h>

#include <map>

#include "../test_names.hpp"
#include "parse_test_util.hpp"

namespace portscand::test {
namespace {

// The sample's datetime values read by hand (ctime layout, GMT or no zone = UTC).
const std::map<std::string, std::string, std::less<>> utc_of = {
    {"Fri Dec 17 07:27:54 2021", "2021-12-17T07:27:54Z"},
    {"Mon Oct 16 22:55:48 2023", "2023-10-16T22:55:48Z"},
    {"Tue Dec  31 02:22:22 2022", "2022-12-31T02:22:22Z"},
};

// ASIM's Zscaler lookup for the action values of the samples: "Blocked" and "OutOfRange"
// are not in it, so DvcAction stays empty there too.
const std::map<std::string, dvc_action, std::less<>> action_of = {
    {"Drop", dvc_action::drop},
    {"Blocked", dvc_action::unknown},
    {"OutOfRange", dvc_action::unknown}};

std::string text_of(simdjson::dom::element e) {
  if (e.is_string()) return std::string(std::string_view(e));
  return std::to_string(int64_t(e));
}

void check_against_derived(const std::string& sample, const std::string& derived_file) {
  const auto lines = fixture_lines(sample);
  const auto derived = fixture_lines(derived_file);
  ASSERT_EQ(lines.size(), derived.size());
  simdjson::dom::parser json;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    SCOPED_TRACE(sample + " line " + std::to_string(i + 1));
    const simdjson::padded_string padded(derived[i]);
    simdjson::dom::element d = json.parse(padded);
    auto s = parse_with("zscaler-nss", lines[i]);
    ASSERT_EQ(s.records.size(), 1u);
    const auto& r = s.records[0];
    // Sentinel's CEF template sends csip as src, cdip as dst and cdport as dpt.
    EXPECT_EQ(ip(r.src), ip(*ip_address::parse(text_of(d["csip"]))));
    ASSERT_TRUE(r.has_dst);
    EXPECT_EQ(ip(r.dst), ip(*ip_address::parse(text_of(d["cdip"]))));
    EXPECT_EQ(r.dst_port, std::stoi(text_of(d["cdport"])));
    EXPECT_EQ(r.protocol, protocol_from_name(text_of(d["proto"])));
    EXPECT_EQ(r.action, action_of.at(text_of(d["action"])));
    EXPECT_TRUE(r.has_time);
    EXPECT_EQ(format_iso8601(r.time), utc_of.at(text_of(d["datetime"])));
    // The derived file names the product "ZIA (NSS firewall feed)"; Sentinel's label for
    // this connector is Zscaler/ZIA Firewall.
    EXPECT_EQ(text_of(d["vendor"]), "Zscaler");
    EXPECT_EQ(label(r.reported_by), "Zscaler/ZIA Firewall");
  }
}

TEST(ZscalerNss, TheSingleRecordSampleAgreesWithTheDerivedFields) {
  check_against_derived("zscaler-nss/test-firewall.log",
                        "zscaler-nss/test-firewall.log-derived-fields.jsonl");
}

TEST(ZscalerNss, TheHttpEndpointSampleAgreesWithTheDerivedFields) {
  check_against_derived("zscaler-nss/test-firewall-http-endpoint.log",
                        "zscaler-nss/test-firewall-http-endpoint.log-derived-fields.jsonl");
}

TEST(ZscalerNss, TheFirstHttpEndpointRecordInFull) {
  // Read by hand: csip 0.0.0.0, cdip 1.128.0.0:22 (sdport 443 is the server side), TCP,
  // "Blocked" (no ASIM action), Mon Oct 16 22:55:48 2023 GMT. epochtime 1578128400 (2020)
  // disagrees with datetime in this test data; datetime wins.
  auto s =
      parse_with("zscaler-nss", fixture_lines("zscaler-nss/test-firewall-http-endpoint.log").at(0));
  ASSERT_EQ(s.records.size(), 1u);
  const auto& r = s.records[0];
  EXPECT_EQ(ip(r.src), "0.0.0.0");
  EXPECT_EQ(ip(r.dst), "1.128.0.0");
  EXPECT_EQ(r.dst_port, 22);
  EXPECT_EQ(r.protocol, 6);
  EXPECT_EQ(r.action, dvc_action::unknown);
  EXPECT_EQ(format_iso8601(r.time), "2023-10-16T22:55:48Z");
  // devicehostname THINKPADSMITH is the user's laptop, not the reporting device.
  EXPECT_EQ(r.device, label_table::empty_id);
}

TEST(ZscalerNss, TheIpOnlyRecordHasNoProtocolButKeepsItsPort) {
  auto s =
      parse_with("zscaler-nss", fixture_lines("zscaler-nss/test-firewall-http-endpoint.log").at(1));
  ASSERT_EQ(s.records.size(), 1u);
  EXPECT_EQ(s.records[0].protocol, network_session::no_protocol);
  EXPECT_EQ(s.records[0].dst_port, 120);
}

TEST(ZscalerNss, ATabSeparatedNameValueFeedIsParsed) {
  auto s = parse_with(
      "zscaler-nss",
      "datetime=Mon Oct 16 22:55:48 2023\ttz=GMT\tuser=jdoe%40safemarch.com\tcsip=203.0.113.7\t"
      "csport=50000\tcdip=198.51.100.20\tcdport=445\tsdip=198.51.100.20\tsdport=445\tproto=TCP\t"
      "action=Block/Drop\tlocationname=Head Quarters");
  ASSERT_EQ(s.records.size(), 1u);
  const auto& r = s.records[0];
  EXPECT_EQ(ip(r.src), "203.0.113.7");
  EXPECT_EQ(ip(r.dst), "198.51.100.20");
  EXPECT_EQ(r.dst_port, 445);
  EXPECT_EQ(r.protocol, 6);
  EXPECT_EQ(r.action, dvc_action::drop);
  EXPECT_EQ(format_iso8601(r.time), "2023-10-16T22:55:48Z");
}

TEST(ZscalerNss, ASpaceSeparatedFeedBehindASyslogHeaderKeepsSpacesInValues) {
  parse_context ctx;
  ctx.host = "nss-01";
  auto s = parse_with(
      "zscaler-nss",
      "<134>Oct 16 22:55:48 nss-01 zscaler-nss-fw: datetime=Mon Oct 16 22:55:48 2023 tz=GMT "
      "locationname=Head Quarters csip=203.0.113.7 cdip=198.51.100.20 cdport=3389 proto=TCP "
      "action=Allow",
      ctx);
  ASSERT_EQ(s.records.size(), 1u);
  const auto& r = s.records[0];
  EXPECT_EQ(r.dst_port, 3389);
  EXPECT_EQ(r.action, dvc_action::allow);
  EXPECT_EQ(format_iso8601(r.time), "2023-10-16T22:55:48Z");
  EXPECT_EQ(label(r.device), "nss-01");
}

TEST(ZscalerNss, ATabSeparatedFeedBehindASyslogHeaderFindsItsFirstKey) {
  auto s = parse_with("zscaler-nss",
                      "<134>Oct 16 22:55:48 nss-01 zscaler-nss-fw: "
                      "csip=203.0.113.7\tcdip=198.51.100.20\tcdport=22\tproto=TCP");
  ASSERT_EQ(s.records.size(), 1u);
  EXPECT_EQ(ip(s.records[0].src), "203.0.113.7");
}

TEST(ZscalerNss, QuotedValuesAreUnquoted) {
  auto s = parse_with(
      "zscaler-nss",
      R"(datetime="Mon Oct 16 22:55:48 2023" csip="203.0.113.7" cdip="198.51.100.20" cdport="22" proto="UDP")");
  ASSERT_EQ(s.records.size(), 1u);
  EXPECT_EQ(s.records[0].protocol, 17);
  EXPECT_EQ(s.records[0].dst_port, 22);
}

TEST(ZscalerNss, TheAsimActionTableIsApplied) {
  const std::pair<const char*, dvc_action> cases[] = {
      {"Allow", dvc_action::allow},
      {"Allow due to insufficient app data", dvc_action::allow},
      {"Block/Drop", dvc_action::drop},
      {"IPS Drop", dvc_action::drop},
      {"Drop", dvc_action::drop},
      {"Block/ICMP", dvc_action::drop_icmp},
      {"Block ICMP", dvc_action::drop_icmp},
      {"Block/Reset", dvc_action::reset},
      {"IPS Reset", dvc_action::reset},
      {"Blocked", dvc_action::unknown},
      {"allow", dvc_action::unknown},
  };
  for (const auto& [text, action] : cases) {
    auto s = parse_with("zscaler-nss", std::string("csip=203.0.113.7\tcdport=1\taction=") + text);
    ASSERT_EQ(s.records.size(), 1u) << text;
    EXPECT_EQ(s.records[0].action, action) << text;
  }
}

TEST(ZscalerNss, IcmpRecordsHaveNoPort) {
  auto s = parse_with(
      "zscaler-nss",
      R"({"csip":"203.0.113.7","cdip":"198.51.100.1","cdport":0,"proto":"ICMP","action":"Block ICMP"})");
  ASSERT_EQ(s.records.size(), 1u);
  EXPECT_FALSE(s.records[0].has_port());
  EXPECT_EQ(s.records[0].action, dvc_action::drop_icmp);
}

TEST(ZscalerNss, ServerSideFieldsStandInWhenTheClientSideOnesAreMissing) {
  auto s = parse_with("zscaler-nss", "csip=203.0.113.7\tsdip=198.51.100.3\tsdport=8443\tproto=TCP");
  ASSERT_EQ(s.records.size(), 1u);
  EXPECT_EQ(ip(s.records[0].dst), "198.51.100.3");
  EXPECT_EQ(s.records[0].dst_port, 8443);
}

TEST(ZscalerNss, ZoneOffsetsAreAppliedAndUnknownZonesFallBackToEpochTime) {
  auto off = parse_with("zscaler-nss",
                        "datetime=Mon Oct 16 22:55:48 2023\ttz=GMT+05:30\tcsip=203.0.113.7");
  EXPECT_EQ(format_iso8601(off.records.at(0).time), "2023-10-16T17:25:48Z");
  auto neg =
      parse_with("zscaler-nss", "datetime=Mon Oct 16 22:55:48 2023\ttz=UTC-8\tcsip=203.0.113.7");
  EXPECT_EQ(format_iso8601(neg.records.at(0).time), "2023-10-17T06:55:48Z");
  auto named = parse_with(
      "zscaler-nss",
      "datetime=Mon Oct 16 22:55:48 2023\ttz=PST\tepochtime=1697525748\tcsip=203.0.113.7");
  EXPECT_EQ(format_iso8601(named.records.at(0).time), "2023-10-17T06:55:48Z");
  auto none =
      parse_with("zscaler-nss", "datetime=Mon Oct 16 22:55:48 2023\ttz=PST\tcsip=203.0.113.7");
  EXPECT_FALSE(none.records.at(0).has_time);
}

TEST(ZscalerNss, WithoutOwnTimeTheHeaderTimeIsUsed) {
  parse_context ctx;
  ctx.header_time = *parse_iso8601("2026-11-28T10:05:00Z");
  auto s = parse_with("zscaler-nss", "csip=203.0.113.7\tcdport=22", ctx);
  ASSERT_EQ(s.records.size(), 1u);
  EXPECT_TRUE(s.records[0].has_time);
  EXPECT_EQ(s.records[0].time, ctx.header_time);
}

TEST(ZscalerNss, AFlatJsonObjectWithoutTheEventWrapperIsParsed) {
  auto s = parse_with(
      "zscaler-nss",
      R"({"datetime":"Mon Oct 16 22:55:48 2023","csip":"203.0.113.7","cdip":"198.51.100.20","cdport":"22","proto":"TCP"})");
  ASSERT_EQ(s.records.size(), 1u);
  EXPECT_EQ(s.records[0].dst_port, 22);
}

TEST(ZscalerNss, AJsonArrayYieldsEachRecord) {
  const auto l = fixture_lines("zscaler-nss/test-firewall-http-endpoint.log");
  auto s = parse_with("zscaler-nss", "[" + l.at(0) + "," + l.at(2) + "]");
  EXPECT_EQ(s.records.size(), 2u);
}

TEST(ZscalerNss, TheJsonLineBehindASyslogHeaderParsesLikeTheBareLine) {
  const std::string line = fixture_lines("zscaler-nss/test-firewall-http-endpoint.log").at(2);
  auto a = parse_with("zscaler-nss", "<134>Oct 16 22:55:48 nss-01 zscaler-nss-fw: " + line);
  ASSERT_EQ(a.records.size(), 1u);
  EXPECT_EQ(ip(a.records[0].dst), "2a02:cf40::");
  EXPECT_EQ(
      parse_with("auto", "<134>Oct 16 22:55:48 nss-01 zscaler-nss-fw: " + line).records.size(), 1u);
}

TEST(ZscalerNss, FieldsAfterTheEventObjectAreStillRead) {
  auto s = parse_with(
      "zscaler-nss",
      R"({"event":{"datetime":"Mon Oct 16 22:55:48 2023","tz":"GMT","csip":"203.0.113.7",)"
      R"("cdip":"198.51.100.1","cdport":"22","proto":"TCP","action":"Allow","more":[1,{"a":2}]},)"
      R"("sourcetype":"zscalernss-dns"})");
  EXPECT_TRUE(s.records.empty());
  EXPECT_EQ(s.skips, std::vector<std::string>{"not_firewall_feed"});
}

TEST(ZscalerNss, OtherNssFeedsAreSkipped) {
  auto s = parse_with("zscaler-nss",
                      R"({"sourcetype":"zscalernss-web","event":{"csip":"203.0.113.7"}})");
  EXPECT_TRUE(s.records.empty());
  EXPECT_EQ(s.skips, std::vector<std::string>{"not_firewall_feed"});
}

TEST(ZscalerNss, TheProbeRecognisesTheSamplesAndNothingElse) {
  const format_entry* e = builtin_formats().find("zscaler-nss");
  ASSERT_NE(e, nullptr);
  for (const char* f :
       {"zscaler-nss/test-firewall.log", "zscaler-nss/test-firewall-http-endpoint.log"})
    for (const auto& l : fixture_lines(f)) EXPECT_TRUE(e->probe(l.substr(0, probe_window)));
  EXPECT_TRUE(e->probe(
      "datetime=Mon Oct 16 22:55:48 2023\tcsip=203.0.113.7\tcdip=198.51.100.20\tcdport=445"));
  EXPECT_TRUE(e->probe("<134>Oct 16 22:55:48 nss-01 zscaler-nss-fw: csip=203.0.113.7 cdport=22"));
  // Zscaler's CEF feed belongs to the CEF format, even with NSS names in an extension.
  EXPECT_FALSE(e->probe(
      "Oct 16 22:55:48 zscaler-nss-fw CEF:0|Zscaler|NSSFWlog|5.7|Allow|r|3|act=Allow src=1.2.3.4 "
      "spt=1 dst=5.6.7.8 dpt=22 csip=1.2.3.4 cdport=22"));
  EXPECT_FALSE(e->probe(fixture_lines("sysmon-linux/pop-ecx-wazuh-blog-sysmon3.log").at(0)));
  EXPECT_FALSE(e->probe(fixture_lines("iptables/test-iptables-raw.log").at(0)));
  EXPECT_FALSE(e->probe(fixture_lines("windows-wfp/oneline.log").at(0)));
  EXPECT_FALSE(e->probe(R"({"SrcIpAddr":"1.2.3.4","DstPortNumber":22})"));
  EXPECT_FALSE(e->probe("devname=fw01 srcip=1.2.3.4 dstip=5.6.7.8 dstport=22"));
  EXPECT_FALSE(e->probe("ascsip=1.2.3.4 xcdport=22"));
}

TEST(ZscalerNss, AutoDetectionGivesTheSameRecordsAsTheFixedFormat) {
  std::vector<std::string> units = fixture_lines("zscaler-nss/test-firewall-http-endpoint.log");
  units.push_back(fixture_lines("zscaler-nss/test-firewall.log").at(0));
  units.push_back(
      "datetime=Mon Oct 16 22:55:48 2023\tcsip=203.0.113.7\tcdip=198.51.100.20\tcdport=445");
  for (const auto& u : units) {
    auto fixed = parse_with("zscaler-nss", u);
    auto autod = parse_with("auto", u);
    ASSERT_EQ(fixed.records.size(), 1u);
    ASSERT_EQ(autod.records.size(), 1u);
    EXPECT_EQ(fixed.records[0].src, autod.records[0].src);
    EXPECT_EQ(fixed.records[0].dst_port, autod.records[0].dst_port);
    EXPECT_EQ(fixed.records[0].time, autod.records[0].time);
    EXPECT_EQ(fixed.records[0].reported_by, autod.records[0].reported_by);
  }
}

struct malformed_case {
  const char* why;
  std::string input;
  const char* reason;
};

class ZscalerNssMalformed : public ::testing::TestWithParam<malformed_case> {};

TEST_P(ZscalerNssMalformed, IsRejectedWithItsReason) {
  const auto& c = GetParam();
  auto s = parse_with("zscaler-nss", c.input);
  EXPECT_TRUE(s.records.empty()) << c.why;
  ASSERT_EQ(s.rejects.size(), 1u) << c.why;
  EXPECT_EQ(s.rejects[0], c.reason) << c.why;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, ZscalerNssMalformed,
    ::testing::Values(
        malformed_case{"truncated JSON",
                       R"({"sourcetype":"zscalernss-fw","event":{"csip":"1.2.3.4","cd)",
                       "invalid_json"},
        malformed_case{"no client source",
                       R"({"sourcetype":"zscalernss-fw","event":{"cdip":"1.2.3.4"}})",
                       "missing_src_ip"},
        malformed_case{"an empty client source", "csip=\tcdport=22", "missing_src_ip"},
        malformed_case{"a bad client source", "csip=1.2.3.999\tcdport=22", "bad_src_ip"},
        malformed_case{"a bad destination", "csip=1.2.3.4\tcdip=nowhere\tcdport=22", "bad_dst_ip"},
        malformed_case{"a port out of range", R"({"event":{"csip":"1.2.3.4","cdport":65536}})",
                       "bad_dst_port"},
        malformed_case{"a negative port", "csip=1.2.3.4\tcdport=-1", "bad_dst_port"},
        malformed_case{"a port that is an object", R"({"event":{"csip":"1.2.3.4","cdport":{}}})",
                       "bad_field_type"},
        malformed_case{"a month that does not exist",
                       "csip=1.2.3.4\tdatetime=Mon Foo 16 22:55:48 2023", "bad_time"},
        malformed_case{"February 30th", "csip=1.2.3.4\tdatetime=Mon Feb 30 22:55:48 2023",
                       "bad_time"},
        malformed_case{"a bad epoch time", "csip=1.2.3.4\tepochtime=soon", "bad_time"},
        malformed_case{"no name=value pair at all", "hello world", "no_fields"},
        malformed_case{"a JSON string", R"("csip")", "no_fields"}),
    why_name{});

}  // namespace
}  // namespace portscand::test

namespace portscand::test {
namespace {

// Without a tz field the datetime is the feed's wall clock, in the input's `timezone`; a tz
// field wins over it.
TEST(ZscalerNss, ADatetimeWithoutTzIsReadInTheInputsTimeZone) {
  std::string error;
  auto zone = local_zone::find("Asia/Kolkata", error);
  ASSERT_TRUE(zone) << error;
  parse_context ctx;
  ctx.zone = &*zone;
  auto s = parse_with("zscaler-nss", "datetime=Mon Oct 16 22:55:48 2023\tcsip=203.0.113.7", ctx);
  ASSERT_EQ(s.records.size(), 1u);
  EXPECT_EQ(format_iso8601(s.records[0].time), "2023-10-16T17:25:48Z");  // IST = UTC+5:30
  s = parse_with("zscaler-nss", "datetime=Mon Oct 16 22:55:48 2023\ttz=GMT\tcsip=203.0.113.7", ctx);
  ASSERT_EQ(s.records.size(), 1u);
  EXPECT_EQ(format_iso8601(s.records[0].time), "2023-10-16T22:55:48Z");
}

}  // namespace
}  // namespace portscand::test
