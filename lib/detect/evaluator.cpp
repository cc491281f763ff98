#include "detect/evaluator.hpp"

#include <algorithm>
#include <string_view>

#include "core/time.hpp"

namespace portscand {

std::string make_sliding_alert_id(std::string_view rule_id, const ip_address& src,
                                  timestamp_us interval_start) {
  // Not make_alert_id's name: a sliding interval may start on a bin edge, and a tumbling
  // alert of that bin (other evidence) must never share its id.
  std::string name;
  name.append(rule_id).append("|").append(src.to_string()).append("|");
  name.append(format_iso8601(interval_start)).append("|sliding");
  return uuid_v5(alert_id_namespace, name);
}

std::size_t evaluator::evaluate_sliding(shard_state& state, const rule_definition& rule,
                                        timestamp_us close_before, timestamp_us now,
                                        std::vector<alert>& out) {
  return state.evaluate_sliding(close_before, rule.threshold, [&](const sliding_crossing& c) {
    alert a;
    a.src = c.src;
    a.bin_start = c.start;
    a.bin_end = c.end;
    a.ports_count = static_cast<std::uint32_t>(c.ports.size());
    a.ports.assign(c.ports.begin(),
                   c.ports.begin() + static_cast<std::ptrdiff_t>(
                                         std::min<std::size_t>(rule.max_ports, c.ports.size())));
    std::vector<std::string_view> names;
    names.reserve(c.labels.size());
    for (auto id : c.labels) names.push_back(labels_.view(id));
    std::sort(names.begin(), names.end());
    for (std::size_t i = 0; i < names.size() && i < rule.max_labels; ++i)
      a.reported_by.emplace_back(names[i]);
    a.first_seen = c.first_seen;
    a.last_seen = c.end;
    a.event_count = c.events;
    a.detected_at = now;
    a.rule = rule.metadata;
    a.alert_id = make_sliding_alert_id(rule.metadata->id, a.src, a.bin_start);
    out.push_back(std::move(a));
  });
}

std::size_t evaluator::evaluate(shard_state& state, const rule_definition& rule,
                                timestamp_us close_before, timestamp_us now,
                                std::vector<alert>& out) {
  PORTSCAND_ASSERT(rule.bin_width == state.config().bin_width,
                   "the rule's bin width differs from the window's");
  if (state.sliding()) return evaluate_sliding(state, rule, close_before, now, out);
  return state.evaluate_closed(close_before, [&](key_view k) {
    key_state& s = k.state;
    if (s.flags & key_state::alerted) return;
    if (s.ports.size() <= rule.threshold) return;
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
