#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "config/config.hpp"
#include "core/clock.hpp"
#include "core/metrics.hpp"
#include "ingest/unit_sink.hpp"

namespace portscand {

// A `file` input of the daemon: reads a file of lines (NDJSON or any line format) from the
// start, then follows it as it grows (like `tail -F`: a file replaced by rotation or
// truncated is reopened and read from its start). One thread.
class file_source {
 public:
  file_source(std::string name, const file_input_config& cfg, std::unique_ptr<unit_sink> sink,
              metrics_registry& metrics, const clock& clk);
  ~file_source();
  file_source(const file_source&) = delete;
  file_source& operator=(const file_source&) = delete;

  void start();
  void stop();

 private:
  void run();

  std::string name_;
  file_input_config cfg_;
  std::unique_ptr<unit_sink> sink_;
  const clock& clock_;
  counter* lines_;
  counter* too_long_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
};

}  // namespace portscand
