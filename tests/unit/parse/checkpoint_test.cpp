#include <gtest/gtest.h>

#include "../test_names.hpp"
#include "core/time_zone.hpp"
#include "firewall_test_util.hpp"

namespace portscand::test {
namespace {

const std::string drops = "checkpoint/test-packet-drop.log";
const std::string drops_expected = "checkpoint/test-packet-drop.log-expected-normalized.jsonl";
const std::string r81x = "checkpoint/test-r81x.log";
const std::string r81x_derived = "checkpoint/test-r81x.log-derived-fields.jsonl";

// The body a syslog header parser hands over: from the first SD element on.
std::string body_of(const std::string& line) {
  return line.substr(line.find('['));
}

TEST(Checkpoint, EveryDroppedPacketOfTheOptimizedDropLogsIsASessionAsUpstreamExpects) {
  const auto lines = fixture_lines(drops);
  ASSERT_EQ(lines.size(), 4u);
  json_rows rows(drops_expected);
  ASSERT_EQ(rows.size(), 4u);
  std::size_t total = 0;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    auto row = rows.row(i);
    const auto n = static_cast<std::size_t>(*int_field(row, "line"));
    const auto ts = parse_iso8601(*str_field(row, "@timestamp"));
    ASSERT_TRUE(ts.has_value());
    EXPECT_EQ(*str_field(row, "event.action"), "Drop");
    for (const std::string& unit : {lines.at(n - 1), body_of(lines.at(n - 1))}) {
      const auto s = parse_with("checkpoint", unit);
      std::size_t r = 0, tuples = 0;
      for (auto t : simdjson::dom::array(row["checkpoint.packets_dropped"])) {
        ++tuples;
        const auto port = *int_field(t, "destination.port");
        if (port > 65535) continue;  // see the next test
        ASSERT_LT(r, s.records.size()) << n;
        const auto& rec = s.records[r++];
        EXPECT_EQ(ip(rec.src), *str_field(t, "source.ip")) << n;
        EXPECT_EQ(ip(rec.dst), *str_field(t, "destination.ip")) << n;
        EXPECT_EQ(rec.dst_port, port) << n;
        EXPECT_EQ(rec.protocol, *int_field(t, "network.iana_number")) << n;
        EXPECT_EQ(rec.action, dvc_action::drop) << n;
        EXPECT_EQ(label(rec.reported_by), "Check Point/Firewall") << n;
        // The body's time:"<epoch>" and the header time upstream used agree.
        ASSERT_TRUE(rec.has_time) << n;
        EXPECT_EQ(rec.time, *ts) << n;
      }
      EXPECT_EQ(r, s.records.size()) << n;
      EXPECT_EQ(s.records.size() + s.rejects.size(), tuples) << n;
      if (unit == lines.at(n - 1)) total += s.records.size();
    }
  }
  EXPECT_EQ(total, 16u);  // 5 + 3 + 5 + 3
}

TEST(Checkpoint, TuplesWithPortsAbove65535AreRejectedWhereUpstreamKeepsThem) {
  // Line 4's test values include ports 78901 and 90123 (upstream copies them into
  // destination.port unchecked). A port outside 0..65535 is malformed for us.
  const auto s = parse_with("checkpoint", fixture_lines(drops).at(3));
  EXPECT_EQ(s.records.size(), 3u);
  EXPECT_EQ(s.rejects, (std::vector<std::string>{"bad_dst_port", "bad_dst_port"}));
  EXPECT_EQ(label(s.records.at(0).device), "FWSC-RANDOM");
}

TEST(Checkpoint, TheDeviceIsTheCommonNameOfOriginsicname) {
  EXPECT_EQ(label(parse_with("checkpoint", fixture_lines(drops).at(0)).records.at(0).device),
            "cp_mgmt");
  EXPECT_EQ(label(parse_with("checkpoint", fixture_lines(drops).at(2)).records.at(0).device), "fw");
}

dvc_action expected_action(const std::optional<std::string>& a) {
  if (!a) return dvc_action::unknown;
  if (*a == "Accept") return dvc_action::allow;
  if (*a == "Drop") return dvc_action::drop;
  if (*a == "Block" || *a == "Reject") return dvc_action::deny;
  return dvc_action::unknown;
}

TEST(Checkpoint, EveryFirewallConnectionOfTheR81xSampleMatchesTheCrossCheckFile) {
  const auto lines = fixture_lines(r81x);
  ASSERT_EQ(lines.size(), 19u);
  json_rows rows(r81x_derived);
  std::vector<std::size_t> sessions;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    auto row = rows.row(i);
    const auto n = static_cast<std::size_t>(*int_field(row, "line"));
    const auto src = str_field(row, "src");
    for (const std::string& unit : {lines.at(n - 1), body_of(lines.at(n - 1))}) {
      const auto s = parse_with("checkpoint", unit);
      // ASIM's Check Point parser reads the firewall blade only: line 4 (a WEB_API audit
      // record spliced into a connection log) and lines 17-18 (Anti Malware) are skipped.
      if (*str_field(row, "product") != "VPN-1 & FireWall-1") {
        EXPECT_TRUE(s.records.empty()) << n;
        EXPECT_EQ(s.skips, std::vector<std::string>{"not_firewall"}) << n;
        continue;
      }
      ASSERT_TRUE(src.has_value()) << n;
      ASSERT_EQ(s.records.size(), 1u) << n;
      const auto& r = s.records[0];
      EXPECT_EQ(ip(r.src), *src) << n;
      const auto dst = str_field(row, "dst");
      EXPECT_EQ(r.has_dst, dst.has_value()) << n;  // line 10 has no dst
      if (dst) {
        EXPECT_EQ(ip(r.dst), *dst) << n;
      }
      const auto service = int_field(row, "service");
      EXPECT_EQ(r.dst_port, service ? *service : network_session::no_port) << n;
      EXPECT_EQ(r.protocol, *int_field(row, "proto")) << n;
      EXPECT_EQ(r.action, expected_action(str_field(row, "action"))) << n;
      EXPECT_EQ(label(r.reported_by), "Check Point/Firewall") << n;
      const auto epoch = int_field(row, "time_epoch");
      // Lines 2-3 (Fields@ form) have no time of their own; their header time is malformed
      // ("--5:00") anyway, and no header parser ran here.
      EXPECT_EQ(r.has_time, epoch.has_value()) << n;
      if (epoch) {
        EXPECT_EQ(r.time, *epoch * us_per_second) << n;
      }
      if (unit == lines.at(n - 1)) sessions.push_back(n);
    }
  }
  EXPECT_EQ(sessions, (std::vector<std::size_t>{2, 3, 5, 10, 19}));
}

