#include "parse/field_table.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace portscand::test {
namespace {

enum class color : std::uint8_t { none, red, green, blue, tan, teal, navy };

constexpr auto colors = make_field_table(color::none, {{"red", color::red},
                                                       {"green", color::green},
                                                       {"blue", color::blue},
                                                       {"tan", color::tan},
                                                       {"teal", color::teal},
                                                       {"navy", color::navy},
                                                       {"Red", color::red}});

// The table is built and searched at compile time too.
static_assert(colors.find("green") == color::green);
static_assert(colors.find("grey") == color::none);

TEST(FieldTable, FindsEveryName) {
  EXPECT_EQ(colors.find("red"), color::red);
  EXPECT_EQ(colors.find("green"), color::green);
  EXPECT_EQ(colors.find("blue"), color::blue);
  EXPECT_EQ(colors.find("tan"), color::tan);
  EXPECT_EQ(colors.find("teal"), color::teal);
  EXPECT_EQ(colors.find("navy"), color::navy);
  EXPECT_EQ(colors("navy"), color::navy);
}

TEST(FieldTable, SeveralNamesMayShareAnId) {
  EXPECT_EQ(colors.find("Red"), color::red);
  EXPECT_EQ(colors.find("RED"), color::none);  // exact, case-sensitive
}

TEST(FieldTable, SameLengthNamesAreToldApart) {
  // red/tan/Red share a length, and blue/teal/navy; each finds its own id, and a key of the
  // same length that matches a name's first and last characters but not its middle misses.
  EXPECT_EQ(colors.find("tan"), color::tan);
  EXPECT_EQ(colors.find("Red"), color::red);
  EXPECT_EQ(colors.find("ted"), color::none);
  EXPECT_EQ(colors.find("tral"), color::none);
  EXPECT_EQ(colors.find("nave"), color::none);
  EXPECT_EQ(colors.find("bLue"), color::none);
}

TEST(FieldTable, MissesKeysOutsideTheSet) {
  EXPECT_EQ(colors.none(), color::none);
  EXPECT_EQ(colors.find(""), color::none);
  EXPECT_EQ(colors.find("r"), color::none);
  EXPECT_EQ(colors.find("re"), color::none);
  EXPECT_EQ(colors.find("reds"), color::none);
  EXPECT_EQ(colors.find("greens"), color::none);
  EXPECT_EQ(colors.find(std::string(200, 'x')), color::none);  // longer than every name
  EXPECT_EQ(colors.find(std::string_view("red\0", 4)), color::none);
}

TEST(FieldTable, KeysNeedNotBeTerminated) {
  const std::string text = "bluegreen";
  EXPECT_EQ(colors.find(std::string_view(text).substr(0, 4)), color::blue);
  EXPECT_EQ(colors.find(std::string_view(text).substr(4)), color::green);
  EXPECT_EQ(colors.find(std::string_view(text).substr(3, 4)), color::none);
}

TEST(FieldTable, EveryCharacterCounts) {
  // Names of each word size: 1-3 characters (first, middle, last), 4-7 and 8-16 (first and
  // last word, overlapping), longer (the middle too). A key differing from a name in any one
  // character misses.
  constexpr auto t = make_field_table(0, {{"a", 1},
                                          {"abc", 2},
                                          {"abcde", 3},
                                          {"abcdefghij", 4},
                                          {"abcdefghijklmnop", 5},
                                          {"log.syslog.hostname", 6},
                                          {"FortinetFortiGateeventtime", 7}});
  for (const std::string_view name : {"a", "abc", "abcde", "abcdefghij", "abcdefghijklmnop",
                                      "log.syslog.hostname", "FortinetFortiGateeventtime"}) {
    ASSERT_NE(t.find(name), 0) << name;
    for (std::size_t i = 0; i < name.size(); ++i) {
      std::string key(name);
      key[i] = '#';
      EXPECT_EQ(t.find(key), 0) << key;
    }
  }
  EXPECT_EQ(t.find("log.syslog.hostname"), 6);
  EXPECT_EQ(t.find("FortinetFortiGateeventtime"), 7);
}

struct slots {
  std::string_view a, b;
};

// Member pointers as ids: nullptr is the miss.
constexpr auto slot_table = make_field_table<std::string_view slots::*>(
    nullptr, {{"a", &slots::a}, {"bee", &slots::b}, {"b", &slots::b}});

TEST(FieldTable, IdsMayBeMemberPointers) {
  slots s;
  const auto member = slot_table.find("bee");
  ASSERT_NE(member, nullptr);
  s.*member = "x";
  EXPECT_EQ(s.b, "x");
  EXPECT_EQ(slot_table.find("a"), &slots::a);
  EXPECT_EQ(slot_table.find("b"), &slots::b);
  EXPECT_EQ(slot_table.find("c"), nullptr);
  EXPECT_EQ(slot_table.find(""), nullptr);
}

// A name of max_name_size characters, the longest a table takes.
constexpr std::string_view longest_name =
    "abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz0";
static_assert(longest_name.size() == field_table<int, 1>::max_name_size);

TEST(FieldTable, LongestNameIsFound) {
  constexpr auto t = make_field_table(0, {{"x", 1}, {longest_name, 2}});
  EXPECT_EQ(t.find(longest_name), 2);
  EXPECT_EQ(t.find(std::string(longest_name) + "1"), 0);
  EXPECT_EQ(t.find(longest_name.substr(1)), 0);
  EXPECT_EQ(t.find("x"), 1);
}

}  // namespace
}  // namespace portscand::test
