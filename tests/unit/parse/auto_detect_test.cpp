// Sticky auto-detection (unit_decoder): a stream keeps its winning format while its probe
// claims the units, switches at the first unit it refuses, keeps the header state of the
// formats that have headers across switches, and first-byte dispatch (probe_scope) never
// skips a probe that would have claimed a unit.

#include <gtest/gtest.h>

#include <filesystem>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "parse/probe_util.hpp"
#include "parse_test_util.hpp"

namespace portscand::test {
namespace {

// Everything one decode() reported, as comparable text, and the format it named.
struct outcome {
  std::string format;
  std::vector<std::string> events;
  bool operator==(const outcome&) const = default;
};

class transcript_sink final : public parse_sink {
 public:
  void record(const network_session& s) override {
    std::ostringstream o;
    o << "record src=" << s.src.to_string() << " dst=" << (s.has_dst ? s.dst.to_string() : "-")
      << " dst_port=" << s.dst_port << " time=" << s.time << " protocol=" << s.protocol
      << " action=" << to_string(s.action) << " reported_by=" << label(s.reported_by);
    events.push_back(o.str());
  }
  void skipped(std::string_view reason) override {
    events.push_back("skipped " + std::string(reason));
  }
  void rejected(std::string_view reason) override {
    events.push_back("rejected " + std::string(reason));
  }
  void ignored_field(std::string_view reason) override {
    events.push_back("ignored_field " + std::string(reason));
  }
  std::vector<std::string> events;
};

outcome decode(unit_decoder& d, std::string_view unit) {
  transcript_sink sink;
  d.decode(unit, parse_context{}, sink);
  return {std::string(d.last_format()), std::move(sink.events)};
}

// What the format's own decoder, fresh, makes of the unit: the independent reference.
outcome fixed(std::string_view format, std::string_view unit) {
  unit_decoder d(builtin_formats(), format);
  return decode(d, unit);
}

// The first line of a fixture that its format turns into exactly one record.
std::string first_session(const std::string& format, const std::string& rel) {
  for (const auto& line : fixture_lines(rel)) {
    const outcome o = fixed(format, line);
    if (o.events.size() == 1 && o.events[0].starts_with("record ")) return line;
  }
  ADD_FAILURE() << "no session line in " << rel;
  return {};
}

const std::string asim_line =
    R"({"TimeGenerated":"2026-11-28T10:05:10Z","SrcIpAddr":"203.0.113.7",)"
    R"("DstIpAddr":"198.51.100.1","DstPortNumber":22,"NetworkProtocol":"TCP",)"
    R"("DvcAction":"Deny","EventVendor":"Fortinet","EventProduct":"Fortigate"})";

TEST(StickyAutoDetection, AStreamThatSwitchesFormatIsDetectedUnitByUnit) {
  const std::string cef = first_session("cef", "cef/elastic-cef-checkpoint-asa.cef");
  const std::string asa = first_session("cisco-asa", "cisco-asa/test-sample.log");
  unit_decoder d(builtin_formats(), "auto");
  // ASIM, then CEF, then ASA, then ASIM again: each winner stops matching at the switch.
  const std::vector<std::pair<std::string, std::string>> stream = {
      {"asim", asim_line}, {"asim", asim_line}, {"cef", cef},       {"cef", cef},
      {"cisco-asa", asa},  {"asim", asim_line}, {"cisco-asa", asa}, {"cef", cef}};
  for (const auto& [format, unit] : stream) {
    SCOPED_TRACE(format);
    const outcome got = decode(d, unit);
    EXPECT_EQ(got, fixed(format, unit));
    EXPECT_EQ(got.format, format);
  }
  // The ASIM record by hand: the values of asim_line.
  const outcome a = decode(d, asim_line);
  ASSERT_EQ(a.events.size(), 1u);
  EXPECT_NE(a.events[0].find("src=203.0.113.7 dst=198.51.100.1 dst_port=22"), std::string::npos)
      << a.events[0];
}

TEST(StickyAutoDetection, AUnitNoFormatClaimsIsRejectedAndTheWinnerStillWorksAfterIt) {
  unit_decoder d(builtin_formats(), "auto");
  EXPECT_EQ(decode(d, asim_line).format, "asim");
  const outcome unknown = decode(d, "hello world");
  EXPECT_EQ(unknown.format, "");
  EXPECT_EQ(unknown.events, std::vector<std::string>{"rejected unknown_format"});
  // A JSON object no probe knows: the same rejection, not an ASIM one.
  EXPECT_EQ(decode(d, R"({"something":"else"})").events,
            std::vector<std::string>{"rejected unknown_format"});
  const outcome again = decode(d, asim_line);
  EXPECT_EQ(again.format, "asim");
  ASSERT_EQ(again.events.size(), 1u);
  EXPECT_TRUE(again.events[0].starts_with("record src=203.0.113.7")) << again.events[0];
}

// More formats interleaved than the decoder keeps as recent winners: every unit still goes
// to its own format, whichever winners are remembered when it arrives.
TEST(StickyAutoDetection, InterleavingMoreFormatsThanItRemembersStillDetectsEachUnit) {
  const std::vector<std::pair<std::string, std::string>> lines = {
      {"asim", asim_line},
      {"cef", first_session("cef", "cef/elastic-cef-checkpoint-asa.cef")},
      {"cisco-asa", first_session("cisco-asa", "cisco-asa/test-sample.log")},
      {"fortigate", first_session("fortigate", "fortigate/test-fortinet.log")},
      {"iptables", first_session("iptables", "iptables/test-iptables-raw.log")},
      {"panos", first_session("panos", "panos/test-panw-panos-traffic-sample.first34.log")},
      {"vmconnection", first_session("vmconnection", "vmconnection/handmade.jsonl")},
      {"meraki", first_session("meraki", "meraki/test-flows.log")}};
  ASSERT_GT(lines.size(), unit_decoder::max_recent + 1);
  unit_decoder d(builtin_formats(), "auto");
  for (int round = 0; round < 3; ++round) {
    for (std::size_t i = 0; i < lines.size(); ++i) {
      // Round 1 in order, round 2 backwards, round 3 every other one first.
      const std::size_t k = round == 0   ? i
                            : round == 1 ? lines.size() - 1 - i
                                         : (i * 2 + i * 2 / lines.size()) % lines.size();
      const auto& [format, unit] = lines[k];
      SCOPED_TRACE(format + " in round " + std::to_string(round));
      const outcome got = decode(d, unit);
      EXPECT_EQ(got.format, format);
      EXPECT_EQ(got, fixed(format, unit));
    }
  }
}

// Zeek TSV: a #fields header that reorders the columns, then other formats, then conn
// rows: the rows are read in the header's order (the zeek-conn parser instance, and its
// header state, outlive the switch).
TEST(StickyAutoDetection, ZeekHeaderStateSurvivesASwitchToOtherFormats) {
  const std::string cef = first_session("cef", "cef/elastic-cef-checkpoint-asa.cef");
  unit_decoder d(builtin_formats(), "auto");
  EXPECT_EQ(decode(d, "#separator \\x09").events, std::vector<std::string>{"skipped header"});
  EXPECT_EQ(decode(d, "#fields\tts\tuid\tid.resp_h\tid.resp_p\tid.orig_h\tid.orig_p\tproto").events,
            std::vector<std::string>{"skipped header"});
  EXPECT_EQ(decode(d, asim_line).format, "asim");
  EXPECT_EQ(decode(d, cef).format, "cef");
  const outcome row =
      decode(d, "1700000000.000001\tCabc1\t198.51.100.5\t8080\t203.0.113.20\t51515\ttcp");
  EXPECT_EQ(row.format, "zeek-conn");
  ASSERT_EQ(row.events.size(), 1u);
  EXPECT_TRUE(row.events[0].starts_with("record src=203.0.113.20 dst=198.51.100.5 dst_port=8080"))
      << row.events[0];
  // A decoder that never saw the header expects Zeek's default columns (20 or so): 7 are
  // too few.
  EXPECT_EQ(fixed("zeek-conn",
                  "1700000000.000001\tCabc1\t198.51.100.5\t8080\t203.0.113.20\t"
                  "51515\ttcp")
                .events,
            std::vector<std::string>{"rejected missing_columns"});
}

// AWS VPC: a custom-format header (srcaddr second), ASIM and ASA units, then a record in the
// header's layout. Without the header the default v2 layout reads the 14th field,
// "eni-0a1b2c3d", as log-status.
TEST(StickyAutoDetection, AwsVpcHeaderStateSurvivesASwitchToOtherFormats) {
  const std::string asa = first_session("cisco-asa", "cisco-asa/test-sample.log");
  const std::string header =
      "version srcaddr dstaddr srcport dstport protocol packets bytes start end action "
      "log-status account-id interface-id";
  const std::string record =
      "2 203.0.113.30 198.51.100.7 40000 3389 6 1 40 1700000000 1700000060 REJECT OK "
      "123456789010 eni-0a1b2c3d";
  unit_decoder d(builtin_formats(), "auto");
  const outcome h = decode(d, header);
  EXPECT_EQ(h.format, "aws-vpc");
  EXPECT_EQ(h.events, std::vector<std::string>{"skipped header"});
  EXPECT_EQ(decode(d, asim_line).format, "asim");
  EXPECT_EQ(decode(d, asa).format, "cisco-asa");
  const outcome r = decode(d, record);
  EXPECT_EQ(r.format, "aws-vpc");
  ASSERT_EQ(r.events.size(), 1u);
  EXPECT_TRUE(
      r.events[0].starts_with("record src=203.0.113.30 dst=198.51.100.7 dst_port=3389 "
                              "time=1700000000000000"))
      << r.events[0];
  EXPECT_EQ(fixed("aws-vpc", record).events, std::vector<std::string>{"rejected bad_log_status"});
}

// The JSON formats' probes never look for an envelope's keys, so a Filebeat event after a
// run of ASIM records is still unwrapped, and ASIM after it is ASIM again.
TEST(StickyAutoDetection, AnEnvelopeAfterAJsonWinnerIsStillUnwrapped) {
  const std::vector<std::string> filebeat = fixture_lines("envelopes/filebeat.ndjson");
  ASSERT_FALSE(filebeat.empty());
  unit_decoder d(builtin_formats(), "auto");
  EXPECT_EQ(decode(d, asim_line).format, "asim");
  transcript_sink sink;
  d.decode(filebeat[0], parse_context{}, sink);
  EXPECT_EQ(d.last_envelope(), "filebeat");
  EXPECT_EQ(d.last_format(), "cef");
  EXPECT_EQ(decode(d, asim_line).format, "asim");
}

// The sticky winner parses the next unit without its probe when its format claims units
// (ASIM, Suricata EVE): a stream alternating record by record between claiming formats and
// others still gives every unit to its own format, and a disowned unit reports nothing of
// the winner's (the transcript is exactly the other format's).
TEST(StickyAutoDetection, AStreamAlternatingRecordByRecordReachesEachFormat) {
  const std::string eve = first_session("suricata-eve", "suricata-eve/test-eve-small.log");
  const std::string flow = first_session("flow-json", "flow-json/flows.jsonl");
  const std::string cef = first_session("cef", "cef/elastic-cef-checkpoint-asa.cef");
  const std::string asa = first_session("cisco-asa", "cisco-asa/test-sample.log");
  const std::string vm = first_session("vmconnection", "vmconnection/handmade.jsonl");
  const std::vector<std::pair<std::string, std::string>> cycle = {
      {"asim", asim_line},   {"suricata-eve", eve}, {"asim", asim_line}, {"flow-json", flow},
      {"suricata-eve", eve}, {"cef", cef},          {"asim", asim_line}, {"cisco-asa", asa},
      {"suricata-eve", eve}, {"vmconnection", vm},  {"asim", asim_line}, {"asim", asim_line},
      {"suricata-eve", eve}, {"suricata-eve", eve}, {"flow-json", flow}};
  unit_decoder d(builtin_formats(), "auto");
  for (int round = 0; round < 2; ++round) {
    for (const auto& [format, unit] : cycle) {
      SCOPED_TRACE(format + " in round " + std::to_string(round));
      const outcome got = decode(d, unit);
      EXPECT_EQ(got.format, format);
      EXPECT_EQ(got, fixed(format, unit));
    }
  }
}

// A malformed record of the winner's format is the winner's to reject, with its own reason:
// not re-detected into unknown_format, and the winner stays.
TEST(StickyAutoDetection, AMalformedRecordOfTheWinnersFormatKeepsItsRejectionReason) {
  unit_decoder d(builtin_formats(), "auto");
  ASSERT_EQ(decode(d, asim_line).format, "asim");
  const std::vector<std::pair<std::string, std::string>> bad = {
      {R"({"SrcIpAddr":"not-an-address","DstPortNumber":22})", "rejected bad_src_ip"},
      {R"({"TimeGenerated":"yesterday","SrcIpAddr":"203.0.113.7"})", "rejected bad_time"},
      {R"({"SrcIpAddr":"203.0.113.7","DstPortNumber":70000})", "rejected bad_dst_port"},
      {R"({"SrcIpAddr":"203.0.113.7","DstPortNumber":)", "rejected invalid_json"},
      {R"({"SrcIpAddr":"","DstPortNumber":22})", "rejected missing_src_ip"}};
  for (const auto& [unit, reason] : bad) {
    SCOPED_TRACE(unit);
    const outcome got = decode(d, unit);
    EXPECT_EQ(got.format, "asim");
    EXPECT_EQ(got.events, std::vector<std::string>{reason});
    EXPECT_EQ(got, fixed("asim", unit));
    EXPECT_EQ(decode(d, asim_line).format, "asim");
  }
  // Suricata's: a flow event whose source is unreadable, and one without event_type's value.
  const std::string eve = first_session("suricata-eve", "suricata-eve/test-eve-small.log");
  ASSERT_EQ(decode(d, eve).format, "suricata-eve");
  const std::string bad_eve =
      R"({"timestamp":"2024-01-01T00:00:00.000000+0000","event_type":"flow",)"
      R"("src_ip":"nope","dest_ip":"198.51.100.1","dest_port":22,"proto":"TCP"})";
  EXPECT_EQ(decode(d, bad_eve).events, std::vector<std::string>{"rejected bad_src_ip"});
  EXPECT_EQ(d.last_format(), "suricata-eve");
  EXPECT_EQ(decode(d, R"({"timestamp":"2024-01-01T00:00:00Z","event_type":null})").events,
            std::vector<std::string>{"rejected missing_event_type"});
  EXPECT_EQ(d.last_format(), "suricata-eve");
}

// Envelopes after bare records of a claiming winner are unwrapped (the winner disowns them),
// a run of envelopes keeps being unwrapped, and bare records after them are the winner's.
TEST(StickyAutoDetection, EnvelopesAfterBareRecordsAreUnwrappedAndBareRecordsAfterThem) {
  const std::vector<std::string> filebeat = fixture_lines("envelopes/filebeat.ndjson");
  const std::vector<std::string> vector = fixture_lines("envelopes/vector.ndjson");
  ASSERT_GE(filebeat.size(), 2u);
  ASSERT_FALSE(vector.empty());
  const std::string eve = first_session("suricata-eve", "suricata-eve/test-eve-small.log");
  unit_decoder reference(builtin_formats(), "auto");
  unit_decoder d(builtin_formats(), "auto");
  for (const std::string& bare : {asim_line, eve}) {
    ASSERT_FALSE(decode(d, bare).events.empty());
    for (const std::string& unit : {filebeat[0], filebeat[1], vector[0], filebeat[0]}) {
      const outcome got = decode(d, unit);
      EXPECT_NE(d.last_envelope(), "") << unit;
      EXPECT_EQ(got, decode(reference, unit)) << unit;
    }
    const outcome again = decode(d, bare);
    EXPECT_EQ(d.last_envelope(), "");
    EXPECT_EQ(again, decode(reference, bare));
  }
}

// For each format whose parser claims units, over every fixture line: with that format as
// the sticky winner, each line decodes as a decoder without a winner decodes it (its format
// found by the probes in registry order), so the claim in the parse agrees with the probe.
TEST(StickyAutoDetection, AClaimingWinnerTakesWhatDetectionWouldGiveIt) {
  std::vector<std::string> units;
  for (const auto& entry :
       std::filesystem::recursive_directory_iterator(std::string(PORTSCAND_FIXTURES))) {
    if (!entry.is_regular_file()) continue;
    const std::string rel =
        std::filesystem::relative(entry.path(), std::string(PORTSCAND_FIXTURES)).string();
    if (rel.find("expected") != std::string::npos) continue;
    for (auto& line : fixture_lines(rel)) units.push_back(std::move(line));
  }
  std::size_t claiming = 0;
  for (const auto& e : builtin_formats().entries()) {
    if (!e.claims) continue;
    ++claiming;
    std::string primer;
    for (const auto& unit : units) {
      if (!e.probe(std::string_view(unit).substr(0, probe_window))) continue;
      const outcome o = fixed(e.name, unit);
      if (o.events.size() == 1 && o.events[0].starts_with("record ")) {
        primer = unit;
        break;
      }
    }
    ASSERT_FALSE(primer.empty()) << e.name;
    for (const auto& unit : units) {
      unit_decoder sticky(builtin_formats(), "auto");
      ASSERT_EQ(decode(sticky, primer).format, e.name);
      unit_decoder fresh(builtin_formats(), "auto");
      EXPECT_EQ(decode(sticky, unit), decode(fresh, unit))
          << e.name << " winning: " << std::string_view(unit).substr(0, 160);
    }
  }
  EXPECT_GE(claiming, 2u);
}

// First-byte dispatch skips a probe only where its scope says it cannot match. Checked over
// every line of every fixture (all formats, envelopes, samples of things that are no format)
// and units whose first bytes sit on the edges of the rules.
TEST(ProbeScope, NoProbeClaimsAUnitItsScopeRulesOut) {
  std::vector<std::string> units = {
      "{\"SrcIpAddr\":\"1.2.3.4\"}",
      " {\"SrcIpAddr\":\"1.2.3.4\"}",
      "\t{\"SrcIpAddr\":\"1\"}",
      "\r\n{\"SrcIpAddr\":\"1\"}",
      "[{\"SrcIpAddr\":\"1.2.3.4\"}]",
      "\tCEF:0|a|b|1|x|y|1|src=1.2.3.4",
      "{CEF:0|a|b|1|x|y|1|src=1.2.3.4",
      "[CEF:0|a|b|1|x|y|1|src=1.2.3.4",
      "{ %ASA-4-106023: Deny tcp src a:1.2.3.4/1 dst b:5.6.7.8/53 by access-group \"x\"",
      "\t{ %ASA-4-106023: Deny tcp src a:1.2.3.4/1 dst b:5.6.7.8/53 by access-group \"x\"",
      "[2 123 eni-1 1.2.3.4 5.6.7.8 1 2 6 1 1 1 2 ACCEPT OK",
      "version srcaddr dstaddr"};
  std::size_t files = 0;
  for (const auto& entry :
       std::filesystem::recursive_directory_iterator(std::string(PORTSCAND_FIXTURES))) {
    if (!entry.is_regular_file()) continue;
    const std::string rel =
        std::filesystem::relative(entry.path(), std::string(PORTSCAND_FIXTURES)).string();
    for (auto& line : fixture_lines(rel)) units.push_back(std::move(line));
    ++files;
  }
  ASSERT_GT(files, 50u);
  std::size_t ruled_out = 0;
  for (const auto& unit : units) {
    const std::string_view head = std::string_view(unit).substr(0, probe_window);
    const probe_shape shape = probe_shape::of(head);
    for (const auto& e : builtin_formats().entries()) {
      if (shape.admits(e)) continue;
      ++ruled_out;
      EXPECT_FALSE(e.probe(head)) << e.name
                                  << " claims a unit its scope rules out: " << head.substr(0, 120);
    }
  }
  EXPECT_GT(ruled_out, 1000u);
}

TEST(ProbeScope, TheShapeOfAUnitReadsItsFirstBytes) {
  EXPECT_TRUE(probe_shape::of("{\"a\":1}").json);
  EXPECT_TRUE(probe_shape::of("{\"a\":1}").brace_at_0);
  EXPECT_TRUE(probe_shape::of(" \r\n\t[1]").json);
  EXPECT_FALSE(probe_shape::of(" \r\n\t[1]").brace_at_0);
  EXPECT_FALSE(probe_shape::of("CEF:0|{").json);
  EXPECT_FALSE(probe_shape::of("").json);
  EXPECT_FALSE(probe_shape::of("   ").json);
}

// probe_find against std::string_view::find: every needle length (1..20) at every position
// and offset, over text with many near-misses (a small alphabet), including matches that end
// on the last byte and haystacks shorter than one 16-byte block.
TEST(ProbeFind, FindsWhatStringViewFindFinds) {
  std::mt19937 rng(12);
  std::uniform_int_distribution<int> pick(0, 3);
  const char alphabet[] = {'"', 'a', 'b', ':'};
  for (int round = 0; round < 400; ++round) {
    std::string hay(static_cast<std::size_t>(round % 90), ' ');
    for (auto& c : hay) c = alphabet[pick(rng)];
    for (std::size_t n = 1; n <= 20; ++n) {
      std::string needle(n, ' ');
      for (auto& c : needle) c = alphabet[pick(rng)];
      if (!hay.empty() && n <= hay.size() && round % 3 == 0)
        needle = hay.substr(hay.size() - n);  // a match on the last byte
      for (std::size_t from = 0; from <= hay.size() + 1; ++from)
        ASSERT_EQ(probe_find(hay, needle, from), std::string_view(hay).find(needle, from))
            << "hay=" << hay << " needle=" << needle << " from=" << from;
    }
  }
  EXPECT_EQ(probe_find("abc", ""), 0u);
  EXPECT_EQ(probe_find("", "a"), std::string_view::npos);
  EXPECT_TRUE(probe_has(R"({"a":1,"SrcIpAddr":"x"})", R"("SrcIpAddr")"));
  EXPECT_FALSE(probe_has(R"({"a":"\"SrcIpAddr\""})", R"("SrcIpAddr")"));
}

}  // namespace
}  // namespace portscand::test
