// The port-sweep rule (README "Port sweeps", "Several rules"): its alerts through the
// window and the evaluator, its own alert history beside the vertical rule's, and the
// loading of several rules. Expected figures are worked out by hand next to each case;
// alert ids by Python's uuid module (commands in the comments).
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "core/time.hpp"
#include "detect/evaluator.hpp"
#include "detect/rule.hpp"
#include "detect/rule_loader.hpp"
#include "window/shard_state.hpp"

namespace portscand {
namespace {

const timestamp_us t0 = 1'768'471'500LL * us_per_second;  // 2026-01-15T10:05:00Z, a bin start
constexpr timestamp_us minute = us_per_minute;
const std::string fixtures = PORTSCAND_FIXTURES;

network_session rec(const char* src, timestamp_us t, int port, int host_index) {
  network_session r;
  r.src = *ip_address::parse(src);
  r.time = t;
  r.has_time = true;
  r.dst_port = port;
  // 198.19.0.1, 198.19.0.2, ... (250 per third octet)
  r.dst = *ip_address::parse("198.19." + std::to_string(host_index / 250) + "." +
                             std::to_string(host_index % 250 + 1));
  r.has_dst = true;
  r.protocol = 6;
  return r;
}

// `n` destinations on `port` from `src`, one record each, within the bin starting at `bin`;
// `first` is the first destination's index.
std::vector<network_session> sweep(const char* src, timestamp_us bin, int port, int n,
                                   int first = 0) {
  std::vector<network_session> v;
  for (int i = 0; i < n; ++i) v.push_back(rec(src, bin + i * 100'000, port, first + i));
  return v;
}

window_config both() {
  window_config c;
  c.sweep = true;
  return c;
}

std::vector<alert> run(evaluator& ev, shard_state& st, const rule_definition& rule,
                       const std::vector<network_session>& records, timestamp_us close_before) {
  for (const auto& r : records) st.add(r);
  std::vector<alert> out;
  ev.evaluate(st, rule, close_before, 0, out);
  return out;
}

TEST(SweepRule, MoreThanFiftyDestinationsOnOnePortAlertWithThePortAndTargets) {
  shard_state st{both()};
  evaluator ev;
  auto records = sweep("203.0.113.7", t0, 445, 120);
  // 50 exactly on another port: not over the threshold.
  for (auto& r : sweep("203.0.113.7", t0, 139, 50)) records.push_back(r);
  const auto out = run(ev, st, default_sweep_rule(), records, t0 + 5 * minute);
  ASSERT_EQ(out.size(), 1u);
  const alert& a = out[0];
  EXPECT_EQ(a.swept_port, 445);
  EXPECT_EQ(a.target_count, 120u);
  EXPECT_EQ(a.ports, std::vector<std::uint16_t>{445});
  EXPECT_EQ(a.ports_count, 1u);
  EXPECT_EQ(a.event_count, 120u);
  // The 100 smallest addresses: 198.19.0.1 .. 198.19.0.100.
  ASSERT_EQ(a.targets.size(), 100u);
  EXPECT_EQ(a.targets.front().address.to_string(), "198.19.0.1");
  EXPECT_EQ(a.targets.back().address.to_string(), "198.19.0.100");
  EXPECT_TRUE(a.targets_truncated);
  EXPECT_EQ(a.first_seen, t0);
  EXPECT_EQ(a.last_seen, t0 + 119 * 100'000);
  // python3 -c "import uuid; print(uuid.uuid5(uuid.UUID('3f6c1a2e-9b47-5d8e-a1c3-7e2b94d05f61'),
  //   '842a5b8e-315e-42ef-bb51-ef4a30b32fce|203.0.113.7|2026-01-15T10:05:00Z|445'))"
  EXPECT_EQ(a.alert_id, "b971cbc3-61cf-5bef-95cc-3c85d2e89300");
  const std::string json = render_alert(a, alert_schema::native);
  EXPECT_NE(json.find(R"("title":"Potential port sweep of port 445 from 203.0.113.7")"),
            std::string::npos)
      << json;
  // The vertical rule over the same state: 2 ports, nothing.
  std::vector<alert> vertical;
  ev.evaluate(st, default_rule(), t0 + 5 * minute, 0, vertical);
  EXPECT_TRUE(vertical.empty());
}

// Suppression (per rule and source): two ports of one source in one bin are decided in port
// order, whatever order their keys were made in; a vertical alert of the source does not
// suppress its sweep alert, and each rule names its own incident.
TEST(SweepRule, SuppressionDecidesPortsInOrderAndEachRuleHasItsOwnHistory) {
  for (const bool port_3389_first : {true, false}) {
    shard_state st{both()};
    evaluator ev;
    rule_definition sweep_rule = default_sweep_rule();
    sweep_rule.suppression = 60 * minute;
    rule_definition scan_rule = default_rule();
    scan_rule.suppression = 60 * minute;
    std::vector<network_session> records;
    auto a = sweep("203.0.113.7", t0, 3389, 60);
    auto b = sweep("203.0.113.7", t0 + minute, 445, 60, 100);
    for (auto& r : port_3389_first ? a : b) records.push_back(r);
    for (auto& r : port_3389_first ? b : a) records.push_back(r);
    // And a vertical scan from the same source: 60 ports on one host.
    for (int p = 1; p <= 60; ++p) records.push_back(rec("203.0.113.7", t0 + 2 * minute, p, 999));
    for (const auto& r : records) st.add(r);
    std::vector<alert> scans, sweeps;
    ev.evaluate(st, scan_rule, t0 + 5 * minute, 0, scans);
    ev.evaluate(st, sweep_rule, t0 + 5 * minute, 0, sweeps);
    ASSERT_EQ(scans.size(), 1u);
    ASSERT_EQ(sweeps.size(), 1u) << port_3389_first;
    EXPECT_EQ(sweeps[0].swept_port, 445);  // the smaller port; 3389 suppressed
    EXPECT_EQ(ev.stats().suppressed, 1u);
    EXPECT_EQ(sweeps[0].incident_id, make_incident_id(sweep_rule.metadata->id, "203.0.113.7", t0));
    EXPECT_NE(sweeps[0].incident_id, scans[0].incident_id);
  }
}

TEST(SweepRule, TheHistoryOfBothRulesSurvivesACheckpoint) {
  shard_state st{both()};
  evaluator ev;
  rule_definition sweep_rule = default_sweep_rule();
  sweep_rule.suppression = 60 * minute;
  auto out = run(ev, st, sweep_rule, sweep("203.0.113.7", t0, 445, 60), t0 + 5 * minute);
  ASSERT_EQ(out.size(), 1u);
  std::string bytes;
  ev.serialize_history(bytes);
  evaluator restored;
  ASSERT_TRUE(restored.deserialize_history(bytes));
  // The restored history suppresses the next bin's sweep, not the vertical rule's scan.
  shard_state next{both()};
  auto records = sweep("203.0.113.7", t0 + 5 * minute, 445, 60);
  for (int p = 1; p <= 60; ++p) records.push_back(rec("203.0.113.7", t0 + 6 * minute, p, 999));
  for (const auto& r : records) next.add(r);
  std::vector<alert> sweeps, scans;
  restored.evaluate(next, sweep_rule, t0 + 10 * minute, 0, sweeps);
  rule_definition scan_rule = default_rule();
  scan_rule.suppression = 60 * minute;
  restored.evaluate(next, scan_rule, t0 + 10 * minute, 0, scans);
  EXPECT_TRUE(sweeps.empty());
  EXPECT_EQ(scans.size(), 1u);
  // A history written before the sweep rule existed ("SUP2": the vertical rule's maps) is
  // read as the vertical rule's.
  std::string v2;
  v2.append("SUP2", 4);
  const std::string zero(8, '\0');
  v2 += zero + zero;  // two empty maps
  EXPECT_TRUE(restored.deserialize_history(v2));
  EXPECT_EQ(restored.history_entries(), 0u);
  EXPECT_FALSE(restored.deserialize_history(v2 + "x"));
}

TEST(SweepRule, AnEarlyAlertAtTheCrossingNamesTheFinalAlert) {
  window_config c = both();
  c.early_alerts = true;
  shard_state st{c};
  evaluator ev;
  rule_definition rule = default_sweep_rule();
  rule.early_alerts = true;
  std::vector<alert> early;
  st.set_sweep_crossing_handler([&](sweep_view k) { ev.early(rule, k, 0, &early); });
  for (const auto& r : sweep("203.0.113.7", t0, 445, 70)) st.add(r);
  ASSERT_EQ(early.size(), 1u);
  EXPECT_TRUE(early[0].early);
  EXPECT_EQ(early[0].target_count, 51u);  // the evidence up to the crossing record
  // python3 -c "...
  // '842a5b8e-315e-42ef-bb51-ef4a30b32fce|203.0.113.7|2026-01-15T10:05:00Z|445|early'"
  EXPECT_EQ(early[0].alert_id, "81ad97f8-bdaf-54c7-9d6c-be9a490b9fe6");
  EXPECT_EQ(early[0].final_alert_id, "b971cbc3-61cf-5bef-95cc-3c85d2e89300");
  std::vector<alert> final_alerts;
  ev.evaluate(st, rule, t0 + 5 * minute, 0, final_alerts);
  ASSERT_EQ(final_alerts.size(), 1u);
  EXPECT_EQ(final_alerts[0].alert_id, early[0].final_alert_id);
  EXPECT_EQ(final_alerts[0].target_count, 70u);
  EXPECT_EQ(final_alerts[0].incident_id, early[0].incident_id);
}

// --- Loading several rules ---

config with_rules(std::vector<std::string> paths) {
  config c;
  c.rule_paths = std::move(paths);
  return c;
}

TEST(RuleSet, BuiltInNamesAndARuleFileOfKindSweep) {
  auto r = load_rules(with_rules({"builtin:port-scan", "builtin:port-sweep"}));
  ASSERT_TRUE(r.problems.empty()) << r.problems[0].path << ": " << r.problems[0].message;
  ASSERT_TRUE(r.rules.vertical && r.rules.sweep);
  EXPECT_EQ(r.rules.vertical->metadata->id, "1da9853f-3dea-4ea9-b7e5-26730da3d537");
  EXPECT_EQ(r.rules.sweep->metadata->id, "842a5b8e-315e-42ef-bb51-ef4a30b32fce");
  EXPECT_EQ(r.rules.sweep->threshold, 50u);

  r = load_rules(with_rules({fixtures + "/rules/portscand-sweep-rule.yaml"}));
  ASSERT_TRUE(r.problems.empty()) << r.problems[0].path << ": " << r.problems[0].message;
  EXPECT_FALSE(r.rules.vertical);
  ASSERT_TRUE(r.rules.sweep);
  EXPECT_EQ(r.rules.sweep->kind, rule_kind::sweep);
  EXPECT_EQ(r.rules.sweep->threshold, 80u);
  EXPECT_EQ(r.rules.sweep->max_targets, 20u);
  EXPECT_EQ(r.rules.sweep->metadata->severity, "High");
  // Its title and description default to the sweep rule's, not the vertical rule's.
  EXPECT_EQ(r.rules.sweep->metadata->title_format, default_sweep_rule().metadata->title_format);
  EXPECT_EQ(&r.rules.lead(), r.rules.sweep.get());

  // Without rules: the rule: path (here none: the built-in vertical rule) alone.
  r = load_rules(config{});
  ASSERT_TRUE(r.problems.empty());
  EXPECT_TRUE(r.rules.vertical && !r.rules.sweep);
}

TEST(RuleSet, RefusesTwoOfAKindRulesThatDifferInBinAndBadKinds) {
  auto r =
      load_rules(with_rules({"builtin:port-sweep", fixtures + "/rules/portscand-sweep-rule.yaml"}));
  ASSERT_EQ(r.problems.size(), 1u);
  EXPECT_EQ(r.problems[0].path, "rules[1]");
  EXPECT_NE(r.problems[0].message.find("at most one rule of each kind"), std::string::npos);

  rule_file f;
  f.id = "5d0f3c1e-8a47-4b6f-9e21-7c3a1f0b9d43";
  f.name = "Sweep";
  f.kind = "sweep";
  f.max_ports = 10;
  f.window = "sliding";
  auto b = build_rule(f);
  ASSERT_EQ(b.problems.size(), 2u);
  EXPECT_EQ(b.problems[0].path, "max_ports");
  EXPECT_EQ(b.problems[1].path, "window");
  f = rule_file{};
  f.id = "x";
  f.name = "y";
  f.kind = "diagonal";
  b = build_rule(f);
  ASSERT_EQ(b.problems.size(), 1u);
  EXPECT_EQ(b.problems[0].path, "kind");
  f.kind = "";
  f.max_targets = 5;
  b = build_rule(f);
  ASSERT_EQ(b.problems.size(), 1u);
  EXPECT_EQ(b.problems[0].path, "max_targets");

  // The sweep rule with a 10-minute bin beside the 5-minute vertical rule.
  const std::string dir = ::testing::TempDir();
  const std::string path = dir + "/sweep-10m.yaml";
  {
    std::FILE* out = std::fopen(path.c_str(), "w");
    ASSERT_NE(out, nullptr);
    std::fputs("id: a\nname: b\nkind: sweep\nbin: 10m\n", out);
    std::fclose(out);
  }
  r = load_rules(with_rules({"builtin:port-scan", path}));
  ASSERT_EQ(r.problems.size(), 1u);
  EXPECT_NE(r.problems[0].message.find("must equal the first rule's"), std::string::npos);
}

TEST(RuleSet, ExclusionEntriesNamingARuleApplyToItAlone) {
  auto cfg = load_config_text(R"(
rules: [builtin:port-scan, builtin:port-sweep]
exclusions:
  - name: everyone
    reason: a scanner both rules ignore
    sources: [198.51.100.0/24]
  - name: sweeps-of-dns
    reason: resolvers probe every DNS server
    ports: [53]
    rules: [842a5b8e-315e-42ef-bb51-ef4a30b32fce]
)",
                              {});
  ASSERT_TRUE(cfg.problems.empty()) << cfg.problems[0].path << ": " << cfg.problems[0].message;
  auto loaded = load_rules(cfg.cfg);
  ASSERT_TRUE(loaded.problems.empty());
  EXPECT_TRUE(check_exclusion_rules(cfg.cfg, loaded.rules).empty());
  const rule_set rules = with_options(loaded.rules, cfg.cfg);
  ASSERT_TRUE(rules.vertical->exclusions && rules.sweep->exclusions);
  EXPECT_EQ(rules.vertical->exclusions->size(), 1u);
  EXPECT_EQ(rules.sweep->exclusions->size(), 2u);

  // Without per-rule entries both rules share one set (a record is matched once).
  cfg.cfg.exclusions.pop_back();
  const rule_set shared = with_options(loaded.rules, cfg.cfg);
  EXPECT_EQ(shared.vertical->exclusions, shared.sweep->exclusions);

  // An entry naming a rule that does not run is refused.
  cfg.cfg.exclusions[0].rules = {"not-a-rule"};
  const auto problems = check_exclusion_rules(cfg.cfg, loaded.rules);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].path, "exclusions[0].rules[0]");
}

TEST(RuleSet, TheConfigurationTakesRuleOrRulesNotBoth) {
  auto both_keys = load_config_text("rule: /x.yaml\nrules: [builtin:port-sweep]\n", {});
  ASSERT_EQ(both_keys.problems.size(), 1u);
  EXPECT_EQ(both_keys.problems[0].path, "rules");
  auto empty = load_config_text("rules: []\n", {});
  ASSERT_EQ(empty.problems.size(), 1u);
  EXPECT_EQ(empty.problems[0].path, "rules");
  auto ok = load_config_text("rules: [builtin:port-sweep]\n", {});
  EXPECT_TRUE(ok.problems.empty());
  EXPECT_EQ(ok.cfg.rule_paths, std::vector<std::string>{"builtin:port-sweep"});
}

}  // namespace
}  // namespace portscand
