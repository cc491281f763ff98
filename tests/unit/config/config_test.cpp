#include "config/config.hpp"

#include <gtest/gtest.h>

#include <cstdlib>

#include "../test_names.hpp"
#include "parse/registry.hpp"

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

TEST(Config, DefaultsApplyToAnEmptyFile) {
  const auto r = load("{}");
  EXPECT_TRUE(r.problems.empty());
  EXPECT_EQ(r.cfg.evaluation.schedule, schedule_kind::hourly);
  EXPECT_EQ(r.cfg.evaluation.idle_timeout, us_per_minute);
  EXPECT_EQ(r.cfg.evaluation.max_future_skew, 5 * us_per_minute);
  EXPECT_GE(r.cfg.shards, 1u);
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

class InvalidConfig : public ::testing::TestWithParam<invalid_case> {};

TEST_P(InvalidConfig, IsReportedWithItsPath) {
  const auto r = load(GetParam().yaml);
  EXPECT_TRUE(has_problem(r.problems, GetParam().path, GetParam().says));
}

INSTANTIATE_TEST_SUITE_P(
    Table, InvalidConfig,
    ::testing::Values(
        invalid_case{"a mistyped top-level key", "shard: 2", "shard"},
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
                     "outputs[0].properties.acks", "duplicate key 'acks'"}),
    test::why_name{});

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

}  // namespace
}  // namespace portscand
