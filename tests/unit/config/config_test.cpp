#include "config/config.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "../ingest/ingest_test_util.hpp"
#include "../test_names.hpp"
#include "parse/registry.hpp"
#include "runtime/startup_checks.hpp"

namespace portscand {
namespace {

config_load_result load(const std::string& yaml) {
  return load_config_text(yaml, builtin_formats().names());
}

TEST(Config, TheSpecExampleIsValid) {
  const auto r = load(R"(
rule: /etc/portscand/rules/port-scan.yaml
mode: default
evaluation: {schedule: hourly, allowed_lateness: 10m, idle_timeout: 1m}
shards: 2
state_dir: /var/lib/portscand
inputs:
  - {type: kafka, brokers: "127.0.0.1:9092", topics: [asim-network-session], group: portscand,
     format: auto, properties: {security.protocol: SASL_SSL}}
  - {type: syslog, listen: "udp://0.0.0.0:514", format: auto}
  - {type: syslog, listen: "tcp://0.0.0.0:514", format: auto}
outputs:
  - {type: kafka, brokers: "127.0.0.1:9092", topic: portscan-alerts, schema: native}
  - {type: file, path: /var/log/portscand/alerts.jsonl, schema: native}
metrics: {listen: "127.0.0.1:9108"}
)");
  for (const auto& p : r.problems) ADD_FAILURE() << p.path << ": " << p.message;
  EXPECT_EQ(r.cfg.shards, 2u);
  EXPECT_EQ(r.cfg.inputs.size(), 3u);
  EXPECT_EQ(r.cfg.evaluation.allowed_lateness, 10 * us_per_minute);
  EXPECT_EQ(
      std::get<kafka_input_config>(r.cfg.inputs[0].transport).properties.at("security.protocol"),
      "SASL_SSL");
}

TEST(Config, ExclusionsAreRead) {
  const auto r = load(R"(
exclusions:
  - name: research
    reason: research scanner
    sources: [198.51.100.0/28, "2001:db8::/32"]
  - reason: health checks
    destinations: [198.18.0.0/16]
    ports: [443, "8000-8100"]
    expires: "2027-01-31T00:00:00Z"
)");
  for (const auto& p : r.problems) ADD_FAILURE() << p.path << ": " << p.message;
  ASSERT_EQ(r.cfg.exclusions.size(), 2u);
  EXPECT_EQ(r.cfg.exclusions[0].name, "research");
  EXPECT_EQ(r.cfg.exclusions[0].sources.size(), 2u);
  EXPECT_EQ(r.cfg.exclusions[0].sources[1].to_string(), "2001:db8::/32");
  EXPECT_FALSE(r.cfg.exclusions[0].expires);
  EXPECT_EQ(r.cfg.exclusions[1].name, "1");  // the index when no name is given
  EXPECT_EQ(r.cfg.exclusions[1].ports,
            (std::vector<std::pair<std::uint16_t, std::uint16_t>>{{443, 443}, {8000, 8100}}));
  EXPECT_EQ(r.cfg.exclusions[1].expires, 1801353600LL * us_per_second);  // date -d ... +%s
}

TEST(Config, DefaultsApplyToAnEmptyFile) {
  const auto r = load("{}");
  EXPECT_TRUE(r.problems.empty());
  EXPECT_EQ(r.cfg.evaluation.schedule, schedule_kind::hourly);
  EXPECT_EQ(r.cfg.evaluation.idle_timeout, us_per_minute);
  EXPECT_EQ(r.cfg.evaluation.max_future_skew, 5 * us_per_minute);
  EXPECT_GE(r.cfg.shards, 1u);
}

TEST(Config, EvaluationWindowIsTumblingUnlessSlidingIsAsked) {
  EXPECT_EQ(load("{}").cfg.evaluation.window, window_kind::tumbling);
  const auto r = load("evaluation: {window: sliding}");
  EXPECT_TRUE(r.problems.empty());
  EXPECT_EQ(r.cfg.evaluation.window, window_kind::sliding);
  EXPECT_EQ(load("evaluation: {window: tumbling}").cfg.evaluation.window, window_kind::tumbling);
  const auto bad = load("evaluation: {window: hopping}");
  ASSERT_EQ(bad.problems.size(), 1u);
  EXPECT_EQ(bad.problems[0].path, "evaluation.window");
  // Sliding windows hand over through the by-source log too (notes): scale_out takes them.
  const auto both = load(
      "evaluation: {window: sliding}\n"
      "inputs: [{type: kafka, brokers: 'b:9092', topics: [t]}]\n"
      "scale_out: {topic: by-source}");
  EXPECT_TRUE(both.problems.empty()) << both.problems[0].message;
  EXPECT_EQ(both.cfg.evaluation.window, window_kind::sliding);
}

struct invalid_case {
  std::string why;
  std::string yaml;
  std::string path;  // the YAML path the problem must name
  std::string says;  // a piece of its message that names the problem ("" = any message)
};

std::string listing(const std::vector<config_problem>& problems) {
  std::string out;
  for (const auto& p : problems) out += "\n  " + p.path + ": " + p.message;
  return out.empty() ? " none" : out;
}

// A problem at `path` whose message contains `says`.
::testing::AssertionResult has_problem(const std::vector<config_problem>& problems,
                                       const std::string& path, const std::string& says) {
  for (const auto& p : problems)
    if (p.path == path && p.message.find(says) != std::string::npos)
      return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "no problem at '" << path << "' saying '" << says << "'; got:" << listing(problems);
}

// Absent, reply_flows follows the mode: skipped in `default`, counted in `sentinel` (the
// rule's behaviour); either value overrides the mode.
TEST(Config, ReplyFlowsDefaultToTheModeAndCanBeOverridden) {
  const struct {
    const char* yaml;
    bool skips;
  } cases[] = {
      {"mode: default", true},
      {"mode: sentinel", false},
      {"mode: default\nreply_flows: count", false},
      {"mode: sentinel\nreply_flows: skip", true},
      {"reply_flows: skip", true},
  };
  for (const auto& c : cases) {
    const auto r = load(c.yaml);
    for (const auto& p : r.problems) ADD_FAILURE() << c.yaml << ": " << p.path << ": " << p.message;
    EXPECT_EQ(skips_reply_flows(r.cfg.reply_flows, r.cfg.mode), c.skips) << c.yaml;
  }
}

class InvalidConfig : public ::testing::TestWithParam<invalid_case> {};

TEST_P(InvalidConfig, IsReportedWithItsPath) {
  const auto r = load(GetParam().yaml);
  EXPECT_TRUE(has_problem(r.problems, GetParam().path, GetParam().says));
}

INSTANTIATE_TEST_SUITE_P(
    Table, InvalidConfig,
    ::testing::Values(
        invalid_case{"a mistyped top-level key", "shard: 2", "shard"},
        invalid_case{"reply_flows neither skip nor count", "reply_flows: drop", "reply_flows",
                     "'skip' or 'count'"},
        invalid_case{"an IPv6 prefix too short", "ipv6_prefix: 16", "ipv6_prefix", "between"},
        invalid_case{"an IPv6 prefix with scale-out",
                     "ipv6_prefix: 64\nscale_out: {brokers: 'b:9092'}", "ipv6_prefix", "scale_out"},
        invalid_case{"a suppression duration that is not one", "suppression: {duration: soon}",
                     "suppression.duration", "not a duration"},
        invalid_case{"suppression as a bare duration", "suppression: 1h", "suppression", "map"},
        invalid_case{"suppression with a sliding window",
                     "suppression: {duration: 1h}\nevaluation: {window: sliding}", "suppression",
                     "sliding"},
        invalid_case{"suppression with scale-out",
                     "suppression: {duration: 1h}\nscale_out: {brokers: 'b:9092'}", "suppression",
                     "scale_out"},
        invalid_case{"early_alerts as a bare boolean", "early_alerts: true", "early_alerts", "map"},
        invalid_case{"early_alerts enabled by a word", "early_alerts: {enabled: soon}",
                     "early_alerts.enabled", ""},
        invalid_case{"early_alerts with a mistyped key", "early_alerts: {enable: true}",
                     "early_alerts.enable", ""},
        invalid_case{"early_alerts with a sliding window",
                     "early_alerts: {enabled: true}\nevaluation: {window: sliding}", "early_alerts",
                     "sliding"},
        invalid_case{"an exclusion without a reason", "exclusions: [{sources: [203.0.113.0/24]}]",
                     "exclusions[0].reason", "required"},
        invalid_case{"an exclusion with a bad CIDR",
                     "exclusions: [{reason: r, sources: [203.0.113.0/24, 203.0.113.0/33]}]",
                     "exclusions[0].sources[1]", "prefix length"},
        invalid_case{"an exclusion CIDR with host bits",
                     "exclusions: [{reason: r, destinations: [10.1.2.3/8]}]",
                     "exclusions[0].destinations[0]", "host bits"},
        invalid_case{"an exclusion with a bad port",
                     "exclusions: [{reason: r, ports: [22, 65536]}]", "exclusions[0].ports[1]",
                     "not a port"},
        invalid_case{"an exclusion with a reversed port range",
                     "exclusions: [{reason: r, ports: ['9000-8000']}]", "exclusions[0].ports[0]",
                     "range"},
        invalid_case{"an exclusion with a bad expiry",
                     "exclusions: [{reason: r, ports: [22], expires: 'next week'}]",
                     "exclusions[0].expires", "RFC 3339"},
        invalid_case{"an exclusion expiry without a zone",
                     "exclusions: [{reason: r, ports: [22], expires: '2027-01-01T00:00:00'}]",
                     "exclusions[0].expires", "zone"},
        invalid_case{"an exclusion that would exclude everything",
                     "exclusions: [{reason: r, name: all}]", "exclusions[0]", "every record"},
        invalid_case{"an exclusion with an empty list",
                     "exclusions: [{reason: r, sources: [], ports: [22]}]", "exclusions[0].sources",
                     "must not be empty"},
        invalid_case{
            "two exclusions with one name",
            "exclusions: [{name: a, reason: r, ports: [22]}, {name: a, reason: r, ports: [23]}]",
            "exclusions[1].name", "another entry"},
        invalid_case{"an exclusion with a mistyped key",
                     "exclusions: [{reason: r, source: [203.0.113.0/24]}]", "exclusions[0].source",
                     "unknown key"},
        invalid_case{"a kafka input turning auto commit on",
                     "inputs: [{type: kafka, brokers: 'b:9092', topics: [t], "
                     "properties: {enable.auto.commit: 'true'}}]",
                     "inputs[0].properties.enable.auto.commit", "checkpoints"},
        invalid_case{"a kafka input naming its group in the passthrough",
                     "inputs: [{type: kafka, brokers: 'b:9092', topics: [t], "
                     "properties: {group.id: other}}]",
                     "inputs[0].properties.group.id", "group:"},
        invalid_case{"scale_out without brokers or a kafka input", "scale_out: {topic: t}",
                     "scale_out.brokers", "required"},
        invalid_case{"scale_out with zero partitions",
                     "scale_out: {brokers: 'b:9092', partitions: 0}", "scale_out.partitions"},
        invalid_case{"scale_out with a retention under 2h",
                     "scale_out: {brokers: 'b:9092', retention: 30m}", "scale_out.retention"},
        invalid_case{"scale_out replication factor 0",
                     "scale_out: {brokers: 'b:9092', replication_factor: 0}",
                     "scale_out.replication_factor"},
        invalid_case{"scale_out setting its own group.id",
                     "scale_out: {brokers: 'b:9092', properties: {group.id: x}}",
                     "scale_out.properties.group.id", "scale_out.group"},
        invalid_case{"a mistyped scale_out key", "scale_out: {brokers: 'b:9092', topics: [t]}",
                     "scale_out.topics"},
        invalid_case{
            "an unknown time zone",
            "inputs: [{type: syslog, listen: 'udp://0.0.0.0:514', timezone: Mars/Olympus}]",
            "inputs[0].timezone", "unknown time zone 'Mars/Olympus'"},
        invalid_case{"a time zone offset beyond 18 hours",
                     "inputs: [{type: kafka, brokers: 'b:9092', topics: [t], timezone: '+19:00'}]",
                     "inputs[0].timezone", "offset"},
        invalid_case{"an unknown envelope keyword",
                     "inputs: [{type: kafka, brokers: 'b:9092', topics: [t], envelope: filebeat}]",
                     "inputs[0].envelope", "must be auto, none or a map"},
        invalid_case{"an envelope given as a list",
                     "inputs: [{type: file, path: /dev/null, envelope: [message]}]",
                     "inputs[0].envelope", "must be auto, none or a map"},
        invalid_case{"a custom envelope without a message path",
                     "inputs: [{type: file, path: /dev/null, envelope: {time: ts}}]",
                     "inputs[0].envelope.message", "is required"},
        invalid_case{"a custom envelope path with an empty key",
                     "inputs: [{type: file, path: /dev/null, envelope: {message: 'a..b'}}]",
                     "inputs[0].envelope.message", "not a dotted path"},
        invalid_case{"a custom envelope path of six keys",
                     "inputs: [{type: syslog, listen: 'udp://0.0.0.0:514', "
                     "envelope: {message: a.b.c.d.e.f}}]",
                     "inputs[0].envelope.message", "1 to 5"},
        invalid_case{"a custom envelope time path ending in a dot",
                     "inputs: [{type: file, path: /dev/null, envelope: {message: m, time: 't.'}}]",
                     "inputs[0].envelope.time", "not a dotted path"},
        invalid_case{"a mistyped custom envelope key",
                     "inputs: [{type: file, path: /dev/null, envelope: {message: m, hots: h}}]",
                     "inputs[0].envelope.hots", "unknown key"},
        invalid_case{"a custom envelope path that is a map",
                     "inputs: [{type: file, path: /dev/null, envelope: {message: {a: b}}}]",
                     "inputs[0].envelope.message", "must be a string"},
        invalid_case{"an unknown mode", "mode: strict", "mode"},
        invalid_case{"an unknown schedule", "evaluation: {schedule: daily}", "evaluation.schedule"},
        invalid_case{"a duration without unit", "evaluation: {allowed_lateness: 10}",
                     "evaluation.allowed_lateness"},
        invalid_case{"zero shards", "shards: 0", "shards"},
        invalid_case{"shards not a number", "shards: many", "shards"},
        invalid_case{"an input without type", "inputs: [{listen: 'udp://0.0.0.0:514'}]",
                     "inputs[0].type"},
        invalid_case{"an unknown input type", "inputs: [{type: http}]", "inputs[0].type"},
        invalid_case{"a kafka input without brokers", "inputs: [{type: kafka, topics: [t]}]",
                     "inputs[0].brokers"},
        invalid_case{"a kafka input without topics", "inputs: [{type: kafka, brokers: 'b:9092'}]",
                     "inputs[0].topics"},
        invalid_case{"an unknown format", "inputs: [{type: file, path: x, format: cef2}]",
                     "inputs[0].format"},
        invalid_case{"a syslog listen URL without scheme",
                     "inputs: [{type: syslog, listen: '0.0.0.0:514'}]", "inputs[0].listen"},
        invalid_case{"a tls listener without certificate",
                     "inputs: [{type: syslog, listen: 'tls://0.0.0.0:6514'}]", "inputs[0].tls"},
        invalid_case{"a syslog frame_timeout under one second",
                     "inputs: [{type: syslog, listen: 'tcp://0.0.0.0:514', frame_timeout: 500ms}]",
                     "inputs[0].frame_timeout", "must be between"},
        invalid_case{"a syslog frame_timeout without unit",
                     "inputs: [{type: syslog, listen: 'tcp://0.0.0.0:514', frame_timeout: 30}]",
                     "inputs[0].frame_timeout", "not a duration"},
        invalid_case{"a negative max_connections_per_peer",
                     "inputs: [{type: syslog, listen: 'tcp://0.0.0.0:514', "
                     "max_connections_per_peer: -1}]",
                     "inputs[0].max_connections_per_peer", "must be between"},
        invalid_case{"a bad allow CIDR",
                     "inputs: [{type: syslog, listen: 'udp://0.0.0.0:514', allow: [10.0.0.0/33]}]",
                     "inputs[0].allow[0]"},
        invalid_case{"a misspelled input key", "inputs: [{type: file, path: x, fromat: auto}]",
                     "inputs[0].fromat"},
        invalid_case{"duplicate input names",
                     "inputs: [{type: file, path: x, name: a}, {type: file, path: y, name: a}]",
                     "inputs[1].name"},
        invalid_case{"an output without topic", "outputs: [{type: kafka, brokers: 'b:9092'}]",
                     "outputs[0].topic"},
        invalid_case{"an unknown schema", "outputs: [{type: stdout, schema: cef}]",
                     "outputs[0].schema"},
        invalid_case{"an unset secret variable",
                     "inputs: [{type: kafka, brokers: b, topics: [t], properties: {sasl.password: "
                     "'${env:PORTSCAND_TEST_UNSET_VAR}'}}]",
                     "inputs[0].properties.sasl.password"},
        invalid_case{"YAML syntax", "inputs: [", ""},
        // Issue 11: check-config must refuse what run refuses at start.
        invalid_case{"a syslog port above 65535",
                     "inputs: [{type: syslog, listen: 'tcp://0.0.0.0:99999'}]", "inputs[0].listen",
                     "bad port '99999'"},
        invalid_case{"a syslog listen URL without port",
                     "inputs: [{type: syslog, listen: 'udp://0.0.0.0'}]", "inputs[0].listen",
                     "needs a port"},
        invalid_case{"a metrics port above 65535 which the endpoint used to wrap into another port",
                     "metrics: {listen: '127.0.0.1:70000'}", "metrics.listen", "bad port '70000'"},
        invalid_case{"a metrics host that is a name the endpoint cannot bind",
                     "metrics: {listen: 'localhost:9108'}", "metrics.listen",
                     "not a numeric IP address"},
        invalid_case{"a metrics listen without port", "metrics: {listen: '127.0.0.1'}",
                     "metrics.listen", "needs a port"},
        invalid_case{"acks 1 on a kafka output",
                     "outputs: [{type: kafka, brokers: b, topic: t, properties: {acks: '1'}}]",
                     "outputs[0].properties.acks", "must be 'all'"},
        invalid_case{"request.required.acks 0 on a kafka output",
                     "outputs: [{type: kafka, brokers: b, topic: t, properties: "
                     "{request.required.acks: '0'}}]",
                     "outputs[0].properties.request.required.acks", "must be 'all'"},
        invalid_case{"idempotence disabled on a kafka output",
                     "outputs: [{type: kafka, brokers: b, topic: t, properties: "
                     "{enable.idempotence: false}}]",
                     "outputs[0].properties.enable.idempotence", "cannot be disabled"},
        invalid_case{"brokers given as a property of a kafka output",
                     "outputs: [{type: kafka, brokers: b, topic: t, properties: "
                     "{bootstrap.servers: 'x:1'}}]",
                     "outputs[0].properties.bootstrap.servers", "brokers:"},
        invalid_case{"a duplicate top-level key", "shards: 2\nshards: 4\n", "shards",
                     "duplicate key 'shards'"},
        invalid_case{"a duplicate key in an input",
                     "inputs:\n  - type: syslog\n    listen: udp://0.0.0.0:5514\n    listen: "
                     "udp://0.0.0.0:5515\n",
                     "inputs[0].listen", "first on line 3"},
        invalid_case{"a duplicate key in a flow map",
                     "evaluation: {schedule: hourly, schedule: on_close}", "evaluation.schedule",
                     "duplicate key"},
        invalid_case{"a duplicate librdkafka property that would hide acks 1",
                     "outputs:\n  - type: kafka\n    brokers: b\n    topic: t\n    properties:\n   "
                     "   acks: all\n      acks: '1'\n",
                     "outputs[0].properties.acks", "duplicate key 'acks'"},
        // Issue 13: HTTP outputs.
        invalid_case{"an http output without url", "outputs: [{type: http}]", "outputs[0].url",
                     "is required"},
        invalid_case{"an http output with an ftp url", "outputs: [{type: http, url: 'ftp://h/x'}]",
                     "outputs[0].url", "must start with http:// or https://"},
        invalid_case{"an http output with credentials in the url",
                     "outputs: [{type: http, url: 'https://u:p@h/x'}]", "outputs[0].url",
                     "credentials in the URL"},
        invalid_case{"an http output with port 0", "outputs: [{type: http, url: 'http://h:0/'}]",
                     "outputs[0].url", "1-65535"},
        invalid_case{"an unknown http preset",
                     "outputs: [{type: http, url: 'https://h/', preset: sentinel}]",
                     "outputs[0].preset", "unknown preset 'sentinel'"},
        invalid_case{"an unknown batch mode",
                     "outputs: [{type: http, url: 'https://h/', batch: csv}]", "outputs[0].batch",
                     "'one', 'array' or 'ndjson'"},
        invalid_case{"the thehive preset without token",
                     "outputs: [{type: http, url: 'https://h/api/v1/alert', preset: thehive}]",
                     "outputs[0].token", "required by the thehive preset"},
        invalid_case{"the splunk_hec preset with an unset token secret",
                     "outputs: [{type: http, url: 'https://h/services/collector/event', preset: "
                     "splunk_hec, token: '${env:PORTSCAND_TEST_UNSET_VAR}'}]",
                     "outputs[0].token", "PORTSCAND_TEST_UNSET_VAR is not set"},
        invalid_case{"the thehive preset with batches",
                     "outputs: [{type: http, url: 'https://h/', preset: thehive, token: t, batch: "
                     "array}]",
                     "outputs[0].batch", "one alert per request"},
        invalid_case{"splunk_hec with a JSON array",
                     "outputs: [{type: http, url: 'https://h/', preset: splunk_hec, token: t, "
                     "batch: array}]",
                     "outputs[0].batch", "not a JSON array"},
        invalid_case{"a header name with a space",
                     "outputs: [{type: http, url: 'https://h/', headers: {'X Key': v}}]",
                     "outputs[0].headers.X Key", "not a valid header name"},
        invalid_case{"a header value with a line break",
                     "outputs: [{type: http, url: 'https://h/', headers: {X-Key: \"a\\r\\nHost: "
                     "evil\"}}]",
                     "outputs[0].headers.X-Key", "CR, LF or NUL"},
        invalid_case{"a header portscand sets itself",
                     "outputs: [{type: http, url: 'https://h/', headers: {Idempotency-Key: x}}]",
                     "outputs[0].headers.Idempotency-Key", "set by portscand"},
        invalid_case{"an authorization header next to a preset's token",
                     "outputs: [{type: http, url: 'https://h/', preset: thehive, token: t, "
                     "headers: {Authorization: 'Bearer x'}}]",
                     "outputs[0].headers.Authorization", "set from 'token'"},
        invalid_case{"an unset secret in a header",
                     "outputs: [{type: http, url: 'https://h/', headers: {X-Api-Key: "
                     "'${env:PORTSCAND_TEST_UNSET_VAR}'}}]",
                     "outputs[0].headers.X-Api-Key", "is not set"},
        invalid_case{"a tls section on a plain http url",
                     "outputs: [{type: http, url: 'http://h/', tls: {ca_file: /x}}]",
                     "outputs[0].tls", "https:// URLs only"},
        invalid_case{"a client certificate without its key",
                     "outputs: [{type: http, url: 'https://h/', tls: {client_cert: /x}}]",
                     "outputs[0].tls", "go together"},
        invalid_case{"duplicate output names",
                     "outputs: [{type: stdout, name: a}, {type: http, url: 'https://h/', name: a}]",
                     "outputs[1].name", "duplicate output name"},
        // Issue 13: syslog outputs.
        invalid_case{"a syslog output without address", "outputs: [{type: syslog}]",
                     "outputs[0].address", "is required"},
        invalid_case{"a syslog output with an http address",
                     "outputs: [{type: syslog, address: 'http://h:514'}]", "outputs[0].address",
                     "udp://, tcp:// or tls://"},
        invalid_case{"a syslog output without host",
                     "outputs: [{type: syslog, address: 'tcp://:514'}]", "outputs[0].address",
                     "needs the receiver's host"},
        invalid_case{"a syslog output with port 0",
                     "outputs: [{type: syslog, address: 'udp://h:0'}]", "outputs[0].address",
                     "needs a port"},
        invalid_case{"a syslog output with port 70000",
                     "outputs: [{type: syslog, address: 'udp://h:70000'}]", "outputs[0].address",
                     "bad port"},
        invalid_case{"an unknown syslog body format",
                     "outputs: [{type: syslog, address: 'tcp://h:514', format: leef}]",
                     "outputs[0].format", "'cef' or 'json'"},
        invalid_case{"a schema with the CEF body",
                     "outputs: [{type: syslog, address: 'tcp://h:514', schema: ocsf}]",
                     "outputs[0].schema", "format: json only"},
        invalid_case{"an unknown facility",
                     "outputs: [{type: syslog, address: 'tcp://h:514', facility: local8}]",
                     "outputs[0].facility", "local0 to local7"},
        invalid_case{"a facility number out of range",
                     "outputs: [{type: syslog, address: 'tcp://h:514', facility: 24}]",
                     "outputs[0].facility", "0 to 23"},
        invalid_case{"an unknown severity",
                     "outputs: [{type: syslog, address: 'tcp://h:514', severity: fatal}]",
                     "outputs[0].severity", "auto"},
        invalid_case{"an app_name with a space",
                     "outputs: [{type: syslog, address: 'tcp://h:514', app_name: 'port scand'}]",
                     "outputs[0].app_name", "without spaces"},
        invalid_case{"an app_name longer than 48",
                     "outputs: [{type: syslog, address: 'tcp://h:514', app_name: "
                     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa}]",
                     "outputs[0].app_name", "1 to 48"},
        invalid_case{"a tls section on a tcp syslog address",
                     "outputs: [{type: syslog, address: 'tcp://h:514', tls: {ca_file: /x}}]",
                     "outputs[0].tls", "tls:// addresses only"},
        invalid_case{"an http key on a syslog output",
                     "outputs: [{type: syslog, address: 'tcp://h:514', url: 'https://h/'}]",
                     "outputs[0].url", "unknown key"}),
    test::why_name{});

