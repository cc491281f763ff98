#include "parse/xml_scan.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "../test_names.hpp"

namespace portscand::xml {
namespace {

struct walked {
  std::vector<std::string> system;  // child names of <System>
  std::vector<std::pair<std::string, std::string>> data;
  const char* error = nullptr;
};

walked walk(std::string_view doc) {
  walked w;
  w.error = walk_event(
      doc,
      [&w](scanner& sc) {
        w.system.emplace_back(sc.name());
        return true;
      },
      [&w](std::string_view name, std::string_view value) {
        w.data.emplace_back(std::string(name), std::string(value));
        return true;
      });
  return w;
}

TEST(XmlScan, AnEventYieldsItsSystemChildrenAndNamedDataInDocumentOrder) {
  auto w = walk(
      R"(<Event><System><EventID>3</EventID><Computer>h</Computer></System>)"
      R"(<EventData><Data Name="A">1</Data><Data Name='B'/><Data Name="C"></Data></EventData></Event>)");
  EXPECT_EQ(w.error, nullptr);
  EXPECT_EQ(w.system, (std::vector<std::string>{"EventID", "Computer"}));
  ASSERT_EQ(w.data.size(), 3u);
  EXPECT_EQ(w.data[0], (std::pair<std::string, std::string>{"A", "1"}));
  EXPECT_EQ(w.data[1], (std::pair<std::string, std::string>{"B", ""}));
  EXPECT_EQ(w.data[2], (std::pair<std::string, std::string>{"C", ""}));
}

TEST(XmlScan, ABareEventDataElementIsWalkedLikeTheSentinelColumnHoldsIt) {
  auto w = walk(R"(<EventData xmlns="http://schemas.microsoft.com/win/2004/08/events/event">)"
                R"(<Data Name="SourcePort">3333</Data></EventData>)");
  EXPECT_EQ(w.error, nullptr);
  ASSERT_EQ(w.data.size(), 1u);
  EXPECT_EQ(w.data[0].second, "3333");
}

TEST(XmlScan, CommentsProcessingInstructionsAndTextBetweenTagsAreSkipped) {
  auto w = walk(
      "<Event>- <!-- a <comment> -->\n <?pi x?><System> <EventID>5</EventID> </System></Event>");
  EXPECT_EQ(w.error, nullptr);
  EXPECT_EQ(w.system, std::vector<std::string>{"EventID"});
}

TEST(XmlScan, WhatFollowsTheRootElementIsIgnored) {
  auto w = walk("<Event><System><EventID>5</EventID></System></Event> trailing <junk");
  EXPECT_EQ(w.error, nullptr);
}

struct bad_xml {
  const char* why;
  std::string doc;
  const char* reason;
};

class XmlScanBad : public ::testing::TestWithParam<bad_xml> {};

TEST_P(XmlScanBad, IsRefusedWithItsReason) {
  const auto& c = GetParam();
  auto w = walk(c.doc);
  ASSERT_NE(w.error, nullptr) << c.why;
  EXPECT_STREQ(w.error, c.reason) << c.why;
}

std::string deep(int n) {
  std::string s;
  for (int i = 0; i < n; ++i) s += "<Event>";
  for (int i = 0; i < n; ++i) s += "</Event>";
  return s;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, XmlScanBad,
    ::testing::Values(
        bad_xml{"the root never closes", "<Event><System><EventID>3</EventID>", "truncated_xml"},
        bad_xml{"a tag is cut", "<Event><System><EventI", "truncated_xml"},
        bad_xml{"an attribute value is cut", "<Event><System><Provider Name=\"Linux",
                "truncated_xml"},
        bad_xml{"end tag does not match", "<Event><System></Event></System>", "malformed_xml"},
        bad_xml{"attribute without quotes", "<Event><System><Provider Name=x/></System></Event>",
                "malformed_xml"},
        bad_xml{"attributes not separated", "<Event><System><P a=\"1\"b=\"2\"/></System></Event>",
                "malformed_xml"},
        bad_xml{"less than inside an attribute", "<Event><System><P a=\"<\"/></System></Event>",
                "malformed_xml"},
        bad_xml{"a child element inside a Data value",
                "<Event><EventData><Data Name=\"A\">x<b/></Data></EventData></Event>",
                "malformed_xml"},
        bad_xml{"CDATA", "<Event><EventData><![CDATA[x]]></EventData></Event>", "unsupported_xml"},
        bad_xml{"a DOCTYPE", "<Event><!DOCTYPE x></Event>", "unsupported_xml"},
        bad_xml{"a name starting with a digit", "<Event><1a/></Event>", "malformed_xml"},
        bad_xml{"an end tag first", "</Event>", "malformed_xml"},
        bad_xml{"another root element", "<Events><System/></Events>", "not_event_xml"},
        bad_xml{"nesting deeper than the limit", deep(scanner::max_depth + 1), "xml_too_deep"}),
    portscand::test::why_name{});

TEST(XmlScan, NestingUpToTheLimitIsAccepted) {
  auto w = walk(deep(scanner::max_depth));
  EXPECT_EQ(w.error, nullptr);
}

TEST(XmlScan, ACallbackReturningFalseStopsTheWalkWithoutError) {
  int seen = 0;
  const char* err = walk_event(
      "<Event><System><EventID>1</EventID><Computer>x</Computer></System><broken",
      [&seen](scanner&) {
        ++seen;
        return false;
      },
      [](std::string_view, std::string_view) { return true; });
  EXPECT_EQ(err, nullptr);
  EXPECT_EQ(seen, 1);
}

TEST(XmlScan, TheFivePredefinedEntitiesAndCharacterReferencesAreDecoded) {
  std::string scratch;
  EXPECT_EQ(decode("a&amp;b&lt;c&gt;d&quot;e&apos;f", scratch), "a&b<c>d\"e'f");
  EXPECT_EQ(decode("&#65;&#x42;&#xe9;", scratch), "AB\xc3\xa9");
  EXPECT_EQ(decode("&#x1F600;", scratch), "\xf0\x9f\x98\x80");
}

TEST(XmlScan, TextWithoutAmpersandIsReturnedInPlace) {
  std::string scratch;
  const std::string_view raw = "10.0.0.1";
  auto v = decode(raw, scratch);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->data(), raw.data());
}

TEST(XmlScan, UnknownOrMalformedReferencesAreRefused) {
  std::string scratch;
  EXPECT_FALSE(decode("&nbsp;", scratch));
  EXPECT_FALSE(decode("a & b", scratch));
  EXPECT_FALSE(decode("&amp", scratch));
  EXPECT_FALSE(decode("&#;", scratch));
  EXPECT_FALSE(decode("&#0;", scratch));
  EXPECT_FALSE(decode("&#xD800;", scratch));
  EXPECT_FALSE(decode("&#x110000;", scratch));
  EXPECT_FALSE(decode("&#12a;", scratch));
}

TEST(XmlScan, FindEventElementSkipsLongerNamesAndFindsTheStartTag) {
  EXPECT_EQ(find_event_element("x <EventData> <Event>"), 14u);
  EXPECT_EQ(find_event_element("sysmon: <Event xmlns='a'>"), 8u);
  EXPECT_EQ(find_event_element("<EventID>3</EventID>"), std::string_view::npos);
  EXPECT_EQ(find_event_element("<Event"), std::string_view::npos);
}

}  // namespace
}  // namespace portscand::xml
