// The window state decoder (checkpoints: shard_state::deserialize): tumbling, sliding, and
// tumbling with the port-sweep rule's keys. Any input either decodes or leaves the state
// empty; what decodes encodes again to bytes that decode to the same encoding; a decoded
// sliding or sweep state can be evaluated and freed.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "detect/evaluator.hpp"
#include "detect/rule.hpp"
#include "window/shard_state.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace portscand;
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  enum class kind { tumbling, sliding, sweep };
  for (const kind k : {kind::tumbling, kind::sliding, kind::sweep}) {
    window_config c;
    const bool sliding = k == kind::sliding;
    c.sliding = sliding;
    c.sweep = k == kind::sweep;
    label_table labels;
    shard_state s(c, labels);
    if (!s.deserialize(in, labels)) {
      if (s.keys() != 0) __builtin_trap();
      continue;
    }
    std::string out;
    s.serialize(out);
    shard_state t(c, labels);
    if (!t.deserialize(out, labels)) __builtin_trap();
    std::string again;
    t.serialize(again);
    if (again != out) __builtin_trap();
    if (k == kind::sweep) {
      evaluator ev(labels);
      std::vector<alert> alerts;
      const rule_definition rule = default_sweep_rule();
      ev.evaluate(t, rule, INT64_MAX, 0, alerts);
      for (const alert& a : alerts)
        if (a.target_count <= rule.threshold || a.swept_port < 0) __builtin_trap();
      t.advance_watermark(INT64_MAX);
      continue;
    }
    if (!sliding) continue;
    evaluator ev(labels);
    std::vector<alert> alerts;
    ev.evaluate(t, default_rule(), INT64_MAX, 0, alerts);
    for (const alert& a : alerts)
      if (a.ports_count <= default_rule().threshold || a.ports.empty()) __builtin_trap();
    t.advance_watermark(INT64_MAX);
  }
  return 0;
}