TEST(Config, AnHttpOutputIsReadWithItsSpoolUnderTheStateDirAndSecretsResolved) {
  ::setenv("PORTSCAND_TEST_HEC_TOKEN", "hec-token-1", 1);
  const auto r = load(
      "state_dir: /var/lib/ps\n"
      "outputs:\n"
      "  - type: http\n"
      "    name: splunk\n"
      "    url: https://splunk.example:8088/services/collector/event\n"
      "    preset: splunk_hec\n"
      "    token: ${env:PORTSCAND_TEST_HEC_TOKEN}\n"
      "    batch: ndjson\n"
      "    max_batch: 50\n"
      "    headers: {X-Tenant: '${env:PORTSCAND_TEST_HEC_TOKEN}'}\n"
      "    tls: {ca_file: /etc/ssl/splunk-ca.pem}\n"
      "    request_timeout: 5s\n"
      "    splunk: {sourcetype: 'portscand:json', index: security}\n");
  ::unsetenv("PORTSCAND_TEST_HEC_TOKEN");
  ASSERT_TRUE(r.problems.empty()) << listing(r.problems);
  ASSERT_EQ(r.cfg.outputs.size(), 1u);
  const auto& h = std::get<http_output_config>(r.cfg.outputs[0].sink);
  EXPECT_EQ(h.preset, http_preset::splunk_hec);
  EXPECT_EQ(h.batch, http_batch::ndjson);
  EXPECT_EQ(h.max_batch, 50u);
  EXPECT_EQ(h.token, "hec-token-1");
  EXPECT_EQ(h.headers.at("X-Tenant"), "hec-token-1");
  EXPECT_EQ(h.ca_file, "/etc/ssl/splunk-ca.pem");
  EXPECT_TRUE(h.tls_verify);
  EXPECT_EQ(h.request_timeout, 5 * us_per_second);
  EXPECT_EQ(h.splunk_sourcetype, "portscand:json");
  EXPECT_EQ(h.splunk_index, "security");
  EXPECT_EQ(h.spool_path, "/var/lib/ps/http-splunk.spool");
  // The banner names headers, never their values, and never the token.
  const std::string banner = describe_config(r.cfg);
  EXPECT_EQ(banner.find("hec-token-1"), std::string::npos) << banner;
  EXPECT_NE(banner.find("header=X-Tenant"), std::string::npos) << banner;
}

