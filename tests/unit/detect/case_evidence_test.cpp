// What an alert carries for a case (README "What an alert carries", "Incidents"): targets,
// protocols, outcomes and the incident id, through the window and the evaluator. Expected
// figures are worked out by hand next to each case.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/binary_io.hpp"
#include "core/time.hpp"
#include "detect/evaluator.hpp"
#include "detect/rule.hpp"
#include "window/shard_state.hpp"

namespace portscand {
namespace {

const timestamp_us t0 = 1'768'471'500LL * us_per_second;  // 2026-01-15T10:05:00Z, a bin start
constexpr timestamp_us minute = us_per_minute;

network_session rec(const char* src, timestamp_us t, int port, const char* dst = nullptr,
                    std::uint16_t protocol = network_session::no_protocol,
                    dvc_action action = dvc_action::unknown) {
  network_session r;
  r.src = *ip_address::parse(src);
  r.time = t;
  r.has_time = true;
  r.dst_port = port;
  if (dst != nullptr) {
    r.dst = *ip_address::parse(dst);
    r.has_dst = true;
  }
  r.protocol = protocol;
  r.action = action;
  return r;
}

// 60 ports from 203.0.113.7 in the bin: ports 1..60, to 192.0.2.10 (even ports) and
// 192.0.2.9 (odd), TCP except every 10th (UDP); actions cycle Allow, Deny, Drop, Reset,
// none (12 each). Plus two records with no destination and no port.
std::vector<network_session> scan(const char* src, timestamp_us bin) {
  std::vector<network_session> v;
  static constexpr dvc_action actions[] = {dvc_action::allow, dvc_action::deny, dvc_action::drop,
                                           dvc_action::reset, dvc_action::unknown};
  for (int p = 1; p <= 60; ++p)
    v.push_back(rec(src, bin + p * 1'000'000, p, p % 2 == 0 ? "192.0.2.10" : "192.0.2.9",
                    p % 10 == 0 ? 17 : 6, actions[(p - 1) % 5]));
  v.push_back(rec(src, bin + 2 * minute, -1));
  v.push_back(rec(src, bin + 3 * minute, -1));
  return v;
}

std::vector<alert> evaluate(evaluator& ev, shard_state& st, const rule_definition& rule,
                            const std::vector<network_session>& records,
                            timestamp_us close_before) {
  for (const auto& r : records) st.add(r);
  std::vector<alert> out;
  ev.evaluate(st, rule, close_before, 0, out);
  return out;
}

TEST(CaseEvidence, TheAlertCarriesTargetsProtocolsAndOutcomes) {
  shard_state st{window_config{}};
  evaluator ev;
  const auto out = evaluate(ev, st, default_rule(), scan("203.0.113.7", t0), t0 + 5 * minute);
  ASSERT_EQ(out.size(), 1u);
  const alert& a = out[0];
  ASSERT_TRUE(a.has_targets);
  ASSERT_EQ(a.targets.size(), 2u);
  EXPECT_EQ(a.targets[0].address.to_string(), "192.0.2.9");  // 30 odd ports
  EXPECT_EQ(a.targets[0].attempts, 30u);
  EXPECT_EQ(a.targets[1].address.to_string(), "192.0.2.10");  // 30 even ports
  EXPECT_EQ(a.targets[1].attempts, 30u);
  EXPECT_FALSE(a.targets_truncated);
  EXPECT_EQ(protocol_bit_names(a.protocols), (std::vector<std::string_view>{"TCP", "UDP"}));
  EXPECT_EQ(a.outcomes.allowed, 12u);
  EXPECT_EQ(a.outcomes.denied, 24u);  // Deny and Reset
  EXPECT_EQ(a.outcomes.dropped, 12u);
  EXPECT_EQ(a.event_count, 62u);  // 12 with no action + 2 port-less records: unknown 14
  const std::string json = render_alert(a, alert_schema::native);
  EXPECT_NE(json.find(R"("targets":[{"address":"192.0.2.9","attempts":30},)"
                      R"({"address":"192.0.2.10","attempts":30}],"targets_truncated":false,)"
                      R"("protocols":["TCP","UDP"],)"
                      R"("outcomes":{"allowed":12,"denied":24,"dropped":12,"unknown":14})"),
            std::string::npos)
      << json;
}

TEST(CaseEvidence, MaxTargetsKeepsTheSmallestAndSaysSo) {
  window_config wc;
  wc.max_targets = 1;
  shard_state st{wc};
  evaluator ev;
  const auto out = evaluate(ev, st, default_rule(), scan("203.0.113.7", t0), t0 + 5 * minute);
  ASSERT_EQ(out.size(), 1u);
  ASSERT_EQ(out[0].targets.size(), 1u);
  EXPECT_EQ(out[0].targets[0].address.to_string(), "192.0.2.9");
  EXPECT_TRUE(out[0].targets_truncated);
}

// Grouping 24 h (default): bins 10:05 and 10:10 of one source are one incident, its id not
// any alert's id; another source has its own.
TEST(Incidents, ConsecutiveBinsOfASourceShareOneIncident) {
  shard_state st{window_config{}};
  evaluator ev;
  const rule_definition rule = default_rule();
  auto records = scan("203.0.113.7", t0);
  for (auto& r : scan("203.0.113.7", t0 + 5 * minute)) records.push_back(r);
  for (auto& r : scan("198.51.100.1", t0)) records.push_back(r);
  const auto out = evaluate(ev, st, rule, records, t0 + 10 * minute);
  ASSERT_EQ(out.size(), 3u);
  std::string first_7, second_7, other;
  for (const auto& a : out) {
    if (a.src.to_string() == "198.51.100.1")
      other = a.incident_id;
    else if (a.bin_start == t0)
      first_7 = a.incident_id;
    else
      second_7 = a.incident_id;
    EXPECT_NE(a.incident_id, a.alert_id);
  }
  EXPECT_EQ(first_7, second_7);
  EXPECT_NE(first_7, other);
  EXPECT_EQ(first_7, make_incident_id(rule.metadata->id, "203.0.113.7", t0));
}

// Grouping 10 m: bins 10:05 and 10:10 (5 m after the incident's start) share it; 10:15 (10 m
// after) opens the next incident, which 10:20 joins. Grouping 0: every alert its own.
TEST(Incidents, AGroupingWindowStartsTheNextIncident) {
  for (const timestamp_us grouping : {10 * minute, timestamp_us{0}}) {
    shard_state st{window_config{}};
    evaluator ev;
    rule_definition rule = default_rule();
    rule.incident_grouping = grouping;
    std::vector<network_session> records;
    for (int b = 0; b < 4; ++b)
      for (auto& r : scan("203.0.113.7", t0 + b * 5 * minute)) records.push_back(r);
    const auto out = evaluate(ev, st, rule, records, t0 + 20 * minute);
    ASSERT_EQ(out.size(), 4u);
    std::vector<std::string> ids;
    for (const auto& a : out) ids.push_back(a.incident_id);
    const auto id = [&](timestamp_us start) {
      return make_incident_id(rule.metadata->id, "203.0.113.7", start);
    };
    if (grouping != 0) {
      EXPECT_EQ(ids, (std::vector<std::string>{id(t0), id(t0), id(t0 + 10 * minute),
                                               id(t0 + 10 * minute)}));
    } else {
      EXPECT_EQ(ids, (std::vector<std::string>{id(t0), id(t0 + 5 * minute), id(t0 + 10 * minute),
                                               id(t0 + 15 * minute)}));
    }
  }
}

// A restart restores the incidents from the checkpoint: the source's next alert joins the
// incident opened before it. A history written before incidents existed ("SUP1") still
// loads.
TEST(Incidents, TheHistoryKeepsTheIncidentAcrossARestart) {
  const rule_definition rule = default_rule();
  std::string bytes;
  {
    shard_state st{window_config{}};
    evaluator ev;
    ASSERT_EQ(evaluate(ev, st, rule, scan("203.0.113.7", t0), t0 + 5 * minute).size(), 1u);
    ev.serialize_history(bytes);
  }
  evaluator restored;
  ASSERT_TRUE(restored.deserialize_history(bytes));
  shard_state st{window_config{}};
  const auto out =
      evaluate(restored, st, rule, scan("203.0.113.7", t0 + 30 * minute), t0 + 35 * minute);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].incident_id, make_incident_id(rule.metadata->id, "203.0.113.7", t0));