TEST(Checkpoint, RecordsWithoutAConnectionAreSkippedNotRejected) {
  const auto lines = fixture_lines(r81x);
  std::size_t records = 0, skips = 0, rejects = 0;
  for (const auto& l : lines) {
    const auto s = parse_with("checkpoint", l);
    records += s.records.size();
    skips += s.skips.size();
    rejects += s.rejects.size();
  }
  EXPECT_EQ(records, 5u);
  EXPECT_EQ(skips, 14u);
  EXPECT_EQ(rejects, 0u);
  // Line 11: a System Monitor record, and line 13: no product and no connection.
  EXPECT_EQ(parse_with("checkpoint", lines.at(10)).skips, std::vector<std::string>{"not_firewall"});
  EXPECT_EQ(parse_with("checkpoint", lines.at(12)).skips,
            std::vector<std::string>{"no_connection"});
}

TEST(Checkpoint, SystemMessagesAreSkippedAsNotASessionNotRejectedAsTruncated) {
  // The Log Exporter writes `sys_message::"..."` (two colons): once read as a cut record.
  for (const auto& l : fixture_lines("checkpoint/test-checkpoint.first2.log")) {
    const auto s = parse_with("checkpoint", l);
    EXPECT_TRUE(s.records.empty()) << l;
    EXPECT_TRUE(s.rejects.empty()) << l;
    EXPECT_EQ(s.skips, std::vector<std::string>{"system_message"}) << l;
    EXPECT_EQ(parse_with("auto", l).skips, std::vector<std::string>{"system_message"}) << l;
  }
  // Without a product, and in the single-colon spelling, it is still a system message.
  EXPECT_EQ(
      parse_with("checkpoint", R"([origin:"192.0.2.1"; sys_message:"installed Standard"])").skips,
      std::vector<std::string>{"system_message"});
}

TEST(Checkpoint, ADoubledColonIsSteppedOverOnlyInFrontOfAQuote) {
  // A connection record's values after a `key::"v"` pair are still read.
  const auto s =
      parse_with("checkpoint", R"([sys_message::"note"; src:"203.0.113.8"; dst:"198.51.100.3"; )"
                               R"(service:"22"; proto:"6"; product:"VPN-1 & FireWall-1"])");
  ASSERT_EQ(s.records.size(), 1u);
  EXPECT_EQ(s.records[0].dst_port, 22);
  // `key::value` without a quote is an unquoted value starting with ':' (as before).
  EXPECT_EQ(parse_with("checkpoint", R"([src:"203.0.113.8"; service::22])").rejects,
            std::vector<std::string>{"bad_dst_port"});
}

