#include "detect/rule_loader.hpp"

#include <algorithm>
#include <regex>

namespace portscand {
namespace {

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return {};
  const auto e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

// Collapses runs of white space to one space (KQL is white-space insensitive here).
std::string squeeze(const std::string& s) {
  std::string out;
  bool space = false;
  for (char c : s) {
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      space = true;
      continue;
    }
    if (space && !out.empty()) out += ' ';
    space = false;
    out += c;
  }
  return out;
}

// Splits on '|' outside string literals.
std::vector<std::string> split_pipes(const std::string& s) {
  std::vector<std::string> out;
  std::string cur;
  char quote = 0;
  for (char c : s) {
    if (quote != 0) {
      if (c == quote) quote = 0;
      cur += c;
    } else if (c == '"' || c == '\'') {
      quote = c;
      cur += c;
    } else if (c == '|') {
      out.push_back(trim(cur));
      cur.clear();
    } else {
      cur += c;
    }
  }
  out.push_back(trim(cur));
  return out;
}

std::string first_word(const std::string& s) {
  const auto end = s.find_first_of(" (");
  return s.substr(0, end);
}

std::string stage_name(std::size_t i, const std::string& text) {
  return "query stage " + std::to_string(i) + " ('" + (i == 0 ? "" : "| ") + text + "')";
}

timestamp_us kql_timespan(const std::string& n, const std::string& unit) {
  const long long v = std::stoll(n);
  if (unit == "s") return v * us_per_second;
  if (unit == "m") return v * us_per_minute;
  if (unit == "h") return v * 60 * us_per_minute;
  return v * 24 * 60 * us_per_minute;  // d
}

}  // namespace

