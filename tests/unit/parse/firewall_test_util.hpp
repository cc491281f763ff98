#pragma once

// Shared by the tests of the plain-text firewall formats (fortigate, panos, checkpoint,
// meraki): reading the corpus's jsonl cross-check files, comparing records, and units of
// other formats that a probe must not claim.

#include <gtest/gtest.h>
#include <simdjson.h>

#include <optional>
#include <string>
#include <vector>

#include "parse_test_util.hpp"

namespace portscand::test {

// One parsed line of a jsonl fixture; fields are read by name with the helpers below.
class json_rows {
 public:
  explicit json_rows(const std::string& rel) {
    for (const auto& line : fixture_lines(rel))
      if (!line.empty()) docs_.push_back(simdjson::padded_string(line));
  }
  std::size_t size() const { return docs_.size(); }
  simdjson::dom::element row(std::size_t i) { return parser_.parse(docs_.at(i)); }

 private:
  std::vector<simdjson::padded_string> docs_;
  simdjson::dom::parser parser_;
};

// A string field; nullopt when null or absent.
inline std::optional<std::string> str_field(simdjson::dom::element e, const char* key) {
  simdjson::dom::element v;
  if (e[key].get(v) != simdjson::SUCCESS || v.is_null()) return std::nullopt;
  std::string_view s;
  if (v.get(s) == simdjson::SUCCESS) return std::string(s);
  int64_t n;
  if (v.get(n) == simdjson::SUCCESS) return std::to_string(n);
  return std::nullopt;
}

// An integer field (a number or a numeric string); nullopt when null or absent.
inline std::optional<std::int64_t> int_field(simdjson::dom::element e, const char* key) {
  simdjson::dom::element v;
  if (e[key].get(v) != simdjson::SUCCESS || v.is_null()) return std::nullopt;
  int64_t n;
  if (v.get(n) == simdjson::SUCCESS) return n;
  std::string_view s;
  if (v.get(s) == simdjson::SUCCESS && !s.empty()) return std::stoll(std::string(s));
  return std::nullopt;
}

inline bool same_session(const network_session& a, const network_session& b) {
  return a.time == b.time && a.has_time == b.has_time && a.src == b.src && a.dst == b.dst &&
         a.has_dst == b.has_dst && a.dst_port == b.dst_port && a.protocol == b.protocol &&
         a.action == b.action && a.reported_by == b.reported_by && a.device == b.device;
}

// Parsing with "auto" gives exactly what the fixed format gives, line by line.
inline void expect_auto_matches(const std::string& format, const std::vector<std::string>& lines) {
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (lines[i].empty()) continue;
    const auto fixed = parse_with(format, lines[i]);
    const auto detected = parse_with("auto", lines[i]);
    ASSERT_EQ(fixed.records.size(), detected.records.size()) << "line " << i + 1;
    for (std::size_t r = 0; r < fixed.records.size(); ++r)
      EXPECT_TRUE(same_session(fixed.records[r], detected.records[r])) << "line " << i + 1;
    EXPECT_EQ(fixed.skips, detected.skips) << "line " << i + 1;
    EXPECT_EQ(fixed.rejects, detected.rejects) << "line " << i + 1;
  }
}

// The name of the format whose probe claims `unit` ("" when none does).
inline std::string detected_format(std::string_view unit) {
  const format_entry* e = builtin_formats().detect(unit);
  return e == nullptr ? std::string() : e->name;
}

// Units of other formats (written for these tests, documentation addresses), which the
// firewall probes must leave alone.
inline std::vector<std::string> foreign_units() {
  return {
      // CEF from a FortiGate: its extension keys embed FortiOS names (FTNTFGTlogid=).
      "<189>CEF:0|Fortinet|Fortigate|v7.0.5|00013|traffic:forward deny|3|deviceExternalId=FG100E "
      "FTNTFGTlogid=0000000013 cat=traffic:forward FTNTFGTsubtype=forward FTNTFGTtype=traffic "
      "FTNTFGTeventtime=1650000000 src=203.0.113.5 spt=51000 dst=198.51.100.7 dpt=22 proto=6 "
      "act=deny FTNTFGTdevname=fw01",
      // CEF from Check Point and Palo Alto.
      "CEF:0|Check Point|VPN-1 & FireWall-1|Check Point|Log|https|Unknown|act=Accept "
      "src=203.0.113.5 spt=49363 dst=198.51.100.7 dpt=443 proto=6 rt=1543270652000",
      "CEF:0|Palo Alto Networks|PAN-OS|10.1.0|end|TRAFFIC|1|rt=Nov 30 2018 16:09:07 GMT "
      "src=203.0.113.5 dst=198.51.100.7 spt=55113 dpt=443 proto=tcp act=allow",
      // Cisco ASA native syslog.
      "%ASA-4-106023: Deny tcp src outside:203.0.113.5/63016 dst inside:198.51.100.7/53 by "
      "access-group \"acl_out\" [0x0, 0x0]",
      // iptables / netfilter.
      "<4>Oct 10 07:25:12 gw kernel: [DROP]IN=eth0 OUT= SRC=203.0.113.5 DST=198.51.100.7 LEN=52 "
      "PROTO=TCP SPT=38842 DPT=443",
      // ASIM JSON.
      R"({"TimeGenerated":"2026-11-28T10:05:03Z","SrcIpAddr":"203.0.113.7","DstPortNumber":22})",
      // Zeek conn.log JSON.
      R"({"ts":1591367999.305988,"uid":"C1","id.orig_h":"203.0.113.5","id.orig_p":58132,)"
      R"("id.resp_h":"198.51.100.7","id.resp_p":22,"proto":"tcp"})",
  };
}

}  // namespace portscand::test