TEST(Config, ASyslogOutputIsReadWithItsDefaults) {
  const auto r = load(
      "outputs:\n"
      "  - type: syslog\n"
      "    address: tls://[2001:db8::5]:6514\n"
      "    facility: authpriv\n"
      "    severity: warning\n"
      "    tls: {ca_file: /etc/ssl/siem-ca.pem, server_name: siem.example}\n"
      "  - type: syslog\n"
      "    address: udp://siem.example:514\n"
      "    format: json\n"
      "    schema: ocsf\n"
      "    facility: 3\n"
      "    hostname: sensor-1\n");
  ASSERT_TRUE(r.problems.empty()) << listing(r.problems);
  ASSERT_EQ(r.cfg.outputs.size(), 2u);
  const auto& t = std::get<syslog_output_config>(r.cfg.outputs[0].sink);
  EXPECT_EQ(r.cfg.outputs[0].name, "syslog-0");
  EXPECT_EQ(t.transport, syslog_transport::tls);
  EXPECT_EQ(t.host, "2001:db8::5");
  EXPECT_EQ(t.port, 6514);
  EXPECT_EQ(t.format, syslog_body::cef);
  EXPECT_EQ(t.facility, 10);
  EXPECT_EQ(t.severity, 4);
  EXPECT_EQ(t.app_name, "portscand");
  EXPECT_EQ(t.hostname, "");
  EXPECT_EQ(t.ca_file, "/etc/ssl/siem-ca.pem");
  EXPECT_EQ(t.server_name, "siem.example");
  EXPECT_TRUE(t.tls_verify);
  const auto& u = std::get<syslog_output_config>(r.cfg.outputs[1].sink);
  EXPECT_EQ(u.transport, syslog_transport::udp);
  EXPECT_EQ(u.host, "siem.example");
  EXPECT_EQ(u.port, 514);
  EXPECT_EQ(u.format, syslog_body::json);
  EXPECT_EQ(r.cfg.outputs[1].schema, output_schema::ocsf);
  EXPECT_EQ(u.facility, 3);
  EXPECT_EQ(u.severity, -1);  // auto
  EXPECT_EQ(u.hostname, "sensor-1");
}

