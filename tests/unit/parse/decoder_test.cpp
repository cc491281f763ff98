#include <gtest/gtest.h>

#include "parse_test_util.hpp"

namespace portscand::test {
namespace {

TEST(Decoder, AnUnknownFormatNameIsRefusedAtConstruction) {
  EXPECT_THROW(unit_decoder(builtin_formats(), "no-such-format"), std::invalid_argument);
}

TEST(Decoder, AutoDetectsAsimJson) {
  auto s = parse_with("auto", R"({"SrcIpAddr":"203.0.113.7","DstPortNumber":22})");
  ASSERT_EQ(s.records.size(), 1u);
}

TEST(Decoder, AutoRejectsAUnitNoFormatRecognizes) {
  auto s = parse_with("auto", "hello world");
  EXPECT_TRUE(s.records.empty());
  EXPECT_EQ(s.rejects, std::vector<std::string>{"unknown_format"});
}

// A fixed format reports what its parser makes of every unit: the claim auto-detection
// listens to changes nothing there (a unit without ASIM's signature is ASIM's to reject).
TEST(Decoder, AFixedFormatReportsUnitsItsParserDoesNotClaim) {
  auto s = parse_with("asim", R"({"DstPortNumber":22})");
  EXPECT_TRUE(s.records.empty());
  EXPECT_EQ(s.rejects, std::vector<std::string>{"missing_src_ip"});
  auto eve = parse_with("suricata-eve", R"({"event_type":"flow","src_ip":"203.0.113.7"})");
  EXPECT_EQ(eve.records.size(), 1u);
}

// Under auto, a unit the last winner disowns reports nothing of the winner's: a JSON object
// without ASIM's key after ASIM records is unknown_format, not ASIM's missing_src_ip.
TEST(Decoder, AutoReportsNothingOfAWinnerThatDisownsAUnit) {
  unit_decoder d(builtin_formats(), "auto");
  collecting_sink first;
  d.decode(R"({"SrcIpAddr":"203.0.113.7","DstPortNumber":22})", parse_context{}, first);
  ASSERT_EQ(first.records.size(), 1u);
  collecting_sink second;
  d.decode(R"({"DstPortNumber":22})", parse_context{}, second);
  EXPECT_TRUE(second.records.empty());
  EXPECT_EQ(second.rejects, std::vector<std::string>{"unknown_format"});
  EXPECT_EQ(d.last_format(), "");
}

TEST(Decoder, TrailingLineTerminatorsAreNotPartOfTheUnit) {
  auto s = parse_with("asim", "{\"SrcIpAddr\":\"203.0.113.7\"}\r\n");
  EXPECT_EQ(s.records.size(), 1u);
}

TEST(Registry, ADuplicateFormatNameIsFatal) {
  format_registry r;
  register_builtin_formats(r);
  EXPECT_THROW(register_builtin_formats(r), std::logic_error);
}

}  // namespace
}  // namespace portscand::test

namespace portscand::test {
namespace {

// Every JSON format accounts for each unit: `[]` is skipped as empty (it used to be reported
// to nobody), and a second document after the first is rejected as trailing content (it
// used to be dropped unnoticed, the first one parsed).
struct json_sample {
  const char* format;
  const char* fixture;
};
class JsonDocumentEdges : public ::testing::TestWithParam<json_sample> {};

TEST_P(JsonDocumentEdges, AnEmptyArrayIsSkippedAndASecondDocumentIsRejected) {
  const auto& p = GetParam();
  const auto empty = parse_with(p.format, "[]");
  EXPECT_TRUE(empty.records.empty());
  EXPECT_TRUE(empty.rejects.empty());
  EXPECT_EQ(empty.skips, std::vector<std::string>{"empty"});

  // The first fixture line that is one whole record.
  std::string line;
  std::size_t records = 0;
  for (const auto& l : fixture_lines(p.fixture)) {
    const auto got = parse_with(p.format, l);
    if (!got.records.empty() && got.rejects.empty() && got.skips.empty()) {
      line = l;
      records = got.records.size();
      break;
    }
  }
  ASSERT_FALSE(line.empty()) << "no record line in " << p.fixture;
  const auto two = parse_with(p.format, line + " " + line);
  EXPECT_EQ(two.records.size(), records);
  EXPECT_EQ(two.rejects, std::vector<std::string>{"trailing_content"});
  // After an array simdjson refuses the root itself: the unit is one rejection, not two
  // records with the rest dropped.
  const auto in_array = parse_with(p.format, "[" + line + "," + line + "] {}");
  EXPECT_TRUE(in_array.records.empty());
  EXPECT_EQ(in_array.rejects.size(), 1u);
}

// The same for an envelope's record array: `{"records":[]}` is skipped as empty.
TEST(JsonEnvelopes, AnEmptyRecordArrayIsSkippedAsEmpty) {
  for (const char* format : {"asim", "azure-firewall", "azure-nsg", "mde", "vmconnection"}) {
    const auto got = parse_with(format, R"({"records":[]})");
    EXPECT_TRUE(got.records.empty()) << format;
    EXPECT_TRUE(got.rejects.empty()) << format;
    EXPECT_EQ(got.skips, std::vector<std::string>{"empty"}) << format;
  }
  const auto wfp = parse_with("windows-wfp", R"({"events":[]})");
  EXPECT_EQ(wfp.skips, std::vector<std::string>{"empty"});
}

INSTANTIATE_TEST_SUITE_P(
    EveryJsonFormat, JsonDocumentEdges,
    ::testing::Values(json_sample{"asim", "asim/sample.jsonl"},
                      json_sample{"ecs", "ecs/windows-5156.ecs.jsonl"},
                      json_sample{"ocsf", "ocsf/bench.jsonl"},
                      json_sample{"azure-firewall", "azure-firewall/test-networkrules-raw.log"},
                      json_sample{"mde", "mde/test-device.DeviceNetworkEvents-subset.log"},
                      json_sample{"vmconnection", "vmconnection/handmade.jsonl"},
                      json_sample{"zeek-conn", "zeek-conn/test-conn.log"},
                      json_sample{"vectra", "vectra/isession.jsonl"},
                      json_sample{"suricata-eve", "suricata-eve/test-eve-small.log"},
                      json_sample{"flow-json", "flow-json/flows.jsonl"},
                      json_sample{"windows-wfp", "windows-wfp/oneline.log"}),
    [](const auto& info) {
      std::string name = info.param.format;
      for (char& c : name)
        if (c == '-') c = '_';
      return name;
    });

}  // namespace
}  // namespace portscand::test
