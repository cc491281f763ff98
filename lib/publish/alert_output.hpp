#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "core/metrics.hpp"
#include "event/alert.hpp"

namespace portscand {

// A destination for alerts (SPEC §3 outputs). The publisher thread is the only caller.
// Delivery is at-least-once: an alert handed to publish() is retried until the output
// confirms it or the process stops; it is never dropped silently. Alert ids are
// deterministic, so a re-sent alert carries the same id.
class alert_output {
 public:
  virtual ~alert_output() = default;
  virtual const std::string& name() const = 0;
  // Queues alerts for delivery. Accepts the whole batch or none of it: returns false when
  // pending() + alerts.size() would exceed the output's bound (the publisher keeps them and
  // retries later, loudly). A batch larger than the whole bound is accepted when nothing is
  // pending, so that it cannot be refused forever.
  virtual bool publish(const std::vector<alert>& alerts) = 0;
  // Serves delivery reports and retries, and does the writing for outputs that write
  // synchronously (file); call regularly (every ~100 ms) from the publisher thread.
  virtual void poll() = 0;
  // Alerts handed over but not yet confirmed delivered.
  virtual std::size_t pending() const = 0;
  // Waits up to `timeout` for pending alerts to be delivered. Returns true when none remain.
  virtual bool flush(std::chrono::milliseconds timeout) = 0;
  // True while the output can deliver (broker reachable, file writable).
  virtual bool healthy() const = 0;
};

// portscand_alert_delivery_failures_total{output, reason}, registered with its one help text
// for every output.
counter& delivery_failures(metrics_registry& metrics, const std::string& output,
                           const std::string& reason);

// Builds an output from its configuration. Throws std::runtime_error with a clear message
// on a fatal configuration problem (startup only).
std::unique_ptr<alert_output> make_output(const output_config& cfg, metrics_registry& metrics);

}  // namespace portscand