  std::string v1;
  binary_writer w(v1);
  w.put<std::uint32_t>(0x31505553);  // "SUP1"
  w.put<std::uint64_t>(1);
  w.put_bytes(ip_address::parse("203.0.113.7")->bytes().data(), 16);
  w.put<std::int64_t>(t0);
  evaluator old;
  EXPECT_TRUE(old.deserialize_history(v1));
  EXPECT_EQ(old.history_entries(), 1u);
  EXPECT_FALSE(old.deserialize_history(v1.substr(0, v1.size() - 1)));
}

// The window's checkpoint keeps the evidence (encoding version 3), and a version-1 state
// (before the evidence) still restores, its keys with none.
TEST(CaseEvidence, TheCheckpointKeepsTheEvidenceAndReadsTheOldEncoding) {
  shard_state st{window_config{}};
  for (const auto& r : scan("203.0.113.7", t0)) st.add(r);
  std::string bytes;
  st.serialize(bytes);
  shard_state back{window_config{}};
  ASSERT_TRUE(back.deserialize(bytes, label_table::global()));
  evaluator ev;
  std::vector<alert> out;
  ev.evaluate(back, default_rule(), t0 + 5 * minute, 0, out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].targets.size(), 2u);
  EXPECT_EQ(out[0].targets[1].attempts, 30u);
  EXPECT_EQ(out[0].outcomes.denied, 24u);
  EXPECT_EQ(out[0].protocols, 3u);  // TCP | UDP

  // Version 1, written by hand: one bin at t0 holding 203.0.113.7 with ports 1..51.
  std::string v1;
  binary_writer w(v1);
  w.put<std::uint32_t>(0x50534853);  // "SHSP"
  w.put<std::uint32_t>(1);
  w.put<std::int64_t>(5 * minute);
  w.put<std::int64_t>(t0);  // watermark
  w.put<std::uint32_t>(0);  // no labels
  w.put<std::uint64_t>(1);  // one bin
  w.put<std::int64_t>(t0);
  w.put<std::uint8_t>(0);
  w.put<std::uint64_t>(1);  // one IPv4 key
  w.put<std::uint32_t>(ip_address::parse("203.0.113.7")->v4());
  w.put<std::uint32_t>(0);
  w.put<std::uint32_t>(1000);
  w.put<std::uint32_t>(51);  // events
  w.put<std::uint8_t>(0);    // flags
  w.put<std::uint32_t>(51);
  for (std::uint16_t p = 1; p <= 51; ++p) w.put<std::uint16_t>(p);
  w.put<std::uint8_t>(0);   // labels
  w.put<std::uint64_t>(0);  // no IPv6 keys
  shard_state old{window_config{}};
  ASSERT_TRUE(old.deserialize(v1, label_table::global()));
  out.clear();
  evaluator ev1;
  ev1.evaluate(old, default_rule(), t0 + 5 * minute, 0, out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].ports_count, 51u);
  EXPECT_TRUE(out[0].targets.empty());
  EXPECT_FALSE(old.deserialize(v1.substr(0, v1.size() - 1), label_table::global()));
}

}  // namespace
}  // namespace portscand

