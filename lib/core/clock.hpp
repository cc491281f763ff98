#pragma once

#include <atomic>
#include <chrono>

#include "core/time.hpp"

namespace portscand {

// The only source of wall-clock time. Production code takes a clock& so that tests can
// run hours of schedule in milliseconds with a manual_clock. now() may be called from any
// thread.
class clock {
 public:
  virtual ~clock() = default;
  virtual timestamp_us now() const noexcept = 0;
};

class system_clock final : public clock {
 public:
  timestamp_us now() const noexcept override {
    return std::chrono::duration_cast<std::chrono::microseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};

// A clock that moves only when told. Thread-safe: a test thread advances it while the
// pipeline threads read it.
class manual_clock final : public clock {
 public:
  explicit manual_clock(timestamp_us start = 0) : now_(start) {}
  timestamp_us now() const noexcept override { return now_.load(std::memory_order_acquire); }
  void set(timestamp_us t) noexcept { now_.store(t, std::memory_order_release); }
  void advance(timestamp_us d) noexcept { now_.fetch_add(d, std::memory_order_acq_rel); }

 private:
  std::atomic<timestamp_us> now_;
};

}  // namespace portscand
