#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "../test_names.hpp"
#include "parse_test_util.hpp"

namespace portscand::test {
namespace {

bool same_record(const network_session& a, const network_session& b) {
  return a.time == b.time && a.has_time == b.has_time && a.src == b.src && a.dst == b.dst &&
         a.has_dst == b.has_dst && a.dst_port == b.dst_port && a.protocol == b.protocol &&
         a.action == b.action && a.reported_by == b.reported_by && a.device == b.device;
}

dvc_action expected_action(const std::string& a) {
  if (a == "Allow" || a == "DNAT") return dvc_action::allow;  // ASIM: a DNAT rule allows
  if (a == "Deny") return dvc_action::deny;
  if (a == "drop") return dvc_action::drop;
  return dvc_action::unknown;  // "alert": IDPS alert-only, no DvcAction in ASIM
}

std::uint16_t expected_protocol(const std::string& p) {
  if (p == "HTTP") return 6;  // threat-intel rows name the application protocol; it runs on TCP
  return protocol_from_name(p);
}

std::string legacy(const std::string& msg) {
  return R"({"category":"AzureFirewallNetworkRule","operationName":"AzureFirewallNetworkRuleLog","properties":{"msg":")" +
         msg +
         R"("},"resourceId":"/SUBSCRIPTIONS/X/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.NETWORK/AZUREFIREWALLS/FW-1","time":"2024-01-01T00:00:00Z"})";
}

// Walks a sample and the corpus's derived field values (split out of properties.msg /
// properties.* by hand) side by side.
void check_against_derived(const std::string& file) {
  const auto lines = fixture_lines("azure-firewall/" + file);
  const auto derived = fixture_lines("azure-firewall/" + file + "-derived-fields.jsonl");
  ASSERT_EQ(lines.size(), derived.size());
  for (std::size_t i = 0; i < lines.size(); ++i) {
    SCOPED_TRACE(file + " line " + std::to_string(i + 1));
    const auto x = nlohmann::json::parse(derived[i]);
    auto s = parse_with("azure-firewall", lines[i]);
    EXPECT_TRUE(s.rejects.empty());
    EXPECT_TRUE(s.skips.empty());
    ASSERT_EQ(s.records.size(), 1u);
    const auto& r = s.records[0];
    ASSERT_TRUE(r.has_time);
    EXPECT_EQ(format_iso8601(r.time), format_iso8601(*parse_iso8601(x["time"].get<std::string>())));
    EXPECT_EQ(ip(r.src), x["src"].get<std::string>());
    const std::string dst = x["dst"];
    if (ip_address::parse(dst)) {
      ASSERT_TRUE(r.has_dst);
      EXPECT_EQ(ip(r.dst), dst);
    } else {
      EXPECT_FALSE(r.has_dst);  // an FQDN destination (threat intel): no address
    }
    if (x["dport"].is_null())
      EXPECT_FALSE(r.has_port());
    else
      EXPECT_EQ(r.dst_port, x["dport"].get<int>());
    EXPECT_EQ(r.protocol, expected_protocol(x["proto"]));
    EXPECT_EQ(r.action, expected_action(x["action"]));
    EXPECT_EQ(label(r.reported_by),
              x["vendor"].get<std::string>() + "/" + x["product"].get<std::string>());
    EXPECT_EQ(label(r.reported_by), "Microsoft/Azure Firewall");
  }
}

TEST(AzureFirewall, EveryLegacyMsgSampleMatchesItsDerivedFields) {
  // Includes ICMP without ports, "ip:" with an empty port, DNAT, IDPS drop/alert, an FQDN
  // destination and the "Allow.." double full stop.
  check_against_derived("test-networkrules-raw.log");
}

TEST(AzureFirewall, EveryStructuredSampleMatchesItsDerivedFields) {
  check_against_derived("test-networkrule-structured-raw.log");
}