std::vector<config_problem> read_sentinel_query(const std::string& raw_query,
                                                rule_definition& rule) {
  std::vector<config_problem> problems;
  auto fail = [&problems](const std::string& where, const std::string& what) {
    problems.push_back({"query", where + ": " + what});
  };
  // The shape is checked with std::regex, whose matcher recurses once per character: a
  // query tens of kilobytes long would overflow the stack. The published rule's is about
  // 600 characters.
  if (raw_query.size() > max_query_chars) {
    fail("query", "longer than " + std::to_string(max_query_chars) +
                      " characters (the published rule's is about 600)");
    return problems;
  }
  std::string query = raw_query;
  // Comments would hide constructs from the shape check: refuse them explicitly.
  if (query.find("//") != std::string::npos) {
    fail("query", "comments ('//') are not supported");
    return problems;
  }
  // let statements: only `let PortScanThreshold = N;`.
  std::optional<long long> let_threshold;
  static const std::regex let_re(R"(^\s*let\s+([A-Za-z_][A-Za-z0-9_]*)\s*=\s*([^;]*);)");
  std::smatch m;
  while (std::regex_search(query, m, let_re)) {
    const std::string name = m[1], value = trim(m[2]);
    if (name != "PortScanThreshold") {
      fail("let " + name,
           "unsupported let statement (only 'let PortScanThreshold = N;' is understood)");
      return problems;
    }
    if (!std::regex_match(value, std::regex(R"(\d{1,9})"))) {
      fail("let PortScanThreshold", "value '" + value + "' is not a whole number");
      return problems;
    }
    let_threshold = std::stoll(value);
    query = m.suffix();
  }
  if (query.find(';') != std::string::npos) {
    fail("query", "unsupported statement before the pipeline ('" +
                      trim(query.substr(0, query.find(';') + 1)) + "')");
    return problems;
  }
  const std::vector<std::string> stages = split_pipes(squeeze(query));
  // Name the first stage that is not of the expected kind: the most useful message.
  static const char* expected_ops[] = {"", "where", "where", "summarize", "where"};
  for (std::size_t i = 1; i < stages.size(); ++i) {
    const std::string op = first_word(stages[i]);
    if (i >= 5 || op != expected_ops[i]) {
      fail(stage_name(i, stages[i]),
           "unsupported operator '" + op + "'" +
               (i < 5 ? std::string(" (expected '") + expected_ops[i] + "')" : ""));
      return problems;
    }
  }
  if (stages.size() != 5) {
    fail("query",
         "expected 5 pipeline stages (source | where | where | summarize | where), found " +
             std::to_string(stages.size()));
    return problems;
  }

  static const std::regex source_re(
      R"(^(_Im_NetworkSession|_ASim_NetworkSession|imNetworkSession|ASimNetworkSession)(\s*\(\s*\))?$)");
  if (!std::regex_match(stages[0], source_re))
    fail(stage_name(0, stages[0]),
         "unsupported source (expected _Im_NetworkSession or an ASIM NetworkSession parser)");

  static const std::regex private_re(
      R"(^where ipv4_is_private\s*\(\s*SrcIpAddr\s*\)\s*==\s*(False|false)$)");
  if (!std::regex_match(stages[1], private_re))
    fail(stage_name(1, stages[1]),
         "unsupported filter (expected 'where ipv4_is_private(SrcIpAddr) == False')");

  static const std::regex loopback_re(
      R"(^where SrcIpAddr\s*!in\s*\(\s*"127\.0\.0\.1"\s*,\s*"::1"\s*\)$)");
  if (!std::regex_match(stages[2], loopback_re))
    fail(stage_name(2, stages[2]),
         "unsupported filter (expected 'where SrcIpAddr !in (\"127.0.0.1\", \"::1\")')");

  static const std::regex summarize_re(
      R"(^summarize AttemptedPortsCount\s*=\s*dcount\s*\(\s*DstPortNumber\s*\)\s*,\s*)"
      R"(AttemptedPorts\s*=\s*make_set\s*\(\s*DstPortNumber\s*,\s*(\d{1,6})\s*\)\s*,\s*)"
      R"(ReportedBy\s*=\s*make_set\s*\(\s*strcat\s*\(\s*EventVendor\s*,\s*"/"\s*,\s*EventProduct\s*\)\s*,\s*(\d{1,6})\s*\)\s*)"
      R"(by SrcIpAddr\s*,\s*bin\s*\(\s*TimeGenerated\s*,\s*(\d{1,4})([smhd])\s*\)$)");
  if (std::smatch sm; std::regex_match(stages[3], sm, summarize_re)) {
    const long long ports = std::stoll(sm[1]), labels = std::stoll(sm[2]);
    const timestamp_us bin = kql_timespan(sm[3], sm[4]);
    if (ports < 1 || ports > 65536)
      fail(stage_name(3, stages[3]), "make_set(DstPortNumber, N): N must be 1..65536");
    if (labels < 1 || labels > 64)
      fail(stage_name(3, stages[3]), "make_set(strcat(...), N): N must be 1..64");
    if (bin < us_per_second || bin > 60 * us_per_minute || (60 * 60 * us_per_second) % bin != 0)
      fail(stage_name(3, stages[3]),
           "bin(TimeGenerated, X): X must divide one hour and be at most 1h");
    rule.max_ports = static_cast<std::uint32_t>(ports);
    rule.max_labels = static_cast<std::uint32_t>(labels);
    rule.bin_width = bin;
  } else {
    fail(
        stage_name(3, stages[3]),
        "unsupported summarize (expected AttemptedPortsCount=dcount(DstPortNumber), "
        "AttemptedPorts=make_set(DstPortNumber, N), ReportedBy=make_set(strcat(EventVendor, \"/\", "
        "EventProduct), M) by SrcIpAddr, bin(TimeGenerated, X))");
  }

  static const std::regex threshold_re(
      R"(^where AttemptedPortsCount\s*>\s*(PortScanThreshold|\d{1,9})$)");
  if (std::smatch tm; std::regex_match(stages[4], tm, threshold_re)) {
    if (tm[1] == "PortScanThreshold") {
      if (!let_threshold)
        fail(stage_name(4, stages[4]), "PortScanThreshold is used but never defined by a let");
      else
        rule.threshold = static_cast<std::uint32_t>(*let_threshold);
    } else {
      rule.threshold = static_cast<std::uint32_t>(std::stoll(tm[1]));
    }
  } else {
    fail(stage_name(4, stages[4]),
         "unsupported condition (expected 'where AttemptedPortsCount > PortScanThreshold')");
  }
  return problems;
}

