#include <gtest/gtest.h>

#include <map>
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

// The v1 fixture is only the `properties` object of Microsoft's sample: wrap it in a record.
std::string v1_record() {
  return R"({"time":"2017-02-16T22:00:32.8950000Z","systemId":"x","category":"NetworkSecurityGroupFlowEvent",)"
         R"("resourceId":"/SUBSCRIPTIONS/X/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.NETWORK/NETWORKSECURITYGROUPS/DOCS-NSG",)"
         R"("operationName":"NetworkSecurityGroupFlowEvents","properties":)" +
         fixture_text("azure-nsg/msdocs-nsg-v1-properties.json") + "}";
}

std::string unit_of(const std::string& file) {
  return file == "msdocs-nsg-v1-properties.json" ? v1_record()
                                                 : fixture_lines("azure-nsg/" + file).at(0);
}

std::string tuple_record(const std::string& tuples) {
  return R"({"time":"2024-01-01T00:00:00Z","category":"NetworkSecurityGroupFlowEvent","resourceId":"/X/NETWORKSECURITYGROUPS/NSG-T",)"
         R"("properties":{"Version":2,"flows":[{"rule":"r","flows":[{"mac":"000D3A000000","flowTuples":[)" +
         tuples + "]}]}]}}";
}

TEST(AzureNsg, EveryFlowTupleOfTheSamplesMatchesItsDerivedFields) {
  // Walks the corpus's per-tuple derived file: B tuples (and stateless v1 tuples) are
  // records; C/E tuples are the same connections reported again and are skipped.
  std::map<std::string, std::vector<nlohmann::json>> by_file;
  for (const auto& l : fixture_lines("azure-nsg/nsg-flowtuples-derived.jsonl"))
    if (!l.empty()) {
      auto x = nlohmann::json::parse(l);
      by_file[x["file"]].push_back(x);
    }
  ASSERT_EQ(by_file.size(), 3u);
  std::size_t tuples = 0;
  for (const auto& [file, derived] : by_file) {
    auto s = parse_with("azure-nsg", unit_of(file));
    EXPECT_TRUE(s.rejects.empty()) << file;
    std::size_t r = 0, continuations = 0;
    for (const auto& x : derived) {
      SCOPED_TRACE(file + ": " + x["flowTuple"].get<std::string>());
      ++tuples;
      if (x["flow_state"] == "C" || x["flow_state"] == "E") {
        ++continuations;
        continue;
      }
      ASSERT_LT(r, s.records.size());
      const auto& rec = s.records[r++];
      ASSERT_TRUE(rec.has_time);
      EXPECT_EQ(format_iso8601(rec.time), x["time_utc"].get<std::string>());
      EXPECT_EQ(ip(rec.src), x["src"].get<std::string>());
      EXPECT_EQ(ip(rec.dst), x["dst"].get<std::string>());
      EXPECT_EQ(rec.dst_port, x["dport"].get<int>());
      EXPECT_EQ(rec.protocol, protocol_from_name(x["proto"].get<std::string>()));
      EXPECT_EQ(rec.action, x["action"] == "allow" ? dvc_action::allow : dvc_action::deny);
      // The derived file's product ("Azure NSG flow log v2") is descriptive; ASIM's
      // AzureNSG parser reports EventVendor "Microsoft", EventProduct "NSGFlow".
      EXPECT_EQ(label(rec.reported_by), "Microsoft/NSGFlow");
    }
    EXPECT_EQ(r, s.records.size()) << file;
    EXPECT_EQ(s.skips, std::vector<std::string>(continuations, "flow_continuation")) << file;
  }
  EXPECT_EQ(tuples, 15u);
}

TEST(AzureNsg, OneBlobYieldsEveryTupleOfEveryRecordRuleAndMac) {
  auto s = parse_with("azure-nsg", fixture_lines("azure-nsg/sample_logs-testdata.log").at(0));
  EXPECT_EQ(s.records.size() + s.skips.size(), 11u);
  EXPECT_EQ(s.records.size(),
            8u);  // 3 inbound denies + 1 outbound B in record 1, 4 denies in record 2
}

