#include "event/alert.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "event/network_session.hpp"
#include "ocsf_schema.hpp"

namespace portscand {
namespace {

TEST(UuidV5, MatchesTheRfc4122ReferenceVector) {
  // uuid5(NAMESPACE_DNS, "python.org"), as computed by Python's uuid module.
  EXPECT_EQ(uuid_v5("6ba7b810-9dad-11d1-80b4-00c04fd430c8", "python.org"),
            "886313e1-3b8a-5372-9b90-0c9aee199e5d");
}

TEST(AlertId, IsUuidV5OverRuleSourceAndBinStart) {
  // Independently: python3 -c "import uuid;
  // print(uuid.uuid5(uuid.UUID('3f6c1a2e-9b47-5d8e-a1c3-7e2b94d05f61'),
  //   '1da9853f-3dea-4ea9-b7e5-26730da3d537|203.0.113.7|2026-11-28T10:05:00Z'))"
  EXPECT_EQ(make_alert_id("1da9853f-3dea-4ea9-b7e5-26730da3d537", *ip_address::parse("203.0.113.7"),
                          *parse_iso8601("2026-11-28T10:05:00Z")),
            "42e86120-9ca0-5889-83d5-7adfd40223cd");
}

alert sample_alert() {
  auto rule = std::make_shared<rule_metadata>();
  rule->id = "r-1";
  rule->name = "Port scan";
  rule->version = "1.0.6";
  rule->severity = "Medium";
  rule->tactics = {"Discovery"};
  rule->techniques = {"T1046"};
  rule->title_format = "Potential port scan from {{SrcIpAddr}}";
  rule->description_format = "{{SrcIpAddr}} tried {{AttemptedPortsCount}} ports {{Unknown}}";
  alert a;
  a.rule = rule;
  a.src = *ip_address::parse("203.0.113.7");
  a.bin_start = *parse_iso8601("2026-11-28T10:05:00Z");
  a.bin_end = a.bin_start + 300 * us_per_second;
  a.ports_count = 73;
  a.ports = {21, 22};
  a.reported_by = {"Fortinet/Fortigate"};
  a.first_seen = a.bin_start + 1;
  a.last_seen = a.bin_end - 1;
  a.event_count = 912;
  a.detected_at = a.bin_end;
  a.alert_id = make_alert_id(rule->id, a.src, a.bin_start);
  a.incident_id = make_incident_id(rule->id, "203.0.113.7", a.bin_start - 600 * us_per_second);
  a.has_targets = true;
  a.targets = {{*ip_address::parse("192.0.2.10"), 600}, {*ip_address::parse("2001:db8::1"), 12}};
  a.targets_truncated = true;
  a.protocols = protocol_bit(6) | protocol_bit(17);
  a.outcomes = {3, 800, 100};
  return a;
}

TEST(AlertJson, NativeSchemaKeepsTheRuleColumnNames) {
  const auto j = nlohmann::json::parse(render_alert(sample_alert(), alert_schema::native));
  EXPECT_EQ(j["schema"], "portscand.alert.v1");
  EXPECT_EQ(j["SrcIpAddr"], "203.0.113.7");
  EXPECT_EQ(j["TimeGenerated"], "2026-11-28T10:05:00Z");
  EXPECT_EQ(j["AttemptedPortsCount"], 73);
  EXPECT_EQ(j["AttemptedPorts"], nlohmann::json::array({21, 22}));
  EXPECT_EQ(j["ReportedBy"], nlohmann::json::array({"Fortinet/Fortigate"}));
  EXPECT_EQ(j["window"]["end"], "2026-11-28T10:10:00Z");
  EXPECT_EQ(j["first_seen"], "2026-11-28T10:05:00.000001Z");
  EXPECT_EQ(j["title"], "Potential port scan from 203.0.113.7");
  EXPECT_EQ(j["description"], "203.0.113.7 tried 73 ports {{Unknown}}");
  EXPECT_EQ(j["entities"][0]["address"], "203.0.113.7");
  EXPECT_EQ(j["custom_details"]["AttemptedPortsCount"], 73);
  EXPECT_EQ(j["rule"]["techniques"][0], "T1046");
}

TEST(AlertJson, NativeSchemaIsOneLineWithTheIdFirst) {
  const std::string line = render_alert(sample_alert(), alert_schema::native);
  EXPECT_EQ(line.find('\n'), std::string::npos);
  EXPECT_EQ(line.rfind("{\"alert_id\":", 0), 0u);
}

TEST(AlertJson, OcsfIsADetectionFindingWithTheAlertIdAsFindingUid) {
  const alert a = sample_alert();
  const auto j = nlohmann::json::parse(render_alert(a, alert_schema::ocsf));
  EXPECT_EQ(j["class_uid"], 2004);
  EXPECT_EQ(j["type_uid"], 200401);
  EXPECT_EQ(j["severity_id"], 3);
  EXPECT_EQ(j["finding_info"]["uid"], a.alert_id);
  EXPECT_EQ(j["finding_info"]["analytic"]["uid"], "r-1");
  EXPECT_EQ(j["observables"][0]["value"], "203.0.113.7");
  // The observable points at the address where the document has it.
  EXPECT_EQ(j["observables"][0]["name"], "evidences[0].src_endpoint.ip");
  EXPECT_EQ(j["evidences"][0]["src_endpoint"]["ip"], "203.0.113.7");
  EXPECT_EQ(j["confidence_id"], 3);
  // MITRE ATT&CK: Discovery is TA0007, T1046 is Network Service Discovery.
  EXPECT_EQ(j["finding_info"]["attacks"][0]["tactic"]["uid"], "TA0007");
  EXPECT_EQ(j["finding_info"]["attacks"][0]["tactic"]["name"], "Discovery");
  EXPECT_EQ(j["finding_info"]["attacks"][0]["technique"]["uid"], "T1046");
  EXPECT_EQ(j["finding_info"]["attacks"][0]["technique"]["name"], "Network Service Discovery");
  EXPECT_FALSE(j["metadata"]["product"]["version"].get<std::string>().empty());
  EXPECT_EQ(j["metadata"]["original_time"], "2026-11-28T10:05:00.000001Z");
}

TEST(AlertJson, OcsfTacticsInSentinelSpellingAndSubTechniques) {
  alert a = sample_alert();
  auto rule = std::make_shared<rule_metadata>(*a.rule);
  rule->tactics = {"CommandAndControl"};
  rule->techniques = {"T1595.001", "T9999"};
  a.rule = rule;
  const auto j = nlohmann::json::parse(render_alert(a, alert_schema::ocsf));
  const auto& attacks = j["finding_info"]["attacks"];
  ASSERT_EQ(attacks.size(), 2u);
  EXPECT_EQ(attacks[0]["tactic"]["uid"], "TA0011");
  EXPECT_EQ(attacks[0]["tactic"]["name"], "Command and Control");
  EXPECT_EQ(attacks[0]["technique"]["uid"], "T1595");
  EXPECT_EQ(attacks[0]["technique"]["name"], "Active Scanning");
  EXPECT_EQ(attacks[0]["sub_technique"]["uid"], "T1595.001");
  EXPECT_EQ(attacks[0]["sub_technique"]["name"], "Scanning IP Blocks");
  EXPECT_EQ(attacks[1]["technique"]["uid"], "T9999");  // unknown: uid only
  EXPECT_FALSE(attacks[1]["technique"].contains("name"));
  const auto problems = test::ocsf_schema::vendored().problems(j, "detection_finding");
  EXPECT_TRUE(problems.empty()) << problems.size() << ": " << (problems.empty() ? "" : problems[0]);
}

// Every OCSF alert conforms to the Detection Finding class of the vendored schema release.
std::string listing(const std::vector<std::string>& problems) {
  std::string out;
  for (const auto& p : problems) out += p + "\n";
  return out;
}

// README "What an alert carries": worked out from sample_alert() by hand (912 events, 903
// with an outcome: 9 unknown).
TEST(AlertJson, NativeSchemaCarriesTheCaseEvidence) {
  const auto j = nlohmann::json::parse(render_alert(sample_alert(), alert_schema::native));
  EXPECT_EQ(j.at("incident_id"),
            make_incident_id("r-1", "203.0.113.7", *parse_iso8601("2026-11-28T09:55:00Z")));
  EXPECT_EQ(j.at("targets"), nlohmann::json::parse(R"([{"address":"192.0.2.10","attempts":600},
                                                       {"address":"2001:db8::1","attempts":12}])"));
  EXPECT_EQ(j.at("targets_truncated"), true);
  EXPECT_EQ(j.at("protocols"), nlohmann::json::parse(R"(["TCP","UDP"])"));
  EXPECT_EQ(j.at("outcomes"),
            nlohmann::json::parse(R"({"allowed":3,"denied":800,"dropped":100,"unknown":9})"));
  // A sliding alert (has_targets false) says nothing of them rather than "none".
  alert s = sample_alert();
  s.has_targets = false;
  s.targets.clear();
  const auto k = nlohmann::json::parse(render_alert(s, alert_schema::native));
  EXPECT_FALSE(k.contains("targets"));
  EXPECT_FALSE(k.contains("outcomes"));
}

// OCSF: each target is a resource, an evidence (source -> destination) and an observable
// whose name is a path that exists in the finding.
TEST(AlertJson, OcsfCarriesTheTargetsAsResourcesEvidencesAndObservables) {
  const auto j = nlohmann::json::parse(render_alert(sample_alert(), alert_schema::ocsf));
  ASSERT_EQ(j.at("resources").size(), 2u);
  EXPECT_EQ(j.at("resources")[1].at("uid"), "2001:db8::1");
  EXPECT_EQ(j.at("resources")[1].at("data").at("attempts"), 12);
  ASSERT_EQ(j.at("evidences").size(), 3u);
  EXPECT_EQ(j.at("evidences")[1].at("dst_endpoint").at("ip"), "192.0.2.10");
  EXPECT_EQ(j.at("evidences")[1].at("src_endpoint").at("ip"), "203.0.113.7");
  ASSERT_EQ(j.at("observables").size(), 3u);
  for (const auto& o : j.at("observables")) {
    // "evidences[0].src_endpoint.ip" / "resources[1].uid": follow the path.
    const std::string name = o.at("name");
    const auto open = name.find('['), close = name.find(']');
    const auto& list = j.at(name.substr(0, open));
    const auto& item = list.at(std::stoul(name.substr(open + 1, close - open - 1)));
    const nlohmann::json* v = &item;
    std::size_t at = close + 2;
    while (at <= name.size()) {
      const auto dot = name.find('.', at);
      v = &v->at(name.substr(at, dot == std::string::npos ? std::string::npos : dot - at));
      if (dot == std::string::npos) break;
      at = dot + 1;
    }
    EXPECT_EQ(*v, o.at("value")) << name;
  }
  EXPECT_EQ(j.at("unmapped").at("incident_id"), sample_alert().incident_id);
  EXPECT_EQ(j.at("unmapped").at("outcomes").at("unknown"), 9);
}

TEST(AlertJson, OcsfValidatesAgainstTheSchemaRelease) {
  alert a = sample_alert();
  auto problems = test::ocsf_schema::vendored().problems(
      nlohmann::json::parse(render_alert(a, alert_schema::ocsf)), "detection_finding");
  EXPECT_TRUE(problems.empty()) << listing(problems);
  a.src = *ip_address::parse("2001:db8::7");
  a.reported_by.clear();
  a.rule = std::make_shared<rule_metadata>(*a.rule);
  std::const_pointer_cast<rule_metadata>(a.rule)->tactics.clear();
  problems = test::ocsf_schema::vendored().problems(
      nlohmann::json::parse(render_alert(a, alert_schema::ocsf)), "detection_finding");
  EXPECT_TRUE(problems.empty()) << listing(problems);
}

// README "Early alerts": an early alert says so, and names the final alert it announces;
// a final alert has neither field (its rendering is as before early alerts).
TEST(AlertJson, AnEarlyAlertSaysSoInBothSchemas) {
  alert a = sample_alert();
  const auto plain = nlohmann::json::parse(render_alert(a, alert_schema::native));
  EXPECT_FALSE(plain.contains("early"));
  EXPECT_FALSE(plain.contains("final_alert_id"));
  EXPECT_FALSE(
      nlohmann::json::parse(render_alert(a, alert_schema::ocsf)).at("unmapped").contains("early"));
  a.early = true;
  a.final_alert_id = a.alert_id;
  a.alert_id = "0b8fa3ab-0054-5ac9-9768-a2894def7e76";
  const auto j = nlohmann::json::parse(render_alert(a, alert_schema::native));
  EXPECT_EQ(j.at("early"), true);
  EXPECT_EQ(j.at("final_alert_id"), sample_alert().alert_id);
  EXPECT_EQ(j.at("alert_id"), "0b8fa3ab-0054-5ac9-9768-a2894def7e76");
  const auto o = nlohmann::json::parse(render_alert(a, alert_schema::ocsf));
  EXPECT_EQ(o.at("finding_info").at("uid"), "0b8fa3ab-0054-5ac9-9768-a2894def7e76");
  EXPECT_EQ(o.at("unmapped").at("early"), true);
  EXPECT_EQ(o.at("unmapped").at("final_alert_id"), sample_alert().alert_id);
  const auto problems = test::ocsf_schema::vendored().problems(o, "detection_finding");
  EXPECT_TRUE(problems.empty()) << listing(problems);
}

// README "Port sweeps": a sweep alert names the port and the distinct addresses tried on
// it, in the native columns, the custom details, the title and OCSF's unmapped; its id is
// a UUIDv5 over rule|source|bin|port.
TEST(AlertJson, ASweepAlertCarriesThePortAndTheTargetCount) {
  // Independently: python3 -c "import uuid;
  // print(uuid.uuid5(uuid.UUID('3f6c1a2e-9b47-5d8e-a1c3-7e2b94d05f61'),
  //   '842a5b8e-315e-42ef-bb51-ef4a30b32fce|203.0.113.7|2026-11-28T10:05:00Z|445'))"
  EXPECT_EQ(make_sweep_alert_id("842a5b8e-315e-42ef-bb51-ef4a30b32fce", "203.0.113.7",
                                *parse_iso8601("2026-11-28T10:05:00Z"), 445),
            "42c0c19f-6c57-5f1e-a745-cefbb273dc8b");
  alert a = sample_alert();
  auto rule = std::make_shared<rule_metadata>(*a.rule);
  rule->title_format = "Sweep of port {{DstPortNumber}} from {{SrcIpAddr}}";
  rule->description_format = "{{TargetCount}} addresses on port {{DstPortNumber}}";
  a.rule = rule;
  a.swept_port = 445;
  a.target_count = 173;
  a.ports_count = 1;
  a.ports = {445};
  const auto j = nlohmann::json::parse(render_alert(a, alert_schema::native));
  EXPECT_EQ(j.at("DstPortNumber"), 445);
  EXPECT_EQ(j.at("TargetCount"), 173);
  EXPECT_EQ(j.at("AttemptedPorts"), nlohmann::json::array({445}));
  EXPECT_EQ(j.at("custom_details"), nlohmann::json({{"DstPortNumber", 445}, {"TargetCount", 173}}));
  EXPECT_EQ(j.at("title"), "Sweep of port 445 from 203.0.113.7");
  EXPECT_EQ(j.at("description"), "173 addresses on port 445");
  const auto o = nlohmann::json::parse(render_alert(a, alert_schema::ocsf));
  EXPECT_EQ(o.at("unmapped").at("DstPortNumber"), 445);
  EXPECT_EQ(o.at("unmapped").at("TargetCount"), 173);
  EXPECT_EQ(o.at("finding_info").at("types"), nlohmann::json::array({"Port Sweep"}));
  const auto problems = test::ocsf_schema::vendored().problems(o, "detection_finding");
  EXPECT_TRUE(problems.empty()) << listing(problems);
  // A vertical alert has neither field, and its placeholders of a sweep stay as written.
  alert v = sample_alert();
  const auto k = nlohmann::json::parse(render_alert(v, alert_schema::native));
  EXPECT_FALSE(k.contains("DstPortNumber"));
  EXPECT_FALSE(k.contains("TargetCount"));
  EXPECT_EQ(expand_alert_format("{{DstPortNumber}}", v), "{{DstPortNumber}}");
}

TEST(OcsfSchemaCheck, FindsWhatIsWrong) {
  // The validator itself: each kind of mistake it must catch, on a conforming alert.
  const auto good = nlohmann::json::parse(render_alert(sample_alert(), alert_schema::ocsf));
  const auto& schema = test::ocsf_schema::vendored();
  auto bad = good;
  bad["no_such_attribute"] = 1;
  EXPECT_EQ(schema.problems(bad, "detection_finding").size(), 1u);
  bad = good;
  bad.erase("severity_id");  // required by base_event
  EXPECT_EQ(schema.problems(bad, "detection_finding").size(), 1u);
  bad = good;
  bad["severity_id"] = 7;  // not in the enum
  EXPECT_EQ(schema.problems(bad, "detection_finding").size(), 1u);
  bad = good;
  bad["time"] = "2026-11-28T10:10:00Z";  // timestamp_t is an integer
  EXPECT_EQ(schema.problems(bad, "detection_finding").size(), 1u);
  bad = good;
  bad["metadata"]["product"]["colour"] = "red";  // inside an object
  EXPECT_EQ(schema.problems(bad, "detection_finding").size(), 1u);
  bad = good;
  bad["type_uid"] = 200402;
  EXPECT_EQ(schema.problems(bad, "detection_finding").size(), 1u);
  bad = good;
  bad["observables"][0]["name"] = "src_endpoint.ip";  // not where the address is
  EXPECT_EQ(schema.problems(bad, "detection_finding").size(), 1u);
  bad = good;
  bad["observables"][0]["value"] = "192.0.2.1";  // not the value at that path
  EXPECT_EQ(schema.problems(bad, "detection_finding").size(), 1u);
  bad = good;
  bad["metadata"]["profiles"] = {"security_control"};  // declared: its action_id is required
  EXPECT_EQ(schema.problems(bad, "detection_finding").size(), 1u);
}

}  // namespace
}  // namespace portscand
