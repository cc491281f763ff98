// portscand: argv, configuration, and the subcommands. Everything else lives in lib/.
#include <algorithm>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "config/config.hpp"
#include "core/clock.hpp"
#include "core/log.hpp"
#include "detect/rule_loader.hpp"
#include "parse/envelope.hpp"
#include "parse/registry.hpp"
#include "portscand/version.hpp"
#include "runtime/daemon.hpp"
#include "runtime/inspect.hpp"
#include "runtime/replay.hpp"
#include "runtime/startup_checks.hpp"

namespace {

using namespace portscand;

// Exit codes (documented in --help, the README and portscand(1)). systemd never restarts
// after 2 or 3 (RestartPreventExitStatus=), so 3 means only "the configuration or the rule
// file is invalid", found by validation before anything starts; a restart cannot fix that.
// Everything that goes wrong after validation (a port in use, a state directory that turns
// out unwritable, a broker or librdkafka refusing at start, any exception) is 1, and systemd
// restarts the service.
constexpr int exit_ok = 0;
constexpr int exit_runtime_error = 1;
constexpr int exit_usage = 2;
constexpr int exit_config = 3;

const char* const main_help =
    "portscand — streaming port-scan detection (Sentinel rule 1da9853f, ASIM NetworkSession)\n"
    "\n"
    "Usage:\n"
    "  portscand run --config FILE               the daemon: inputs -> detection -> outputs\n"
    "  portscand replay [options] FILE... | -   evaluate record files, print alerts as JSON lines\n"
    "  portscand parse [options] FILE... | -    print what the parser makes of each record\n"
    "  portscand check-config --config FILE      validate a configuration and its rule file\n"
    "  portscand formats                         list the record formats\n"
    "  portscand --version | --help\n"
    "\n"
    "Run 'portscand <command> --help' for the options of a command.\n"
    "\n"
    "Exit codes: 0 success, 1 runtime error (e.g. an unreadable input; for run: anything\n"
    "that fails after validation, such as a port in use), 2 usage error, 3 invalid\n"
    "configuration or rule file (what check-config refuses).\n";

const char* const replay_help =
    "Usage: portscand replay [--config FILE] [--mode default|sentinel] [--format NAME|auto]\n"
    "                        [--shards N] [--threads N] [--schema native|ocsf]\n"
    "                        [--timezone ZONE] [--envelope SPEC] FILE... | -\n"
    "\n"
    "Reads network-session records from the files (or standard input for '-'), runs them\n"
    "through the detection engine with event-time semantics (each file is one input of the\n"
    "watermark; bins close allowed_lateness after their end), evaluates every remaining bin at\n"
    "end of input, and writes the alerts to standard output as JSON lines ordered by\n"
    "TimeGenerated, then SrcIpAddr. A summary of counts goes to standard error.\n"
    "\n"
    "  --config FILE   take rule, mode, evaluation and limits from a configuration file\n"
    "  --mode M        default (IPv6 sources count) or sentinel (as the Sentinel rule: none do)\n"
    "  --format NAME   the record format of every file, or auto (detected per record; default)\n"
    "  --rule FILE     a rule file (Sentinel analytic-rule YAML or portscand's rule YAML)\n"
    "  --shards N      shard threads (default: the number of cores)\n"
    "  --threads N     parse threads (default: the number of cores)\n"
    "  --schema S      alert schema: native (default) or ocsf\n"
    "  --timezone Z    zone of the records' zone-less times (BSD syslog headers, PAN-OS, ...):\n"
    "                  an IANA name (Asia/Shanghai) or an offset (+08:00); default UTC\n"
    "  --envelope SPEC shipper envelopes around the records, as an input's `envelope:`: auto\n"
    "                  (default), none, or message=PATH[,time=PATH][,host=PATH] (dotted paths)\n";

const char* const parse_help =
    "Usage: portscand parse [--config FILE [--input NAME]] [--mode default|sentinel]\n"
    "                       [--format NAME|auto] [--timezone ZONE] [--envelope SPEC]\n"
    "                       [--received TIME] FILE... | -\n"
    "\n"
    "Reads records as the file input does (lines, or JSON documents spanning lines) and\n"
    "prints what the parse layer makes of each, one JSON object per line: the file, the line\n"
    "the record starts on, the format and envelope that read it, and either the normalized\n"
    "record (time and where it came from, source, destination, port, protocol, action,\n"
    "side, vendor/product, device; `counted` says whether the window engine would count\n"
    "it, else `not_counted` gives the reason) or the skip or rejection with its reason. A\n"
    "summary of counts goes to standard error. Checks that depend on the stream (late or\n"
    "future-dated records) are not applied.\n"
    "\n"
    "  --config FILE   take the mode and reply_flows (and with --input, an input's settings)\n"
    "                  from a configuration\n"
    "  --input NAME    read as the configuration's input NAME does: its format, timezone,\n"
    "                  envelope and event_time\n"
    "  --mode M        default or sentinel: which sources count (see replay)\n"
    "  --format NAME   the record format, or auto (detected per record; default)\n"
    "  --timezone Z    zone of zone-less times: an IANA name or an offset; default UTC\n"
    "  --envelope SPEC shipper envelopes: auto (default), none, or message=PATH[,time=PATH]\n"
    "                  [,host=PATH]\n"
    "  --received TIME read as if every record arrived at TIME (ISO 8601 with a zone), not\n"
    "                  now: the year of year-less syslog times and the time of records that\n"
    "                  carry none come from it\n";

const char* const run_help =
    "Usage: portscand run --config FILE [--log-level LEVEL]\n"
    "\n"
    "Runs the daemon: consumes the configured inputs, evaluates bins on the configured schedule\n"
    "and publishes alerts to the outputs. Logs go to standard error (journald-friendly under\n"
    "systemd). SIGTERM/SIGINT stop gracefully (stop inputs, drain, checkpoint, flush outputs);\n"
    "SIGHUP reloads the rule parameters (threshold, caps, schedule) keeping the window state.\n"
    "The configuration is validated first, as check-config validates it: exit 3 when it is\n"
    "invalid. A failure after that (a port in use, a broker refusing) exits 1.\n"
    "\n"
    "  --config FILE     the configuration (see check-config)\n"
    "  --log-level L     trace, debug, info (default: the config's log_level), warn, error\n";

const char* const formats_help =
    "Usage: portscand formats\n"
    "\n"
    "Lists the record formats, one per line: the name to use in an input's `format:` (or in\n"
    "replay --format) and what it reads. `auto` detects the format of each record.\n";

const char* const check_help =
    "Usage: portscand check-config --config FILE\n"
    "\n"
    "Validates the configuration and the rule file it names, with everything run refuses at\n"
    "start: listen addresses, TLS files (loaded with OpenSSL), librdkafka properties, the\n"
    "state directory, output files and directories, at least one output, duplicate keys.\n"
    "Prints every problem with its YAML path and exits 3 when there is any; prints the\n"
    "effective configuration and exits 0 otherwise. File permissions are checked for the\n"
    "calling user: run it as the service's user.\n";

struct args {
  std::vector<std::string> positional;
  std::vector<std::pair<std::string, std::string>> options;
  bool help = false;
  std::string error;
};

// Options take one value ("--x v" or "--x=v"); "--help" takes none.
args parse_args(int argc, char** argv, int first, const std::vector<std::string>& known) {
  args a;
  for (int i = first; i < argc; ++i) {
    std::string s = argv[i];
    if (s == "--help" || s == "-h") {
      a.help = true;
      continue;
    }
    if (s.size() > 2 && s.rfind("--", 0) == 0) {
      std::string name = s.substr(2), value;
      const auto eq = name.find('=');
      if (eq != std::string::npos) {
        value = name.substr(eq + 1);
        name = name.substr(0, eq);
      } else if (i + 1 < argc) {
        value = argv[++i];
      } else {
        a.error = "option --" + name + " needs a value";
        return a;
      }
      if (std::find(known.begin(), known.end(), name) == known.end()) {
        a.error = "unknown option --" + name;
        return a;
      }
      a.options.emplace_back(name, value);
      continue;
    }
    a.positional.push_back(s);
  }
  return a;
}

const std::string* option(const args& a, const std::string& name) {
  const std::string* found = nullptr;
  for (const auto& [n, v] : a.options)
    if (n == name) found = &v;
  return found;
}

void print_problems(const std::vector<config_problem>& problems, const std::string& file) {
  for (const auto& p : problems)
    std::cerr << file << ": " << (p.path.empty() ? "" : p.path + ": ") << p.message << '\n';
}

bool parse_count(const std::string& s, unsigned& out) {
  if (s.empty() || s.size() > 3 || s.find_first_not_of("0123456789") != std::string::npos)
    return false;
  out = static_cast<unsigned>(std::stoul(s));
  return out >= 1 && out <= 256;
}

// What a configuration is loaded for. `run` and `check-config` refuse the same things: also
// what the daemon would refuse when it starts (state_dir, outputs, TLS files, librdkafka
// properties). `replay` uses only the rule, mode, evaluation and limits of the file.
enum class config_use : std::uint8_t { daemon, replay };

// The rule-level checks of a configuration and its rules, and the rules with the
// configuration's options (what load_all and --rule share). Returns false when invalid.
bool finish_rules(config& cfg, const rule_set& loaded, rule_set& rules, const std::string& where) {
  bool ok = true;
  if (const auto p = apply_rule_window(cfg, loaded.lead()); !p.empty()) {
    print_problems(p, where);
    ok = false;
  }
  if (loaded.sweep && cfg.evaluation.window == window_kind::sliding) {
    print_problems({{"rules", "the sweep rule counts tumbling bins: not with a sliding window"}},
                   where);
    ok = false;
  }
  if (const auto p = check_exclusion_rules(cfg, loaded); !p.empty()) {
    print_problems(p, where);
    ok = false;
  }
  rules = with_options(loaded, cfg);
  return ok;
}

// Loads the configuration and its rules; prints problems. Returns false when invalid.
bool load_all(const std::string& path, config& cfg, rule_set& rules, config_use use) {
  auto loaded = use == config_use::daemon ? load_daemon_config(path, builtin_formats().names())
                                          : load_config_file(path, builtin_formats().names());
  bool ok = loaded.problems.empty();
  print_problems(loaded.problems, path);
  cfg = std::move(loaded.cfg);
  auto r = load_rules(cfg);
  if (!r.problems.empty()) {
    print_problems(r.problems, cfg.rule_paths.empty() ? cfg.rule_path : path);
    return false;
  }
  return finish_rules(cfg, r.rules, rules, cfg.rule_paths.empty() ? cfg.rule_path : path) && ok;
}

// --envelope: auto, none, or message=PATH[,time=PATH][,host=PATH].
bool parse_envelope_option(const std::string& text, envelope_config& out) {
  if (text == "auto" || text == "none") {
    out.mode = text == "auto" ? envelope_config::kind::automatic : envelope_config::kind::none;
    return true;
  }
  out.mode = envelope_config::kind::custom;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    const std::size_t comma = std::min(text.find(',', pos), text.size());
    const std::string item = text.substr(pos, comma - pos);
    const std::size_t eq = item.find('=');
    if (eq == std::string::npos) return false;
    const std::string key = item.substr(0, eq), value = item.substr(eq + 1);
    std::string* slot = key == "message" ? &out.message
                        : key == "time"  ? &out.time
                        : key == "host"  ? &out.host
                                         : nullptr;
    if (slot == nullptr || !valid_envelope_path(value)) return false;
    *slot = value;
    pos = comma + 1;
  }
  return !out.message.empty();
}

