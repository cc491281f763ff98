// Parse throughput per format, one core: records/s and bytes/s over a set of sample units.
// Each format adds one BENCHMARK_CAPTURE line with representative units of its own.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "parse/decoder.hpp"

namespace portscand {
namespace {

class counting_sink final : public parse_sink {
 public:
  void record(const network_session& s) override { benchmark::DoNotOptimize(s.dst_port); ++records; }
  void skipped(std::string_view) override {}
  void rejected(std::string_view) override { ++rejects; }
  std::size_t records = 0, rejects = 0;
};

// Runs `units` through a decoder for `format` (padded: as replay parses file chunks).
void run_units(benchmark::State& state, const std::string& format, const std::vector<std::string>& units) {
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
  for (auto _ : state) {
    for (std::size_t i = 0; i < units.size(); ++i)
      decoder.decode(std::string_view(padded[i]).substr(0, units[i].size()), ctx, sink);
  }
  if (sink.rejects != 0) state.SkipWithError("sample units were rejected");
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * units.size()));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * bytes));
}

std::vector<std::string> asim_units() {
  std::vector<std::string> v;
  for (int i = 0; i < 64; ++i)
    v.push_back(R"({"TimeGenerated":"2026-11-28T10:05:)" + std::to_string(10 + i % 50) +
                R"(.123Z","SrcIpAddr":"203.0.113.)" + std::to_string(i) +
                R"(","DstIpAddr":"198.51.100.1","DstPortNumber":)" + std::to_string(1000 + i) +
                R"(,"NetworkProtocol":"TCP","DvcAction":"Deny","EventVendor":"Fortinet","EventProduct":"Fortigate"})");
  return v;
}

BENCHMARK_CAPTURE(run_units, asim, std::string("asim"), asim_units());
BENCHMARK_CAPTURE(run_units, asim_auto, std::string("auto"), asim_units());

}  // namespace
}  // namespace portscand