TEST(Checkpoint, FieldsAtBodyTakesTheHeaderTimeAndHostFromTheContext) {
  parse_context ctx;
  ctx.header_time = 1'673'622'616 * us_per_second;
  ctx.host = "172.16.2.9";
  const auto s = parse_with("checkpoint", body_of(fixture_lines(r81x).at(1)), ctx);
  ASSERT_EQ(s.records.size(), 1u);
  EXPECT_TRUE(s.records[0].has_time);
  EXPECT_EQ(s.records[0].time, ctx.header_time);
  EXPECT_EQ(label(s.records[0].device), "172.16.2.9");
  EXPECT_EQ(s.records[0].dst_port, 443);
}

TEST(Checkpoint, PairsWithoutBracketsParseLikeTheBracketedBlock) {
  const std::string line = fixture_lines(r81x).at(18);
  std::string bare = body_of(line);
  bare = bare.substr(1, bare.size() - 2);  // drop '[' and ']'
  const auto a = parse_with("checkpoint", line);
  const auto b = parse_with("checkpoint", bare);
  ASSERT_EQ(a.records.size(), 1u);
  ASSERT_EQ(b.records.size(), 1u);
  EXPECT_TRUE(same_session(a.records[0], b.records[0]));
  EXPECT_EQ(detected_format(bare), "checkpoint");
}

const std::string conn_head =
    R"([product:"VPN-1 & FireWall-1"; src:"203.0.113.8"; dst:"198.51.100.3"; proto:"6"; )"
    R"(service:"445"; time:"1700000000"; )";

TEST(Checkpoint, ActionsMapLikeAsim) {
  auto action = [](const char* a) {
    return parse_with("checkpoint", conn_head + "action:\"" + a + "\"]").records.at(0).action;
  };
  EXPECT_EQ(action("Accept"), dvc_action::allow);
  EXPECT_EQ(action("Allow"), dvc_action::allow);
  EXPECT_EQ(action("Bypass"), dvc_action::allow);
  EXPECT_EQ(action("Drop"), dvc_action::drop);
  EXPECT_EQ(action("Reject"), dvc_action::deny);
  EXPECT_EQ(action("Block"), dvc_action::deny);
  EXPECT_EQ(action("Encrypt"), dvc_action::encrypt);
  EXPECT_EQ(action("Decrypt"), dvc_action::decrypt);
  EXPECT_EQ(action("Dropped"), dvc_action::unknown);
}

TEST(Checkpoint, EscapedQuotesAndBracketsStayInsideTheirValues) {
  const auto s = parse_with(
      "checkpoint", R"([policy:"Std\]"; msg:"say \"src:\\\"1.1.1.1\\\"\""; src:"203.0.113.8"; )"
                    R"(dst:"198.51.100.3"; service:"22"; proto:"6"; tag:"x\\"])");
  ASSERT_EQ(s.records.size(), 1u);
  EXPECT_EQ(ip(s.records[0].src), "203.0.113.8");
  EXPECT_EQ(s.records[0].dst_port, 22);
}

TEST(Checkpoint, TimeIsEpochSecondsOrIso8601) {
  const std::string pairs = R"([src:"203.0.113.8"; service:"22"; time:")";
  EXPECT_EQ(format_iso8601(parse_with("checkpoint", pairs + "1677657520\"]").records.at(0).time),
            "2023-03-01T07:58:40Z");
  EXPECT_EQ(format_iso8601(
                parse_with("checkpoint", pairs + "2023-03-01T07:58:40Z\"]").records.at(0).time),
            "2023-03-01T07:58:40Z");
}