// The options replay and parse share: how records are read and which sources count.
// Prints the problem and returns false on a bad value.
bool decode_options(const args& a, std::string_view cmd, detection_mode& mode, std::string& format,
                    envelope_config& envelope, local_zone& zone) {
  if (const auto* m = option(a, "mode")) {
    if (*m == "default") {
      mode = detection_mode::standard;
    } else if (*m == "sentinel") {
      mode = detection_mode::sentinel;
    } else {
      std::cerr << "portscand " << cmd << ": --mode must be default or sentinel\n";
      return false;
    }
  }
  if (const auto* f = option(a, "format")) {
    if (*f != "auto" && builtin_formats().find(*f) == nullptr) {
      std::string names;
      for (const auto& n : builtin_formats().names()) names += " " + n;
      std::cerr << "portscand " << cmd << ": unknown format '" << *f << "' (valid: auto" << names
                << ")\n";
      return false;
    }
    format = *f;
  }
  if (const auto* e = option(a, "envelope")) {
    if (!parse_envelope_option(*e, envelope)) {
      std::cerr << "portscand " << cmd
                << ": --envelope must be auto, none or "
                   "message=PATH[,time=PATH][,host=PATH] with dotted paths of 1 to 5 keys\n";
      return false;
    }
  }
  if (const auto* z = option(a, "timezone")) {
    std::string error;
    auto found = local_zone::find(*z, error);
    if (!found) {
      std::cerr << "portscand " << cmd << ": --timezone: " << error << "\n";
      return false;
    }
    zone = std::move(*found);
  }
  return true;
}

