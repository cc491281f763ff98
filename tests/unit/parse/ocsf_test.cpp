#include <gtest/gtest.h>

#include "../test_names.hpp"
#include "json_formats_test_util.hpp"

namespace portscand::test {
namespace {

TEST(Ocsf, BothSampleDocumentsMatchTheDerivedFields) {
  const auto expected = fixture_lines("ocsf/derived-fields.jsonl");
  ASSERT_EQ(expected.size(), 2u);
  for (const auto& line : expected) {
    const expected_line e(line);
    SCOPED_TRACE(e.str("/file"));
    // Each sample file is ONE pretty-printed document: fed whole, as one unit.
    auto s = parse_with("ocsf", fixture_text("ocsf/" + e.str("/file")));
    ASSERT_EQ(s.records.size(), 1u);
    const auto& r = s.records[0];
    EXPECT_TRUE(r.has_time);
    // The SiLK time "2015/06/17T00:00:00.083" has no zone: read as UTC, as the derived
    // file's "2015-06-17T00:00:00.083" (no zone) is.
    EXPECT_EQ(r.time, iso(e.str("/time")));
    EXPECT_EQ(ip(r.src), e.str("/src_ip"));
    EXPECT_EQ(ip(r.dst), e.str("/dst_ip"));
    EXPECT_EQ(r.dst_port, *e.num("/dst_port"));
    EXPECT_EQ(r.protocol, protocol_from_name(e.str("/protocol")));
    EXPECT_EQ(r.action, e.is_null("/action") ? dvc_action::unknown : dvc_action::deny);
    // Label = metadata.product.vendor_name + "/" + metadata.product.name. The derived
    // file's product for the AWS sample ("Amazon VPC Flowlogs") appends the feature name;
    // the document's product.name is "Amazon VPC".
    EXPECT_EQ(
        label(r.reported_by),
        e.str("/vendor") + "/" + (e.str("/vendor") == "AWS" ? "Amazon VPC" : e.str("/product")));
  }
}

TEST(Ocsf, OtherClassesAreSkipped) {
  auto s = parse_with(
      "ocsf", R"({"class_uid":4003,"src_endpoint":{"ip":"203.0.113.1"},"time":1649721732000})");
  EXPECT_TRUE(s.records.empty());
  EXPECT_EQ(s.skips, std::vector<std::string>{"not_network_activity"});
  auto auth = parse_with("ocsf", R"({"class_uid":"3002","time":1649721732000})");
  EXPECT_EQ(auth.skips, std::vector<std::string>{"not_network_activity"});
}

TEST(Ocsf, TypeUidStandsInForAMissingClassUid) {
  auto s = parse_with(
      "ocsf",
      R"({"type_uid":400105,"src_endpoint":{"ip":"203.0.113.1"},"dst_endpoint":{"ip":"192.0.2.1","port":22}})");
  ASSERT_EQ(s.records.size(), 1u);
  EXPECT_EQ(s.records[0].action, dvc_action::deny);  // activity 5 = Refuse
  EXPECT_FALSE(s.records[0].has_time);
}

TEST(Ocsf, ActionComesFromDispositionThenActionIdThenActivity) {
  auto with = [](const std::string& extra) {
    return parse_with("ocsf",
                      R"({"class_uid":4001,"src_endpoint":{"ip":"203.0.113.1"},)" + extra + "}")
        .records.at(0)
        .action;
  };
  EXPECT_EQ(with(R"("disposition_id":1,"activity_id":5)"), dvc_action::allow);
  EXPECT_EQ(with(R"("disposition_id":6)"), dvc_action::drop);
  EXPECT_EQ(with(R"("action_id":2)"), dvc_action::deny);
  EXPECT_EQ(with(R"("activity_id":3)"), dvc_action::reset);
  EXPECT_EQ(with(R"("activity_id":6)"), dvc_action::unknown);
}

TEST(Ocsf, ProtocolNameAndDeviceHostnameAreRead) {
  auto s = parse_with(
      "ocsf", R"({"class_uid":4001,"time":"2024-11-28T10:00:00Z","device":{"hostname":"fw-9"},)"
              R"("src_endpoint":{"ip":"203.0.113.1"},"connection_info":{"protocol_name":"udp"},)"
              R"("metadata":{"product":{"vendor_name":"Example","name":"Sensor"}}})");
  ASSERT_EQ(s.records.size(), 1u);
  EXPECT_EQ(s.records[0].protocol, 17);
  EXPECT_EQ(label(s.records[0].device), "fw-9");
  EXPECT_EQ(label(s.records[0].reported_by), "Example/Sensor");
  EXPECT_EQ(format_iso8601(s.records[0].time), "2024-11-28T10:00:00Z");
}

TEST(Ocsf, AnArrayOfEventsYieldsEveryRecord) {
  auto s = parse_with("ocsf", "[" + fixture_text("ocsf/vpcflowlog.json") + "," +
                                  fixture_text("ocsf/SampleOCSF_FCCX.json") + "]");
  EXPECT_EQ(s.records.size(), 2u);
}

struct malformed_case {
  const char* why;
  std::string input;
  const char* reason;
};

class OcsfMalformed : public ::testing::TestWithParam<malformed_case> {};

TEST_P(OcsfMalformed, IsRejectedWithItsReason) {
  const auto& c = GetParam();
  auto s = parse_with("ocsf", c.input);
  EXPECT_TRUE(s.records.empty()) << c.why;
  EXPECT_EQ(s.rejects, std::vector<std::string>{c.reason}) << c.why;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, OcsfMalformed,
    ::testing::Values(
        malformed_case{"truncated json", R"({"class_uid":4001,"src_endpoint":{"ip":"203.0.1)",
                       "invalid_json"},
        malformed_case{"no class", R"({"src_endpoint":{"ip":"203.0.113.1"}})", "missing_class_uid"},
        malformed_case{"class is not a number",
                       R"({"class_uid":"network","src_endpoint":{"ip":"203.0.113.1"}})",
                       "bad_class_uid"},
        malformed_case{"no source",
                       R"({"class_uid":4001,"dst_endpoint":{"ip":"192.0.2.1","port":22}})",
                       "missing_src_ip"},
        malformed_case{"bad source", R"({"class_uid":4001,"src_endpoint":{"ip":"1.2.3"}})",
                       "bad_src_ip"},
        malformed_case{
            "bad port",
            R"({"class_uid":4001,"src_endpoint":{"ip":"203.0.113.1"},"dst_endpoint":{"port":"x"}})",
            "bad_dst_port"},
        malformed_case{
            "bad time",
            R"({"class_uid":4001,"time":"yesterday","src_endpoint":{"ip":"203.0.113.1"}})",
            "bad_time"}),
    why_name{});

TEST(Ocsf, TheProbeRecognisesEverySampleUnitAndNoOtherFormats) {
  for (const auto& [format, unit] : sample_units()) {
    SCOPED_TRACE(format + ": " + unit.substr(0, 80));
    EXPECT_EQ(probe_claims("ocsf", unit), format == "ocsf");
  }
}

TEST(Ocsf, AutoDetectionYieldsTheSameRecordsAsTheFixedFormat) {
  for (const char* f : {"ocsf/vpcflowlog.json", "ocsf/SampleOCSF_FCCX.json"}) {
    const std::string doc = fixture_text(f);
    auto fixed = parse_with("ocsf", doc);
    auto autod = parse_with("auto", doc);
    ASSERT_EQ(autod.records.size(), 1u);
    ASSERT_EQ(fixed.records.size(), 1u);
    EXPECT_EQ(autod.records[0].src, fixed.records[0].src);
    EXPECT_EQ(autod.records[0].time, fixed.records[0].time);
    EXPECT_EQ(autod.records[0].reported_by, fixed.records[0].reported_by);
  }
}

}  // namespace
}  // namespace portscand::test

