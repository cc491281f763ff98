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
// What a rule counts per source and 5-minute bin (README "Several rules"): distinct
// destination ports (the vertical scan of SPEC §1), or distinct destination addresses per
// destination port (a horizontal port sweep).
enum class rule_kind : std::uint8_t { vertical, sweep };

struct rule_definition {
  std::shared_ptr<const rule_metadata> metadata;
  rule_kind kind = rule_kind::vertical;
  std::uint32_t threshold = 50;  // alert when the distinct count > threshold
  timestamp_us bin_width = 5 * us_per_minute;
  std::uint32_t max_ports = 100;    // AttemptedPorts cap
  std::uint32_t max_labels = 20;    // ReportedBy cap
  std::uint32_t max_targets = 100;  // sweep: the destination addresses an alert lists (<= 255)
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
// The built-in port-sweep rule (README "Port sweeps"): more than 50 distinct destination
// addresses for one (source, destination port) in a 5-minute bin.
rule_definition default_sweep_rule();

// The rules in force (README "Several rules"): at most one of each kind, at least one.
// Immutable once built; a reload builds a new set and swaps the pointer.
struct rule_set {
  std::shared_ptr<const rule_definition> vertical;  // null: not evaluated
  std::shared_ptr<const rule_definition> sweep;     // null: not evaluated
  // The first rule listed: the schedule (query frequency), the bin width and the retention
  // every rule shares (the loader refuses rules that differ in them).
  const rule_definition& lead() const noexcept { return vertical ? *vertical : *sweep; }
  // A set of the vertical rule alone.
  static rule_set of(rule_definition vertical);
};

// `rule` with the configuration's rule-level options (`exclusions`, `suppression`), which
// reload with it.
rule_definition with_options(rule_definition rule, const config& cfg);

}  // namespace portscand
