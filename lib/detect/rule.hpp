#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "core/time.hpp"
#include "detect/exclusions.hpp"
#include "event/alert.hpp"

namespace portscand {

// The rule's parameters (SPEC §1): what the detection needs, plus the metadata that travels
// with each alert. Immutable once built; a reload builds a new one and swaps the pointer.
struct rule_definition {
  std::shared_ptr<const rule_metadata> metadata;
  std::uint32_t threshold = 50;  // alert when distinct ports > threshold
  timestamp_us bin_width = 5 * us_per_minute;
  std::uint32_t max_ports = 100;  // AttemptedPorts cap
  std::uint32_t max_labels = 20;  // ReportedBy cap
  timestamp_us query_frequency = 60 * us_per_minute;
  timestamp_us query_period = 60 * us_per_minute;
  // A portscand rule file's `window:` (true = sliding); unset = the configuration decides
  // (evaluation.window, which wins when it names one).
  std::optional<bool> sliding_window;
  // The configuration's rule-level options (with_options): records the exclusions match do
  // not count (null = none).
  std::shared_ptr<const exclusion_set> exclusions;
  // After an alert for a source, no alert for a bin of that source starting less than this
  // before or after its bin (event time); 0 = off.
  timestamp_us suppression = 0;
  // `incidents.grouping`: alerts of one source whose bins start less than this after the
  // first alert of its incident share the incident id; 0 = one incident per alert.
  timestamp_us incident_grouping = 24 * 60 * us_per_minute;
  // `early_alerts.enabled`: an early alert when a key crosses the threshold (evaluator::early).
  bool early_alerts = false;
};

// The built-in rule: the published Sentinel rule 1da9853f-3dea-4ea9-b7e5-26730da3d537 v1.0.6.
rule_definition default_rule();

// `rule` with the configuration's rule-level options (`exclusions`, `suppression`), which
// reload with it.
rule_definition with_options(rule_definition rule, const config& cfg);

}  // namespace portscand
