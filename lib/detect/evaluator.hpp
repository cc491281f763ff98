#pragma once

#include <vector>

#include "detect/rule.hpp"
#include "event/alert.hpp"
#include "event/label_table.hpp"
#include "window/shard_state.hpp"

namespace portscand {

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

  struct counters {
    // Keys over the threshold not alerted because an exclusion covers their source (one
    // added by a reload while their bin was open). They stay unmarked: if the exclusion is
    // gone when the bin is evaluated again, they alert.
    std::uint64_t excluded = 0;
  };
  const counters& stats() const noexcept { return stats_; }

 private:
  const label_table& labels_;
  counters stats_;
};

}  // namespace portscand