TEST(Config, SyslogFacilityAndSeverityNames) {
  EXPECT_EQ(syslog_facility_code("kern"), 0);
  EXPECT_EQ(syslog_facility_code("authpriv"), 10);
  EXPECT_EQ(syslog_facility_code("local7"), 23);
  EXPECT_EQ(syslog_facility_code("23"), 23);
  EXPECT_FALSE(syslog_facility_code("24"));
  EXPECT_FALSE(syslog_facility_code("-1"));
  EXPECT_FALSE(syslog_facility_code(""));
  EXPECT_EQ(syslog_severity_code("emerg"), 0);
  EXPECT_EQ(syslog_severity_code("debug"), 7);
  EXPECT_EQ(syslog_severity_code("7"), 7);
  EXPECT_FALSE(syslog_severity_code("8"));
  EXPECT_FALSE(syslog_severity_code("warn"));
}

TEST(Config, ScaleOutTakesTheFirstKafkaInputsBrokersAndProperties) {
  const auto r = load(R"(
inputs:
  - {type: syslog, listen: "udp://127.0.0.1:5514"}
  - {type: kafka, brokers: "k1:9092", topics: [t], properties: {security.protocol: SSL}}
  - {type: kafka, brokers: "k2:9092", topics: [u]}
scale_out: {partitions: 12}
outputs: [{type: stdout}]
)");
  ASSERT_TRUE(r.problems.empty()) << listing(r.problems);
  const auto& so = r.cfg.scale_out;
  EXPECT_TRUE(so.enabled);
  EXPECT_EQ(so.topic, "portscand.by-source");
  EXPECT_EQ(so.group, "portscand.by-source");
  EXPECT_EQ(so.partitions, 12);
  EXPECT_EQ(so.replication_factor, -1);
  EXPECT_EQ(so.retention, 24 * 60 * us_per_minute);
  EXPECT_EQ(so.brokers, "k1:9092");
  EXPECT_EQ(so.properties.at("security.protocol"), "SSL");
  EXPECT_FALSE(so.properties_set);

  const auto own = load(R"(
scale_out: {brokers: "s:9092", properties: {security.protocol: PLAINTEXT}, topic: x, group: g}
outputs: [{type: stdout}]
)");
  ASSERT_TRUE(own.problems.empty()) << listing(own.problems);
  EXPECT_EQ(own.cfg.scale_out.brokers, "s:9092");
  EXPECT_EQ(own.cfg.scale_out.topic, "x");
  EXPECT_EQ(own.cfg.scale_out.group, "g");
  EXPECT_TRUE(own.cfg.scale_out.properties_set);
  EXPECT_FALSE(load("outputs: [{type: stdout}]").cfg.scale_out.enabled);
}

