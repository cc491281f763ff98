#pragma once

#include <memory>
#include <string>
#include <vector>

#include "event/alert.hpp"

namespace portscand::test {

inline std::shared_ptr<const rule_metadata> test_rule() {
  static const auto rule = [] {
    auto r = std::make_shared<rule_metadata>();
    r->id = "1da9853f-3dea-4ea9-b7e5-26730da3d537";
    r->name = "Port scan detected (ASIM Network Session schema)";
    r->version = "1.0.6";
    r->severity = "Medium";
    r->tactics = {"Discovery"};
    r->techniques = {"T1046"};
    r->title_format = "Potential port scan from {{SrcIpAddr}}";
    r->description_format = "{{SrcIpAddr}} tried {{AttemptedPortsCount}} ports";
    return r;
  }();
  return rule;
}

// Alert number i: source 203.0.113.<i % 250> in bin i / 250, so every i has its own id.
inline alert test_alert(int i) {
  alert a;
  a.rule = test_rule();
  a.src = *ip_address::parse("203.0.113." + std::to_string(i % 250));
  a.bin_start = *parse_iso8601("2026-11-28T10:05:00Z") + (i / 250) * 300 * us_per_second;
  a.bin_end = a.bin_start + 300 * us_per_second;
  a.ports_count = 51;
  for (std::uint16_t p = 1; p <= 51; ++p) a.ports.push_back(p);
  a.reported_by = {"Fortinet/FortiGate"};
  a.first_seen = a.bin_start + 1;
  a.last_seen = a.bin_end - 1;
  a.event_count = 60;
  a.detected_at = a.bin_end;
  a.alert_id = make_alert_id(a.rule->id, a.src, a.bin_start);
  return a;
}

inline std::vector<alert> test_alerts(int first, int count) {
  std::vector<alert> out;
  for (int i = first; i < first + count; ++i) out.push_back(test_alert(i));
  return out;
}

}  // namespace portscand::test