rule_load_result build_rule(const rule_file& f) {
  rule_load_result out;
  out.rule = default_rule();
  auto meta = std::make_shared<rule_metadata>(*out.rule.metadata);
  auto& problems = out.problems;
  if (f.id.empty()) problems.push_back({"id", "is required"});
  if (f.name.empty()) problems.push_back({"name", "is required"});
  meta->id = f.id;
  meta->name = f.name;
  if (!f.version.empty()) meta->version = f.version;
  if (!f.severity.empty()) {
    static const char* severities[] = {"Informational", "Low", "Medium", "High"};
    bool ok = false;
    for (const char* s : severities) ok = ok || f.severity == s;
    if (!ok) problems.push_back({"severity", "must be Informational, Low, Medium or High"});
    meta->severity = f.severity;
  }
  if (!f.tactics.empty()) meta->tactics = f.tactics;
  if (!f.techniques.empty()) meta->techniques = f.techniques;
  if (!f.title_format.empty()) meta->title_format = f.title_format;
  if (!f.description_format.empty()) meta->description_format = f.description_format;
  auto duration = [&problems](const std::string& text, const char* key, timestamp_us& out_value) {
    if (text.empty()) return;
    if (auto d = parse_duration(text); d && *d > 0)
      out_value = *d;
    else
      problems.push_back({key, "'" + text + "' is not a duration"});
  };
  if (f.sentinel) {
    duration(f.query_frequency, "queryFrequency", out.rule.query_frequency);
    duration(f.query_period, "queryPeriod", out.rule.query_period);
    if (!f.trigger_operator.empty() && f.trigger_operator != "gt")
      problems.push_back({"triggerOperator", "only 'gt' is supported"});
    if (f.trigger_threshold && *f.trigger_threshold != 0)
      problems.push_back(
          {"triggerThreshold", "only 0 is supported (every result row is an alert)"});
    for (const auto& [type, column] : f.entity_columns)
      if (column != "SrcIpAddr")
        problems.push_back(
            {"entityMappings", "only the SrcIpAddr column can be mapped (got '" + column + "')"});
    for (const auto& [name, column] : f.custom_details)
      if (column != "AttemptedPortsCount")
        problems.push_back({"customDetails." + name, "only AttemptedPortsCount is available"});
    auto q = read_sentinel_query(f.query, out.rule);
    problems.insert(problems.end(), q.begin(), q.end());
  } else {
    if (f.kind == "sweep") {
      // The sweep rule's metadata defaults (title, description) name its own placeholders.
      const rule_definition sweep = default_sweep_rule();
      out.rule.kind = rule_kind::sweep;
      if (f.title_format.empty()) meta->title_format = sweep.metadata->title_format;
      if (f.description_format.empty())
        meta->description_format = sweep.metadata->description_format;
      if (f.max_targets) {
        if (*f.max_targets < 0 || *f.max_targets > 255)
          problems.push_back({"max_targets", "must be 0..255"});
        else
          out.rule.max_targets = static_cast<std::uint32_t>(*f.max_targets);
      }
      if (f.max_ports) problems.push_back({"max_ports", "is not used by a sweep rule"});
      if (!f.window.empty() && f.window != "tumbling")
        problems.push_back({"window", "a sweep rule counts tumbling bins only"});
    } else if (!f.kind.empty() && f.kind != "vertical") {
      problems.push_back({"kind", "must be 'vertical' or 'sweep'"});
    } else if (f.max_targets) {
      problems.push_back({"max_targets",
                          "is for sweep rules (evidence.max_targets sets a "
                          "vertical rule's)"});
    }
    duration(f.query_frequency, "query_frequency", out.rule.query_frequency);
    duration(f.query_period, "query_period", out.rule.query_period);
    if (f.threshold) {
      if (*f.threshold < 0 || *f.threshold > 65535)
        problems.push_back({"threshold", "must be 0..65535"});
      else
        out.rule.threshold = static_cast<std::uint32_t>(*f.threshold);
    }
    if (f.max_ports) {
      if (*f.max_ports < 1 || *f.max_ports > 65536)
        problems.push_back({"max_ports", "must be 1..65536"});
      else
        out.rule.max_ports = static_cast<std::uint32_t>(*f.max_ports);
    }
    if (f.max_labels) {
      if (*f.max_labels < 1 || *f.max_labels > 64)
        problems.push_back({"max_labels", "must be 1..64"});
      else
        out.rule.max_labels = static_cast<std::uint32_t>(*f.max_labels);
    }
    if (f.window == "tumbling" || f.window == "sliding")
      out.rule.sliding_window = f.window == "sliding";
    else if (!f.window.empty())
      problems.push_back({"window", "must be 'tumbling' or 'sliding'"});
    if (!f.bin.empty()) {
      auto d = parse_duration(f.bin);
      if (!d || *d < us_per_second || *d > 60 * us_per_minute ||
          (60 * 60 * us_per_second) % *d != 0)
        problems.push_back({"bin", "must be a duration that divides one hour (e.g. 5m)"});
      else
        out.rule.bin_width = *d;
    }
  }
  out.rule.metadata = std::move(meta);
  return out;
}

std::vector<config_problem> apply_rule_window(config& cfg, const rule_definition& rule) {
  std::vector<config_problem> problems;
  if (!cfg.evaluation.window_set && rule.sliding_window)
    cfg.evaluation.window = *rule.sliding_window ? window_kind::sliding : window_kind::tumbling;
  if (!cfg.evaluation.window_set && cfg.suppression != 0 &&
      cfg.evaluation.window == window_kind::sliding)
    problems.push_back({"window",
                        "'sliding' cannot be combined with the configuration's suppression "
                        "(suppression applies to tumbling bins)"});
  if (!cfg.evaluation.window_set && cfg.early_alerts &&
      cfg.evaluation.window == window_kind::sliding)
    problems.push_back({"window",
                        "'sliding' cannot be combined with the configuration's early_alerts "
                        "(early alerts announce a tumbling bin's alert before it closes)"});
  return problems;
}