int cmd_replay(int argc, char** argv) {
  const args a = parse_args(
      argc, argv, 2,
      {"config", "mode", "format", "rule", "shards", "threads", "schema", "timezone", "envelope"});
  if (a.help) {
    std::cout << replay_help;
    return exit_ok;
  }
  if (!a.error.empty()) {
    std::cerr << "portscand replay: " << a.error << "\n\n" << replay_help;
    return exit_usage;
  }
  if (a.positional.empty()) {
    std::cerr << "portscand replay: no input files (use - for standard input)\n\n" << replay_help;
    return exit_usage;
  }
  config cfg;
  rule_set rules = rule_set::of(default_rule());
  if (const auto* path = option(a, "config")) {
    if (!load_all(*path, cfg, rules, config_use::replay)) return exit_config;
  } else {
    cfg.shards = std::max(1u, std::thread::hardware_concurrency());
  }
  if (const auto* path = option(a, "rule")) {  // this rule alone, instead of the configuration's
    auto r = load_rule(*path);
    if (!r.problems.empty()) {
      print_problems(r.problems, *path);
      return exit_config;
    }
    rule_set one;
    (r.rule.kind == rule_kind::sweep ? one.sweep : one.vertical) =
        std::make_shared<const rule_definition>(std::move(r.rule));
    if (!finish_rules(cfg, one, rules, *path)) return exit_config;
  }
  replay_options opt;
  opt.files = a.positional;
  opt.mode = cfg.mode;
  opt.ipv6_prefix = cfg.ipv6_prefix;
  opt.reply_flows = cfg.reply_flows;
  opt.evaluation = cfg.evaluation;
  opt.shards = cfg.shards;
  opt.max_keys_per_shard = cfg.limits.max_keys_per_shard;
  opt.max_targets = cfg.max_targets;
  if (!decode_options(a, "replay", opt.mode, opt.format, opt.envelope, opt.zone)) return exit_usage;
  if (const auto* s = option(a, "shards"); s && !parse_count(*s, opt.shards)) {
    std::cerr << "portscand replay: --shards must be 1..256\n";
    return exit_usage;
  }
  if (const auto* s = option(a, "threads"); s && !parse_count(*s, opt.parse_threads)) {
    std::cerr << "portscand replay: --threads must be 1..256\n";
    return exit_usage;
  }
  if (const auto* s = option(a, "schema")) {
    if (*s == "native")
      opt.schema = output_schema::native;
    else if (*s == "ocsf")
      opt.schema = output_schema::ocsf;
    else {
      std::cerr << "portscand replay: --schema must be native or ocsf\n";
      return exit_usage;
    }
  }
  std::ios::sync_with_stdio(false);
  system_clock clk;
  const replay_result r = run_replay(opt, rules, clk, std::cout, std::cerr);
  return r.exit_code == 0 ? exit_ok : exit_runtime_error;
}

