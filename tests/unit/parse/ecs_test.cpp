#include <gtest/gtest.h>

#include "../test_names.hpp"
#include "json_formats_test_util.hpp"

namespace portscand::test {
namespace {

// No observer.vendor/product and no event.module/dataset in any sample document: the
// fallback label applies (lib/parse/README.md, ecs).
constexpr const char* fallback_label = "Elastic/ECS";

struct expected_doc {
  const char* file;
  int line;          // 1-based line of the .ecs.jsonl file
  const char* time;  // @timestamp
  const char* src;   // nullptr: not a session (no addresses)
  const char* dst;
  std::int32_t dst_port;
  std::uint16_t protocol;
  dvc_action action;
  const char* device;
};

// Read by hand off the upstream expected documents (tests/fixtures/ecs/NOTICE.md).
const expected_doc docs[] = {
    // event.outcome "allow"/"deny": the ECS 1.10-era AWS pipeline's values.
    {"aws-vpcflow-extra-samples", 1, "2016-10-31T11:37:00.000Z",
     "2001:db8:1234:a100:8d6e:3477:df66:f105", "2001:db8:1234:a102:3304:8879:34cf:4071", 22, 6,
     dvc_action::allow, ""},
    {"aws-vpcflow-extra-samples", 2, nullptr, nullptr, nullptr, 0, 0, dvc_action::unknown, ""},
    {"aws-vpcflow-extra-samples", 3, nullptr, nullptr, nullptr, 0, 0, dvc_action::unknown, ""},
    {"aws-vpcflow-extra-samples", 4, "2014-12-14T04:07:50.000Z", "78.24.182.42", "158.109.0.1", 22,
     6, dvc_action::allow, ""},
    {"aws-vpcflow-extra-samples", 5, "2014-12-14T04:07:50.000Z", "78.24.182.42", "158.109.0.1",
     3389, 6, dvc_action::deny, ""},
    // ICMP (iana_number 1): destination.port 0 is not a port.
    {"aws-vpcflow-extra-samples", 6, "2015-05-29T16:32:22.000Z", "203.0.113.12", "172.31.16.139",
     network_session::no_port, 1, dvc_action::allow, ""},
    {"aws-vpcflow-extra-samples", 7, "2015-05-29T16:32:22.000Z", "172.31.16.139", "203.0.113.12",
     network_session::no_port, 1, dvc_action::deny, ""},
    {"aws-vpcflow-tcp-flag-sequence", 1, "2019-08-26T19:48:53.000Z", "52.213.180.42", "10.0.0.62",
     5001, 6, dvc_action::allow, ""},
    {"aws-vpcflow-tcp-flag-sequence", 2, nullptr, nullptr, nullptr, 0, 0, dvc_action::unknown, ""},
    {"aws-vpcflow-tcp-flag-sequence", 3, nullptr, nullptr, nullptr, 0, 0, dvc_action::unknown, ""},
    // A REJECT, but written as event.outcome "failure" with event.type ["connection"]:
    // neither says "denied", so the action stays unknown (see the README section).
    {"aws-vpcflow-v5-all-fields", 1, "2021-12-20T11:38:17.000Z", "89.160.20.156", "10.200.0.0",
     33004, 17, dvc_action::unknown, ""},
    // event.type contains "allowed"; host.name is the device.
    {"windows-5156", 1, "2023-01-17T22:18:03.557Z", "10.47.0.151", "10.47.0.110", 389, 6,
     dvc_action::allow, "COMPUTER1.contoso.com"},
    // Meraki: transport in network.protocol; observer.hostname is the device; event.action
    // "layer3-firewall-allowed-flow" is not a plain verb.
    {"cisco-meraki-flows-lines1-3", 1, "2022-03-17T01:03:08.289Z", "10.0.2.170", "10.0.0.34", 15600,
     17, dvc_action::unknown, "MX84_4"},
    {"cisco-meraki-flows-lines1-3", 2, "2022-03-17T01:03:08.476Z", "216.160.83.57", "216.160.83.61",
     44210, 6, dvc_action::unknown, "MX84"},
    {"cisco-meraki-flows-lines1-3", 3, "2022-03-17T01:03:08.596Z", "10.0.0.34", "10.0.0.234", 15500,
     6, dvc_action::unknown, "MX84_7"},
};

TEST(Ecs, EveryUpstreamExpectedDocumentYieldsItsSessionOrIsSkipped) {
  std::size_t checked = 0;
  for (const auto& d : docs) {
    SCOPED_TRACE(std::string(d.file) + " line " + std::to_string(d.line));
    const auto lines = fixture_lines(std::string("ecs/") + d.file + ".ecs.jsonl");
    ASSERT_GE(lines.size(), static_cast<std::size_t>(d.line));
    auto s = parse_with("ecs", lines[d.line - 1]);
    EXPECT_TRUE(s.rejects.empty());
    ++checked;
    if (d.src == nullptr) {
      // AWS NODATA/SKIPDATA rows: a network event without any address.
      EXPECT_TRUE(s.records.empty());
      EXPECT_EQ(s.skips, std::vector<std::string>{"no_addresses"});
      continue;
    }
    ASSERT_EQ(s.records.size(), 1u);
    const auto& r = s.records[0];
    EXPECT_TRUE(r.has_time);
    EXPECT_EQ(r.time, iso(d.time));
    EXPECT_EQ(ip(r.src), d.src);
    EXPECT_EQ(ip(r.dst), d.dst);
    EXPECT_EQ(r.dst_port, d.dst_port);
    EXPECT_EQ(r.protocol, d.protocol);
    EXPECT_EQ(r.action, d.action);
    EXPECT_EQ(label(r.reported_by), fallback_label);
    EXPECT_EQ(label(r.device), d.device);
  }
  EXPECT_EQ(checked, 15u);
}

TEST(Ecs, DottedFlatKeysAreReadLikeNestedObjects) {
  auto flat = parse_with(
      "ecs",
      R"({"@timestamp":"2024-11-28T10:00:00Z","source.ip":"203.0.113.7","destination.ip":"192.0.2.1","destination.port":22,"network.transport":"tcp","event.category":"network","event.type":["denied"],"observer.vendor":"Example","observer.product":"FW","observer.hostname":"fw-1"})");
  auto mixed = parse_with(
      "ecs",
      R"({"@timestamp":"2024-11-28T10:00:00Z","source":{"ip":"203.0.113.7"},"destination.ip":"192.0.2.1","destination":{"port":22},"network":{"transport":"tcp"},"event.category":["network"],"event":{"type":"denied"},"observer":{"vendor":"Example","product":"FW","hostname":"fw-1"}})");
  // Keys are views of the input unless they hold an escape: these must be unescaped.
  auto escaped = parse_with(
      "ecs",
      R"({"@timestamp":"2024-11-28T10:00:00Z","source":{"i\u0070":"203.0.113.7"},"destination\u002eip":"192.0.2.1","destination":{"port":22},"network":{"transport":"tcp"},"event.category":["network"],"event":{"type":"denied"},"observer":{"vendor":"Example","product":"FW","hostname":"fw-1"}})");
  for (const auto* s : {&flat, &mixed, &escaped}) {
    ASSERT_EQ(s->records.size(), 1u);
    const auto& r = s->records[0];
    EXPECT_EQ(ip(r.src), "203.0.113.7");
    EXPECT_EQ(ip(r.dst), "192.0.2.1");
    EXPECT_EQ(r.dst_port, 22);
    EXPECT_EQ(r.protocol, 6);
    EXPECT_EQ(r.action, dvc_action::deny);
    EXPECT_EQ(label(r.reported_by), "Example/FW");
    EXPECT_EQ(label(r.device), "fw-1");
  }
}

TEST(Ecs, TheModuleAndDatasetLabelADocumentWithoutObserver) {
  auto s = parse_with(
      "ecs",
      R"({"@timestamp":"2024-11-28T10:00:00Z","event":{"module":"aws","dataset":"aws.vpcflow","category":["network"]},"source":{"ip":"203.0.113.7"},"destination":{"ip":"192.0.2.1","port":22}})");
  ASSERT_EQ(s.records.size(), 1u);
  EXPECT_EQ(label(s.records[0].reported_by), "aws/aws.vpcflow");
}

TEST(Ecs, NonNetworkEventsAreSkipped) {
  auto auth = parse_with(
      "ecs",
      R"({"@timestamp":"2024-11-28T10:00:00Z","event":{"category":["authentication"]},"source":{"ip":"203.0.113.7"},"destination":{"ip":"192.0.2.1","port":22}})");
  EXPECT_TRUE(auth.records.empty());
  EXPECT_EQ(auth.skips, std::vector<std::string>{"not_network_event"});
  // No category and no destination: nothing says it is a connection.
  auto bare = parse_with(
      "ecs",
      R"({"@timestamp":"2024-11-28T10:00:00Z","source":{"ip":"203.0.113.7"},"message":"login"})");
  EXPECT_EQ(bare.skips, std::vector<std::string>{"not_network_event"});
}

TEST(Ecs, ActionVerbsAndLegacyOutcomesAreMapped) {
  auto action = [](const std::string& event) {
    return parse_with(
               "ecs",
               R"({"source":{"ip":"203.0.113.7"},"destination":{"ip":"192.0.2.1"},"event":)" +
                   event + "}")
        .records.at(0)
        .action;
  };
  EXPECT_EQ(action(R"({"action":"Deny"})"), dvc_action::deny);
  EXPECT_EQ(action(R"({"action":"dropped"})"), dvc_action::drop);
  EXPECT_EQ(action(R"({"action":"accept"})"), dvc_action::allow);
  EXPECT_EQ(action(R"({"outcome":"deny"})"), dvc_action::deny);
  EXPECT_EQ(action(R"({"outcome":"failure"})"), dvc_action::unknown);
  EXPECT_EQ(action(R"({"type":["allowed"],"action":"deny"})"), dvc_action::allow);
}

TEST(Ecs, ABeatsArrayOfDocumentsYieldsEveryRecord) {
  const auto lines = fixture_lines("ecs/aws-vpcflow-extra-samples.ecs.jsonl");
  auto s = parse_with("ecs", "[" + lines[0] + "," + lines[1] + "," + lines[3] + "]");
  EXPECT_EQ(s.records.size(), 2u);
  EXPECT_EQ(s.skips, std::vector<std::string>{"no_addresses"});
}

struct malformed_case {
  const char* why;
  std::string input;
  const char* reason;
};

class EcsMalformed : public ::testing::TestWithParam<malformed_case> {};

TEST_P(EcsMalformed, IsRejectedWithItsReason) {
  const auto& c = GetParam();
  auto s = parse_with("ecs", c.input);
  EXPECT_TRUE(s.records.empty()) << c.why;
  EXPECT_EQ(s.rejects, std::vector<std::string>{c.reason}) << c.why;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, EcsMalformed,
    ::testing::Values(
        malformed_case{"truncated json",
                       R"({"@timestamp":"2024-11-28T10:00:00Z","source":{"ip":"203.0)",
                       "invalid_json"},
        malformed_case{"truncated inside a category array", R"({"event":{"category":["network",)",
                       "invalid_json"},
        malformed_case{
            "destination without source",
            R"({"event":{"category":"network"},"destination":{"ip":"192.0.2.1","port":22}})",
            "missing_src_ip"},
        malformed_case{"bad source",
                       R"({"source":{"ip":"203.0.113.7.1"},"destination":{"ip":"192.0.2.1"}})",
                       "bad_src_ip"},
        malformed_case{
            "bad port",
            R"({"source":{"ip":"203.0.113.7"},"destination":{"ip":"192.0.2.1","port":65536}})",
            "bad_dst_port"},
        malformed_case{
            "bad time",
            R"({"@timestamp":"2024-02-30T00:00:00Z","source":{"ip":"203.0.113.7"},"destination":{"ip":"192.0.2.1"}})",
            "bad_time"},
        malformed_case{"a string", R"("source.ip")", "not_an_object"}),
    why_name{});

TEST(Ecs, TheProbeRecognisesEverySampleUnitAndAutoPicksTheSpecificFormatsFirst) {
  for (const auto& [format, unit] : sample_units()) {
    SCOPED_TRACE(format + ": " + unit.substr(0, 80));
    if (format == "ecs") {
      EXPECT_TRUE(probe_claims("ecs", unit));
    }
    // ECS is the generic JSON signature: whatever else it matches, a specific probe
    // registered before it must win.
    EXPECT_EQ(detected(unit), format);
  }
}

TEST(Ecs, AutoDetectionYieldsTheSameRecordsAsTheFixedFormat) {
  for (const char* f : {"ecs/aws-vpcflow-extra-samples.ecs.jsonl", "ecs/windows-5156.ecs.jsonl",
                        "ecs/cisco-meraki-flows-lines1-3.ecs.jsonl"}) {
    const auto lines = fixture_lines(f);
    auto fixed = parse_stream("ecs", lines);
    auto autod = parse_stream("auto", lines);
    ASSERT_EQ(autod.records.size(), fixed.records.size());
    EXPECT_EQ(autod.skips, fixed.skips);
    for (std::size_t i = 0; i < fixed.records.size(); ++i) {
      EXPECT_EQ(autod.records[i].src, fixed.records[i].src);
      EXPECT_EQ(autod.records[i].dst_port, fixed.records[i].dst_port);
      EXPECT_EQ(autod.records[i].time, fixed.records[i].time);
    }
  }
}

}  // namespace
}  // namespace portscand::test
