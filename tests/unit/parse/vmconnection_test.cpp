#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "../test_names.hpp"
#include "parse_test_util.hpp"

namespace portscand::test {
namespace {

// NOTE: no public VMConnection sample exists; the fixture rows and their expected values
// are hand-made from Microsoft's table schema (tests/fixtures/vmconnection/NOTICE.md).
const std::string sample = "vmconnection/handmade.jsonl";

bool same_record(const network_session& a, const network_session& b) {
  return a.time == b.time && a.has_time == b.has_time && a.src == b.src && a.dst == b.dst &&
         a.has_dst == b.has_dst && a.dst_port == b.dst_port && a.protocol == b.protocol &&
         a.action == b.action && a.reported_by == b.reported_by && a.device == b.device;
}

std::string row(const std::string& fields) {
  return R"({"TimeGenerated":"2024-05-06T10:15:00Z","Computer":"web-01",)" + fields +
         R"(,"Type":"VMConnection"})";
}

TEST(VmConnection, EveryHandMadeRowMatchesItsExpectedValues) {
  const auto lines = fixture_lines(sample);
  std::vector<nlohmann::json> expected;
  for (const auto& l : fixture_lines("vmconnection/handmade-expected.jsonl"))
    if (!l.empty()) expected.push_back(nlohmann::json::parse(l));
  std::size_t e = 0;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    SCOPED_TRACE("line " + std::to_string(i + 1));
    auto s = parse_with("vmconnection", lines[i]);
    EXPECT_TRUE(s.rejects.empty());
    std::size_t r = 0;
    for (; e < expected.size() && expected[e]["line"] == i + 1; ++e) {
      const auto& x = expected[e];
      if (x.contains("skipped")) {
        EXPECT_EQ(s.skips, std::vector<std::string>{x["skipped"].get<std::string>()});
        continue;
      }
      ASSERT_LT(r, s.records.size());
      const auto& rec = s.records[r++];
      ASSERT_TRUE(rec.has_time);
      EXPECT_EQ(format_iso8601(rec.time), x["time"].get<std::string>());
      EXPECT_EQ(ip(rec.src), x["src"].get<std::string>());
      ASSERT_TRUE(rec.has_dst);
      EXPECT_EQ(ip(rec.dst), x["dst"].get<std::string>());
      EXPECT_EQ(rec.dst_port, x["dport"].get<int>());
      EXPECT_EQ(rec.protocol, x["proto"].get<int>());
      EXPECT_EQ(rec.action, dvc_action::unknown);  // ASIM sets no DvcAction for VMConnection
      EXPECT_EQ(label(rec.device), x["device"].get<std::string>());
      EXPECT_EQ(label(rec.reported_by), "Microsoft/VMConnection");
    }
    EXPECT_EQ(r, s.records.size());
  }
  EXPECT_EQ(e, expected.size());
}

TEST(VmConnection, ARowAggregatingManyLinksIsStillOneRecord) {
  auto s = parse_with(
      "vmconnection",
      row(R"("Direction":"inbound","SourceIp":"203.0.113.1","DestinationIp":"10.0.0.4","DestinationPort":22,"Protocol":"tcp","LinksEstablished":250,"LinksFailed":40)"));
  EXPECT_EQ(s.records.size(), 1u);
}

TEST(VmConnection, InboundRowsAreAlreadyInitiatorFirst) {
  // For inbound rows SourceIp is the remote peer (RemoteIp) and DestinationIp the VM.
  auto s = parse_with(
      "vmconnection",
      row(R"("Direction":"inbound","SourceIp":"203.0.113.1","DestinationIp":"10.0.0.4","DestinationPort":3389,"RemoteIp":"203.0.113.1")"));
  ASSERT_EQ(s.records.size(), 1u);
  EXPECT_EQ(ip(s.records[0].src), "203.0.113.1");
  EXPECT_EQ(s.records[0].dst_port, 3389);
}

TEST(VmConnection, DirectionsOtherThanInboundAndOutboundAreSkipped) {
  auto s = parse_with("vmconnection",
                      row(R"("Direction":"listen","SourceIp":"10.0.0.4","DestinationPort":80)"));
  EXPECT_EQ(s.skips, std::vector<std::string>{"other_direction"});
  auto u = parse_with("vmconnection",
                      row(R"("Direction":"Outbound","SourceIp":"10.0.0.4","DestinationPort":80)"));
  EXPECT_EQ(u.records.size(), 1u);  // case does not matter
}

TEST(VmConnection, ADiagnosticPropertiesObjectIsReadLikeFlatColumns) {
  auto s = parse_with(
      "vmconnection",
      R"({"time":"x","properties":{"TimeGenerated":"2024-05-06T10:15:00Z","Direction":"outbound","SourceIp":"10.0.0.4","DestinationIp":"192.0.2.9","DestinationPort":"8080","Protocol":"tcp","Computer":"vm-9"},"Type":"VMConnection"})");
  ASSERT_EQ(s.records.size(), 1u);
  EXPECT_EQ(s.records[0].dst_port, 8080);
  EXPECT_EQ(label(s.records[0].device), "vm-9");
}

TEST(VmConnection, ARowWithoutTimeLeavesTheTimeToTheInput) {
  auto s = parse_with("vmconnection",
                      R"({"Direction":"outbound","SourceIp":"10.0.0.4","DestinationPort":443})");
  ASSERT_EQ(s.records.size(), 1u);
  EXPECT_FALSE(s.records[0].has_time);
  EXPECT_EQ(s.records[0].device, label_table::empty_id);
}

struct malformed_case {
  const char* why;
  std::string input;
  const char* reason;
};

class VmConnectionMalformed : public ::testing::TestWithParam<malformed_case> {};

TEST_P(VmConnectionMalformed, IsRejectedWithItsReasonAndNeverYieldsARecord) {
  const auto& c = GetParam();
  auto s = parse_with("vmconnection", c.input);
  EXPECT_TRUE(s.records.empty()) << c.why;
  ASSERT_EQ(s.rejects.size(), 1u) << c.why;
  EXPECT_EQ(s.rejects[0], c.reason) << c.why;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, VmConnectionMalformed,
    ::testing::Values(
        malformed_case{"truncated JSON", R"({"Direction":"outbound","SourceIp":"10.)",
                       "invalid_json"},
        malformed_case{"no direction", row(R"("SourceIp":"10.0.0.4","DestinationPort":443)"),
                       "missing_direction"},
        malformed_case{"direction is an array", row(R"("Direction":["in"],"SourceIp":"10.0.0.4")"),
                       "bad_direction"},
        malformed_case{"no source", row(R"("Direction":"outbound","DestinationPort":443)"),
                       "missing_src_ip"},
        malformed_case{"source is not an address",
                       row(R"("Direction":"outbound","SourceIp":"web-01")"), "bad_src_ip"},
        malformed_case{"source is an object", row(R"("Direction":"outbound","SourceIp":{})"),
                       "bad_src_ip"},
        malformed_case{"port is negative",
                       row(R"("Direction":"outbound","SourceIp":"10.0.0.4","DestinationPort":-5)"),
                       "bad_dst_port"},
        malformed_case{
            "time is not a time",
            R"({"TimeGenerated":"5/6/2024, 10:15 AM","Direction":"outbound","SourceIp":"10.0.0.4"})",
            "bad_time"},
        malformed_case{"an array of numbers", "[1,2]", "not_an_object"},
        malformed_case{"records is a string", R"({"records":"x"})", "bad_envelope"}),
    why_name{});

