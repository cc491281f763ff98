// Parse throughput per format, one core: records/s (items) and bytes/s over the sample units
// of a fixture file. Each format of lib/parse/formats.def gets a pair of benchmarks below: its
// fixed format and `auto`, over the fixture the list names.
#include <benchmark/benchmark.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "parse/decoder.hpp"

namespace portscand {
namespace {

class counting_sink final : public parse_sink {
 public:
  void record(const network_session& s) override {
    benchmark::DoNotOptimize(s.dst_port);
    ++records;
  }
  void skipped(std::string_view) override {}
  void rejected(std::string_view) override {}
  void ignored_field(std::string_view) override {}
  std::size_t records = 0;
};

std::vector<std::string> fixture_units(const std::string& rel) {
  std::ifstream in(std::string(PORTSCAND_FIXTURES) + "/" + rel, std::ios::binary);
  std::vector<std::string> units;
  for (std::string line; std::getline(in, line);)
    if (!line.empty() && line[0] != '#') units.push_back(line);
  return units;
}

// Runs every unit through a decoder for `format`, padded as replay parses file chunks.
// Items = records produced (a line may hold several), bytes = input.
void run_units(benchmark::State& state, const std::string& format,
               const std::vector<std::string>& units) {
  unit_decoder decoder(builtin_formats(), format);
  std::vector<std::string> padded;
  std::size_t bytes = 0;
  for (const auto& u : units) {
    padded.push_back(u + std::string(unit_padding, ' '));
    bytes += u.size() + 1;
  }
  counting_sink sink;
  parse_context ctx;
  ctx.padded = true;
  for (auto _ : state)
    for (std::size_t i = 0; i < units.size(); ++i)
      decoder.decode(std::string_view(padded[i]).substr(0, units[i].size()), ctx, sink);
  state.SetItemsProcessed(static_cast<std::int64_t>(sink.records));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * bytes));
}

// Every non-empty line of a fixture (tests/fixtures/<fixture>) through run_units.
void run_fixture(benchmark::State& state, const std::string& format, const std::string& fixture) {
  const std::vector<std::string> units = fixture_units(fixture);
  if (units.empty()) {
    state.SkipWithError(("no units in " + fixture).c_str());
    return;
  }
  run_units(state, format, units);
}

std::string json_string(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

// Cisco ASA over syslog, bare ("<164>Dec 06 2026 10:01:00: %ASA-...") or as Vector's syslog
// source hands it to its Kafka sink (the header parsed into timestamp/hostname/facility/
// severity, `message` the ASA text): the ASA lines of tests/fixtures/envelopes/bare/
// cisco-asa.log, the same units both ways.
void run_vector_asa(benchmark::State& state, bool envelope) {
  std::vector<std::string> units;
  for (const auto& line : fixture_units("envelopes/bare/cisco-asa.log")) {
    const std::size_t split = line.find(": %");
    if (split == std::string::npos) continue;
    if (!envelope) {
      units.push_back("<164>" + line);
      continue;
    }
    units.push_back(R"({"appname":null,"facility":"local4","host":"192.0.2.11","hostname":null,)"
                    R"("message":)" +
                    json_string(std::string_view(line).substr(split + 2)) +
                    R"(,"severity":"warning","source_ip":"192.0.2.11","source_type":"syslog",)"
                    R"("timestamp":"2026-12-06T10:01:00Z"})");
  }
  run_units(state, "auto", units);
}

// Per format of lib/parse/formats.def, in its order: the fixed format, then `auto` (the
// default) over the same units through the same decoder. The pair's ratio is what
// auto-detection costs on that workload.
#define PORTSCAND_FORMAT(id, name, factory, scope, bench_fixture)                    \
  BENCHMARK_CAPTURE(run_fixture, id, std::string(name), std::string(bench_fixture)); \
  BENCHMARK_CAPTURE(run_fixture, id##_auto, std::string("auto"), std::string(bench_fixture));
#include "parse/formats.def"
#undef PORTSCAND_FORMAT
// Shipper envelopes (auto, as an input's default) beside the same lines bare.
BENCHMARK_CAPTURE(run_fixture, envelope_filebeat_cef, std::string("auto"),
                  std::string("envelopes/filebeat.ndjson"));
BENCHMARK_CAPTURE(run_fixture, envelope_filebeat_cef_bare, std::string("auto"),
                  std::string("envelopes/bare/cef.log"));
BENCHMARK_CAPTURE(run_vector_asa, envelope_vector_syslog_asa, true);
BENCHMARK_CAPTURE(run_vector_asa, envelope_vector_syslog_asa_bare, false);

}  // namespace
}  // namespace portscand