TEST(AzureNsg, TheNsgNameFromTheResourceIdIsTheDevice) {
  auto s = parse_with("azure-nsg", fixture_lines("azure-nsg/sample_logs-testdata.log").at(0));
  ASSERT_FALSE(s.records.empty());
  EXPECT_EQ(label(s.records[0].device), "FABRIAKMVM1-NSG");
}

TEST(AzureNsg, BothDirectionsKeepTheTupleSourceAsTheInitiator) {
  auto s = parse_with(
      "azure-nsg",
      tuple_record(
          R"("1700000000,203.0.113.5,10.0.0.4,40000,22,T,I,D,B,,,,","1700000001,10.0.0.4,198.51.100.8,50000,443,T,O,A,B,,,,")"));
  ASSERT_EQ(s.records.size(), 2u);
  EXPECT_EQ(ip(s.records[0].src), "203.0.113.5");
  EXPECT_EQ(s.records[0].dst_port, 22);
  EXPECT_EQ(ip(s.records[1].src), "10.0.0.4");
  EXPECT_EQ(s.records[1].dst_port, 443);
  // Both are their connections' begin tuples, initiator first whatever the direction.
  EXPECT_EQ(s.records[0].side, flow_side::initiator);
  EXPECT_EQ(s.records[1].side, flow_side::initiator);
}

TEST(AzureNsg, TheResourceIdMayFollowThePropertiesAndCategoryStillFilters) {
  auto s = parse_with(
      "azure-nsg",
      R"({"properties":{"Version":1,"flows":[{"rule":"r","flows":[{"mac":"m","flowTuples":["1700000000,203.0.113.5,10.0.0.4,1,23,T,I,D"]}]}]},"resourceId":"/A/NETWORKSECURITYGROUPS/LATE"})");
  ASSERT_EQ(s.records.size(), 1u);
  EXPECT_EQ(label(s.records[0].device), "LATE");
  auto other = parse_with(
      "azure-nsg",
      R"({"category":"NetworkSecurityGroupRuleCounter","properties":{"vnetResourceGuid":"x","type":"allow","matchedConnections":3}})");
  EXPECT_EQ(other.skips, std::vector<std::string>{"other_category"});
}

TEST(AzureNsg, ARecordWithoutTuplesIsSkipped) {
  auto s = parse_with(
      "azure-nsg",
      R"({"category":"NetworkSecurityGroupFlowEvent","properties":{"Version":2,"flows":[]}})");
  EXPECT_EQ(s.skips, std::vector<std::string>{"no_flows"});
}

TEST(AzureNsg, AnArrayOfRecordsYieldsEveryTuple) {
  const std::string rec = fixture_lines("azure-nsg/test-nsg.log").at(0);
  auto s = parse_with("azure-nsg", "[" + rec + "," + v1_record() + "]");
  EXPECT_EQ(s.records.size(), 3u);
  EXPECT_EQ(s.skips, std::vector<std::string>{"flow_continuation"});
}

TEST(AzureNsg, AMalformedTupleRejectsOnlyItself) {
  auto s = parse_with(
      "azure-nsg",
      tuple_record(
          R"("1700000000,203.0.113.5,10.0.0.4,40000,99999,T,I,D,B,,,,","1700000001,203.0.113.5,10.0.0.4,40000,23,T,I,D,B,,,,")"));
  EXPECT_EQ(s.records.size(), 1u);
  EXPECT_EQ(s.rejects, std::vector<std::string>{"bad_dst_port"});
}

struct malformed_case {
  const char* why;
  std::string input;
  const char* reason;
};

class AzureNsgMalformed : public ::testing::TestWithParam<malformed_case> {};

