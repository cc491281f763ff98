#include "detect/rule_loader.hpp"

#include <gtest/gtest.h>

#include "../test_names.hpp"

namespace portscand {
namespace {

const std::string fixtures = PORTSCAND_FIXTURES;

TEST(RuleLoader, TheBuiltInRuleIsThePublishedOne) {
  const auto r = load_rule("");
  ASSERT_TRUE(r.problems.empty());
  EXPECT_EQ(r.rule.metadata->id, "1da9853f-3dea-4ea9-b7e5-26730da3d537");
  EXPECT_EQ(r.rule.metadata->version, "1.0.6");
  EXPECT_EQ(r.rule.threshold, 50u);
  EXPECT_EQ(r.rule.bin_width, 5 * us_per_minute);
  EXPECT_EQ(r.rule.max_ports, 100u);
  EXPECT_EQ(r.rule.max_labels, 20u);
}

TEST(RuleLoader, ASentinelRuleFileGivesItsMetadataThresholdBinAndCaps) {
  const auto r = load_rule(fixtures + "/rules/sentinel-portscan.yaml");
  ASSERT_TRUE(r.problems.empty()) << r.problems[0].path << ": " << r.problems[0].message;
  EXPECT_EQ(r.rule.metadata->id, "6c1f0d4e-2b7a-4f0e-9a51-0c3d8e7f1a22");
  EXPECT_EQ(r.rule.metadata->severity, "High");
  EXPECT_EQ(r.rule.metadata->version, "2.0.0");
  EXPECT_EQ(r.rule.metadata->title_format, "Scan from {{SrcIpAddr}}");
  EXPECT_EQ(r.rule.threshold, 20u);
  EXPECT_EQ(r.rule.bin_width, 10 * us_per_minute);
  EXPECT_EQ(r.rule.max_ports, 10u);
  EXPECT_EQ(r.rule.max_labels, 5u);
  EXPECT_EQ(r.rule.query_frequency, 30 * us_per_minute);
  EXPECT_EQ(r.rule.query_period, 120 * us_per_minute);
}

TEST(RuleLoader, PortscandsOwnRuleFormatIsRead) {
  const auto r = load_rule(fixtures + "/rules/portscand-rule.yaml");
  ASSERT_TRUE(r.problems.empty()) << r.problems[0].path << ": " << r.problems[0].message;
  EXPECT_EQ(r.rule.threshold, 100u);
  EXPECT_EQ(r.rule.max_ports, 200u);
  EXPECT_EQ(r.rule.metadata->name, "Wide port scan");
}

// A portscand rule file's `window:` decides the window when the configuration does not name
// one; the configuration's evaluation.window wins; early alerts refuse a rule's sliding.
TEST(RuleLoader, ARuleFileWindowAppliesUnlessTheConfigurationNamesOne) {
  rule_file f;
  f.id = "0b7e2c55-61f4-4c1e-8d3a-5e9f20c4b711";
  f.name = "Sliding scan";
  f.window = "sliding";
  auto r = build_rule(f);
  ASSERT_TRUE(r.problems.empty());
  ASSERT_TRUE(r.rule.sliding_window.has_value());
  EXPECT_TRUE(*r.rule.sliding_window);

  config plain;
  EXPECT_TRUE(apply_rule_window(plain, r.rule).empty());
  EXPECT_EQ(plain.evaluation.window, window_kind::sliding);

  config named;
  named.evaluation.window_set = true;  // evaluation: {window: tumbling}
  EXPECT_TRUE(apply_rule_window(named, r.rule).empty());
  EXPECT_EQ(named.evaluation.window, window_kind::tumbling);

  config scaled;  // sliding windows hand over through the by-source log too
  scaled.scale_out.enabled = true;
  EXPECT_TRUE(apply_rule_window(scaled, r.rule).empty());
  EXPECT_EQ(scaled.evaluation.window, window_kind::sliding);

  config early;
  early.early_alerts = true;  // early alerts announce tumbling bins
  const auto pe = apply_rule_window(early, r.rule);
  ASSERT_EQ(pe.size(), 1u);
  EXPECT_EQ(pe[0].path, "window");
  EXPECT_NE(pe[0].message.find("early_alerts"), std::string::npos);

  f.window = "hopping";
  const auto bad = build_rule(f);
  ASSERT_EQ(bad.problems.size(), 1u);
  EXPECT_EQ(bad.problems[0].path, "window");
  f.window.clear();
  EXPECT_FALSE(build_rule(f).rule.sliding_window.has_value());
}

const std::string good_query =
    "let PortScanThreshold = 50;\n_Im_NetworkSession\n| where ipv4_is_private(SrcIpAddr) == False\n"
    "| where SrcIpAddr !in (\"127.0.0.1\", \"::1\")\n"
    "| summarize AttemptedPortsCount=dcount(DstPortNumber), AttemptedPorts=make_set(DstPortNumber, "
    "100), "
    "ReportedBy=make_set(strcat(EventVendor, \"/\", EventProduct), 20) by SrcIpAddr, "
    "bin(TimeGenerated, 5m)\n"
    "| where AttemptedPortsCount > PortScanThreshold\n";

std::string replace(std::string s, const std::string& from, const std::string& to) {
  s.replace(s.find(from), from.size(), to);
  return s;
}

struct query_case {
  std::string why;
  std::string query;
  std::string message_names;  // a fragment the error message must contain
};

class RuleQueryRefused : public ::testing::TestWithParam<query_case> {};

TEST_P(RuleQueryRefused, WithAMessageNamingTheConstruct) {
  rule_definition r = default_rule();
  const auto problems = read_sentinel_query(GetParam().query, r);
  ASSERT_FALSE(problems.empty());
  EXPECT_NE(problems[0].message.find(GetParam().message_names), std::string::npos)
      << problems[0].message;
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, RuleQueryRefused,
    ::testing::Values(query_case{"an extra extend stage",
                                 replace(good_query, "| where AttemptedPortsCount",
                                         "| extend X = 1\n| where AttemptedPortsCount"),
                                 "'extend'"},
                      query_case{"another let", "let Foo = 3;\n" + good_query, "let Foo"},
                      query_case{"another source table",
                                 replace(good_query, "_Im_NetworkSession", "CommonSecurityLog"),
                                 "unsupported source"},
                      query_case{"count instead of dcount",
                                 replace(good_query, "dcount(DstPortNumber)", "count()"),
                                 "unsupported summarize"},
                      query_case{"a bin that does not divide an hour",
                                 replace(good_query, "5m)", "7m)"), "bin(TimeGenerated"},
                      query_case{"a different comparison",
                                 replace(good_query, "> PortScanThreshold", ">= PortScanThreshold"),
                                 "unsupported condition"},
                      query_case{
                          "a missing private filter",
                          replace(good_query, "| where ipv4_is_private(SrcIpAddr) == False\n", ""),
                          "stage"},
                      query_case{"a comment", "// hi\n" + good_query, "comments"},
                      // The regex shape check recursed once per character: 32 KB of query
                      // overflowed the stack (fuzz_rule_file).
                      query_case{"a query of 64 KB", "let x = " + std::string(65536, 'a'),
                                 "longer than 4096 characters"}),
    test::why_name{});

TEST(RuleQuery, ALiteralThresholdIsAccepted) {
  rule_definition r = default_rule();
  EXPECT_TRUE(read_sentinel_query(replace(good_query, "> PortScanThreshold", "> 7"), r).empty());
  EXPECT_EQ(r.threshold, 7u);
}

// Shapes a rule file may have but its reader must not index into (fuzz_rule_file found the
// first: yaml-cpp threw BadSubscript out of the reader and check-config aborted).
TEST(RuleFile, MisshapenSentinelSectionsAreProblemsNotExceptions) {
  const std::string head = "id: x\nname: y\nquery: q\n";
  const char* bodies[] = {
      "entityMappings:\n  - IP\n",
      "entityMappings:\n  - entityType: IP\n    fieldMappings:\n      - SrcIpAddr\n",
      "entityMappings:\n  - entityType: [IP]\n",
      "alertDetailsOverride: a title\n",
  };
  const char* paths[] = {"entityMappings[0]", "entityMappings[0].fieldMappings[0]",
                         "entityMappings[0].entityType", "alertDetailsOverride"};
  for (std::size_t i = 0; i < std::size(bodies); ++i) {
    SCOPED_TRACE(bodies[i]);
    rule_file_result r;
    ASSERT_NO_THROW(r = parse_rule_file_text(head + bodies[i]));
    ASSERT_EQ(r.problems.size(), 1u);
    EXPECT_EQ(r.problems[0].path, paths[i]);
  }
}

TEST(RuleQuery, AQueryAtTheLengthLimitIsStillRead) {
  rule_definition r = default_rule();
  std::string q = good_query + std::string(max_query_chars - good_query.size(), ' ');
  ASSERT_EQ(q.size(), max_query_chars);
  EXPECT_TRUE(read_sentinel_query(q, r).empty());
}

TEST(RuleQuery, WhitespaceAndLineBreaksDoNotMatter) {
  rule_definition r = default_rule();
  std::string q = replace(good_query, "| summarize ", "|\n   summarize   ");
  EXPECT_TRUE(read_sentinel_query(q, r).empty());
}

}  // namespace
}  // namespace portscand
