// Window insert, evaluation, and the memory cost of a tracked key.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <random>

#include "detect/evaluator.hpp"
#include "window/shard_state.hpp"

namespace portscand {
namespace {

constexpr timestamp_us t0 = 1'768'471'500LL * us_per_second;  // a bin start
constexpr std::size_t engine_batch = 1024;  // engine::batch_size: records per shard message

network_session rec(std::uint32_t src, timestamp_us t, int port) {
  network_session r;
  r.src = ip_address::from_v4(src);
  r.time = t;
  r.has_time = true;
  r.dst_port = port;
  r.reported_by = label_table::global().intern("Fortinet/Fortigate");
  // As a benign source's records are: one of a few servers, TCP, allowed (the alert's case
  // evidence is kept for every key).
  r.has_dst = true;
  r.dst = ip_address::from_v4(0xC6336400u + (src % 16));
  r.protocol = 6;
  r.action = dvc_action::allow;
  return r;
}

// One record at a time (add), or as the shard threads do it: batches of the dispatcher's
// size through add_batch, which prefetches ahead.
void add_all(shard_state& s, const std::vector<network_session>& records, bool batched) {
  if (!batched) {
    for (const auto& r : records) s.add(r);
    return;
  }
  for (std::size_t i = 0; i < records.size(); i += engine_batch)
    s.add_batch(records.data() + i, std::min(engine_batch, records.size() - i));
}

// Background-like traffic: many sources, 1-4 ports each, one bin.
void window_insert_new_keys(benchmark::State& state) {
  const auto keys = static_cast<std::uint32_t>(state.range(0));
  std::mt19937 rng(1);
  std::vector<network_session> records;
  for (std::uint32_t i = 0; i < keys; ++i)
    records.push_back(rec(0x0b000000u + i * 7919u, t0 + (i % 300) * us_per_second, 443));
  for (auto _ : state) {
    shard_state s(window_config{});
    add_all(s, records, state.range(1) != 0);
    benchmark::DoNotOptimize(s.keys());
  }
  state.SetItemsProcessed(state.iterations() * keys);
}
BENCHMARK(window_insert_new_keys)
    ->ArgNames({"keys", "batched"})
    ->ArgsProduct({{100'000, 1'000'000}, {0, 1}})
    ->Unit(benchmark::kMillisecond);

// A realistic mix: 1M records of 200k sources hitting 1-4 ports, repeated, plus scanners.
std::vector<network_session> mixed_records() {
  std::mt19937 rng(2);
  std::vector<network_session> records;
  for (int i = 0; i < 1'000'000; ++i) {
    const std::uint32_t src = 0x0b000000u + static_cast<std::uint32_t>(rng() % 200'000) * 7919u;
    const int port =
        i % 50 == 0 ? static_cast<int>(rng() % 65536) : 443 + static_cast<int>(rng() % 4);
    records.push_back(rec(src, t0 + (i % 300) * us_per_second, port));
  }
  return records;
}

void window_insert_mixed(benchmark::State& state) {
  const std::vector<network_session> records = mixed_records();
  for (auto _ : state) {
    shard_state s(window_config{});
    add_all(s, records, state.range(0) != 0);
    benchmark::DoNotOptimize(s.keys());
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(records.size()));
}
BENCHMARK(window_insert_mixed)->ArgName("batched")->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

// The same mix with the port-sweep rule beside the vertical one (README "Port sweeps and
// several rules"), batched: every record with a port also feeds its (source, port) key.
// bytes_per_source: the whole state over the 200k sources.
void window_insert_mixed_sweep(benchmark::State& state) {
  const std::vector<network_session> records = mixed_records();
  double bytes_per_source = 0;
  for (auto _ : state) {
    window_config c;
    c.sweep = true;
    shard_state s(c);
    add_all(s, records, true);
    benchmark::DoNotOptimize(s.keys());
    state.PauseTiming();
    bytes_per_source = static_cast<double>(s.memory_bytes()) / 200'000.0;
    state.ResumeTiming();
  }
  state.counters["bytes_per_source"] = bytes_per_source;
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(records.size()));
}
BENCHMARK(window_insert_mixed_sweep)->Unit(benchmark::kMillisecond);

// The same mix in sliding mode (evaluation.window: sliding), batched as the shard threads
// add, with an evaluation every 16 batches as the engine's ticks do (nothing crosses: the
// cost is the walk over the sources).
void window_insert_mixed_sliding(benchmark::State& state) {
  const std::vector<network_session> records = mixed_records();
  std::size_t crossings = 0;
  for (auto _ : state) {
    window_config c;
    c.sliding = true;
    shard_state s(c);
    for (std::size_t i = 0; i < records.size(); i += engine_batch) {
      s.add_batch(records.data() + i, std::min(engine_batch, records.size() - i));
      if ((i / engine_batch) % 16 == 15)
        s.evaluate_sliding(t0 + 300 * us_per_second, 50,
                           [&](const sliding_crossing&) { ++crossings; });
    }
    benchmark::DoNotOptimize(s.keys());
  }
  benchmark::DoNotOptimize(crossings);
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(records.size()));
}
BENCHMARK(window_insert_mixed_sliding)->Unit(benchmark::kMillisecond);

// Bytes per tracked (source, bin) key with 1..4 ports, IPv4 and IPv6: the whole state
// (tables, index, heap tiers) divided by the keys.
void window_memory_per_key(benchmark::State& state) {
  const bool v6 = state.range(0) == 6;
  std::mt19937 rng(3);
  double bytes_per_key = 0;
  for (auto _ : state) {
    shard_state s(window_config{});
    for (std::uint32_t i = 0; i < 1'000'000; ++i) {
      network_session r = rec(0x0b000000u + i * 7919u, t0, 0);
      if (v6) {
        std::array<std::uint8_t, 16> b{0x20, 0x01, 0x0d, 0xb8};
        std::memcpy(b.data() + 12, &i, 4);
        r.src = ip_address::from_v6(b);
      }
      const int ports = 1 + static_cast<int>(rng() % 4);
      for (int p = 0; p < ports; ++p) {
        r.dst_port = 1000 + p;
        s.add(r);
      }
    }
    bytes_per_key = static_cast<double>(s.memory_bytes()) / static_cast<double>(s.keys());
  }
  state.counters["bytes_per_key"] = bytes_per_key;
}
BENCHMARK(window_memory_per_key)->Arg(4)->Arg(6)->Iterations(1)->Unit(benchmark::kMillisecond);

// The same in sliding mode (evaluation.window: sliding): bytes per tracked source with
// 1..max_ports ports, each port one run. Args: family (4/6), max ports (3: the benign 1-3
// port sources the target is about; 4: beside the tumbling figure).
void window_memory_per_key_sliding(benchmark::State& state) {
  const bool v6 = state.range(0) == 6;
  const auto max_ports = static_cast<unsigned>(state.range(1));
  std::mt19937 rng(3);
  double bytes_per_key = 0;
  for (auto _ : state) {
    window_config c;
    c.sliding = true;
    shard_state s(c);
    for (std::uint32_t i = 0; i < 1'000'000; ++i) {
      network_session r = rec(0x0b000000u + i * 7919u, t0, 0);
      if (v6) {
        std::array<std::uint8_t, 16> b{0x20, 0x01, 0x0d, 0xb8};
        std::memcpy(b.data() + 12, &i, 4);
        r.src = ip_address::from_v6(b);
      }
      const int ports = 1 + static_cast<int>(rng() % max_ports);
      for (int p = 0; p < ports; ++p) {
        r.dst_port = 1000 + p;
        s.add(r);
      }
    }
    bytes_per_key = static_cast<double>(s.memory_bytes()) / static_cast<double>(s.keys());
  }
  state.counters["bytes_per_key"] = bytes_per_key;
}
BENCHMARK(window_memory_per_key_sliding)
    ->Args({4, 3})
    ->Args({4, 4})
    ->Args({6, 3})
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);

// Evaluating a closed bin of 200k keys of which 100 are scanners.
void evaluate_bin(benchmark::State& state) {
  const rule_definition rule = default_rule();
  for (auto _ : state) {
    state.PauseTiming();
    shard_state s(window_config{});
    for (std::uint32_t i = 0; i < 200'000; ++i) s.add(rec(0x0b000000u + i * 7919u, t0, 443));
    for (std::uint32_t k = 0; k < 100; ++k)
      for (int p = 0; p < 200; ++p) s.add(rec(0x0c000000u + k, t0, p));
    std::vector<alert> alerts;
    evaluator e;
    state.ResumeTiming();
    e.evaluate(s, rule, INT64_MAX, t0, alerts);
    benchmark::DoNotOptimize(alerts.size());
  }
  state.SetItemsProcessed(state.iterations() * 200'100);
}
BENCHMARK(evaluate_bin)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace portscand
