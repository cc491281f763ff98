#include "config/config.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <string_view>
#include <thread>

#include "config/listen_address.hpp"

namespace portscand {
namespace {

// Walks a YAML document into a config, collecting problems with their paths.
class reader {
 public:
  explicit reader(std::vector<std::string> formats) : formats_(std::move(formats)) {}

  std::vector<config_problem> problems;

  void problem(const std::string& path, const std::string& message) {
    problems.push_back({path, message});
  }

  // Reports keys of `node` that are not in `allowed` (typos must not pass silently).
  void check_keys(const YAML::Node& node, const std::string& path,
                  std::initializer_list<const char*> allowed) {
    if (!node.IsMap()) return;
    for (const auto& kv : node) {
      const std::string key = kv.first.Scalar();
      if (std::none_of(allowed.begin(), allowed.end(),
                       [&key](const char* a) { return key == a; })) {
        std::string list;
        for (const char* a : allowed) list += std::string(list.empty() ? "" : ", ") + a;
        problem(join(path, key), "unknown key (expected one of: " + list + ")");
      }
    }
  }

  // yaml-cpp keeps every pair of a map, duplicates included, and a lookup returns the first
  // one: a second `acks:` or `listen:` further down would be ignored without a word. Walks
  // the whole document, the passthrough `properties` maps included.
  void check_duplicate_keys(const YAML::Node& node, const std::string& path, int depth = 0) {
    // Far deeper than any configuration; stops a self-referencing alias from recursing forever.
    if (depth > 32) return;
    if (node.IsMap()) {
      std::map<std::string, int> first_line;
      for (const auto& kv : node) {
        if (!kv.first.IsScalar()) continue;
        const std::string key = kv.first.Scalar();
        const int line = kv.first.Mark().line + 1;
        const auto [it, inserted] = first_line.emplace(key, line);
        if (!inserted)
          problem(join(path, key), "duplicate key '" + key + "' (line " + std::to_string(line) +
                                       "; first on line " + std::to_string(it->second) +
                                       "): only the first would be used, remove one");
        check_duplicate_keys(kv.second, join(path, key), depth + 1);
      }
    } else if (node.IsSequence()) {
      for (std::size_t i = 0; i < node.size(); ++i)
        check_duplicate_keys(node[i], path + "[" + std::to_string(i) + "]", depth + 1);
    }
  }

  static std::string join(const std::string& path, const std::string& key) {
    return path.empty() ? key : path + "." + key;
  }

  bool string_at(const YAML::Node& parent, const char* key, const std::string& path,
                 std::string& out) {
    const YAML::Node n = parent[key];
    if (!n) return false;
    if (!n.IsScalar()) {
      problem(join(path, key), "must be a string");
      return false;
    }
    out = n.Scalar();
    return true;
  }

  template <typename T>
  bool number_at(const YAML::Node& parent, const char* key, const std::string& path, T& out, T min,
                 T max) {
    const YAML::Node n = parent[key];
    if (!n) return false;
    try {
      const long long v = n.as<long long>();
      if (v < static_cast<long long>(min) || v > static_cast<long long>(max)) {
        problem(join(path, key),
                "must be between " + std::to_string(min) + " and " + std::to_string(max));
        return false;
      }
      out = static_cast<T>(v);
      return true;
    } catch (const YAML::Exception&) {
      problem(join(path, key), "must be an integer");
      return false;
    }
  }

  bool bool_at(const YAML::Node& parent, const char* key, const std::string& path, bool& out) {
    const YAML::Node n = parent[key];
    if (!n) return false;
    try {
      out = n.as<bool>();
      return true;
    } catch (const YAML::Exception&) {
      problem(join(path, key), "must be true or false");
      return false;
    }
  }

  void duration_at(const YAML::Node& parent, const char* key, const std::string& path,
                   timestamp_us& out, timestamp_us min, timestamp_us max) {
    std::string text;
    if (!string_at(parent, key, path, text)) return;
    auto d = parse_duration(text);
    if (!d) {
      problem(join(path, key), "'" + text + "' is not a duration (examples: 90s, 10m, 1h)");
      return;
    }
    if (*d < min || *d > max) {
      problem(join(path, key),
              "must be between " + format_duration(min) + " and " + format_duration(max));
      return;
    }
    out = *d;
  }

  void string_list_at(const YAML::Node& parent, const char* key, const std::string& path,
                      std::vector<std::string>& out) {
    const YAML::Node n = parent[key];
    if (!n) return;
    if (n.IsScalar()) {
      out = {n.Scalar()};
      return;
    }
    if (!n.IsSequence()) {
      problem(join(path, key), "must be a list of strings");
      return;
    }
    out.clear();
    for (std::size_t i = 0; i < n.size(); ++i) {
      if (!n[i].IsScalar()) {
        problem(join(path, key) + "[" + std::to_string(i) + "]", "must be a string");
        continue;
      }
      out.push_back(n[i].Scalar());
    }
  }

  // A map of names to scalar values whose secret references (${env:...}, ${file:...}) are
  // resolved here, for Kafka `properties` and HTTP `headers` alike. `what` completes "must be
  // a map of ...". Returns false when the key is absent or not a map.
  bool secret_map_at(const YAML::Node& parent, const char* key, const std::string& path,
                     const char* what, std::map<std::string, std::string>& out) {
    const YAML::Node n = parent[key];
    if (!n) return false;
    const std::string p = join(path, key);
    if (!n.IsMap()) {
      problem(p, std::string("must be a map of ") + what);
      return false;
    }
    for (const auto& kv : n) {
      const std::string name = kv.first.Scalar();
      if (!kv.second.IsScalar()) {
        problem(p + "." + name, "must be a scalar");
        continue;
      }
      std::string error;
      auto value = resolve_secret_reference(kv.second.Scalar(), error);
      if (!value) {
        problem(p + "." + name, error);
        continue;
      }
      out[name] = *value;
    }
    return true;
  }

  // `output`: the Kafka output's delivery contract applies (refused_output_property).
  void properties_at(const YAML::Node& parent, const std::string& path,
                     std::map<std::string, std::string>& out, bool output) {
    std::map<std::string, std::string> read;
    if (!secret_map_at(parent, "properties", path, "librdkafka property names to values", read))
      return;
    for (auto& [key, value] : read) {
      if (output)
        if (auto why = refused_output_property(key, value))
          problem(join(path, "properties") + "." + key, *why);
      out[key] = std::move(value);
    }
  }

  void format_at(const YAML::Node& node, const std::string& path, std::string& out) {
    if (!string_at(node, "format", path, out)) return;
    if (out == "auto" || std::find(formats_.begin(), formats_.end(), out) != formats_.end()) return;
    std::string list = "auto";
    for (const auto& f : formats_) list += ", " + f;
    problem(join(path, "format"), "unknown format '" + out + "' (valid: " + list + ")");
  }

