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
