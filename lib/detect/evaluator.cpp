#include "detect/evaluator.hpp"

namespace portscand {

std::size_t evaluator::evaluate(shard_state& state, const rule_definition& rule,
                                timestamp_us close_before, timestamp_us now,
                                std::vector<alert>& out) {
  PORTSCAND_ASSERT(rule.bin_width == state.config().bin_width,
                   "the rule's bin width differs from the window's");
  return state.evaluate_closed(close_before, [&](key_view k) {
    key_state& s = k.state;
    if (s.flags & key_state::alerted) return;
    if (s.ports.size() <= rule.threshold) return;
    if (rule.exclusions &&
        rule.exclusions->covers_source(k.src, 128, k.bin_start) != exclusion_set::none) {
      ++stats_.excluded;
      return;
    }
    s.flags |= key_state::alerted;
    alert a;
    a.src = k.src;
    a.bin_start = k.bin_start;
    a.bin_end = k.bin_start + rule.bin_width;
    a.ports_count = s.ports.size();
    s.ports.first(rule.max_ports, a.ports);
    s.labels.first(rule.max_labels, labels_, a.reported_by);
    a.first_seen = k.bin_start + s.first_offset;
    a.last_seen = k.bin_start + s.last_offset;
    a.event_count = s.events;
    a.detected_at = now;
    a.rule = rule.metadata;
    a.alert_id = make_alert_id(rule.metadata->id, a.src, a.bin_start);
    out.push_back(std::move(a));
  });
}

}  // namespace portscand
