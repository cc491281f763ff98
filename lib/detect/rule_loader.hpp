#pragma once

#include <string>
#include <vector>

#include "config/config.hpp"
#include "config/rule_file.hpp"
#include "detect/rule.hpp"

namespace portscand {

struct rule_load_result {
  rule_definition rule;
  std::vector<config_problem> problems;  // empty = usable
};

// Builds the rule from a rule file. For the Sentinel format the KQL query must have the
// published rule's shape (a let for the threshold, the NetworkSession source, the two
// source filters, the summarize with dcount/make_set caps and the 5-minute-style bin, the
// threshold comparison); anything else is refused with a message naming the construct.
rule_load_result build_rule(const rule_file& file);
rule_load_result load_rule(const std::string& path);  // "" = the built-in rule

// Takes a rule file's `window:` into the configuration when the configuration does not name
// evaluation.window itself (it wins when it does), then refuses sliding with scale_out (a
// partition handover rebuilds state by bins). Returns the problems (path "window").
std::vector<config_problem> apply_rule_window(config& cfg, const rule_definition& rule);

// Reads just the query (exposed for tests): fills threshold, bin width and caps.
std::vector<config_problem> read_sentinel_query(const std::string& query, rule_definition& rule);

}  // namespace portscand