TEST(Config, SyslogConnectionLimitsAreReadWithTheirDefaults) {
  const auto r = load(
      "inputs:\n"
      "  - {type: syslog, listen: 'tcp://0.0.0.0:514'}\n"
      "  - {type: syslog, listen: 'tcp://0.0.0.0:515', max_connections_per_peer: 0, "
      "frame_timeout: 2m}\n");
  ASSERT_TRUE(r.problems.empty()) << listing(r.problems);
  const auto& defaults = std::get<syslog_input_config>(r.cfg.inputs[0].transport);
  EXPECT_EQ(defaults.max_connections_per_peer, 64u);
  EXPECT_EQ(defaults.frame_timeout, 30 * us_per_second);
  const auto& set = std::get<syslog_input_config>(r.cfg.inputs[1].transport);
  EXPECT_EQ(set.max_connections_per_peer, 0u) << "0 = unlimited";
  EXPECT_EQ(set.frame_timeout, 2 * us_per_minute);
}

TEST(Config, AnInputsTimeZoneIsResolvedAtLoadAndDefaultsToUtc) {
  const auto r = load(
      "inputs:\n"
      "  - {type: syslog, listen: 'udp://0.0.0.0:514'}\n"
      "  - {type: syslog, listen: 'udp://0.0.0.0:515', timezone: Asia/Shanghai}\n"
      "  - {type: file, path: /dev/null, timezone: '-07:00'}\n");
  ASSERT_TRUE(r.problems.empty()) << listing(r.problems);
  EXPECT_TRUE(r.cfg.inputs[0].zone.is_utc());
  EXPECT_EQ(r.cfg.inputs[1].zone.name(), "Asia/Shanghai");
  auto shanghai = r.cfg.inputs[1].zone;
  EXPECT_EQ(shanghai.offset_at_local(0), 8 * 3600);
  auto west = r.cfg.inputs[2].zone;
  EXPECT_EQ(west.offset_at_local(0), -7 * 3600);
  EXPECT_NE(describe_config(r.cfg).find("timezone=Asia/Shanghai"), std::string::npos)
      << describe_config(r.cfg);
}

