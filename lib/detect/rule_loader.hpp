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
// The names of the built-in rules where a rule file's path may stand.
inline constexpr const char* builtin_vertical_rule = "builtin:port-scan";
inline constexpr const char* builtin_sweep_rule = "builtin:port-sweep";

rule_load_result load_rule(const std::string& path);  // "" = the built-in rule

struct rule_set_load_result {
  rule_set rules;
  std::vector<config_problem> problems;  // empty = usable
};
// The rules the configuration names (`rules:`, else `rule:`, else the built-in rule): at
// most one of each kind, all with the same bin, query frequency and period.
rule_set_load_result load_rules(const config& cfg);
// The configuration's rule-level options on every rule of the set (with_options); an
// `exclusions:` entry with `rules:` only on the rules it names.
rule_set with_options(const rule_set& rules, const config& cfg);
// `exclusions[i].rules` entries that name no rule in force.
std::vector<config_problem> check_exclusion_rules(const config& cfg, const rule_set& rules);

// Takes a rule file's `window:` into the configuration when the configuration does not name
// evaluation.window itself (it wins when it does), then refuses sliding with what needs
// tumbling bins (suppression, early alerts). Returns the problems (path "window").
std::vector<config_problem> apply_rule_window(config& cfg, const rule_definition& rule);

// Reads just the query (exposed for tests): fills threshold, bin width and caps. A query
// longer than max_query_chars is refused (the regex shape check recurses per character).
inline constexpr std::size_t max_query_chars = 4096;
std::vector<config_problem> read_sentinel_query(const std::string& query, rule_definition& rule);

}  // namespace portscand