rule_load_result load_rule(const std::string& path) {
  if (path.empty() || path == builtin_vertical_rule) return {default_rule(), {}};
  if (path == builtin_sweep_rule) return {default_sweep_rule(), {}};
  rule_file_result f = load_rule_file(path);
  if (!f.problems.empty()) return {default_rule(), std::move(f.problems)};
  return build_rule(f.rule);
}

rule_set_load_result load_rules(const config& cfg) {
  rule_set_load_result out;
  std::vector<std::string> paths = cfg.rule_paths;
  if (paths.empty()) paths.push_back(cfg.rule_path);
  for (std::size_t i = 0; i < paths.size(); ++i) {
    const std::string where =
        cfg.rule_paths.empty() ? std::string("rule") : "rules[" + std::to_string(i) + "]";
    rule_load_result r = load_rule(paths[i]);
    for (auto& p : r.problems)
      out.problems.push_back({where + (p.path.empty() ? "" : "." + p.path), p.message});
    if (!r.problems.empty()) continue;
    auto& slot = r.rule.kind == rule_kind::sweep ? out.rules.sweep : out.rules.vertical;
    if (slot) {
      out.problems.push_back({where, std::string("a second ") +
                                         (r.rule.kind == rule_kind::sweep ? "sweep" : "vertical") +
                                         " rule: at most one rule of each kind runs"});
      continue;
    }
    const rule_definition* lead = out.rules.vertical ? out.rules.vertical.get()
                                  : out.rules.sweep  ? out.rules.sweep.get()
                                                     : nullptr;
    if (lead != nullptr &&
        (lead->bin_width != r.rule.bin_width || lead->query_frequency != r.rule.query_frequency ||
         lead->query_period != r.rule.query_period)) {
      out.problems.push_back({where,
                              "its bin, query_frequency and query_period must equal the first "
                              "rule's (the rules share one window and one schedule)"});
      continue;
    }
    if (lead != nullptr && lead->metadata->id == r.rule.metadata->id) {
      out.problems.push_back({where, "the same rule id as another rule"});
      continue;
    }
    slot = std::make_shared<const rule_definition>(std::move(r.rule));
  }
  if (out.problems.empty() && out.rules.sweep && out.rules.sweep->sliding_window.value_or(false))
    out.problems.push_back({"rules", "a sweep rule counts tumbling bins only"});
  if (out.problems.empty() && out.rules.vertical && out.rules.sweep &&
      out.rules.vertical->sliding_window.value_or(false))
    out.problems.push_back(
        {"rules", "a sliding vertical rule cannot run beside a sweep rule (it counts bins)"});
  return out;
}

rule_set with_options(const rule_set& rules, const config& cfg) {
  rule_set out;
  // Entries without `rules:` apply to every rule: one set, shared, so a record is matched once.
  bool per_rule = false;
  for (const auto& e : cfg.exclusions) per_rule = per_rule || !e.rules.empty();
  std::shared_ptr<const exclusion_set> shared;
  if (!per_rule && !cfg.exclusions.empty())
    shared = std::make_shared<const exclusion_set>(cfg.exclusions);
  const auto one = [&](const std::shared_ptr<const rule_definition>& r)
      -> std::shared_ptr<const rule_definition> {
    if (!r) return nullptr;
    rule_definition d = with_options(*r, cfg);
    if (per_rule) {
      std::vector<exclusion_config> mine;
      for (const auto& e : cfg.exclusions)
        if (e.rules.empty() ||
            std::find(e.rules.begin(), e.rules.end(), d.metadata->id) != e.rules.end())
          mine.push_back(e);
      d.exclusions = mine.empty() ? nullptr : std::make_shared<const exclusion_set>(mine);
    } else {
      d.exclusions = shared;
    }
    return std::make_shared<const rule_definition>(std::move(d));
  };
  out.vertical = one(rules.vertical);
  out.sweep = one(rules.sweep);
  return out;
}

std::vector<config_problem> check_exclusion_rules(const config& cfg, const rule_set& rules) {
  std::vector<config_problem> problems;
  for (const auto& e : cfg.exclusions)
    for (std::size_t i = 0; i < e.rules.size(); ++i) {
      const bool known = (rules.vertical && rules.vertical->metadata->id == e.rules[i]) ||
                         (rules.sweep && rules.sweep->metadata->id == e.rules[i]);
      if (!known)
        problems.push_back({e.path + ".rules[" + std::to_string(i) + "]",
                            "'" + e.rules[i] + "' is not the id of a rule in force"});
    }
  return problems;
}

}  // namespace portscand
