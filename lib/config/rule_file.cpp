#include "config/rule_file.hpp"

#include <yaml-cpp/yaml.h>

#include <fstream>
#include <sstream>

namespace portscand {
namespace {

std::string scalar(const YAML::Node& n, const char* key, const std::string& path,
                   std::vector<config_problem>& problems) {
  const YAML::Node v = n[key];
  if (!v) return {};
  if (!v.IsScalar()) {
    problems.push_back({path.empty() ? key : path + "." + key, "must be a string"});
    return {};
  }
  return v.Scalar();
}

std::vector<std::string> strings(const YAML::Node& n, const char* key,
                                 std::vector<config_problem>& problems) {
  std::vector<std::string> out;
  const YAML::Node v = n[key];
  if (!v) return out;
  if (v.IsScalar()) return {v.Scalar()};
  if (!v.IsSequence()) {
    problems.push_back({key, "must be a list of strings"});
    return out;
  }
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (v[i].IsScalar())
      out.push_back(v[i].Scalar());
    else
      problems.push_back({std::string(key) + "[" + std::to_string(i) + "]", "must be a string"});
  }
  return out;
}

std::optional<long long> integer(const YAML::Node& n, const char* key,
                                 std::vector<config_problem>& problems) {
  const YAML::Node v = n[key];
  if (!v) return std::nullopt;
  try {
    return v.as<long long>();
  } catch (const YAML::Exception&) {
    problems.push_back({key, "must be an integer"});
    return std::nullopt;
  }
}

// The fields of a rule file's top-level map, per layout.
void read_fields(const YAML::Node& root, rule_file& r, std::vector<config_problem>& problems) {
  r.sentinel = static_cast<bool>(root["query"]);
  r.id = scalar(root, "id", "", problems);
  r.name = scalar(root, "name", "", problems);
  r.version = scalar(root, "version", "", problems);
  r.severity = scalar(root, "severity", "", problems);
  r.tactics = strings(root, "tactics", problems);
  if (r.sentinel) {
    r.techniques = strings(root, "relevantTechniques", problems);
    r.query = scalar(root, "query", "", problems);
    r.query_frequency = scalar(root, "queryFrequency", "", problems);
    r.query_period = scalar(root, "queryPeriod", "", problems);
    r.trigger_operator = scalar(root, "triggerOperator", "", problems);
    r.trigger_threshold = integer(root, "triggerThreshold", problems);
    if (const YAML::Node o = root["alertDetailsOverride"]; o && !o.IsMap()) {
      problems.push_back({"alertDetailsOverride", "must be a map"});
    } else if (o) {
      r.title_format = scalar(o, "alertDisplayNameFormat", "alertDetailsOverride", problems);
      r.description_format = scalar(o, "alertDescriptionFormat", "alertDetailsOverride", problems);
    }
    if (r.description_format.empty())
      r.description_format = scalar(root, "description", "", problems);
    if (const YAML::Node em = root["entityMappings"]; em && em.IsSequence()) {
      for (std::size_t i = 0; i < em.size(); ++i) {
        const std::string at = "entityMappings[" + std::to_string(i) + "]";
        if (!em[i].IsMap()) {
          problems.push_back({at, "must be a map {entityType, fieldMappings}"});
          continue;
        }
        const std::string type = scalar(em[i], "entityType", at, problems);
        const YAML::Node fm = em[i]["fieldMappings"];
        if (!fm || !fm.IsSequence()) continue;
        for (std::size_t k = 0; k < fm.size(); ++k) {
          const std::string field = at + ".fieldMappings[" + std::to_string(k) + "]";
          if (!fm[k].IsMap())
            problems.push_back({field, "must be a map {identifier, columnName}"});
          else
            r.entity_columns.emplace_back(type, scalar(fm[k], "columnName", field, problems));
        }
      }
    }
    if (const YAML::Node cd = root["customDetails"]; cd && cd.IsMap())
      for (const auto& kv : cd)
        r.custom_details[kv.first.Scalar()] = kv.second.IsScalar() ? kv.second.Scalar() : "";
  } else {
    r.techniques = strings(root, "techniques", problems);
    r.title_format = scalar(root, "title", "", problems);
    r.description_format = scalar(root, "description", "", problems);
    r.query_frequency = scalar(root, "query_frequency", "", problems);
    r.query_period = scalar(root, "query_period", "", problems);
    r.threshold = integer(root, "threshold", problems);
    r.max_ports = integer(root, "max_ports", problems);
    r.max_labels = integer(root, "max_labels", problems);
    r.bin = scalar(root, "bin", "", problems);
    r.window = scalar(root, "window", "", problems);
    r.kind = scalar(root, "kind", "", problems);
    r.max_targets = integer(root, "max_targets", problems);
    for (const auto& kv : root) {
      static const char* known[] = {"id",           "name",        "version",
                                    "severity",     "tactics",     "techniques",
                                    "title",        "description", "query_frequency",
                                    "query_period", "threshold",   "max_ports",
                                    "max_labels",   "bin",         "window",
                                    "kind",         "max_targets"};
      const std::string key = kv.first.Scalar();
      bool ok = false;
      for (const char* k : known) ok = ok || key == k;
      if (!ok)
        problems.push_back(
            {key, "unknown key in a portscand rule file (a Sentinel rule needs a query:)"});
    }
  }
}

}  // namespace

rule_file_result parse_rule_file_text(const std::string& yaml) {
  rule_file_result out;
  auto& r = out.rule;
  auto& problems = out.problems;
  YAML::Node root;
  try {
    root = YAML::Load(yaml);
  } catch (const YAML::Exception& e) {
    problems.push_back(
        {"", "YAML syntax error at line " + std::to_string(e.mark.line + 1) + ": " + e.msg});
    return out;
  }
  if (!root.IsMap()) {
    problems.push_back({"", "a rule file must be a YAML map"});
    return out;
  }
  try {
    read_fields(root, r, problems);
  } catch (const YAML::Exception& e) {
    // Every shape is checked before it is read; this is the net for one that is not.
    problems.push_back({"", "unexpected YAML structure at line " + std::to_string(e.mark.line + 1) +
                                ": " + e.msg});
  }
  return out;
}

rule_file_result load_rule_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    rule_file_result out;
    out.problems.push_back({"rule", "cannot read rule file " + path});
    return out;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_rule_file_text(ss.str());
}

}  // namespace portscand
