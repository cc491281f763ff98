#include <gtest/gtest.h>

#include "../test_names.hpp"
#include "parse_test_util.hpp"

namespace portscand::test {
namespace {

TEST(AsimJson, AFullRecordYieldsEveryNormalizedField) {
  auto s = parse_with("asim",
                      R"({"TimeGenerated":"2026-11-28T10:05:03.5Z","SrcIpAddr":"203.0.113.7",)"
                      R"("DstIpAddr":"198.51.100.1","DstPortNumber":443,"NetworkProtocol":"TCP",)"
                      R"("DvcAction":"Deny","EventVendor":"Fortinet","EventProduct":"Fortigate",)"
                      R"("DvcHostname":"fw-01"})");
  ASSERT_EQ(s.records.size(), 1u);
  const auto& r = s.records[0];
  EXPECT_TRUE(r.has_time);
  EXPECT_EQ(format_iso8601(r.time), "2026-11-28T10:05:03.500000Z");
  EXPECT_EQ(ip(r.src), "203.0.113.7");
  EXPECT_TRUE(r.has_dst);
  EXPECT_EQ(ip(r.dst), "198.51.100.1");
  EXPECT_EQ(r.dst_port, 443);
  EXPECT_EQ(r.protocol, 6);
  EXPECT_EQ(r.action, dvc_action::deny);
  EXPECT_EQ(label(r.reported_by), "Fortinet/Fortigate");
  EXPECT_EQ(label(r.device), "fw-01");
}

// Keys and strings are read from the raw input when they hold no escape; these check the
// cases that must take the unescaping path, and white space around keys and values.
TEST(AsimJson, EscapedKeysAndValuesMeanWhatTheyUnescapeTo) {
  auto s = parse_with(
      "asim",
      R"({"Src\u0049pAddr":"203.0.113.\u0037","TimeGenerated":"2026-11-28T10:05:03\u005a",)"
      R"("Dst\u0050ortNumber":443,"EventVendor":"Palo \"Alto\"","EventProduct":"a\\b",)"
      R"("Network\u0050rotocol":"\u0054CP","DvcAction":"\u0044eny","DstIpAddr":"198.51.100.\u0031"})");
  ASSERT_EQ(s.records.size(), 1u) << (s.rejects.empty() ? "" : s.rejects[0]);
  EXPECT_EQ(ip(s.records[0].src), "203.0.113.7");
  EXPECT_EQ(s.records[0].dst_port, 443);
  EXPECT_EQ(s.records[0].protocol, 6);
  EXPECT_EQ(s.records[0].action, dvc_action::deny);
  EXPECT_EQ(ip(s.records[0].dst), "198.51.100.1");
  EXPECT_EQ(format_iso8601(s.records[0].time), "2026-11-28T10:05:03Z");
  EXPECT_EQ(label(s.records[0].reported_by), "Palo \"Alto\"/a\\b");
}

TEST(AsimJson, AnEscapedValueThatIsStillInvalidIsRejected) {
  EXPECT_EQ(parse_with("asim", R"({"SrcIpAddr":"203.0.113.\u0078"})").rejects,
            std::vector<std::string>{"bad_src_ip"});
  EXPECT_EQ(
      parse_with("asim", R"({"SrcIpAddr":"1.2.3.4","TimeGenerated":"2026-13-01T00:00:00\u005a"})")
          .rejects,
      std::vector<std::string>{"bad_time"});
}

TEST(AsimJson, WhiteSpaceAroundKeysAndValuesIsInsignificant) {
  auto s = parse_with("asim",
                      "{ \"SrcIpAddr\" \t:\r\n \"203.0.113.7\" , \"DstPortNumber\" : 22 ,\n"
                      "  \"EventVendor\"\n:\n\"V\"\n,\"EventProduct\":\"P\"  }");
  ASSERT_EQ(s.records.size(), 1u) << (s.rejects.empty() ? "" : s.rejects[0]);
  EXPECT_EQ(ip(s.records[0].src), "203.0.113.7");
  EXPECT_EQ(s.records[0].dst_port, 22);
  EXPECT_EQ(label(s.records[0].reported_by), "V/P");
}

TEST(AsimJson, AKeyThatOnlyStartsLikeAFieldIsNotThatField) {
  auto s = parse_with(
      "asim",
      R"({"SrcIpAddr":"203.0.113.7","SrcIpAddrX":"1.1.1.1","DstPortNumbers":9,"DstPortNumber":7})");
  ASSERT_EQ(s.records.size(), 1u);
  EXPECT_EQ(ip(s.records[0].src), "203.0.113.7");
  EXPECT_EQ(s.records[0].dst_port, 7);
}

TEST(AsimJson, DstPortMayBeANumericString) {
  auto s = parse_with("asim", R"({"SrcIpAddr":"203.0.113.7","DstPortNumber":"8080"})");
  ASSERT_EQ(s.records.size(), 1u);
  EXPECT_EQ(s.records[0].dst_port, 8080);
}

TEST(AsimJson, PortZeroAnd65535AreValidAnd65536IsRejected) {
  EXPECT_EQ(
      parse_with("asim", R"({"SrcIpAddr":"1.2.3.4","DstPortNumber":0})").records.at(0).dst_port, 0);
  EXPECT_EQ(
      parse_with("asim", R"({"SrcIpAddr":"1.2.3.4","DstPortNumber":65535})").records.at(0).dst_port,
      65535);
  auto bad = parse_with("asim", R"({"SrcIpAddr":"1.2.3.4","DstPortNumber":65536})");
  EXPECT_TRUE(bad.records.empty());
  EXPECT_EQ(bad.rejects, std::vector<std::string>{"bad_dst_port"});
}

TEST(AsimJson, ARecordWithoutPortStillYieldsARecordWithItsLabel) {
  auto s = parse_with(
      "asim",
      R"({"SrcIpAddr":"1.2.3.4","DstPortNumber":null,"EventVendor":"AWS","EventProduct":"VPC"})");
  ASSERT_EQ(s.records.size(), 1u);
  EXPECT_FALSE(s.records[0].has_port());
  EXPECT_EQ(label(s.records[0].reported_by), "AWS/VPC");
}

TEST(AsimJson, MissingVendorAndProductMakeTheLabelASlash) {
  auto s = parse_with("asim", R"({"SrcIpAddr":"1.2.3.4"})");
  ASSERT_EQ(s.records.size(), 1u);
  EXPECT_EQ(label(s.records[0].reported_by), "/");
}

TEST(AsimJson, EventStartTimeIsTheFallbackForTimeGenerated) {
  auto a = parse_with("asim", R"({"EventStartTime":"2026-01-01T00:00:00Z","SrcIpAddr":"1.2.3.4"})");
  EXPECT_EQ(format_iso8601(a.records.at(0).time), "2026-01-01T00:00:00Z");
  auto b = parse_with(
      "asim",
      R"({"EventStartTime":"2026-01-01T00:00:00Z","TimeGenerated":"2026-02-01T00:00:00Z","SrcIpAddr":"1.2.3.4"})");
  EXPECT_EQ(format_iso8601(b.records.at(0).time), "2026-02-01T00:00:00Z");
  auto c = parse_with(
      "asim",
      R"({"TimeGenerated":"2026-02-01T00:00:00Z","EventStartTime":"2026-01-01T00:00:00Z","SrcIpAddr":"1.2.3.4"})");
  EXPECT_EQ(format_iso8601(c.records.at(0).time), "2026-02-01T00:00:00Z");
}

TEST(AsimJson, ARecordWithoutTimeIsMarkedSoTheInputUsesReceiveTime) {
  auto s = parse_with("asim", R"({"SrcIpAddr":"1.2.3.4","DstPortNumber":22})");
  ASSERT_EQ(s.records.size(), 1u);
  EXPECT_FALSE(s.records[0].has_time);
}

TEST(AsimJson, ArraysAndRecordsEnvelopesYieldEveryRecord) {
  auto a = parse_with(
      "asim",
      R"([{"SrcIpAddr":"1.2.3.4","DstPortNumber":1},{"SrcIpAddr":"1.2.3.5","DstPortNumber":2}])");
  ASSERT_EQ(a.records.size(), 2u);
  EXPECT_EQ(ip(a.records[1].src), "1.2.3.5");
  auto e = parse_with(
      "asim",
      R"({"records":[{"SrcIpAddr":"1.2.3.4","DstPortNumber":1},{"SrcIpAddr":"bad"},{"SrcIpAddr":"::1","DstPortNumber":3}]})");
  EXPECT_EQ(e.records.size(), 2u);
  EXPECT_EQ(e.rejects, std::vector<std::string>{"bad_src_ip"});
}

TEST(AsimJson, MappedIpv4SourceIsFoldedToIpv4) {
  auto s = parse_with("asim", R"({"SrcIpAddr":"::ffff:203.0.113.9"})");
  ASSERT_EQ(s.records.size(), 1u);
  EXPECT_TRUE(s.records[0].src.is_v4());
  EXPECT_EQ(ip(s.records[0].src), "203.0.113.9");
}

struct malformed_case {
  const char* why;
  std::string input;
  const char* reason;
};

class AsimJsonMalformed : public ::testing::TestWithParam<malformed_case> {};

TEST_P(AsimJsonMalformed, IsRejectedWithItsReasonAndNeverYieldsARecord) {
  const auto& c = GetParam();
  auto s = parse_with("asim", c.input);
  EXPECT_TRUE(s.records.empty()) << c.why;
  ASSERT_EQ(s.rejects.size(), 1u) << c.why;
  EXPECT_EQ(s.rejects[0], c.reason) << c.why;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, AsimJsonMalformed,
    ::testing::Values(
        malformed_case{"truncated JSON", R"({"SrcIpAddr":"1.2.3.4","DstPor)", "invalid_json"},
        malformed_case{"source is a number", R"({"SrcIpAddr":1234})", "bad_src_ip"},
        malformed_case{"source is not an address", R"({"SrcIpAddr":"1.2.3.256"})", "bad_src_ip"},
        malformed_case{"source has a leading zero octet", R"({"SrcIpAddr":"01.2.3.4"})",
                       "bad_src_ip"},
        malformed_case{"empty source", R"({"SrcIpAddr":""})", "missing_src_ip"},
        malformed_case{"no source at all", R"({"DstPortNumber":22})", "missing_src_ip"},
        malformed_case{"port is a huge number",
                       R"({"SrcIpAddr":"1.2.3.4","DstPortNumber":123456789012345678901234567890})",
                       "bad_dst_port"},
        malformed_case{"port is negative", R"({"SrcIpAddr":"1.2.3.4","DstPortNumber":-1})",
                       "bad_dst_port"},
        malformed_case{"port is fractional", R"({"SrcIpAddr":"1.2.3.4","DstPortNumber":80.5})",
                       "bad_dst_port"},
        malformed_case{"port is an object", R"({"SrcIpAddr":"1.2.3.4","DstPortNumber":{}})",
                       "bad_dst_port"},
        malformed_case{"time is not a time",
                       R"({"SrcIpAddr":"1.2.3.4","TimeGenerated":"yesterday"})", "bad_time"},
        malformed_case{"time is February 30th",
                       R"({"SrcIpAddr":"1.2.3.4","TimeGenerated":"2026-02-30T00:00:00Z"})",
                       "bad_time"},
        malformed_case{"a bare number", "42", "not_an_object"},
        malformed_case{"invalid UTF-8 inside a string",
                       std::string("{\"SrcIpAddr\":\"1.2.3.4\",\"EventVendor\":\"\xff\xfe\"}"),
                       "invalid_json"}),
    why_name{});

TEST(AsimJson, ATenMegabyteLineIsRejectedAsTooLarge) {
  std::string huge = R"({"SrcIpAddr":"1.2.3.4","pad":")" + std::string(10u << 20, 'x') + "\"}";
  auto s = parse_with("asim", huge);
  EXPECT_TRUE(s.records.empty());
  EXPECT_EQ(s.rejects, std::vector<std::string>{"too_large"});
}

TEST(AsimJson, EmptyLinesAreSkippedNotRejected) {
  auto s = parse_with("asim", "   ");
  EXPECT_TRUE(s.records.empty());
  EXPECT_TRUE(s.rejects.empty());
  EXPECT_EQ(s.skips, std::vector<std::string>{"empty"});
}

}  // namespace
}  // namespace portscand::test
