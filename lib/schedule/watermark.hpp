#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "core/time.hpp"

namespace portscand {

// The event-time watermark of SPEC §1: the minimum, over active inputs, of the largest
// event time each has seen. Pure logic over times handed in; the runtime owns the one
// instance and calls it from its coordinator thread only.
class watermark_tracker {
 public:
  struct options {
    timestamp_us idle_timeout = us_per_minute;
    // Live inputs (Kafka partitions, syslog listeners) go idle after idle_timeout of wall
    // time without records, and when every input is idle the wall clock advances the
    // watermark. Replay has no wall-clock idleness: an input holds the watermark back
    // until it has finished.
    bool wall_clock_idleness = true;
  };

  explicit watermark_tracker(options opt) : opt_(opt) {}

  using input_id = std::size_t;
  input_id add_input(std::string name);

  // The input has seen records up to max_event_time (it may report less than before: the
  // largest value wins); wall_now is when it was last active (the latest value wins too).
  void observe(input_id id, timestamp_us max_event_time, timestamp_us wall_now);
  // The input has ended (replay: end of file). It no longer holds the watermark back.
  void finish(input_id id);

  // While held, the wall clock does not advance the watermark even when every input is idle:
  // the runtime holds it while a Kafka input is rebalancing, unreachable or still has a
  // backlog (a silent input is idle; one that cannot deliver is not).
  void hold_wall_clock(bool hold) noexcept { hold_ = hold; }

  // Starts from a restored watermark (a checkpoint's): it counts as data seen, so that the
  // wall clock can close the bins the checkpoint left open even if no new record arrives.
  void seed(timestamp_us watermark) noexcept {
    if (watermark == INT64_MIN) return;
    watermark_ = std::max(watermark_, watermark);
    seeded_ = true;
  }

  // Monotonic: never returns less than before. INT64_MIN until some input has seen a record.
  timestamp_us current(timestamp_us wall_now);

  // Which input holds the watermark back (for the lag metric and logs); -1 when none.
  long long holding_input(timestamp_us wall_now) const;
  const std::string& name(input_id id) const { return inputs_[id].name; }
  std::size_t inputs() const noexcept { return inputs_.size(); }

 private:
  struct input {
    std::string name;
    timestamp_us max_event = INT64_MIN;
    timestamp_us last_active = INT64_MIN;
    bool finished = false;
  };
  bool active(const input& in, timestamp_us wall_now) const noexcept;

  options opt_;
  std::vector<input> inputs_;
  timestamp_us watermark_ = INT64_MIN;
  bool hold_ = false;
  bool seeded_ = false;
};

}  // namespace portscand