TEST(AzureFirewall, TheFirewallNameFromTheResourceIdIsTheDevice) {
  auto s =
      parse_with("azure-firewall", fixture_lines("azure-firewall/test-networkrules-raw.log").at(1));
  EXPECT_EQ(label(s.records.at(0).device), "TEST-FW01");
}

TEST(AzureFirewall, TheFullyRedactedSampleIsRejected) {
  auto s = parse_with("azure-firewall",
                      fixture_lines("azure-firewall/test-AZFWNetworkRule-raw.log").at(0));
  EXPECT_TRUE(s.records.empty());
  EXPECT_EQ(s.rejects,
            std::vector<std::string>{"bad_dst_port"});  // first bad value in document order
}

// "8/23/2023, 2:00:00.130 PM" (Log Analytics display format, UTC) -> ISO 8601.
std::string us_display_to_iso(const std::string& t) {
  int mo, d, y, h, mi, sec, ms;
  char ampm[3] = {};
  EXPECT_EQ(
      std::sscanf(t.c_str(), "%d/%d/%d, %d:%d:%d.%d %2s", &mo, &d, &y, &h, &mi, &sec, &ms, ampm), 8)
      << t;
  if (std::string(ampm) == "PM" && h != 12) h += 12;
  if (std::string(ampm) == "AM" && h == 12) h = 0;
  char buf[40];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", y, mo, d, h, mi, sec, ms);
  return buf;
}

// Splits one CSV row; quoted fields may hold commas.
std::vector<std::string> csv_fields(const std::string& line) {
  std::vector<std::string> out(1);
  bool quoted = false;
  for (char c : line) {
    if (c == '"')
      quoted = !quoted;
    else if (c == ',' && !quoted)
      out.emplace_back();
    else
      out.back() += c;
  }
  return out;
}

TEST(AzureFirewall, TheSentinelPortSweepExportRowsParseAsFlatAzfwRows) {
  // The CSV is a Log Analytics export of AZFWNetworkRule rows. Each row is turned into the
  // JSON object the same export gives in JSON (columns at top level, Type = AZFWNetworkRule)
  // and checked against its own CSV columns.
  const auto lines = fixture_lines("azure-firewall/AZFWPortSweepCustom_CL.first220.csv");
  const auto header = csv_fields(lines.at(0));
  ASSERT_EQ(header.size(), 16u);
  std::size_t rows = 0;
  for (std::size_t i = 1; i < lines.size(); ++i) {
    if (lines[i].empty()) continue;
    const auto f = csv_fields(lines[i]);
    ASSERT_EQ(f.size(), header.size()) << lines[i];
    nlohmann::json row;
    for (std::size_t c = 0; c < header.size(); ++c) row[header[c]] = f[c];
    row["TimeGenerated"] = us_display_to_iso(f[1]);
    row["SourcePort"] = std::stoi(f[4]);
    row["DestinationPort"] = std::stoi(f[6]);
    SCOPED_TRACE(lines[i]);
    auto s = parse_with("azure-firewall", row.dump());
    ASSERT_EQ(s.records.size(), 1u);
    const auto& r = s.records[0];
    EXPECT_EQ(format_iso8601(r.time), format_iso8601(*parse_iso8601(us_display_to_iso(f[1]))));
    EXPECT_EQ(ip(r.src), f[3]);
    EXPECT_EQ(ip(r.dst), f[5]);
    EXPECT_EQ(r.dst_port, std::stoi(f[6]));
    EXPECT_EQ(r.protocol, protocol_from_name(f[2]));
    EXPECT_EQ(r.action, f[7] == "Allow" ? dvc_action::allow : dvc_action::deny);
    EXPECT_EQ(label(r.device), "afw-hub");
    EXPECT_EQ(label(r.reported_by), "Microsoft/Azure Firewall");
    ++rows;
  }
  EXPECT_EQ(rows, 220u);
}