  // A dotted path an envelope reader can follow: 1..5 non-empty segments, at most 96 bytes
  // (the same rule as parse/envelope.hpp's valid_envelope_path).
  static bool valid_envelope_path(const std::string& p) {
    if (p.empty() || p.size() > 96 || p.front() == '.' || p.back() == '.' ||
        p.find("..") != std::string::npos)
      return false;
    return std::count(p.begin(), p.end(), '.') < 5;
  }

  void envelope_at(const YAML::Node& node, const std::string& path, envelope_config& out) {
    const YAML::Node n = node["envelope"];
    if (!n) return;
    const std::string p = join(path, "envelope");
    const char* expected = "must be auto, none or a map {message: PATH, time: PATH, host: PATH}";
    if (n.IsScalar()) {
      if (n.Scalar() == "auto")
        out.mode = envelope_config::kind::automatic;
      else if (n.Scalar() == "none")
        out.mode = envelope_config::kind::none;
      else
        problem(p, std::string(expected) + ", not '" + n.Scalar() + "'");
      return;
    }
    if (!n.IsMap()) {
      problem(p, expected);
      return;
    }
    check_keys(n, p, {"message", "time", "host"});
    out.mode = envelope_config::kind::custom;
    if (!string_at(n, "message", p, out.message)) {
      if (!n["message"])
        problem(p + ".message", "is required: the dotted path of the device's line");
    }
    string_at(n, "time", p, out.time);
    string_at(n, "host", p, out.host);
    const std::pair<const char*, const std::string*> paths[] = {
        {"message", &out.message}, {"time", &out.time}, {"host", &out.host}};
    for (const auto& [key, value] : paths) {
      if (!n[key] || !n[key].IsScalar()) continue;
      if (!valid_envelope_path(*value))
        problem(p + "." + key, "'" + *value +
                                   "' is not a dotted path of 1 to 5 non-empty keys (at most 96 "
                                   "bytes), e.g. 'message' or 'log.original'");
    }
  }