TEST(Config, AnInputsEnvelopeDefaultsToAutoAndTakesNoneOrPaths) {
  const auto r = load(
      "inputs:\n"
      "  - {type: file, path: /dev/null}\n"
      "  - {type: file, path: /dev/null, envelope: none}\n"
      "  - {type: kafka, brokers: 'b:9092', topics: [t], envelope: auto}\n"
      "  - type: kafka\n"
      "    brokers: 'b:9092'\n"
      "    topics: [t]\n"
      "    envelope: {message: payload.line, time: meta.ts, host: meta.device}\n");
  ASSERT_TRUE(r.problems.empty()) << listing(r.problems);
  EXPECT_EQ(r.cfg.inputs[0].envelope.mode, envelope_config::kind::automatic);
  EXPECT_EQ(r.cfg.inputs[1].envelope.mode, envelope_config::kind::none);
  EXPECT_EQ(r.cfg.inputs[2].envelope.mode, envelope_config::kind::automatic);
  const auto& c = r.cfg.inputs[3].envelope;
  EXPECT_EQ(c.mode, envelope_config::kind::custom);
  EXPECT_EQ(c.message, "payload.line");
  EXPECT_EQ(c.time, "meta.ts");
  EXPECT_EQ(c.host, "meta.device");
  EXPECT_NE(describe_config(r.cfg).find("envelope=message:payload.line"), std::string::npos);
}