int cmd_parse(int argc, char** argv) {
  const args a = parse_args(
      argc, argv, 2, {"config", "input", "mode", "format", "timezone", "envelope", "received"});
  if (a.help) {
    std::cout << parse_help;
    return exit_ok;
  }
  if (!a.error.empty()) {
    std::cerr << "portscand parse: " << a.error << "\n\n" << parse_help;
    return exit_usage;
  }
  if (a.positional.empty()) {
    std::cerr << "portscand parse: no input files (use - for standard input)\n\n" << parse_help;
    return exit_usage;
  }
  inspect_options opt;
  opt.files = a.positional;
  const auto* input = option(a, "input");
  if (const auto* path = option(a, "config")) {
    config cfg;
    rule_set rules;
    if (!load_all(*path, cfg, rules, config_use::replay)) return exit_config;
    opt.mode = cfg.mode;
    opt.reply_flows = cfg.reply_flows;
    if (input != nullptr) {
      const auto it = std::find_if(cfg.inputs.begin(), cfg.inputs.end(),
                                   [&](const input_config& i) { return i.name == *input; });
      if (it == cfg.inputs.end()) {
        std::cerr << "portscand parse: " << *path << " has no input named '" << *input << "'\n";
        return exit_usage;
      }
      opt.format = it->format;
      opt.zone = it->zone;
      opt.envelope = it->envelope;
      opt.time_source = it->time_source;
    }
  } else if (input != nullptr) {
    std::cerr << "portscand parse: --input needs --config\n";
    return exit_usage;
  }
  if (!decode_options(a, "parse", opt.mode, opt.format, opt.envelope, opt.zone)) return exit_usage;
  std::optional<timestamp_us> received;
  if (const auto* t = option(a, "received")) {
    received = parse_iso8601(*t);
    if (!received || !iso8601_has_zone(*t)) {
      std::cerr << "portscand parse: --received: '" << *t
                << "' is not an ISO 8601 time with a zone (e.g. 2026-03-01T12:00:00Z)\n";
      return exit_usage;
    }
  }
  std::ios::sync_with_stdio(false);
  system_clock wall;
  manual_clock fixed(received.value_or(0));
  const portscand::clock& clk = received ? static_cast<const portscand::clock&>(fixed) : wall;
  const inspect_result r = run_inspect(opt, clk, std::cout, std::cerr);
  return r.exit_code == 0 ? exit_ok : exit_runtime_error;
}

