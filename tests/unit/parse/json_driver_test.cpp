#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "parse_test_util.hpp"

// The document rules of the one JSON driver (json::document_reader), checked through every
// JSON format: each reads the unit -> documents -> objects walk the same way, so a unit is
// accounted for (a record, a skip or a rejection) with the same reason whichever format
// reads it. The objects here carry no field any format uses, so what a format makes of
// the object itself does not matter; only the document-level outcome is asserted.

namespace portscand::test {
namespace {

class JsonDriver : public ::testing::TestWithParam<const char*> {};

TEST_P(JsonDriver, AnArrayWithoutObjectsIsSkippedAsEmpty) {
  auto s = parse_with(GetParam(), "[]");
  EXPECT_TRUE(s.records.empty());
  EXPECT_TRUE(s.rejects.empty());
  EXPECT_EQ(s.skips, std::vector<std::string>{"empty"});
}

TEST_P(JsonDriver, BytesAfterTheDocumentAreRejectedAsTrailingContent) {
  // The first object is read (and accounted for by the format), the second is not lost
  // unnoticed: the unit ends with a trailing_content rejection.
  auto s = parse_with(GetParam(), R"({"x":1} {"y":2})");
  EXPECT_TRUE(s.records.empty());
  ASSERT_FALSE(s.rejects.empty());
  EXPECT_EQ(s.rejects.back(), "trailing_content");
  EXPECT_EQ(s.rejects.size() + s.skips.size(), 2u);
}

TEST_P(JsonDriver, AnUnclosedObjectIsInvalidJson) {
  auto s = parse_with(GetParam(), R"({"x":1)");
  EXPECT_TRUE(s.records.empty());
  EXPECT_TRUE(s.skips.empty());
  EXPECT_EQ(s.rejects, std::vector<std::string>{"invalid_json"});
}

TEST_P(JsonDriver, AnArrayOfNonObjectsIsNotAnObject) {
  auto s = parse_with(GetParam(), "[1,2]");
  EXPECT_TRUE(s.records.empty());
  EXPECT_TRUE(s.skips.empty());
  // One rejection: ondemand cannot step past the first malformed element.
  EXPECT_EQ(s.rejects, std::vector<std::string>{"not_an_object"});
}

TEST_P(JsonDriver, ANonObjectElementEndsTheArrayAfterTheObjectsBeforeIt) {
  auto s = parse_with(GetParam(), R"([{"x":1},2,{"y":3}])");
  EXPECT_TRUE(s.records.empty());
  ASSERT_FALSE(s.rejects.empty());
  EXPECT_EQ(s.rejects.back(), "not_an_object");
  // The first object is accounted for by the format; the third is never reached.
  EXPECT_EQ(s.rejects.size() + s.skips.size(), 2u);
}

INSTANTIATE_TEST_SUITE_P(EveryJsonFormat, JsonDriver,
                         ::testing::Values("asim", "azure-nsg", "azure-firewall", "mde",
                                           "vmconnection", "windows-wfp", "zscaler-nss", "vectra",
                                           "zeek-conn", "ocsf", "flow-json", "suricata-eve", "ecs"),
                         [](const auto& info) {
                           std::string name = info.param;
                           for (char& c : name)
                             if (c == '-') c = '_';
                           return name;
                         });

}  // namespace
}  // namespace portscand::test