namespace portscand::test {
namespace {

// OCSF times are epoch milliseconds by the schema; text without a zone is read in the
// input's `timezone`, text with one as written.
TEST(Ocsf, AZoneLessTextTimeIsReadInTheInputsTimeZone) {
  std::string error;
  auto zone = local_zone::find("+08:00", error);
  ASSERT_TRUE(zone) << error;
  parse_context ctx;
  ctx.zone = &*zone;
  const std::string head =
      R"({"class_uid":4001,"src_endpoint":{"ip":"203.0.113.9"},"dst_endpoint":{"ip":"198.51.100.1","port":22},"time":)";
  auto s = parse_with("ocsf", head + R"("2024-11-28T10:00:00"})", ctx);
  ASSERT_EQ(s.records.size(), 1u);
  EXPECT_EQ(format_iso8601(s.records[0].time), "2024-11-28T02:00:00Z");
  s = parse_with("ocsf", head + R"("2024-11-28T10:00:00+01:00"})", ctx);
  ASSERT_EQ(s.records.size(), 1u);
  EXPECT_EQ(format_iso8601(s.records[0].time), "2024-11-28T09:00:00Z");
  s = parse_with("ocsf", head + R"(1732788000000})", ctx);
  ASSERT_EQ(s.records.size(), 1u);
  EXPECT_EQ(format_iso8601(s.records[0].time), "2024-11-28T10:00:00Z");
}

}  // namespace
}  // namespace portscand::test
