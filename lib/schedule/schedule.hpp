#pragma once

#include <optional>

#include "config/config.hpp"
#include "core/time.hpp"

namespace portscand {

// When bins are evaluated (SPEC §1 "schedule"). Pure time math; the runtime's coordinator
// asks it after every watermark update and at every timer wake-up.
//  - on_close: as soon as the watermark passes bin_end + allowed_lateness;
//  - hourly:   at each tick (wall-clock multiples of the query frequency), everything that
//              has closed by then.
// A bin is always evaluated whole: "closed" depends only on the watermark.
class evaluation_schedule {
 public:
  evaluation_schedule(schedule_kind kind, timestamp_us frequency, timestamp_us allowed_lateness);

  // Bins whose end is <= the returned value are closed under this watermark.
  timestamp_us close_before(timestamp_us watermark) const noexcept;

  // Is an evaluation due now? Returns the close_before to evaluate up to, once per change.
  std::optional<timestamp_us> due(timestamp_us watermark, timestamp_us wall_now);

  // The next wall-clock instant at which due() may say yes without a watermark change.
  timestamp_us next_tick(timestamp_us wall_now) const noexcept;

  void reconfigure(schedule_kind kind, timestamp_us frequency, timestamp_us allowed_lateness);
  timestamp_us allowed_lateness() const noexcept { return lateness_; }

 private:
  schedule_kind kind_;
  timestamp_us frequency_;
  timestamp_us lateness_;
  timestamp_us last_tick_ = INT64_MIN;   // hourly: the tick last served
  timestamp_us last_close_ = INT64_MIN;  // the close_before last returned
};

}  // namespace portscand
