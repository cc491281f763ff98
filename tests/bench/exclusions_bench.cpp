// The cost of the `exclusions:` check on the shard threads' hot path: one match() per record,
// with 0, 10 and 1,000 entries (README "Performance").
#include <benchmark/benchmark.h>

#include <random>
#include <string>
#include <vector>

#include "detect/exclusions.hpp"

namespace portscand {
namespace {

ip_network block(const std::string& text) {
  std::string error;
  return *ip_network::parse(text, error);
}

// A realistic mix: scanner hosts (/32), scanner ranges (/24, /20), IPv6 (/48, /64), some
// destinations with ports (load balancers), a few port-only entries.
std::vector<exclusion_config> entries(int n) {
  std::vector<exclusion_config> out;
  for (int i = 0; i < n; ++i) {
    exclusion_config e;
    e.name = "e" + std::to_string(i);
    e.reason = "bench";
    const int a = i / 256 % 256, b = i % 256;
    switch (i % 10) {
      case 0:
      case 1:
      case 2:
      case 3:
        e.sources = {block("198.18." + std::to_string(a) + "." + std::to_string(b))};
        break;
      case 4:
      case 5:
        e.sources = {
            block("100." + std::to_string(64 + a % 64) + "." + std::to_string(b) + ".0/24")};
        break;
      case 6:
        e.sources = {block("2001:db8:" + std::to_string(a) + ":" + std::to_string(b) + "::/64")};
        break;
      case 7:
        e.sources = {block("2001:" + std::to_string(100 + i % 900) + "::/48")};
        break;
      case 8:
        e.destinations = {block("192.0." + std::to_string(b) + ".0/24")};
        e.ports = {{443, 443}, {8443, 8443}};
        break;
      default:
        if (i < 30)
          e.ports = {
              {static_cast<std::uint16_t>(60000 + i), static_cast<std::uint16_t>(60000 + i)}};
        else
          e.sources = {block("203.0." + std::to_string(b) + ".0/24")};
        break;
    }
    out.push_back(std::move(e));
  }
  return out;
}

// Records that mostly match nothing (the common case: the check must not cost them).
std::vector<network_session> records() {
  std::mt19937 rng(7);
  std::vector<network_session> out(1 << 16);
  for (auto& r : out) {
    r.src = ip_address::from_v4(rng());
    r.dst = ip_address::from_v4(rng());
    r.has_dst = true;
    r.dst_port = static_cast<int>(rng() % 65536);
    r.time = 1'768'471'500LL * us_per_second;
    r.has_time = true;
  }
  return out;
}

void exclusions_match(benchmark::State& state) {
  const exclusion_set x(entries(static_cast<int>(state.range(0))));
  const auto recs = records();
  std::size_t i = 0, hits = 0;
  for (auto _ : state) {
    hits += x.match(recs[i]) != exclusion_set::none;
    i = (i + 1) & (recs.size() - 1);
  }
  benchmark::DoNotOptimize(hits);
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(exclusions_match)->Arg(0)->Arg(10)->Arg(1000);

}  // namespace
}  // namespace portscand
