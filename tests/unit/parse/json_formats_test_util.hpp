#pragma once

// Helpers for the tests of the Kafka/replay JSON formats (zeek-conn, vectra, ocsf, ecs,
// suricata-eve, flow-json): reading the corpus' expected/derived JSON lines with simdjson's
// DOM API (independent of the parsers under test), one decoder across many units, and a
// catalogue of every format's sample units for probe tests.

#include <simdjson.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/time.hpp"
#include "parse_test_util.hpp"

namespace portscand::test {

// One JSON line of an expected/derived file, read with the DOM API.
class expected_line {
 public:
  explicit expected_line(const std::string& line) : text_(line) {
    if (parser_.parse(text_).get(doc_) != simdjson::SUCCESS) doc_ = {};
  }
  std::string str(const char* pointer) const {
    std::string_view v;
    if (doc_.at_pointer(pointer).get_string().get(v) != simdjson::SUCCESS) return {};
    return std::string(v);
  }
  std::optional<std::int64_t> num(const char* pointer) const {
    std::int64_t v = 0;
    if (doc_.at_pointer(pointer).get_int64().get(v) != simdjson::SUCCESS) return std::nullopt;
    return v;
  }
  bool is_null(const char* pointer) const { return doc_.at_pointer(pointer).is_null(); }

 private:
  std::string text_;
  simdjson::dom::parser parser_;
  simdjson::dom::element doc_;
};

inline timestamp_us iso(const std::string& text) {
  auto t = parse_iso8601(text);
  return t ? *t : -1;
}

// Runs units through ONE decoder, as an input does: state kept by a parser instance (the
// zeek-conn TSV header) carries from unit to unit.
inline collecting_sink parse_stream(std::string_view format,
                                    const std::vector<std::string>& units) {
  unit_decoder decoder(builtin_formats(), format);
  collecting_sink sink;
  for (const auto& u : units) decoder.decode(u, parse_context{}, sink);
  return sink;
}

// Whether the named format's probe claims the unit.
inline bool probe_claims(std::string_view format, std::string_view unit) {
  const format_entry* e = builtin_formats().find(format);
  return e != nullptr && e->probe(unit.substr(0, probe_window));
}

inline std::string detected(std::string_view unit) {
  const format_entry* e = builtin_formats().detect(unit);
  return e == nullptr ? std::string() : e->name;
}

// Sample units of every format this repository has fixtures for, with the format each
// belongs to (header lines included for zeek-conn TSV).
inline std::vector<std::pair<std::string, std::string>> sample_units() {
  std::vector<std::pair<std::string, std::string>> out;
  auto lines = [&out](const std::string& format, const std::string& file) {
    for (auto& l : fixture_lines(file))
      if (!l.empty()) out.emplace_back(format, l);
  };
  lines("asim", "asim/sample.jsonl");
  lines("zeek-conn", "zeek-conn/test-conn.log");
  lines("zeek-conn", "zeek-conn/zeek-training-scan-conn.log");
  lines("vectra", "vectra/isession.jsonl");
  lines("suricata-eve", "suricata-eve/test-eve-small.log");
  lines("flow-json", "flow-json/flows.jsonl");
  for (const char* f :
       {"ecs/aws-vpcflow-extra-samples.ecs.jsonl", "ecs/aws-vpcflow-tcp-flag-sequence.ecs.jsonl",
        "ecs/aws-vpcflow-v5-all-fields.ecs.jsonl", "ecs/windows-5156.ecs.jsonl",
        "ecs/cisco-meraki-flows-lines1-3.ecs.jsonl"})
    lines("ecs", f);
  out.emplace_back("ocsf", fixture_text("ocsf/vpcflowlog.json"));
  out.emplace_back("ocsf", fixture_text("ocsf/SampleOCSF_FCCX.json"));
  return out;
}

}  // namespace portscand::test