TEST_P(AzureNsgMalformed, IsRejectedWithItsReasonAndNeverYieldsARecord) {
  const auto& c = GetParam();
  auto s = parse_with("azure-nsg", c.input);
  EXPECT_TRUE(s.records.empty()) << c.why;
  ASSERT_EQ(s.rejects.size(), 1u) << c.why;
  EXPECT_EQ(s.rejects[0], c.reason) << c.why;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, AzureNsgMalformed,
    ::testing::Values(
        malformed_case{
            "truncated JSON",
            R"({"records":[{"category":"NetworkSecurityGroupFlowEvent","properties":{"flows":[{"ru)",
            "invalid_json"},
        malformed_case{"tuple has nine fields",
                       tuple_record(R"("1700000000,1.2.3.4,10.0.0.4,1,23,T,I,D,B")"), "bad_tuple"},
        malformed_case{"tuple has too many fields",
                       tuple_record(R"("1,2,3,4,5,6,7,8,9,10,11,12,13,14")"), "bad_tuple"},
        malformed_case{"time is not a number",
                       tuple_record(R"("later,1.2.3.4,10.0.0.4,1,23,T,I,D,B,,,,")"), "bad_time"},
        malformed_case{"time overflows",
                       tuple_record(R"("99999999999999999999,1.2.3.4,10.0.0.4,1,23,T,I,D,B,,,,")"),
                       "bad_time"},
        malformed_case{"source is empty",
                       tuple_record(R"("1700000000,,10.0.0.4,1,23,T,I,D,B,,,,")"),
                       "missing_src_ip"},
        malformed_case{"source is not an address",
                       tuple_record(R"("1700000000,1.2.3,10.0.0.4,1,23,T,I,D,B,,,,")"),
                       "bad_src_ip"},
        malformed_case{"port is negative",
                       tuple_record(R"("1700000000,1.2.3.4,10.0.0.4,1,-23,T,I,D,B,,,,")"),
                       "bad_dst_port"},
        malformed_case{"direction is unknown",
                       tuple_record(R"("1700000000,1.2.3.4,10.0.0.4,1,23,T,X,D,B,,,,")"),
                       "bad_direction"},
        malformed_case{"flow state is unknown",
                       tuple_record(R"("1700000000,1.2.3.4,10.0.0.4,1,23,T,I,D,Z,,,,")"),
                       "bad_flow_state"},
        malformed_case{"a tuple is a number", tuple_record("17"), "bad_flows"},
        malformed_case{"flows is an object",
                       R"({"category":"NetworkSecurityGroupFlowEvent","properties":{"flows":{}}})",
                       "bad_flows"},
        malformed_case{"records is a number", R"({"records":1})", "bad_envelope"},
        malformed_case{"a bare string", R"("flowTuples")", "not_an_object"}),
    why_name{});

TEST(AzureNsg, TheProbeRecognisesTheSamples) {
  for (const std::string& unit :
       {unit_of("test-nsg.log"), unit_of("sample_logs-testdata.log"), v1_record()}) {
    const format_entry* e = builtin_formats().detect(unit);
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(e->name, "azure-nsg");
  }
}

TEST(AzureNsg, TheProbeDoesNotClaimOtherFormatsUnits) {
  const auto* e = builtin_formats().find("azure-nsg");
  ASSERT_NE(e, nullptr);
  for (const std::string& unit :
       {fixture_lines("asim/sample.jsonl").at(0),
        fixture_lines("azure-firewall/test-networkrules-raw.log").at(1),
        fixture_lines("azure-firewall/test-networkrule-structured-raw.log").at(0),
        fixture_lines("mde/test-device.DeviceNetworkEvents-subset.log").at(1),
        fixture_lines("vmconnection/handmade.jsonl").at(0),
        fixture_lines("aws-vpc/test-extra-samples.log").at(0)})
    EXPECT_FALSE(e->probe(std::string_view(unit).substr(0, probe_window))) << unit;
}

TEST(AzureNsg, AutoDetectionYieldsTheSameRecordsAsTheFixedFormat) {
  for (const std::string& unit :
       {unit_of("test-nsg.log"), unit_of("sample_logs-testdata.log"), v1_record()}) {
    auto fixed = parse_with("azure-nsg", unit);
    auto detected = parse_with("auto", unit);
    ASSERT_EQ(fixed.records.size(), detected.records.size());
    EXPECT_EQ(fixed.skips, detected.skips);
    for (std::size_t j = 0; j < fixed.records.size(); ++j)
      EXPECT_TRUE(same_record(fixed.records[j], detected.records[j]));
  }
}

}  // namespace
}  // namespace portscand::test
