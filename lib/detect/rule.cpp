#include "detect/rule.hpp"

namespace portscand {

rule_definition default_rule() {
  auto m = std::make_shared<rule_metadata>();
  m->id = "1da9853f-3dea-4ea9-b7e5-26730da3d537";
  m->name = "Port scan detected (ASIM Network Session schema)";
  m->version = "1.0.6";
  m->severity = "Medium";
  m->tactics = {"Discovery"};
  m->techniques = {"T1046"};
  m->title_format = "Potential port scan from {{SrcIpAddr}}";
  m->description_format =
      "Source {{SrcIpAddr}} tried {{AttemptedPortsCount}} distinct destination ports within one "
      "5-minute window, a pattern typical of a port scanner probing for open services.";
  rule_definition r;
  r.metadata = std::move(m);
  return r;
}

rule_definition default_sweep_rule() {
  auto m = std::make_shared<rule_metadata>();
  m->id = "842a5b8e-315e-42ef-bb51-ef4a30b32fce";
  m->name = "Port sweep detected (portscand)";
  m->version = "1.0.0";
  m->severity = "Medium";
  m->tactics = {"Discovery"};
  m->techniques = {"T1046"};
  m->title_format = "Potential port sweep of port {{DstPortNumber}} from {{SrcIpAddr}}";
  m->description_format =
      "Source {{SrcIpAddr}} tried destination port {{DstPortNumber}} on {{TargetCount}} distinct "
      "destination addresses within one 5-minute window, a pattern typical of a horizontal scan "
      "for one service.";
  rule_definition r;
  r.metadata = std::move(m);
  r.kind = rule_kind::sweep;
  return r;
}

rule_set rule_set::of(rule_definition vertical) {
  rule_set s;
  s.vertical = std::make_shared<const rule_definition>(std::move(vertical));
  return s;
}

rule_definition with_options(rule_definition rule, const config& cfg) {
  rule.exclusions =
      cfg.exclusions.empty() ? nullptr : std::make_shared<const exclusion_set>(cfg.exclusions);
  rule.suppression = cfg.suppression;
  rule.incident_grouping = cfg.incident_grouping;
  rule.early_alerts = cfg.early_alerts;
  return rule;
}

}  // namespace portscand
