#include "schedule/watermark.hpp"

#include <algorithm>

namespace portscand {

watermark_tracker::input_id watermark_tracker::add_input(std::string name) {
  inputs_.push_back(input{std::move(name)});
  return inputs_.size() - 1;
}

void watermark_tracker::observe(input_id id, timestamp_us max_event_time, timestamp_us wall_now) {
  input& in = inputs_.at(id);
  in.max_event = std::max(in.max_event, max_event_time);
  in.last_active = std::max(in.last_active, wall_now);
}

void watermark_tracker::finish(input_id id) {
  inputs_.at(id).finished = true;
}

bool watermark_tracker::active(const input& in, timestamp_us wall_now) const noexcept {
  if (in.finished) return false;
  if (!opt_.wall_clock_idleness) return true;
  // An input that never delivered a record is idle: a silent listener must not hold the
  // watermark at minus infinity forever.
  return in.last_active != INT64_MIN && wall_now - in.last_active < opt_.idle_timeout;
}

timestamp_us watermark_tracker::current(timestamp_us wall_now) {
  bool any_active = false;
  timestamp_us low = INT64_MAX;
  for (const input& in : inputs_) {
    if (!active(in, wall_now)) continue;
    any_active = true;
    low = std::min(low, in.max_event);
  }
  if (any_active) {
    if (low != INT64_MIN) watermark_ = std::max(watermark_, low);
  } else if (opt_.wall_clock_idleness && !hold_) {
    // Only once some input has delivered: at startup (Kafka partitions not yet assigned,
    // a backlog not yet fetched) the wall clock must not close every bin of the backlog.
    const bool any_data =
        seeded_ || std::any_of(inputs_.begin(), inputs_.end(),
                               [](const input& in) { return in.max_event != INT64_MIN; });
    if (any_data) watermark_ = std::max(watermark_, wall_now);
  } else {
    // Replay: every input has finished; the largest event time seen is the end.
    for (const input& in : inputs_) watermark_ = std::max(watermark_, in.max_event);
  }
  return watermark_;
}

long long watermark_tracker::holding_input(timestamp_us wall_now) const {
  long long best = -1;
  timestamp_us low = INT64_MAX;
  for (std::size_t i = 0; i < inputs_.size(); ++i) {
    if (!active(inputs_[i], wall_now)) continue;
    if (inputs_[i].max_event < low) {
      low = inputs_[i].max_event;
      best = static_cast<long long>(i);
    }
  }
  return best;
}

}  // namespace portscand