TEST(AzureFirewall, Ipv6InTheMessageSplitsAtTheLastColonOrAfterBrackets) {
  auto a = parse_with(
      "azure-firewall",
      legacy("TCP request from [2001:db8::1]:51000 to [2001:db8::2]:443. Action: Deny. "));
  ASSERT_EQ(a.records.size(), 1u);
  EXPECT_EQ(ip(a.records[0].src), "2001:db8::1");
  EXPECT_EQ(ip(a.records[0].dst), "2001:db8::2");
  EXPECT_EQ(a.records[0].dst_port, 443);
  auto b =
      parse_with("azure-firewall",
                 legacy("UDP request from 2001:db8::1:51000 to 2001:db8::2:53. Action: Allow. "));
  ASSERT_EQ(b.records.size(), 1u);
  EXPECT_EQ(ip(b.records[0].src), "2001:db8::1");
  EXPECT_EQ(ip(b.records[0].dst), "2001:db8::2");
  EXPECT_EQ(b.records[0].dst_port, 53);
  auto c =
      parse_with("azure-firewall",
                 legacy("ICMP Type=128 request from 2001:db8::1 to 2001:db8::2. Action: Allow. "));
  ASSERT_EQ(c.records.size(), 1u);
  EXPECT_EQ(ip(c.records[0].dst), "2001:db8::2");
  EXPECT_FALSE(c.records[0].has_port());
  auto d = parse_with("azure-firewall", legacy("TCP request from [2001:db8::1]:51000 to "
                                               "[2001:db8::2]:22 was DNAT'ed to [2001:db8::9]:22"));
  ASSERT_EQ(d.records.size(), 1u);
  EXPECT_EQ(d.records[0].dst_port, 22);
  EXPECT_EQ(d.records[0].action, dvc_action::allow);
}

TEST(AzureFirewall, ApplicationRulesAndOtherFirewallCategoriesAreSkipped) {
  for (const char* cat : {"AzureFirewallApplicationRule", "AzureFirewallDnsProxy",
                          "AZFWApplicationRule", "AZFWDnsQuery", "AZFWFlowTrace"}) {
    auto s = parse_with(
        "azure-firewall",
        std::string(R"({"category":")") + cat +
            R"(","properties":{"msg":"HTTPS request from 10.0.0.4:5000 to example.com:443. Action: Allow."}})");
    EXPECT_EQ(s.skips, std::vector<std::string>{"not_a_network_rule"}) << cat;
  }
  auto o =
      parse_with("azure-firewall", R"({"category":"NetworkSecurityGroupEvent","properties":{}})");
  EXPECT_EQ(o.skips, std::vector<std::string>{"other_category"});
}

TEST(AzureFirewall, StructuredNatThreatIntelAndIdpsRowsAreSessions) {
  auto nat = parse_with(
      "azure-firewall",
      R"({"category":"AZFWNatRule","time":"2024-01-01T00:00:00Z","properties":{"Protocol":"TCP","SourceIp":"203.0.113.5","SourcePort":4000,"DestinationIp":"198.51.100.1","DestinationPort":3389,"TranslatedIp":"10.0.0.4","TranslatedPort":3389}})");
  ASSERT_EQ(nat.records.size(), 1u);
  EXPECT_EQ(nat.records[0].action, dvc_action::allow);  // no Action column: the DNAT allowed it
  EXPECT_EQ(ip(nat.records[0].dst), "198.51.100.1");    // the address probed, not the translation
  auto idps = parse_with(
      "azure-firewall",
      R"({"category":"AZFWIdpsSignature","properties":{"Protocol":"TCP","SourceIp":"203.0.113.5","SourcePort":4000,"DestinationIp":"10.0.0.4","DestinationPort":1433,"Action":"alert"}})");
  ASSERT_EQ(idps.records.size(), 1u);
  EXPECT_EQ(idps.records[0].action, dvc_action::unknown);
  auto ti = parse_with(
      "azure-firewall",
      R"({"category":"AZFWThreatIntel","properties":{"Protocol":"UDP","SourceIp":"10.0.0.4","SourcePort":4000,"DestinationIp":"198.51.100.77","DestinationPort":53,"Action":"Deny"}})");
  ASSERT_EQ(ti.records.size(), 1u);
  EXPECT_EQ(ti.records[0].action, dvc_action::deny);
  auto icmp = parse_with(
      "azure-firewall",
      R"({"category":"AZFWNetworkRule","properties":{"Protocol":"ICMP Type=8","SourceIp":"10.0.0.4","SourcePort":0,"DestinationIp":"10.0.1.4","DestinationPort":0,"Action":"Drop"}})");
  ASSERT_EQ(icmp.records.size(), 1u);
  EXPECT_EQ(icmp.records[0].protocol, 1);
  EXPECT_FALSE(icmp.records[0].has_port());
  EXPECT_EQ(icmp.records[0].action, dvc_action::drop);
}

