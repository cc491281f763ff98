#include "schedule/schedule.hpp"

namespace portscand {

evaluation_schedule::evaluation_schedule(schedule_kind kind, timestamp_us frequency,
                                         timestamp_us allowed_lateness)
    : kind_(kind), frequency_(frequency), lateness_(allowed_lateness) {}

void evaluation_schedule::reconfigure(schedule_kind kind, timestamp_us frequency,
                                      timestamp_us allowed_lateness) {
  kind_ = kind;
  frequency_ = frequency;
  lateness_ = allowed_lateness;
}

timestamp_us evaluation_schedule::close_before(timestamp_us watermark) const noexcept {
  if (watermark == INT64_MIN) return INT64_MIN;
  if (watermark == INT64_MAX) return INT64_MAX;
  return watermark - lateness_;
}

std::optional<timestamp_us> evaluation_schedule::due(timestamp_us watermark,
                                                     timestamp_us wall_now) {
  const timestamp_us close = close_before(watermark);
  if (kind_ == schedule_kind::on_close) {
    if (close <= last_close_) return std::nullopt;
    last_close_ = close;
    return close;
  }
  const timestamp_us tick = floor_to(wall_now, frequency_);
  if (last_tick_ == INT64_MIN) {
    // The first call only starts the clock: the first evaluation is at the next tick, as a
    // Sentinel scheduled rule's first run is one frequency after it is enabled.
    last_tick_ = tick;
    return std::nullopt;
  }
  if (tick <= last_tick_) return std::nullopt;
  last_tick_ = tick;
  // Every tick evaluates, even when the watermark has not moved: bins re-opened by late
  // records since the last tick are due too.
  last_close_ = close;
  return close;
}

timestamp_us evaluation_schedule::next_tick(timestamp_us wall_now) const noexcept {
  return floor_to(wall_now, frequency_) + frequency_;
}

}  // namespace portscand