int cmd_run(int argc, char** argv) {
  // A stdout output whose reader went away (a closed pipe) must become a counted, retried
  // write error (EPIPE) of that output, not a signal that kills the daemon. Only `run`:
  // replay keeps the default, so `portscand replay ... | head` ends like any filter.
  std::signal(SIGPIPE, SIG_IGN);
  const args a = parse_args(argc, argv, 2, {"config", "log-level"});
  if (a.help) {
    std::cout << run_help;
    return exit_ok;
  }
  const std::string* path = option(a, "config");
  if (!a.error.empty() || path == nullptr || !a.positional.empty()) {
    std::cerr << "portscand run: " << (a.error.empty() ? "--config FILE is required" : a.error)
              << "\n\n"
              << run_help;
    return exit_usage;
  }
  config cfg;
  rule_set rules;
  if (!load_all(*path, cfg, rules, config_use::daemon)) return exit_config;
  std::string level = cfg.log_level;
  if (const auto* l = option(a, "log-level")) {
    spdlog::level::level_enum parsed;
    if (!parse_log_level(*l, parsed)) {
      std::cerr << "portscand run: unknown log level '" << *l << "'\n";
      return exit_usage;
    }
    level = *l;
  }
  init_logging(level);
  system_clock clk;
  try {
    return run_daemon(*path, std::move(cfg), std::move(rules), clk);
  } catch (const std::exception& e) {
    // The configuration passed validation (the same checks as check-config): what fails now
    // is the environment (a port in use, a broker refusing), which a restart may fix.
    spdlog::critical("cannot run: {}", e.what());
    return exit_runtime_error;
  }
}

