#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "config/config.hpp"

namespace portscand {

// A rule file as written, before interpretation: either the Sentinel analytic-rule YAML
// format (it has a `query:`) or portscand's own rule YAML. detect/rule_loader turns it into
// a rule_definition (and reads the KQL query's shape).
struct rule_file {
  bool sentinel = false;
  std::string id, name, version, severity;
  std::vector<std::string> tactics, techniques;
  std::string title_format, description_format;
  std::string query_frequency, query_period;  // durations as written ("1h")
  // Sentinel only
  std::string query;
  std::string trigger_operator;
  std::optional<long long> trigger_threshold;
  std::vector<std::pair<std::string, std::string>> entity_columns;  // (entityType, columnName)
  std::map<std::string, std::string> custom_details;
  // portscand's own format only
  std::optional<long long> threshold, max_ports, max_labels;
  std::string bin;
  std::string window;                    // "tumbling" | "sliding" | "" (not named)
  std::string kind;                      // "vertical" | "sweep" | "" (vertical)
  std::optional<long long> max_targets;  // sweep only
};

struct rule_file_result {
  rule_file rule;
  std::vector<config_problem> problems;
};

rule_file_result load_rule_file(const std::string& path);
rule_file_result parse_rule_file_text(const std::string& yaml);

}  // namespace portscand