namespace portscand {
namespace {

// A window with early alerts on and an evaluator fed by its crossing handler, as a shard
// runs them; `announce` false is a partition's re-read (no output).
struct early_harness {
  explicit early_harness(rule_definition r) : rule(std::move(r)), st(config()) {
    rule.early_alerts = true;
    st.set_crossing_handler([this](key_view k) {
      ev.early(rule, k, 0, announce ? &out : nullptr);
      flags.push_back(k.state.flags);
    });
  }
  static window_config config() {
    window_config wc;
    wc.early_alerts = true;
    return wc;
  }
  void add(const std::vector<network_session>& records) {
    for (const auto& r : records) st.add(r);
  }
  rule_definition rule;
  shard_state st;
  evaluator ev;
  std::vector<alert> out;
  std::vector<std::uint8_t> flags;  // of each key handed over, at the crossing
  bool announce = true;
};

// evaluator::early: a source an exclusion covers (one a reload added while its bin was open)
// gets no early alert, counted; another source does, and nothing is marked on either key.
TEST(EarlyAlerts, AnExcludedSourceIsCountedNotAnnounced) {
  exclusion_config x;
  x.name = "scanner";
  x.reason = "the vulnerability scanner";
  std::string error;
  x.sources.push_back(*ip_network::parse("203.0.113.0/24", error));
  rule_definition rule = default_rule();
  rule.exclusions = std::make_shared<const exclusion_set>(std::vector<exclusion_config>{x});
  early_harness h(rule);
  h.add(scan("203.0.113.7", t0));
  h.add(scan("198.51.100.7", t0));
  const auto& out = h.out;
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].source_text(), "198.51.100.7");
  EXPECT_TRUE(out[0].early);
  // At the crossing (port 51, the 51st record): the targets and outcomes of records 1..51
  // (actions cycle Allow, Deny, Drop, Reset, none: 11 allow, 10 + 10 deny or reset, 10 drop).
  ASSERT_EQ(out[0].targets.size(), 2u);
  EXPECT_EQ(out[0].targets[0].attempts, 26u);  // 192.0.2.9: odd ports 1..51
  EXPECT_EQ(out[0].targets[1].attempts, 25u);  // 192.0.2.10: even ports 2..50
  EXPECT_EQ(out[0].outcomes.allowed, 11u);
  EXPECT_EQ(out[0].outcomes.denied, 20u);
  EXPECT_EQ(out[0].outcomes.dropped, 10u);
  EXPECT_EQ(h.ev.stats().early_excluded, 1u);
  EXPECT_EQ(h.ev.stats().early_sent, 1u);
  EXPECT_EQ(h.flags, (std::vector<std::uint8_t>{key_state::crossed, key_state::crossed}));
}

// A crossing met again while a partition is re-read (evaluator::early without an output)
// announces nothing and counts nothing, but the next early alert of the source names the
// incident that earlier announcement opened, as the previous owner's would have.
TEST(EarlyAlerts, ARereadCrossingKeepsTheIncidentItsAnnouncementOpened) {
  early_harness h(default_rule());
  h.announce = false;
  h.add(scan("198.51.100.7", t0));  // 10:05, re-read
  EXPECT_TRUE(h.out.empty());
  EXPECT_EQ(h.ev.stats().early_sent, 0u);
  h.announce = true;
  h.add(scan("198.51.100.7", t0 + 5 * minute));  // 10:10, live
  ASSERT_EQ(h.out.size(), 1u);
  EXPECT_EQ(format_iso8601(h.out[0].bin_start), "2026-01-15T10:10:00Z");
  // UUIDv5 over "<rule id>|198.51.100.7|2026-01-15T10:05:00Z|incident" (Python's uuid5).
  EXPECT_EQ(h.out[0].incident_id, "998e6a42-d704-5241-8e78-f16a5257b7dc");
}

}  // namespace
}  // namespace portscand