int cmd_check_config(int argc, char** argv) {
  const args a = parse_args(argc, argv, 2, {"config"});
  if (a.help) {
    std::cout << check_help;
    return exit_ok;
  }
  const std::string* path = option(a, "config");
  if (!a.error.empty() || path == nullptr || !a.positional.empty()) {
    std::cerr << "portscand check-config: "
              << (a.error.empty() ? "--config FILE is required" : a.error) << "\n\n"
              << check_help;
    return exit_usage;
  }
  config cfg;
  rule_set rules;
  if (!load_all(*path, cfg, rules, config_use::daemon)) return exit_config;
  std::cout << *path << ": OK\n" << describe_config(cfg) << '\n';
  if (const auto& rule = rules.vertical)
    std::cout << "rule: " << rule->metadata->name << " (" << rule->metadata->id << " v"
              << rule->metadata->version << "), threshold " << rule->threshold << ", bin "
              << format_duration(rule->bin_width) << ", caps " << rule->max_ports << "/"
              << rule->max_labels << '\n';
  if (const auto& rule = rules.sweep)
    std::cout << "rule: " << rule->metadata->name << " (" << rule->metadata->id << " v"
              << rule->metadata->version << "), sweep, threshold " << rule->threshold
              << " destinations per port, bin " << format_duration(rule->bin_width)
              << ", targets listed " << rule->max_targets << '\n';
  return exit_ok;
}

int cmd_formats(int argc, char** argv) {
  const args a = parse_args(argc, argv, 2, {});
  if (a.help) {
    std::cout << formats_help;
    return exit_ok;
  }
  if (!a.error.empty() || !a.positional.empty()) {
    std::cerr << "portscand formats: " << (a.error.empty() ? "takes no arguments" : a.error)
              << "\n\n"
              << formats_help;
    return exit_usage;
  }
  for (const auto& e : builtin_formats().entries())
    std::cout << e.name << "\t" << e.description << '\n';
  return exit_ok;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    if (argc < 2) {
      std::cerr << main_help;
      return exit_usage;
    }
    const std::string_view cmd = argv[1];
    if (cmd == "--version" || cmd == "version") {
      std::cout << "portscand " << portscand::version_string << '\n';
      return exit_ok;
    }
    if (cmd == "--help" || cmd == "-h" || cmd == "help") {
      std::cout << main_help;
      return exit_ok;
    }
    portscand::init_logging("warn");
    if (cmd == "run") return cmd_run(argc, argv);
    if (cmd == "replay") return cmd_replay(argc, argv);
    if (cmd == "parse") return cmd_parse(argc, argv);
    if (cmd == "check-config") return cmd_check_config(argc, argv);
    if (cmd == "formats") return cmd_formats(argc, argv);
    std::cerr << "portscand: unknown command '" << cmd << "'\n\n" << main_help;
    return exit_usage;
  } catch (const std::exception& e) {
    std::cerr << "portscand: fatal: " << e.what() << '\n';
    return exit_runtime_error;
  }
}