TEST(AzureFirewall, AnAzureDiagnosticsExportRowIsReadFromItsFlatColumns) {
  auto s = parse_with(
      "azure-firewall",
      R"({"TimeGenerated":"2024-02-02T10:00:00Z","Category":"AzureFirewallNetworkRule","OperationName":"AzureFirewallNetworkRuleLog","msg_s":"TCP request from 203.0.113.9:6000 to 10.0.0.4:445. Action: Deny. ","ResourceId":"/SUBSCRIPTIONS/X/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.NETWORK/AZUREFIREWALLS/FW-2","Type":"AzureDiagnostics"})");
  ASSERT_EQ(s.records.size(), 1u);
  EXPECT_EQ(s.records[0].dst_port, 445);
  EXPECT_EQ(format_iso8601(s.records[0].time), "2024-02-02T10:00:00Z");
  EXPECT_EQ(label(s.records[0].device), "FW-2");
}

TEST(AzureFirewall, ARecordsEnvelopeYieldsEveryRecord) {
  const auto legacy_lines = fixture_lines("azure-firewall/test-networkrules-raw.log");
  const auto structured = fixture_lines("azure-firewall/test-networkrule-structured-raw.log");
  std::string env = "{\"records\":[";
  for (const auto& l : legacy_lines) env += l + ",";
  env += structured.at(0) + "," +
         R"({"category":"AzureFirewallApplicationRule","properties":{"msg":"x"}})" + "]}";
  auto s = parse_with("azure-firewall", env);
  EXPECT_EQ(s.records.size(), legacy_lines.size() + 1);
  EXPECT_EQ(s.skips, std::vector<std::string>{"not_a_network_rule"});
  EXPECT_TRUE(s.rejects.empty());
}

struct malformed_case {
  const char* why;
  std::string input;
  const char* reason;
};

class AzureFirewallMalformed : public ::testing::TestWithParam<malformed_case> {};

