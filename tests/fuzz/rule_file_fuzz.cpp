// Fuzzes rule files: any bytes as a rule file's YAML (portscand's format or Sentinel's
// analytic-rule format), and as the KQL query of a Sentinel rule. Never a crash or an
// exception; a rule built without problems keeps what the loader promises (README "Rule
// files"): an id, caps and durations in their ranges, a bin that divides an hour, and
// title and description templates that expand.
#include <cstdint>
#include <string>

#include "config/rule_file.hpp"
#include "detect/rule_loader.hpp"
#include "event/alert.hpp"

namespace {

void check(const portscand::rule_definition& r) {
  using namespace portscand;
  if (r.metadata == nullptr || r.metadata->id.empty()) __builtin_trap();
  if (r.max_ports < 1 || r.max_ports > 65536) __builtin_trap();
  if (r.max_labels < 1 || r.max_labels > 64) __builtin_trap();
  if (r.max_targets > 255) __builtin_trap();
  if (r.bin_width < us_per_second || r.bin_width > 60 * us_per_minute ||
      (60 * us_per_minute) % r.bin_width != 0)
    __builtin_trap();
  if (r.query_frequency <= 0 || r.query_period <= 0) __builtin_trap();
  alert a;
  a.src = *ip_address::parse("203.0.113.7");
  a.ports = {22, 80};
  a.ports_count = 2;
  (void)expand_alert_format(r.metadata->title_format, a);
  (void)expand_alert_format(r.metadata->description_format, a);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace portscand;
  const std::string text(reinterpret_cast<const char*>(data), size);

  const rule_file_result f = parse_rule_file_text(text);
  if (f.problems.empty()) {
    const rule_load_result r = build_rule(f.rule);
    if (r.problems.empty()) check(r.rule);
  }

  rule_definition from_query = default_rule();
  if (read_sentinel_query(text, from_query).empty()) check(from_query);
  return 0;
}