TEST(VmConnection, TheProbeRecognisesTheFixtureRows) {
  // The last row is VMBoundPort's (another VM insights table on the same export): claimed
  // as well, so that auto-detection skips it as other_table instead of rejecting it.
  for (const auto& line : fixture_lines(sample)) {
    const format_entry* e = builtin_formats().detect(line);
    ASSERT_NE(e, nullptr) << line;
    EXPECT_EQ(e->name, "vmconnection");
  }
  EXPECT_EQ(parse_with("auto", fixture_lines(sample).back()).skips,
            std::vector<std::string>{"other_table"});
}

TEST(VmConnection, TheProbeDoesNotClaimOtherFormatsUnits) {
  const auto* e = builtin_formats().find("vmconnection");
  ASSERT_NE(e, nullptr);
  for (const std::string& unit :
       {fixture_lines("asim/sample.jsonl").at(0), fixture_lines("azure-nsg/test-nsg.log").at(0),
        fixture_lines("azure-firewall/test-networkrules-raw.log").at(1),
        fixture_lines("azure-firewall/test-networkrule-structured-raw.log").at(0),
        fixture_lines("mde/test-device.DeviceNetworkEvents-subset.log").at(1),
        fixture_lines("aws-vpc/test-extra-samples.log").at(0)})
    EXPECT_FALSE(e->probe(std::string_view(unit).substr(0, probe_window))) << unit;
}

TEST(VmConnection, AutoDetectionYieldsTheSameRecordsAsTheFixedFormat) {
  const auto lines = fixture_lines(sample);
  for (std::size_t i = 0; i < lines.size(); ++i) {
    auto fixed = parse_with("vmconnection", lines[i]);
    auto detected = parse_with("auto", lines[i]);
    ASSERT_EQ(fixed.records.size(), detected.records.size());
    EXPECT_EQ(fixed.skips, detected.skips);
    EXPECT_EQ(fixed.rejects, detected.rejects);
    for (std::size_t j = 0; j < fixed.records.size(); ++j)
      EXPECT_TRUE(same_record(fixed.records[j], detected.records[j]));
  }
}

}  // namespace
}  // namespace portscand::test
