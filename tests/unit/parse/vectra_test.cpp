#include <gtest/gtest.h>

#include "../test_names.hpp"
#include "json_formats_test_util.hpp"

namespace portscand::test {
namespace {

// ASimNetworkSessionVectraAI: EventVendor "Vectra AI", EventProduct "Vectra Stream".
constexpr const char* vectra_label = "Vectra AI/Vectra Stream";

struct expected_session {
  const char* src;
  const char* dst;
  std::int32_t dst_port;
  std::uint16_t protocol;
  const char* time;  // session_start_time, read by hand from the fixture line
  dvc_action action;
  const char* device;
};

// tests/fixtures/vectra/isession.jsonl is hand-made (see its NOTICE.md); the values below
// are read off each line by hand.
const expected_session isession_lines[] = {
    {"203.0.113.50", "192.0.2.10", 22, 6, "2024-11-28T10:00:00.120Z", dvc_action::reset, ""},
    {"203.0.113.50", "192.0.2.10", 23, 6, "2024-11-28T10:00:01.120Z", dvc_action::unknown, ""},
    {"203.0.113.50", "192.0.2.10", 443, 6, "2024-11-28T10:00:02.500Z", dvc_action::unknown, ""},
    {"2001:db8::50", "2001:db8::10", 53, 17, "2024-11-28T10:00:10Z", dvc_action::unknown, ""},
    // ICMP: resp_p 0 is the ICMP code; in default mode normalize() does not count it.
    {"198.51.100.7", "192.0.2.10", network_session::no_port, 1, "2024-11-28T10:00:20Z",
     dvc_action::unknown, ""},
    {"198.51.100.8", "192.0.2.11", 3389, 6, "2024-11-28T10:00:30Z", dvc_action::unknown,
     "vectra-collector-1"},
};

TEST(Vectra, EveryIsessionRecordOfTheFixtureYieldsItsSession) {
  const auto lines = fixture_lines("vectra/isession.jsonl");
  ASSERT_EQ(lines.size(), 8u);
  for (std::size_t i = 0; i < std::size(isession_lines); ++i) {
    SCOPED_TRACE("line " + std::to_string(i + 1));
    const auto& e = isession_lines[i];
    auto s = parse_with("vectra", lines[i]);
    ASSERT_EQ(s.records.size(), 1u);
    const auto& r = s.records[0];
    EXPECT_TRUE(r.has_time);
    EXPECT_EQ(r.time, iso(e.time));
    EXPECT_EQ(ip(r.src), e.src);
    EXPECT_TRUE(r.has_dst);
    EXPECT_EQ(ip(r.dst), e.dst);
    EXPECT_EQ(r.dst_port, e.dst_port);
    EXPECT_EQ(r.protocol, e.protocol);
    EXPECT_EQ(r.action, e.action);
    EXPECT_EQ(label(r.reported_by), vectra_label);
    EXPECT_EQ(label(r.device), e.device);
  }
}

TEST(Vectra, OtherMetadataTypesAreSkipped) {
  const auto lines = fixture_lines("vectra/isession.jsonl");
  for (std::size_t i : {6u, 7u}) {
    auto s = parse_with("vectra", lines[i]);
    EXPECT_TRUE(s.records.empty());
    EXPECT_EQ(s.skips, std::vector<std::string>{"not_isession"});
  }
}

TEST(Vectra, TsIsTheTimeWhenSessionStartTimeIsMissing) {
  auto s = parse_with(
      "vectra",
      R"({"metadata_type":"metadata_isession","id.orig_h":"203.0.113.1","id.resp_p":80,"proto":6,"ts":1732788000450})");
  ASSERT_EQ(s.records.size(), 1u);
  EXPECT_EQ(format_iso8601(s.records[0].time), "2024-11-28T10:00:00.450000Z");
  // No protoName: the numeric proto is used.
  EXPECT_EQ(s.records[0].protocol, 6);
}

TEST(Vectra, AnEnvelopeArrayYieldsEveryRecord) {
  const auto lines = fixture_lines("vectra/isession.jsonl");
  auto s = parse_with("vectra", "[" + lines[0] + "," + lines[6] + "," + lines[1] + "]");
  EXPECT_EQ(s.records.size(), 2u);
  EXPECT_EQ(s.skips, std::vector<std::string>{"not_isession"});
}

struct malformed_case {
  const char* why;
  std::string input;
  const char* reason;
};

class VectraMalformed : public ::testing::TestWithParam<malformed_case> {};

TEST_P(VectraMalformed, IsRejectedWithItsReason) {
  const auto& c = GetParam();
  auto s = parse_with("vectra", c.input);
  EXPECT_TRUE(s.records.empty()) << c.why;
  EXPECT_EQ(s.rejects, std::vector<std::string>{c.reason}) << c.why;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, VectraMalformed,
    ::testing::Values(
        malformed_case{"truncated json",
                       R"({"metadata_type":"metadata_isession","id.orig_h":"203.)", "invalid_json"},
        malformed_case{"no metadata type", R"({"id.orig_h":"203.0.113.1","id.resp_p":80})",
                       "missing_metadata_type"},
        malformed_case{"no originator", R"({"metadata_type":"metadata_isession","id.resp_p":80})",
                       "missing_src_ip"},
        malformed_case{"bad originator",
                       R"({"metadata_type":"metadata_isession","id.orig_h":"203.0.113.256"})",
                       "bad_src_ip"},
        malformed_case{
            "bad port",
            R"({"metadata_type":"metadata_isession","id.orig_h":"203.0.113.1","id.resp_p":-5})",
            "bad_dst_port"},
        malformed_case{
            "bad time",
            R"({"metadata_type":"metadata_isession","id.orig_h":"203.0.113.1","session_start_time":"later"})",
            "bad_time"}),
    why_name{});

TEST(Vectra, TheProbeRecognisesEverySampleUnitAndNoOtherFormats) {
  for (const auto& [format, unit] : sample_units()) {
    SCOPED_TRACE(format + ": " + unit.substr(0, 80));
    EXPECT_EQ(probe_claims("vectra", unit), format == "vectra");
    // Vectra reuses Zeek's id.* keys: auto-detection must still pick vectra.
    if (format == "vectra") {
      EXPECT_EQ(detected(unit), "vectra");
    }
  }
}

TEST(Vectra, AutoDetectionYieldsTheSameRecordsAsTheFixedFormat) {
  const auto lines = fixture_lines("vectra/isession.jsonl");
  auto fixed = parse_stream("vectra", lines);
  auto autod = parse_stream("auto", lines);
  ASSERT_EQ(autod.records.size(), fixed.records.size());
  EXPECT_EQ(autod.skips, fixed.skips);
  for (std::size_t i = 0; i < fixed.records.size(); ++i) {
    EXPECT_EQ(autod.records[i].src, fixed.records[i].src);
    EXPECT_EQ(autod.records[i].dst_port, fixed.records[i].dst_port);
    EXPECT_EQ(autod.records[i].time, fixed.records[i].time);
    EXPECT_EQ(autod.records[i].reported_by, fixed.records[i].reported_by);
  }
}

}  // namespace
}  // namespace portscand::test
