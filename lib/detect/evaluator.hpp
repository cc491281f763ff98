#pragma once

#include <vector>

#include "detect/rule.hpp"
#include "event/alert.hpp"
#include "event/label_table.hpp"
#include "window/shard_state.hpp"

namespace portscand {

// The id of a sliding-window alert: a UUIDv5 over rule id, source, the interval's start
// (ISO 8601) and the word "sliding".
std::string make_sliding_alert_id(std::string_view rule_id, const ip_address& src,
                                  timestamp_us interval_start);

// The rule applied to closed bins: pure logic, no I/O. One per shard thread.
class evaluator {
 public:
  explicit evaluator(const label_table& labels = label_table::global()) : labels_(labels) {}

  // Evaluates every bin of `state` that closed before `close_before` (bin end <= it) and has
  // not been evaluated since it last changed; appends an alert for each key over the
  // threshold that has never alerted, and marks it alerted. `now` stamps detected_at.
  // Returns the number of bins evaluated.
  std::size_t evaluate(shard_state& state, const rule_definition& rule, timestamp_us close_before,
                       timestamp_us now, std::vector<alert>& out);

 private:
  // Sliding mode (lib/detect/README.md): one alert per crossing the window reports.
  std::size_t evaluate_sliding(shard_state& state, const rule_definition& rule,
                               timestamp_us close_before, timestamp_us now,
                               std::vector<alert>& out);

  const label_table& labels_;
};

}  // namespace portscand