TEST(Config, EveryProblemIsReportedNotOnlyTheFirst) {
  const auto r = load("mode: x\nshards: 0\nevaluation: {schedule: y}\n");
  EXPECT_EQ(r.problems.size(), 3u);
}

TEST(Config, SecretsComeFromTheEnvironmentAndAreRedactedInTheBanner) {
  ::setenv("PORTSCAND_TEST_SECRET", "hunter2", 1);
  const auto r = load(
      "inputs: [{type: kafka, brokers: b, topics: [t], properties: {sasl.password: "
      "'${env:PORTSCAND_TEST_SECRET}'}}]");
  ASSERT_TRUE(r.problems.empty());
  EXPECT_EQ(std::get<kafka_input_config>(r.cfg.inputs[0].transport).properties.at("sasl.password"),
            "hunter2");
  const std::string banner = describe_config(r.cfg);
  EXPECT_EQ(banner.find("hunter2"), std::string::npos);
  EXPECT_NE(banner.find("(redacted)"), std::string::npos);
}

// ---- What `run` refuses when it starts (check_startup): check-config refuses it too ------------

class StartupChecks : public ::testing::Test {
 protected:
  test::temp_dir dir;

  // What run and check-config see: the reader's problems, then check_startup's.
  static std::vector<config_problem> daemon_problems(const std::string& yaml) {
    auto r = load(yaml);
    for (auto& p : check_startup(r.cfg)) r.problems.push_back(std::move(p));
    return r.problems;
  }
  // A writable state directory that does not exist yet (run creates it).
  std::string state_dir() const { return "state_dir: " + dir.file("state") + "\n"; }
  static constexpr const char* stdout_output = "outputs: [{type: stdout}]\n";
};

TEST_F(StartupChecks, ACompleteDaemonConfigurationHasNoProblem) {
  test::test_ca ca(dir.path(), "ca");
  const test::pem_pair server = ca.issue(dir.path(), "server");
  ::setenv("PORTSCAND_TEST_PROTOCOL", "SASL_SSL", 1);
  const std::string yaml = state_dir() + R"(
inputs:
  - {type: kafka, brokers: "b:9092", topics: [t], properties: {security.protocol: "${env:PORTSCAND_TEST_PROTOCOL}", fetch.wait.max.ms: "100"}}
  - {type: syslog, listen: "udp://127.0.0.1:0"}
  - type: syslog
    listen: "tls://127.0.0.1:0"
    tls: {certificate: ")" +
                           server.cert_path + R"(", key: ")" + server.key_path + R"(", ca: ")" +
                           ca.cert_path() + R"(", verify_client: true}
outputs:
  - {type: kafka, brokers: "b:9092", topic: alerts, properties: {acks: all, linger.ms: "5"}}
  - {type: file, path: ")" +
                           dir.file("alerts.jsonl") + R"("}
  - {type: stdout}
metrics: {listen: "[::1]:0"}
)";
  EXPECT_EQ(listing(daemon_problems(yaml)), " none");
  EXPECT_FALSE(std::filesystem::exists(dir.file("state")))
      << "a check must not create the state directory";
  EXPECT_FALSE(std::filesystem::exists(dir.file("alerts.jsonl")))
      << "a check must not create the output file";
}

TEST_F(StartupChecks, NoOutputIsRefusedBecauseAlertsWouldGoNowhere) {
  EXPECT_TRUE(has_problem(daemon_problems(state_dir()), "outputs", "no outputs configured"));
  EXPECT_TRUE(has_problem(daemon_problems(state_dir() + "outputs: []\n"), "outputs",
                          "no outputs configured"));
}

TEST_F(StartupChecks, AStateDirThatIsAFileIsRefused) {
  test::write_file(dir.file("plain"), "x");
  EXPECT_TRUE(has_problem(daemon_problems("state_dir: " + dir.file("plain") + "\n" + stdout_output),
                          "state_dir", "exists but is not a directory"));
}

TEST_F(StartupChecks, AStateDirBelowAFileCannotBeCreated) {
  test::write_file(dir.file("plain"), "x");
  EXPECT_TRUE(has_problem(
      daemon_problems("state_dir: " + dir.file("plain") + "/state\n" + stdout_output), "state_dir",
      "cannot be created: '" + dir.file("plain") + "' is not a directory"));
}

TEST_F(StartupChecks, AnEmptyStateDirIsRefused) {
  EXPECT_TRUE(has_problem(daemon_problems("state_dir: ''\n" + std::string(stdout_output)),
                          "state_dir", "must name a directory"));
}

TEST_F(StartupChecks, AFileOutputInAMissingDirectoryIsRefused) {
  const std::string yaml =
      state_dir() + "outputs: [{type: file, path: " + dir.file("missing/alerts.jsonl") + "}]\n";
  EXPECT_TRUE(has_problem(daemon_problems(yaml), "outputs[0].path",
                          "the directory '" + dir.file("missing") + "' of"));
  EXPECT_TRUE(has_problem(daemon_problems(yaml), "outputs[0].path", "does not exist"));
}

TEST_F(StartupChecks, AFileOutputThatIsADirectoryIsRefused) {
  const std::string yaml = state_dir() + "outputs: [{type: file, path: " + dir.path() + "}]\n";
  EXPECT_TRUE(has_problem(daemon_problems(yaml), "outputs[0].path", "is a directory"));
}

TEST_F(StartupChecks, ProblemsNameTheEntryAsWrittenEvenAfterAnEntryTheReaderSkipped) {
  // An output of unknown type is not kept: the file output is the first one kept, but it is
  // the second one in the file.
  const std::string yaml =
      state_dir() + "outputs: [{type: http}, {type: file, path: " + dir.file("missing/a.jsonl") +
      "}]\n";
  EXPECT_TRUE(has_problem(daemon_problems(yaml), "outputs[1].path", "does not exist"));
}

TEST_F(StartupChecks, MissingTlsFilesAreRefusedEachWithItsPath) {
  const std::string yaml =
      state_dir() + stdout_output + "inputs:\n  - type: syslog\n    listen: tls://127.0.0.1:0\n" +
      "    tls: {certificate: " + dir.file("no.crt") + ", key: " + dir.file("no.key") +
      ", ca: " + dir.file("no-ca.crt") + "}\n";
  const auto problems = daemon_problems(yaml);
  EXPECT_TRUE(has_problem(problems, "inputs[0].tls.certificate",
                          "cannot read tls.certificate '" + dir.file("no.crt")));
  EXPECT_TRUE(has_problem(problems, "inputs[0].tls.key", "No such file or directory"));
  EXPECT_TRUE(has_problem(problems, "inputs[0].tls.ca", "cannot read tls.ca"));
}