  void read(const YAML::Node& root, config& cfg) {
    if (!root.IsMap()) {
      problem("", "the configuration must be a YAML map");
      return;
    }
    check_keys(root, "", {"rule",         "mode",        "evaluation",
                          "shards",       "state_dir",   "checkpoint_interval",
                          "inputs",       "outputs",     "metrics",
                          "limits",       "scale_out",   "log_level",
                          "exclusions",   "suppression", "ipv6_prefix",
                          "incidents",    "evidence",    "reply_flows",
                          "early_alerts", "rules"});
    string_at(root, "rule", "", cfg.rule_path);
    string_list_at(root, "rules", "", cfg.rule_paths);
    if (root["rules"]) {
      if (root["rules"].IsSequence() && root["rules"].size() == 0)
        problem("rules",
                "must name at least one rule (builtin:port-scan, builtin:port-sweep or "
                "a rule file)");
      if (root["rule"]) problem("rules", "use either rule: or rules:, not both");
    }
    std::string mode;
    if (string_at(root, "mode", "", mode)) {
      if (mode == "default")
        cfg.mode = detection_mode::standard;
      else if (mode == "sentinel")
        cfg.mode = detection_mode::sentinel;
      else
        problem("mode", "must be 'default' or 'sentinel'");
    }
    if (const YAML::Node e = root["evaluation"]) {
      if (!e.IsMap()) {
        problem("evaluation", "must be a map");
      } else {
        check_keys(e, "evaluation",
                   {"schedule", "allowed_lateness", "idle_timeout", "max_future_skew", "window"});
        std::string schedule;
        if (string_at(e, "schedule", "evaluation", schedule)) {
          if (schedule == "hourly")
            cfg.evaluation.schedule = schedule_kind::hourly;
          else if (schedule == "on_close")
            cfg.evaluation.schedule = schedule_kind::on_close;
          else
            problem("evaluation.schedule", "must be 'hourly' or 'on_close'");
        }
        std::string window;
        if (string_at(e, "window", "evaluation", window)) {
          cfg.evaluation.window_set = true;
          if (window == "tumbling")
            cfg.evaluation.window = window_kind::tumbling;
          else if (window == "sliding")
            cfg.evaluation.window = window_kind::sliding;
          else
            problem("evaluation.window", "must be 'tumbling' or 'sliding'");
        }
        duration_at(e, "allowed_lateness", "evaluation", cfg.evaluation.allowed_lateness, 0,
                    24 * 60 * us_per_minute);
        duration_at(e, "idle_timeout", "evaluation", cfg.evaluation.idle_timeout, us_per_second,
                    24 * 60 * us_per_minute);
        duration_at(e, "max_future_skew", "evaluation", cfg.evaluation.max_future_skew, 0,
                    24 * 60 * us_per_minute);
      }
    }
    number_at<unsigned>(root, "shards", "", cfg.shards, 1u, 256u);
    string_at(root, "state_dir", "", cfg.state_dir);
    duration_at(root, "checkpoint_interval", "", cfg.checkpoint_interval, us_per_second,
                60 * us_per_minute);
    std::string level;
    if (string_at(root, "log_level", "", level)) {
      static const std::set<std::string> levels{"trace", "debug",    "info", "warn",
                                                "error", "critical", "off"};
      if (levels.count(level) == 0)
        problem("log_level", "must be one of trace, debug, info, warn, error, critical, off");
      else
        cfg.log_level = level;
    }
    if (const YAML::Node m = root["metrics"]) {
      if (!m.IsMap()) {
        problem("metrics", "must be a map");
      } else {
        check_keys(m, "metrics", {"listen"});
        if (string_at(m, "listen", "metrics", cfg.metrics.listen) && !cfg.metrics.listen.empty())
          if (auto ep = parse_metrics_listen(cfg.metrics.listen); !ep)
            problem("metrics.listen", ep.err().message);
      }
    }
    if (const YAML::Node l = root["limits"]) {
      if (!l.IsMap()) {
        problem("limits", "must be a map");
      } else {
        check_keys(l, "limits", {"max_keys_per_shard", "queue_batches"});
        number_at<std::size_t>(l, "max_keys_per_shard", "limits", cfg.limits.max_keys_per_shard,
                               1000, 1'000'000'000);
        number_at<std::size_t>(l, "queue_batches", "limits", cfg.limits.queue_batches, 2,
                               1'000'000);
      }
    }
    read_inputs(root["inputs"], cfg);
    read_outputs(root["outputs"], cfg);
    read_scale_out(root["scale_out"], cfg);
    read_exclusions(root["exclusions"], cfg);
    if (const YAML::Node n = root["suppression"]) {
      if (!n.IsMap()) {
        problem("suppression", "must be a map {duration: DURATION}");
      } else {
        check_keys(n, "suppression", {"duration"});
        duration_at(n, "duration", "suppression", cfg.suppression, 0, 30 * 24 * 60 * us_per_minute);
      }
    }
    if (const YAML::Node n = root["early_alerts"]) {
      if (!n.IsMap()) {
        problem("early_alerts", "must be a map {enabled: BOOL}");
      } else {
        check_keys(n, "early_alerts", {"enabled"});
        bool_at(n, "enabled", "early_alerts", cfg.early_alerts);
      }
    }
    // A sliding window alerts at the crossing's record already (its interval ends there);
    // early alerts are defined over tumbling bins.
    if (cfg.early_alerts && cfg.evaluation.window == window_kind::sliding)
      problem("early_alerts",
              "cannot be combined with evaluation.window: sliding (early alerts announce a "
              "tumbling bin's alert before the bin closes)");
    number_at<unsigned>(root, "ipv6_prefix", "", cfg.ipv6_prefix, 32u, 128u);
    if (const YAML::Node n = root["incidents"]) {
      if (!n.IsMap()) {
        problem("incidents", "must be a map {grouping: DURATION}");
      } else {
        check_keys(n, "incidents", {"grouping"});
        duration_at(n, "grouping", "incidents", cfg.incident_grouping, 0,
                    30 * 24 * 60 * us_per_minute);
      }
    }
    if (const YAML::Node n = root["evidence"]) {
      if (!n.IsMap()) {
        problem("evidence", "must be a map {max_targets: N}");
      } else {
        check_keys(n, "evidence", {"max_targets"});
        number_at<unsigned>(n, "max_targets", "evidence", cfg.max_targets, 0u, 255u);
      }
    }
    std::string reply_flows;
    if (string_at(root, "reply_flows", "", reply_flows)) {
      if (reply_flows == "skip")
        cfg.reply_flows = reply_flows_policy::skip;
      else if (reply_flows == "count")
        cfg.reply_flows = reply_flows_policy::count;
      else
        problem("reply_flows", "must be 'skip' or 'count'");
    }
    if (cfg.ipv6_prefix < 128 && cfg.scale_out.enabled)
      problem("ipv6_prefix",
              "cannot be combined with scale_out yet: the by-source topic is keyed by whole "
              "addresses");
    // A sliding window re-alerts by its own spacing (README "Sliding windows"); suppression
    // is defined over tumbling bins and the sliding evaluator does not apply it.
    if (cfg.suppression != 0 && cfg.evaluation.window == window_kind::sliding)
      problem("suppression",
              "cannot be combined with evaluation.window: sliding (suppression applies to "
              "tumbling bins)");
    if (cfg.suppression != 0 && cfg.scale_out.enabled)
      problem("suppression",
              "cannot be combined with scale_out: a partition's new owner would not know the "
              "previous owner's suppressions");
  }

  // A list of network blocks at parent[key], each checked (bad ones named with their index).
  void networks_at(const YAML::Node& parent, const char* key, const std::string& path,
                   std::vector<ip_network>& out) {
    std::vector<std::string> texts;
    string_list_at(parent, key, path, texts);
    for (std::size_t i = 0; i < texts.size(); ++i) {
      std::string error;
      if (auto n = ip_network::parse(texts[i], error))
        out.push_back(*n);
      else
        problem(join(path, key) + "[" + std::to_string(i) + "]", error);
    }
  }

  // Ports: numbers or "low-high" ranges, 0..65535.
  void ports_at(const YAML::Node& parent, const std::string& path,
                std::vector<std::pair<std::uint16_t, std::uint16_t>>& out) {
    std::vector<std::string> texts;
    string_list_at(parent, "ports", path, texts);
    for (std::size_t i = 0; i < texts.size(); ++i) {
      const std::string& t = texts[i];
      const auto port = [](std::string_view s, std::uint32_t& v) {
        const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
        return !s.empty() && ec == std::errc{} && end == s.data() + s.size() && v <= 65535;
      };
      const std::size_t dash = t.find('-');
      std::uint32_t lo = 0, hi = 0;
      const bool ok = dash == std::string::npos
                          ? port(t, lo) && port(t, hi)
                          : port(std::string_view(t).substr(0, dash), lo) &&
                                port(std::string_view(t).substr(dash + 1), hi) && lo <= hi;
      if (!ok) {
        problem(join(path, "ports") + "[" + std::to_string(i) + "]",
                "'" + t + "' is not a port (0-65535) or a range low-high");
        continue;
      }
      out.emplace_back(static_cast<std::uint16_t>(lo), static_cast<std::uint16_t>(hi));
    }
  }

  void read_exclusions(const YAML::Node& n, config& cfg) {
    if (!n) return;
    if (!n.IsSequence()) {
      problem("exclusions", "must be a list of entries");
      return;
    }
    std::set<std::string> names;
    for (std::size_t i = 0; i < n.size(); ++i) {
      const std::string path = "exclusions[" + std::to_string(i) + "]";
      const YAML::Node e = n[i];
      if (!e.IsMap()) {
        problem(path, "must be a map (sources, destinations, ports, reason, name, expires)");
        continue;
      }
      check_keys(e, path,
                 {"name", "reason", "sources", "destinations", "ports", "expires", "rules"});
      exclusion_config x;
      x.path = path;
      x.name = std::to_string(i);
      if (string_at(e, "name", path, x.name) && x.name.empty())
        problem(path + ".name", "must not be empty");
      if (!names.insert(x.name).second)
        problem(path + ".name", "'" + x.name + "' names another entry too (names label metrics)");
      if (!string_at(e, "reason", path, x.reason) || x.reason.empty())
        problem(path + ".reason",
                "is required: say why these records must not alert (who scans, which ticket)");
      networks_at(e, "sources", path, x.sources);
      networks_at(e, "destinations", path, x.destinations);
      ports_at(e, path, x.ports);
      for (const char* key : {"sources", "destinations", "ports"})
        if (e[key] && e[key].IsSequence() && e[key].size() == 0)
          problem(path + "." + key, "must not be empty (leave the key out instead)");
      if (x.sources.empty() && x.destinations.empty() && x.ports.empty())
        problem(path,
                "needs sources, destinations or ports (an entry without any would exclude "
                "every record)");
      string_list_at(e, "rules", path, x.rules);
      if (e["rules"] && e["rules"].IsSequence() && e["rules"].size() == 0)
        problem(path + ".rules", "must not be empty (leave the key out: every rule)");
      std::string expires;
      if (string_at(e, "expires", path, expires)) {
        const auto t = parse_iso8601(expires);
        if (!t || !iso8601_has_zone(expires))
          problem(path + ".expires", "'" + expires +
                                         "' is not an RFC 3339 time with a zone (example: "
                                         "2027-01-31T00:00:00Z)");
        else
          x.expires = *t;
      }
      cfg.exclusions.push_back(std::move(x));
    }
  }

  void read_scale_out(const YAML::Node& n, config& cfg) {
    if (!n) return;
    if (!n.IsMap()) {
      problem("scale_out", "must be a map");
      return;
    }
    auto& so = cfg.scale_out;
    so.enabled = true;
    check_keys(n, "scale_out",
               {"topic", "partitions", "replication_factor", "retention", "group", "brokers",
                "properties"});
    if (string_at(n, "topic", "scale_out", so.topic) && so.topic.empty())
      problem("scale_out.topic", "must not be empty");
    number_at<std::int32_t>(n, "partitions", "scale_out", so.partitions, 1, 10'000);
    number_at<std::int32_t>(n, "replication_factor", "scale_out", so.replication_factor, -1, 1000);
    if (so.replication_factor == 0)
      problem("scale_out.replication_factor", "must be -1 (the broker's default) or at least 1");
    // A new owner reads a partition again from its oldest open bin: the topic must keep
    // at least the rule's query period plus the allowed lateness (checked against the rule
    // at start); two hours is the floor for the default rule.
    duration_at(n, "retention", "scale_out", so.retention, 2 * 60 * us_per_minute,
                365 * 24 * 60 * us_per_minute);
    if (string_at(n, "group", "scale_out", so.group) && so.group.empty())
      problem("scale_out.group", "must not be empty");
    const bool own_brokers = string_at(n, "brokers", "scale_out", so.brokers);
    properties_at(n, "scale_out", so.properties, false);
    so.properties_set = static_cast<bool>(n["properties"]);
    if (!own_brokers) {
      const kafka_input_config* first = nullptr;
      for (const auto& in : cfg.inputs)
        if ((first = std::get_if<kafka_input_config>(&in.transport)) != nullptr) break;
      if (first == nullptr) {
        problem("scale_out.brokers", "is required when no Kafka input names the brokers");
        return;
      }
      so.brokers = first->brokers;
      if (!n["properties"]) so.properties = first->properties;
    } else if (so.brokers.empty()) {
      problem("scale_out.brokers", "must not be empty");
    }
    for (const auto& [key, value] : so.properties)
      if (key == "group.id" || key == "enable.auto.commit" || key == "bootstrap.servers" ||
          key == "metadata.broker.list" || key == "partitioner" || key == "transactional.id")
        problem("scale_out.properties." + key,
                "is set by portscand for the scale-out topic (use scale_out.group / brokers)");
  }

  void read_inputs(const YAML::Node& n, config& cfg) {
    if (!n) return;
    if (!n.IsSequence()) {
      problem("inputs", "must be a list");
      return;
    }
    std::set<std::string> names;
    for (std::size_t i = 0; i < n.size(); ++i) {
      const std::string path = "inputs[" + std::to_string(i) + "]";
      const YAML::Node in = n[i];
      if (!in.IsMap()) {
        problem(path, "must be a map");
        continue;
      }
      input_config ic;
      ic.path = path;
      std::string type;
      if (!string_at(in, "type", path, type)) {
        problem(path + ".type", "is required (kafka, syslog or file)");
        continue;
      }
      format_at(in, path, ic.format);
      envelope_at(in, path, ic.envelope);
      std::string time_source;
      if (string_at(in, "event_time", path, time_source)) {
        if (time_source == "record")
          ic.time_source = event_time_source::record;
        else if (time_source == "receive")
          ic.time_source = event_time_source::receive;
        else
          problem(path + ".event_time", "must be 'record' or 'receive'");
      }
      std::string zone_name;
      if (string_at(in, "timezone", path, zone_name)) {
        std::string error;
        if (auto z = local_zone::find(zone_name, error))
          ic.zone = std::move(*z);
        else
          problem(path + ".timezone", error);
      }
      if (type == "kafka") {
        check_keys(in, path,
                   {"type", "name", "format", "envelope", "event_time", "timezone", "brokers",
                    "topics", "group", "properties"});
        kafka_input_config k;
        if (!string_at(in, "brokers", path, k.brokers) || k.brokers.empty())
          problem(path + ".brokers", "is required (host:port[,host:port...])");
        string_list_at(in, "topics", path, k.topics);
        if (k.topics.empty()) problem(path + ".topics", "needs at least one topic");
        string_at(in, "group", path, k.group);
        if (k.group.empty()) problem(path + ".group", "must not be empty");
        properties_at(in, path, k.properties, false);
        // Offsets are committed by checkpoints only, in the group named by `group`: a
        // passthrough that moved either would commit records no checkpoint holds.
        for (const auto& [key, value] : k.properties)
          if (key == "group.id" || key == "enable.auto.commit" ||
              key == "enable.auto.offset.store" || key == "bootstrap.servers" ||
              key == "metadata.broker.list")
            problem(path + ".properties." + key,
                    "is set by portscand (offsets are committed by checkpoints; use 'group:' "
                    "and 'brokers:')");
        ic.transport = std::move(k);
      } else if (type == "syslog") {
        check_keys(in, path,
                   {"type", "name", "format", "envelope", "event_time", "timezone", "listen",
                    "max_message_bytes", "max_connections", "max_connections_per_peer",
                    "idle_timeout", "frame_timeout", "receive_buffer_bytes", "allow", "tls"});
        syslog_input_config s;
        if (!string_at(in, "listen", path, s.listen)) {
          problem(path + ".listen",
                  "is required (udp://host:port, tcp://host:port or tls://host:port)");
        } else if (auto ep = parse_listen_url(s.listen); !ep) {
          problem(path + ".listen", ep.err().message);
        }
        number_at<std::size_t>(in, "max_message_bytes", path, s.max_message_bytes, 480, 16u << 20);
        number_at<std::size_t>(in, "max_connections", path, s.max_connections, 1, 100'000);
        number_at<std::size_t>(in, "max_connections_per_peer", path, s.max_connections_per_peer, 0,
                               100'000);
        number_at<std::size_t>(in, "receive_buffer_bytes", path, s.receive_buffer_bytes, 4096,
                               1u << 30);
        duration_at(in, "idle_timeout", path, s.connection_idle_timeout, us_per_second,
                    24 * 60 * us_per_minute);
        duration_at(in, "frame_timeout", path, s.frame_timeout, us_per_second,
                    24 * 60 * us_per_minute);
        string_list_at(in, "allow", path, s.allow);
        for (std::size_t k = 0; k < s.allow.size(); ++k)
          if (!valid_cidr(s.allow[k]))
            problem(path + ".allow[" + std::to_string(k) + "]",
                    "'" + s.allow[k] + "' is not an address or CIDR");
        if (const YAML::Node t = in["tls"]) {
          const std::string tp = path + ".tls";
          check_keys(t, tp, {"certificate", "key", "ca", "verify_client"});
          string_at(t, "certificate", tp, s.tls_certificate);
          string_at(t, "key", tp, s.tls_key);
          string_at(t, "ca", tp, s.tls_ca);
          bool_at(t, "verify_client", tp, s.tls_verify_client);
        }
        if (s.listen.rfind("tls://", 0) == 0 && (s.tls_certificate.empty() || s.tls_key.empty()))
          problem(path + ".tls", "a tls:// listener needs tls.certificate and tls.key");
        if (s.tls_verify_client && s.tls_ca.empty())
          problem(path + ".tls.ca", "verify_client needs a CA file");
        ic.transport = std::move(s);
      } else if (type == "file") {
        check_keys(in, path,
                   {"type", "name", "format", "envelope", "event_time", "timezone", "path"});
        file_input_config f;
        if (!string_at(in, "path", path, f.path) || f.path.empty())
          problem(path + ".path", "is required");
        ic.transport = std::move(f);
      } else {
        problem(path + ".type", "unknown input type '" + type + "' (valid: kafka, syslog, file)");
        continue;
      }
      if (!string_at(in, "name", path, ic.name)) ic.name = type + "-" + std::to_string(i);
      if (!names.insert(ic.name).second)
        problem(path + ".name", "duplicate input name '" + ic.name + "'");
      cfg.inputs.push_back(std::move(ic));
    }
  }

  void read_outputs(const YAML::Node& n, config& cfg) {
    if (!n) return;
    if (!n.IsSequence()) {
      problem("outputs", "must be a list");
      return;
    }
    std::set<std::string> names;
    for (std::size_t i = 0; i < n.size(); ++i) {
      const std::string path = "outputs[" + std::to_string(i) + "]";
      const YAML::Node out = n[i];
      if (!out.IsMap()) {
        problem(path, "must be a map");
        continue;
      }
      output_config oc;
      oc.path = path;
      std::string type, schema;
      if (!string_at(out, "type", path, type)) {
        problem(path + ".type", "is required (kafka, file, stdout, http or syslog)");
        continue;
      }
      if (string_at(out, "schema", path, schema)) {
        if (schema == "native")
          oc.schema = output_schema::native;
        else if (schema == "ocsf")
          oc.schema = output_schema::ocsf;
        else
          problem(path + ".schema", "must be 'native' or 'ocsf'");
      }
      if (type == "kafka") {
        check_keys(
            out, path,
            {"type", "name", "schema", "brokers", "topic", "properties", "max_pending_alerts"});
        kafka_output_config k;
        if (!string_at(out, "brokers", path, k.brokers) || k.brokers.empty())
          problem(path + ".brokers", "is required");
        if (!string_at(out, "topic", path, k.topic) || k.topic.empty())
          problem(path + ".topic", "is required");
        properties_at(out, path, k.properties, true);
        number_at<std::size_t>(out, "max_pending_alerts", path, k.max_pending_alerts, 1,
                               100'000'000);
        oc.sink = std::move(k);
      } else if (type == "file") {
        check_keys(out, path, {"type", "name", "schema", "path", "fsync"});
        file_output_config f;
        if (!string_at(out, "path", path, f.path) || f.path.empty())
          problem(path + ".path", "is required");
        bool_at(out, "fsync", path, f.fsync);
        oc.sink = std::move(f);
      } else if (type == "stdout") {
        check_keys(out, path, {"type", "name", "schema"});
        oc.sink = file_output_config{"-", false};
      } else if (type == "http") {
        oc.sink = read_http_output(out, path);
      } else if (type == "syslog") {
        oc.sink = read_syslog_output(out, path);
      } else {
        problem(path + ".type",
                "unknown output type '" + type + "' (valid: kafka, file, stdout, http, syslog)");
        continue;
      }
      if (!string_at(out, "name", path, oc.name)) oc.name = type + "-" + std::to_string(i);
      if (!names.insert(oc.name).second)
        problem(path + ".name", "duplicate output name '" + oc.name + "'");
      if (auto* h = std::get_if<http_output_config>(&oc.sink)) {
        // The spool's file name comes from the output's name: it must stay a plain file name.
        if (oc.name.find_first_of("/\\") != std::string::npos || oc.name == "." || oc.name == "..")
          problem(path + ".name",
                  "an http output's name must not contain '/' (it names its spool)");
        h->spool_path = cfg.state_dir + "/http-" + oc.name + ".spool";
      }
      cfg.outputs.push_back(std::move(oc));
    }
  }

  http_output_config read_http_output(const YAML::Node& out, const std::string& path) {
    check_keys(
        out, path,
        {"type", "name", "schema", "url", "preset", "batch", "max_batch", "headers", "token", "tls",
         "connect_timeout", "request_timeout", "retry_backoff_min", "retry_backoff_max",
         "retry_after_max", "max_pending_alerts", "spool_max_bytes", "thehive", "splunk"});
    http_output_config h;
    if (!string_at(out, "url", path, h.url) || h.url.empty()) {
      problem(path + ".url", "is required (http://host[:port]/path or https://...)");
    } else if (auto why = http_url_problem(h.url)) {
      problem(path + ".url", *why);
    }
    std::string preset;
    if (string_at(out, "preset", path, preset)) {
      if (preset == "webhook")
        h.preset = http_preset::webhook;
      else if (preset == "thehive")
        h.preset = http_preset::thehive;
      else if (preset == "splunk_hec")
        h.preset = http_preset::splunk_hec;
      else
        problem(path + ".preset",
                "unknown preset '" + preset + "' (valid: webhook, thehive, splunk_hec)");
    }
    std::string batch;
    const bool batch_given = string_at(out, "batch", path, batch);
    if (batch_given) {
      if (batch == "one")
        h.batch = http_batch::one;
      else if (batch == "array")
        h.batch = http_batch::array;
      else if (batch == "ndjson")
        h.batch = http_batch::ndjson;
      else
        problem(path + ".batch", "must be 'one', 'array' or 'ndjson'");
    }
    number_at<std::size_t>(out, "max_batch", path, h.max_batch, 1, 10'000);
    // TheHive creates one alert per request; HEC reads concatenated events, not an array.
    if (h.preset == http_preset::thehive && h.batch != http_batch::one)
      problem(path + ".batch", "the thehive preset sends one alert per request (batch: one)");
    if (h.preset == http_preset::splunk_hec && h.batch == http_batch::array)
      problem(path + ".batch",
              "Splunk HEC takes concatenated events, not a JSON array (batch: one or ndjson)");
    std::string error;
    if (const YAML::Node t = out["token"]) {
      if (!t.IsScalar()) {
        problem(path + ".token", "must be a string");
      } else if (auto v = resolve_secret_reference(t.Scalar(), error)) {
        h.token = *v;
      } else {
        problem(path + ".token", error);
      }
    }
    const bool token_given = static_cast<bool>(out["token"]);
    if (h.preset != http_preset::webhook && !token_given)
      problem(path + ".token",
              std::string("is required by the ") +
                  (h.preset == http_preset::thehive ? "thehive preset (its API key"
                                                    : "splunk_hec preset (the HEC token") +
                  ", e.g. ${env:NAME} or ${file:/path})");
    else if (token_given && h.token.empty() && error.empty())
      problem(path + ".token", "is empty");
    else if (!h.token.empty() && h.token.find_first_of("\r\n") != std::string::npos)
      problem(path + ".token", "must not contain a line break");
    secret_map_at(out, "headers", path, "header names to values", h.headers);
    for (const auto& [name, value] : h.headers) {
      if (auto why = http_header_problem(name, value)) {
        problem(path + ".headers." + name, *why);
        continue;
      }
      if (lower(name) == "authorization" && (h.preset != http_preset::webhook || token_given))
        problem(path + ".headers." + name,
                "is set from 'token'; give the credential in one place only");
    }
    if (const YAML::Node t = out["tls"]) {
      const std::string tp = path + ".tls";
      if (!t.IsMap()) {
        problem(tp, "must be a map");
      } else {
        check_keys(t, tp, {"verify", "ca_file", "client_cert", "client_key", "server_name"});
        bool_at(t, "verify", tp, h.tls_verify);
        string_at(t, "ca_file", tp, h.ca_file);
        string_at(t, "client_cert", tp, h.client_cert);
        string_at(t, "client_key", tp, h.client_key);
        string_at(t, "server_name", tp, h.server_name);
        if (h.client_cert.empty() != h.client_key.empty())
          problem(tp, "client_cert and client_key go together");
        if (h.url.rfind("http://", 0) == 0) problem(tp, "is for https:// URLs only");
      }
    }
    duration_at(out, "connect_timeout", path, h.connect_timeout, 100'000, 10 * us_per_minute);
    duration_at(out, "request_timeout", path, h.request_timeout, 100'000, 60 * us_per_minute);
    duration_at(out, "retry_backoff_min", path, h.retry_backoff_min, 1'000, 10 * us_per_minute);
    duration_at(out, "retry_backoff_max", path, h.retry_backoff_max, 1'000, 60 * us_per_minute);
    duration_at(out, "retry_after_max", path, h.retry_after_max, us_per_second,
                24 * 60 * us_per_minute);
    if (h.retry_backoff_max < h.retry_backoff_min)
      problem(path + ".retry_backoff_max", "must not be less than retry_backoff_min");
    number_at<std::size_t>(out, "max_pending_alerts", path, h.max_pending_alerts, 1, 100'000'000);
    number_at<std::size_t>(out, "spool_max_bytes", path, h.spool_max_bytes, 64u << 10,
                           std::size_t{1} << 40);
    if (const YAML::Node t = out["thehive"]) {
      const std::string tp = path + ".thehive";
      if (h.preset != http_preset::thehive) problem(tp, "is for preset: thehive only");
      if (!t.IsMap()) {
        problem(tp, "must be a map");
        return h;
      }
      check_keys(t, tp, {"type", "source"});
      if (string_at(t, "type", tp, h.thehive_type) && h.thehive_type.empty())
        problem(tp + ".type", "must not be empty");
      if (string_at(t, "source", tp, h.thehive_source) && h.thehive_source.empty())
        problem(tp + ".source", "must not be empty");
    }
    if (const YAML::Node t = out["splunk"]) {
      const std::string tp = path + ".splunk";
      if (h.preset != http_preset::splunk_hec) problem(tp, "is for preset: splunk_hec only");
      if (!t.IsMap()) {
        problem(tp, "must be a map");
        return h;
      }
      check_keys(t, tp, {"source", "sourcetype", "index", "host"});
      string_at(t, "source", tp, h.splunk_source);
      string_at(t, "sourcetype", tp, h.splunk_sourcetype);
      string_at(t, "index", tp, h.splunk_index);
      string_at(t, "host", tp, h.splunk_host);
    }
    return h;
  }

  syslog_output_config read_syslog_output(const YAML::Node& out, const std::string& path) {
    check_keys(out, path,
               {"type", "name", "schema", "address", "format", "facility", "severity", "app_name",
                "hostname", "tls", "connect_timeout", "send_timeout", "retry_backoff_min",
                "retry_backoff_max", "max_pending_alerts"});
    syslog_output_config s;
    if (!string_at(out, "address", path, s.address) || s.address.empty()) {
      problem(path + ".address", "is required (udp://host:514, tcp://host:514 or tls://host:6514)");
    } else if (auto ep = parse_listen_url(s.address); !ep) {
      problem(path + ".address", ep.err().message);
    } else if (ep->host.empty()) {
      problem(path + ".address", "'" + s.address + "' needs the receiver's host");
    } else if (ep->port == 0) {
      problem(path + ".address", "'" + s.address + "' needs a port (1 to 65535)");
    } else {
      s.transport = ep->transport;
      s.host = ep->host;
      s.port = ep->port;
    }
    std::string format;
    if (string_at(out, "format", path, format)) {
      if (format == "cef")
        s.format = syslog_body::cef;
      else if (format == "json")
        s.format = syslog_body::json;
      else
        problem(path + ".format", "must be 'cef' or 'json'");
    }
    if (out["schema"] && s.format == syslog_body::cef)
      problem(path + ".schema", "is for format: json only (CEF has one layout)");
    if (const YAML::Node f = out["facility"]) {
      const auto v = f.IsScalar() ? syslog_facility_code(f.Scalar()) : std::nullopt;
      if (v)
        s.facility = *v;
      else
        problem(path + ".facility",
                "must be a facility name (kern, user, ..., local0 to local7) or 0 to 23");
    }
    if (const YAML::Node f = out["severity"]) {
      if (f.IsScalar() && f.Scalar() == "auto") {
        s.severity = -1;
      } else if (auto v = f.IsScalar() ? syslog_severity_code(f.Scalar()) : std::nullopt) {
        s.severity = *v;
      } else {
        problem(path + ".severity",
                "must be auto (from the rule's severity), a severity name (emerg, alert, crit, "
                "err, warning, notice, info, debug) or 0 to 7");
      }
    }
    // RFC 5424 §6: APP-NAME is 1-48 and HOSTNAME 1-255 printable US-ASCII characters.
    const auto header_field = [&](const char* key, std::string& value, std::size_t max) {
      if (!string_at(out, key, path, value)) return;
      const bool printable =
          std::all_of(value.begin(), value.end(), [](char c) { return c > 32 && c < 127; });
      if (value.empty() || value.size() > max || !printable)
        problem(path + "." + key, "must be 1 to " + std::to_string(max) +
                                      " printable ASCII characters without spaces (RFC 5424)");
    };
    header_field("app_name", s.app_name, 48);
    header_field("hostname", s.hostname, 255);
    if (const YAML::Node t = out["tls"]) {
      const std::string tp = path + ".tls";
      if (!t.IsMap()) {
        problem(tp, "must be a map");
      } else {
        check_keys(t, tp, {"verify", "ca_file", "client_cert", "client_key", "server_name"});
        bool_at(t, "verify", tp, s.tls_verify);
        string_at(t, "ca_file", tp, s.ca_file);
        string_at(t, "client_cert", tp, s.client_cert);
        string_at(t, "client_key", tp, s.client_key);
        string_at(t, "server_name", tp, s.server_name);
        if (s.client_cert.empty() != s.client_key.empty())
          problem(tp, "client_cert and client_key go together");
        if (s.transport != syslog_transport::tls) problem(tp, "is for tls:// addresses only");
      }
    }
    duration_at(out, "connect_timeout", path, s.connect_timeout, 100'000, 10 * us_per_minute);
    duration_at(out, "send_timeout", path, s.send_timeout, 100'000, 60 * us_per_minute);
    duration_at(out, "retry_backoff_min", path, s.retry_backoff_min, 1'000, 10 * us_per_minute);
    duration_at(out, "retry_backoff_max", path, s.retry_backoff_max, 1'000, 60 * us_per_minute);
    if (s.retry_backoff_max < s.retry_backoff_min)
      problem(path + ".retry_backoff_max", "must not be less than retry_backoff_min");
    number_at<std::size_t>(out, "max_pending_alerts", path, s.max_pending_alerts, 1, 100'000'000);
    return s;
  }

  static std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
  }

  static bool valid_cidr(const std::string& s) {
    const auto slash = s.find('/');
    auto ip = ip_address::parse(s.substr(0, slash));
    if (!ip) return false;
    if (slash == std::string::npos) return true;
    const std::string bits = s.substr(slash + 1);
    if (bits.empty() || bits.size() > 3 ||
        bits.find_first_not_of("0123456789") != std::string::npos)
      return false;
    const int b = std::stoi(bits);
    return b <= (ip->is_v4() && s.find(':') == std::string::npos ? 32 : 128);
  }

 private:
  std::vector<std::string> formats_;
};

}  // namespace

std::optional<std::string> resolve_secret_reference(const std::string& value, std::string& error) {
  if (value.rfind("${", 0) != 0 || value.back() != '}') return value;
  const std::string inner = value.substr(2, value.size() - 3);
  if (inner.rfind("env:", 0) == 0) {
    const char* v = std::getenv(inner.substr(4).c_str());
    if (v == nullptr) {
      error = "environment variable " + inner.substr(4) + " is not set";
      return std::nullopt;
    }
    return std::string(v);
  }
  if (inner.rfind("file:", 0) == 0) {
    std::ifstream in(inner.substr(5), std::ios::binary);
    if (!in) {
      error = "cannot read secret file " + inner.substr(5);
      return std::nullopt;
    }
    std::stringstream ss;
    ss << in.rdbuf();
    std::string s = ss.str();
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
    return s;
  }
  error = "unknown reference '" + value + "' (use ${env:NAME} or ${file:/path})";
  return std::nullopt;
}

namespace {

// A whole-string small decimal number, or nullopt.
std::optional<int> small_number(const std::string& text, int max) {
  if (text.empty() || text.size() > 2 || text.find_first_not_of("0123456789") != std::string::npos)
    return std::nullopt;
  const int v = std::stoi(text);
  if (v > max) return std::nullopt;
  return v;
}

}  // namespace

std::optional<int> syslog_facility_code(const std::string& text) {
  // RFC 5424 §6.2.1, with the names of syslog(3) and rsyslog.
  static constexpr const char* names[] = {
      "kern",   "user",   "mail",     "daemon", "auth",   "syslog",   "lpr",     "news",
      "uucp",   "cron",   "authpriv", "ftp",    "ntp",    "security", "console", "clock",
      "local0", "local1", "local2",   "local3", "local4", "local5",   "local6",  "local7"};
  for (int i = 0; i < 24; ++i)
    if (text == names[i]) return i;
  return small_number(text, 23);
}

std::optional<int> syslog_severity_code(const std::string& text) {
  static constexpr const char* names[] = {"emerg",   "alert",  "crit", "err",
                                          "warning", "notice", "info", "debug"};
  for (int i = 0; i < 8; ++i)
    if (text == names[i]) return i;
  return small_number(text, 7);
}

// Checked before librdkafka sees the value: it would refuse some combinations only at
// rd_kafka_new() with a less helpful message, and silently accept others (acks=1 without
// idempotence).
std::optional<std::string> refused_output_property(const std::string& key,
                                                   const std::string& value) {
  std::string v = value;
  std::transform(v.begin(), v.end(), v.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  // librdkafka's spellings of false; anything else it does not read as true it refuses itself.
  if (key == "enable.idempotence" && (v == "false" || v == "f" || v == "0"))
    return "enable.idempotence cannot be disabled: alerts need the idempotent producer (SPEC §3)";
  if ((key == "acks" || key == "request.required.acks") && v != "all" && v != "-1")
    return key +
           " must be 'all' (or -1): alerts are confirmed only once every in-sync replica has them";
  if ((key == "max.in.flight.requests.per.connection" || key == "max.in.flight") && v != "1")
    return key +
           " must be 1: with more requests in flight a retried first request can be reported "
           "delivered without being written (librdkafka implicit ack, KAFKA-15591)";
  if (key == "bootstrap.servers" || key == "metadata.broker.list")
    return "set the brokers with 'brokers:', not with the property '" + key + "'";
  if (key == "transactional.id")
    return "transactional.id is not supported: the output produces outside transactions";
  return std::nullopt;
}

std::optional<std::string> http_url_problem(const std::string& url) {
  std::string rest;
  if (url.rfind("https://", 0) == 0)
    rest = url.substr(8);
  else if (url.rfind("http://", 0) == 0)
    rest = url.substr(7);
  else
    return "'" + url + "' must start with http:// or https://";
  const std::string authority = rest.substr(0, rest.find_first_of("/?#"));
  if (authority.empty()) return "'" + url + "' has no host";
  if (authority.find('@') != std::string::npos)
    return "credentials in the URL are not supported: put them in 'token' or 'headers'";
  if (rest.find('#') != std::string::npos) return "a URL with a #fragment is not a request target";
  for (char c : url)
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f)
      return "the URL must not contain spaces or control characters";
  // host, [v6], optional :port
  std::string host = authority, port;
  if (host.front() == '[') {
    const auto close = host.find(']');
    if (close == std::string::npos) return "'" + url + "': unclosed '[' in the host";
    port = host.substr(close + 1);
    host = host.substr(1, close - 1);
    if (!port.empty()) {
      if (port.front() != ':') return "'" + url + "': unexpected text after the IPv6 address";
      port.erase(0, 1);
    }
  } else if (const auto colon = host.rfind(':'); colon != std::string::npos) {
    port = host.substr(colon + 1);
    host = host.substr(0, colon);
  }
  if (host.empty()) return "'" + url + "' has no host";
  if (authority.find(':') != std::string::npos && authority.front() != '[' && port.empty())
    return "'" + url + "': empty port";
  if (!port.empty()) {
    if (port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos ||
        std::stoul(port) == 0 || std::stoul(port) > 65535)
      return "'" + url + "': the port must be 1-65535";
  }
  return std::nullopt;
}

std::optional<std::string> http_header_problem(const std::string& name, const std::string& value) {
  // RFC 9110 §5.6.2 token characters.
  static constexpr std::string_view tchar = "!#$%&'*+-.^_`|~";
  if (name.empty()) return "a header name must not be empty";
  for (char c : name)
    if (!std::isalnum(static_cast<unsigned char>(c)) && tchar.find(c) == std::string_view::npos)
      return "'" + name + "' is not a valid header name (RFC 9110 token characters only)";
  for (char c : value)
    if (c == '\r' || c == '\n' || c == '\0') return "the value must not contain CR, LF or NUL";
  std::string l = name;
  std::transform(l.begin(), l.end(), l.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  for (const char* reserved : {"host", "content-length", "transfer-encoding", "connection",
                               "content-type", "idempotency-key", "keep-alive", "upgrade", "te"})
    if (l == reserved) return "'" + name + "' is set by portscand and cannot be configured";
  return std::nullopt;
}

bool is_secret_key(const std::string& key) {
  for (const char* word : {"password", "secret", "key", "token", "jaas", "credential"})
    if (key.find(word) != std::string::npos) return true;
  return false;
}

config_load_result load_config_text(const std::string& yaml,
                                    const std::vector<std::string>& known_formats) {
  config_load_result out;
  reader r(known_formats);
  try {
    const YAML::Node root = YAML::Load(yaml);
    r.check_duplicate_keys(root, "");
    r.read(root, out.cfg);
    out.read = root.IsMap();
  } catch (const YAML::Exception& e) {
    r.problem("", "YAML syntax error at line " + std::to_string(e.mark.line + 1) + ", column " +
                      std::to_string(e.mark.column + 1) + ": " + e.msg);
  }
  if (out.cfg.shards == 0) out.cfg.shards = std::max(1u, std::thread::hardware_concurrency());
  out.problems = std::move(r.problems);
  return out;
}

config_load_result load_config_file(const std::string& path,
                                    const std::vector<std::string>& known_formats) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    config_load_result out;
    out.problems.push_back({"", "cannot read configuration file " + path});
    return out;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return load_config_text(ss.str(), known_formats);
}

std::string describe_config(const config& cfg) {
  std::ostringstream o;
  if (cfg.rule_paths.empty()) {
    o << "rule=" << (cfg.rule_path.empty() ? "(built-in)" : cfg.rule_path);
  } else {
    o << "rules=";
    for (std::size_t i = 0; i < cfg.rule_paths.size(); ++i)
      o << (i ? "," : "") << cfg.rule_paths[i];
  }
  o << " mode=" << (cfg.mode == detection_mode::sentinel ? "sentinel" : "default")
    << " schedule=" << (cfg.evaluation.schedule == schedule_kind::hourly ? "hourly" : "on_close")
    << " allowed_lateness=" << format_duration(cfg.evaluation.allowed_lateness)
    << " idle_timeout=" << format_duration(cfg.evaluation.idle_timeout)
    << " max_future_skew=" << format_duration(cfg.evaluation.max_future_skew)
    << " window=" << (cfg.evaluation.window == window_kind::sliding ? "sliding" : "tumbling")
    << " shards=" << cfg.shards << " state_dir=" << cfg.state_dir
    << " max_keys_per_shard=" << cfg.limits.max_keys_per_shard
    << " incident_grouping=" << format_duration(cfg.incident_grouping)
    << " max_targets=" << cfg.max_targets;
  for (const auto& in : cfg.inputs) {
    o << " input[" << in.name << " format=" << in.format;
    if (!in.zone.is_utc()) o << " timezone=" << in.zone.name();
    if (in.envelope.mode == envelope_config::kind::none) o << " envelope=none";
    if (in.envelope.mode == envelope_config::kind::custom)
      o << " envelope=message:" << in.envelope.message << ",time:" << in.envelope.time
        << ",host:" << in.envelope.host;
    if (const auto* k = std::get_if<kafka_input_config>(&in.transport)) {
      o << " kafka brokers=" << k->brokers << " group=" << k->group << " topics=";
      for (const auto& t : k->topics) o << t << ',';
      for (const auto& [key, value] : k->properties)
        o << ' ' << key << '=' << (is_secret_key(key) ? "(redacted)" : value);
    } else if (const auto* s = std::get_if<syslog_input_config>(&in.transport)) {
      o << " syslog listen=" << s->listen;
    } else if (const auto* f = std::get_if<file_input_config>(&in.transport)) {
      o << " file path=" << f->path;
    }
    o << ']';
  }
  if (cfg.scale_out.enabled)
    o << " scale_out[topic=" << cfg.scale_out.topic << " partitions=" << cfg.scale_out.partitions
      << " group=" << cfg.scale_out.group << " brokers=" << cfg.scale_out.brokers << ']';
  for (const auto& out : cfg.outputs) {
    o << " output[" << out.name
      << " schema=" << (out.schema == output_schema::native ? "native" : "ocsf");
    if (const auto* k = std::get_if<kafka_output_config>(&out.sink)) {
      o << " kafka brokers=" << k->brokers << " topic=" << k->topic;
      for (const auto& [key, value] : k->properties)
        o << ' ' << key << '=' << (is_secret_key(key) ? "(redacted)" : value);
    } else if (const auto* f = std::get_if<file_output_config>(&out.sink)) {
      o << " file path=" << f->path;
    } else if (const auto* h = std::get_if<http_output_config>(&out.sink)) {
      static constexpr const char* presets[] = {"webhook", "thehive", "splunk_hec"};
      static constexpr const char* batches[] = {"one", "array", "ndjson"};
      o << " http url=" << h->url << " preset=" << presets[static_cast<int>(h->preset)]
        << " batch=" << batches[static_cast<int>(h->batch)] << " spool=" << h->spool_path;
      if (!h->tls_verify) o << " tls_verify=false";
      // Header values are often credentials: names only.
      for (const auto& [key, value] : h->headers) o << " header=" << key;
    } else if (const auto* sl = std::get_if<syslog_output_config>(&out.sink)) {
      o << " syslog address=" << sl->address
        << " format=" << (sl->format == syslog_body::cef ? "cef" : "json");
      if (!sl->tls_verify) o << " tls_verify=false";
    }
    o << ']';
  }
  return o.str();
}

}  // namespace portscand