TEST_P(AzureFirewallMalformed, IsRejectedWithItsReasonAndNeverYieldsARecord) {
  const auto& c = GetParam();
  auto s = parse_with("azure-firewall", c.input);
  EXPECT_TRUE(s.records.empty()) << c.why;
  ASSERT_EQ(s.rejects.size(), 1u) << c.why;
  EXPECT_EQ(s.rejects[0], c.reason) << c.why;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, AzureFirewallMalformed,
    ::testing::Values(
        malformed_case{"truncated JSON",
                       R"({"category":"AzureFirewallNetworkRule","properties":{"msg":"TCP req)",
                       "invalid_json"},
        malformed_case{"msg is not a request sentence", legacy("Firewall started"), "bad_msg"},
        malformed_case{"msg has no destination", legacy("TCP request from 10.0.0.1:5"), "bad_msg"},
        malformed_case{"msg source is not an address",
                       legacy("TCP request from host:1 to 10.0.0.1:80. Action: Deny"),
                       "bad_src_ip"},
        malformed_case{"msg source is empty",
                       legacy("TCP request from  to 10.0.0.1:80. Action: Deny"), "missing_src_ip"},
        malformed_case{"msg port is out of range",
                       legacy("TCP request from 10.0.0.2:1 to 10.0.0.1:99999. Action: Deny"),
                       "bad_dst_port"},
        malformed_case{"msg bracket is not closed",
                       legacy("TCP request from [2001:db8::1:1 to 10.0.0.1:80. Action: Deny"),
                       "bad_src_ip"},
        malformed_case{"network rule without msg",
                       R"({"category":"AzureFirewallNetworkRule","properties":{}})", "missing_msg"},
        malformed_case{
            "structured row without source",
            R"({"category":"AZFWNetworkRule","properties":{"DestinationIp":"10.0.0.1","DestinationPort":80}})",
            "missing_src_ip"},
        malformed_case{"structured source is not an address",
                       R"({"category":"AZFWNetworkRule","properties":{"SourceIp":"a.b.c.d"}})",
                       "bad_src_ip"},
        malformed_case{
            "structured port is fractional",
            R"({"category":"AZFWNetworkRule","properties":{"SourceIp":"10.0.0.1","DestinationPort":80.5}})",
            "bad_dst_port"},
        malformed_case{
            "time is not a time",
            R"({"category":"AZFWNetworkRule","time":"noon","properties":{"SourceIp":"10.0.0.1"}})",
            "bad_time"},
        malformed_case{"properties is a string",
                       R"({"category":"AZFWNetworkRule","properties":"SourceIp=1.2.3.4"})",
                       "bad_properties"},
        malformed_case{"no category and nothing recognisable", R"({"foo":1})", "unknown_record"},
        malformed_case{"a bare number", "7", "not_an_object"}),
    why_name{});

TEST(AzureFirewall, TheProbeRecognisesEverySampleLine) {
  for (const char* f : {"test-networkrules-raw.log", "test-networkrule-structured-raw.log",
                        "test-AZFWNetworkRule-raw.log"})
    for (const auto& l : fixture_lines(std::string("azure-firewall/") + f)) {
      const format_entry* e = builtin_formats().detect(l);
      ASSERT_NE(e, nullptr) << l;
      EXPECT_EQ(e->name, "azure-firewall") << l;
    }
}

TEST(AzureFirewall, TheProbeDoesNotClaimOtherFormatsUnits) {
  const auto* e = builtin_formats().find("azure-firewall");
  ASSERT_NE(e, nullptr);
  for (const std::string& unit :
       {fixture_lines("asim/sample.jsonl").at(0), fixture_lines("azure-nsg/test-nsg.log").at(0),
        fixture_lines("azure-nsg/sample_logs-testdata.log").at(0),
        fixture_lines("mde/test-device.DeviceNetworkEvents-subset.log").at(1),
        fixture_lines("vmconnection/handmade.jsonl").at(0),
        fixture_lines("aws-vpc/test-extra-samples.log").at(0)})
    EXPECT_FALSE(e->probe(std::string_view(unit).substr(0, probe_window))) << unit;
}

TEST(AzureFirewall, AutoDetectionYieldsTheSameRecordsAsTheFixedFormat) {
  for (const char* f : {"test-networkrules-raw.log", "test-networkrule-structured-raw.log",
                        "test-AZFWNetworkRule-raw.log"})
    for (const auto& l : fixture_lines(std::string("azure-firewall/") + f)) {
      auto fixed = parse_with("azure-firewall", l);
      auto detected = parse_with("auto", l);
      ASSERT_EQ(fixed.records.size(), detected.records.size()) << l;
      EXPECT_EQ(fixed.rejects, detected.rejects);
      for (std::size_t j = 0; j < fixed.records.size(); ++j)
        EXPECT_TRUE(same_record(fixed.records[j], detected.records[j]));
    }
}

}  // namespace
}  // namespace portscand::test