TEST_F(StartupChecks, TlsFilesOpenSslCannotUseAreRefused) {
  test::test_ca ca(dir.path(), "ca");
  const test::pem_pair a = ca.issue(dir.path(), "a");
  const test::pem_pair b = ca.issue(dir.path(), "b");
  test::write_file(dir.file("garbage.crt"), "not a certificate\n");
  const auto tls_input = [&](const std::string& cert, const std::string& key) {
    return state_dir() + stdout_output +
           "inputs: [{type: syslog, listen: 'tls://127.0.0.1:0', tls: {certificate: " + cert +
           ", key: " + key + "}}]\n";
  };
  EXPECT_TRUE(has_problem(daemon_problems(tls_input(dir.file("garbage.crt"), a.key_path)),
                          "inputs[0].tls.certificate",
                          "tls.certificate '" + dir.file("garbage.crt") + "': "));
  EXPECT_TRUE(has_problem(daemon_problems(tls_input(a.cert_path, b.key_path)), "inputs[0].tls.key",
                          "cannot be used with tls.certificate"));
}

TEST_F(StartupChecks, AnHttpOutputsTlsFilesAreLoadedAtCheckTime) {
  test::write_file(dir.file("garbage.pem"), "not a certificate\n");
  const std::string yaml =
      state_dir() +
      "outputs: [{type: http, url: 'https://h/', tls: {ca_file: " + dir.file("missing-ca.pem") +
      ", client_cert: " + dir.file("garbage.pem") + ", client_key: " + dir.file("none.key") +
      "}}]\n";
  const auto problems = daemon_problems(yaml);
  EXPECT_TRUE(has_problem(problems, "outputs[0].tls.ca_file", "cannot load CA certificates"));
  EXPECT_TRUE(has_problem(problems, "outputs[0].tls.client_cert", "garbage.pem"));
  EXPECT_TRUE(has_problem(problems, "outputs[0].tls.client_key", "none.key"));
}

TEST_F(StartupChecks, TlsFilesOfAPlainTcpListenerAreNotRead) {
  // run ignores tls: on tcp:// and udp:// listeners; check-config must not refuse them.
  const std::string yaml =
      state_dir() + stdout_output +
      "inputs: [{type: syslog, listen: 'tcp://127.0.0.1:0', tls: {certificate: /nonexistent.crt, "
      "key: /nonexistent.key}}]\n";
  EXPECT_EQ(listing(daemon_problems(yaml)), " none");
}

TEST_F(StartupChecks, PropertiesLibrdkafkaRefusesAreReportedOnInputsAndOutputs) {
  const std::string yaml = state_dir() + R"(
inputs: [{type: kafka, brokers: b, topics: [t], properties: {no.such.property: "1"}}]
outputs: [{type: kafka, brokers: b, topic: t, properties: {linger.ms: soon}}]
)";
  const auto problems = daemon_problems(yaml);
  EXPECT_TRUE(has_problem(problems, "inputs[0].properties.no.such.property",
                          "No such configuration property"));
  EXPECT_TRUE(has_problem(problems, "outputs[0].properties.linger.ms", "Invalid value"));
}

TEST_F(StartupChecks, PropertiesAreCheckedWithTheirSecretReferencesResolved) {
  ::setenv("PORTSCAND_TEST_PROTOCOL", "bogus", 1);
  const std::string yaml =
      state_dir() + stdout_output +
      "inputs: [{type: kafka, brokers: b, topics: [t], properties: {security.protocol: "
      "'${env:PORTSCAND_TEST_PROTOCOL}'}}]\n";
  EXPECT_TRUE(has_problem(daemon_problems(yaml), "inputs[0].properties.security.protocol",
                          "Invalid value \"bogus\""));
}

TEST_F(StartupChecks, ARefusedSecretPropertyNeverShowsItsValue) {
  ::setenv("PORTSCAND_TEST_SECRET_KEY", "hunter2-private-key", 1);
  const std::string yaml = state_dir() + stdout_output +
                           "inputs: [{type: kafka, brokers: b, topics: [t], properties: {ssl_key: "
                           "'${env:PORTSCAND_TEST_SECRET_KEY}'}}]\n";
  const auto problems = daemon_problems(yaml);
  EXPECT_TRUE(has_problem(problems, "inputs[0].properties.ssl_key", "librdkafka refuses it"));
  EXPECT_EQ(listing(problems).find("hunter2"), std::string::npos) << listing(problems);
}

TEST_F(StartupChecks, AnOutputPropertyRefusedByTheDeliveryContractIsReportedOnce) {
  const std::string yaml =
      state_dir() + "outputs: [{type: kafka, brokers: b, topic: t, properties: {acks: many}}]\n";
  const auto problems = daemon_problems(yaml);
  EXPECT_TRUE(has_problem(problems, "outputs[0].properties.acks", "must be 'all'"));
  EXPECT_EQ(problems.size(), 1u) << listing(problems);
}

TEST_F(StartupChecks, AFileThatIsNotYamlGetsNoChecksOfDefaultsItDoesNotHave) {
  test::write_file(dir.file("broken.yaml"), "outputs: [");
  const auto r = load_daemon_config(dir.file("broken.yaml"), builtin_formats().names());
  ASSERT_EQ(r.problems.size(), 1u) << listing(r.problems);
  EXPECT_NE(r.problems[0].message.find("YAML syntax error"), std::string::npos);
}

TEST_F(StartupChecks, LoadingForTheDaemonAddsTheStartupChecksToTheReadersProblems) {
  test::write_file(dir.file("c.yaml"), state_dir() + "shard: 2\n");
  const auto r = load_daemon_config(dir.file("c.yaml"), builtin_formats().names());
  EXPECT_TRUE(has_problem(r.problems, "shard", "unknown key"));
  EXPECT_TRUE(has_problem(r.problems, "outputs", "no outputs configured"));
}

}  // namespace
}  // namespace portscand