TEST(Checkpoint, AnIso8601TimeWithoutOffsetIsReadInTheInputsTimeZone) {
  std::string error;
  auto zone = local_zone::find("-05:00", error);
  ASSERT_TRUE(zone) << error;
  parse_context ctx;
  ctx.zone = &*zone;
  const std::string pairs = R"([src:"203.0.113.8"; service:"22"; time:")";
  EXPECT_EQ(format_iso8601(
                parse_with("checkpoint", pairs + "2023-03-01T07:58:40\"]", ctx).records.at(0).time),
            "2023-03-01T12:58:40Z");
  // An offset in the value and epoch seconds are not the input zone's business.
  EXPECT_EQ(
      format_iso8601(
          parse_with("checkpoint", pairs + "2023-03-01T07:58:40Z\"]", ctx).records.at(0).time),
      "2023-03-01T07:58:40Z");
  EXPECT_EQ(
      format_iso8601(parse_with("checkpoint", pairs + "1677657520\"]", ctx).records.at(0).time),
      "2023-03-01T07:58:40Z");
}

TEST(Checkpoint, TheNewerFirewallProductNameCountsToo) {
  const auto s =
      parse_with("checkpoint",
                 R"([product:"Firewall"; src:"203.0.113.8"; dst:"198.51.100.3"; service:"8080"])");
  ASSERT_EQ(s.records.size(), 1u);
  EXPECT_EQ(s.records[0].dst_port, 8080);
}

struct malformed_case {
  const char* why;
  std::string input;
  const char* reason;
};

class CheckpointMalformed : public ::testing::TestWithParam<malformed_case> {};

TEST_P(CheckpointMalformed, IsRejectedWithItsReasonAndNeverYieldsARecord) {
  const auto& c = GetParam();
  const auto s = parse_with("checkpoint", c.input);
  EXPECT_TRUE(s.records.empty()) << c.why;
  ASSERT_EQ(s.rejects.size(), 1u) << c.why;
  EXPECT_EQ(s.rejects[0], c.reason) << c.why;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, CheckpointMalformed,
    ::testing::Values(
        malformed_case{"no pairs at all", "just some text", "no_checkpoint_pairs"},
        malformed_case{"record cut inside a value", R"([src:"203.0.113.8"; dst:"198.51)",
                       "truncated_record"},
        malformed_case{"a quote where a key belongs", R"([src:"203.0.113.8"; "dst":"x"])",
                       "truncated_record"},
        malformed_case{"source is not an address", R"([src:"host-a"; dst:"198.51.100.3"])",
                       "bad_src_ip"},
        malformed_case{"service is a name", R"([src:"203.0.113.8"; service:"https"])",
                       "bad_dst_port"},
        malformed_case{"service above 65535", R"([src:"203.0.113.8"; service:"65536"])",
                       "bad_dst_port"},
        malformed_case{"time is not a number", R"([src:"203.0.113.8"; time:"yesterday"])",
                       "bad_time"},
        malformed_case{"tuple with four parts",
                       R"([action:"Drop"; packets:"<203.0.113.8,1,198.51.100.3,22>"])",
                       "bad_packet_tuple"},
        malformed_case{"tuple never closed",
                       R"([action:"Drop"; packets:"<203.0.113.8,1,198.51.100.3,22,6"])",
                       "bad_packet_tuple"},
        malformed_case{"tuple source is not an address",
                       R"([action:"Drop"; packets:"<x,1,198.51.100.3,22,6>"])", "bad_src_ip"}),
    why_name{});

TEST(Checkpoint, TheProbeRecognisesEverySampleLineAndBody) {
  for (const char* rel : {"checkpoint/test-r81x.log", "checkpoint/test-packet-drop.log"})
    for (const auto& l : fixture_lines(rel)) {
      EXPECT_EQ(detected_format(l), "checkpoint") << l;
      EXPECT_EQ(detected_format(body_of(l)), "checkpoint") << l;
    }
}

TEST(Checkpoint, TheProbeLeavesOtherFormatsAlone) {
  for (const auto& u : foreign_units()) EXPECT_NE(detected_format(u), "checkpoint") << u;
  for (const char* rel :
       {"fortigate/test-fortinet.log", "panos/test-panw-panos-traffic-sample.first34.log",
        "meraki/test-flows.log", "meraki/test-ip-flow.log"})
    for (const auto& l : fixture_lines(rel)) EXPECT_NE(detected_format(l), "checkpoint") << l;
}

TEST(Checkpoint, AutoDetectionYieldsTheSameRecordsAsTheFixedFormat) {
  for (const char* rel : {"checkpoint/test-r81x.log", "checkpoint/test-packet-drop.log"}) {
    const auto lines = fixture_lines(rel);
    expect_auto_matches("checkpoint", lines);
    std::vector<std::string> bodies;
    for (const auto& l : lines) bodies.push_back(body_of(l));
    expect_auto_matches("checkpoint", bodies);
  }
}

}  // namespace
}  // namespace portscand::test
