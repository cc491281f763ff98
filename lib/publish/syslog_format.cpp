#include "publish/syslog_format.hpp"

#include <array>

#include "core/time.hpp"
#include "event/network_session.hpp"

namespace portscand {
namespace {

std::string join(const auto& items) {
  std::string out;
  for (const auto& x : items) {
    if (!out.empty()) out += ',';
    if constexpr (std::is_integral_v<std::decay_t<decltype(x)>>)
      out += std::to_string(x);
    else
      out += x;
  }
  return out;
}

std::string epoch_ms(timestamp_us t) {
  // Floor division: a time before 1970 must not round towards it.
  const timestamp_us ms = t >= 0 ? t / 1000 : -((-t + 999) / 1000);
  return std::to_string(ms);
}

}  // namespace

std::string cef_escape_header(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    if (c == '\\' || c == '|') out += '\\';
    out += (c == '\n' || c == '\r') ? ' ' : c;
  }
  return out;
}

std::string cef_escape_extension(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    if (c == '\\' || c == '=') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else {
      out += c;
    }
  }
  return out;
}

int cef_severity(std::string_view s) {
  if (s == "Informational") return 1;
  if (s == "Low") return 3;
  if (s == "Medium") return 5;
  if (s == "High") return 8;
  if (s == "Critical") return 10;
  return 5;
}

int syslog_severity_for_rule(std::string_view s) {
  if (s == "Informational") return 6;
  if (s == "Low") return 5;
  if (s == "Medium") return 4;
  if (s == "High") return 3;
  if (s == "Critical") return 2;
  return 4;
}

std::string render_cef(const alert& a, std::string_view product_version) {
  const rule_metadata& r = *a.rule;
  std::string out = "CEF:0|portscand|portscand|";
  out += cef_escape_header(product_version);
  out += '|';
  out += cef_escape_header(r.id);
  out += '|';
  out += cef_escape_header(expand_alert_format(r.title_format, a));
  out += '|';
  out += std::to_string(cef_severity(r.severity));
  out += '|';
  auto field = [&out, first = true](std::string_view key, std::string_view value) mutable {
    if (!first) out += ' ';
    first = false;
    out += key;
    out += '=';
    out += cef_escape_extension(value);
  };
  field("rt", epoch_ms(a.detected_at));
  field("start", epoch_ms(a.first_seen));
  field("end", epoch_ms(a.last_seen));
  // CEF's src is an IPv4 address; an IPv6 source goes to c6a2 (Source IPv6 Address).
  if (a.src.is_v4()) {
    field("src", a.src.to_string());
  } else {
    field("c6a2", a.src.to_string());
    field("c6a2Label", "Source IPv6 Address");
  }
  field("cnt", std::to_string(a.event_count));
  field("externalId", a.alert_id);
  if (!r.tactics.empty()) field("cat", join(r.tactics));
  field("cs1Label", "AttemptedPorts");
  field("cs1", join(a.ports));
  if (a.sweep()) {  // a port sweep: the port and how many addresses were tried on it
    field("dpt", std::to_string(a.swept_port));
    field("cn1Label", "TargetCount");
    field("cn1", std::to_string(a.target_count));
  } else {
    field("cn1Label", "AttemptedPortsCount");
    field("cn1", std::to_string(a.ports_count));
  }
  if (!a.reported_by.empty()) {
    field("cs2Label", "ReportedBy");
    field("cs2", join(a.reported_by));
  }
  if (!r.techniques.empty()) {
    field("cs3Label", "Techniques");
    field("cs3", join(r.techniques));
  }
  field("cs4Label", "RuleName");
  field("cs4", r.name);
  field("cs5Label", "BinStart");
  field("cs5", format_iso8601(a.bin_start));
  if (!a.incident_id.empty()) {
    field("cs6Label", "IncidentId");
    field("cs6", a.incident_id);
  }
  if (a.early) {
    field("flexString2Label", "FinalAlertId");
    field("flexString2", a.final_alert_id);
  }
  if (a.has_targets) {
    // dst and proto name one value: set only when the scan had exactly one.
    if (a.targets.size() == 1 && !a.targets_truncated && a.targets[0].address.is_v4())
      field("dst", a.targets[0].address.to_string());
    const auto protocols = protocol_bit_names(a.protocols);
    if (protocols.size() == 1 && protocols[0] != "other") field("proto", protocols[0]);
    std::string targets;
    for (const auto& t : a.targets) {
      if (!targets.empty()) targets += ", ";
      targets += t.address.to_string() + " (" + std::to_string(t.attempts) + ")";
    }
    if (a.targets_truncated) targets += targets.empty() ? "..." : ", ...";
    field("flexString1Label", "Targets");
    field("flexString1", targets);
    field("cn2Label", "AllowedAttempts");
    field("cn2", std::to_string(a.outcomes.allowed));
    field("cn3Label", "BlockedAttempts");
    field("cn3", std::to_string(a.outcomes.denied + a.outcomes.dropped));
  }
  field("msg", expand_alert_format(r.description_format, a));
  return out;
}

std::string rfc5424_message(const syslog_header_fields& h, const alert& a, std::string_view body) {
  const int severity = h.severity >= 0 ? h.severity : syslog_severity_for_rule(a.rule->severity);
  std::string out = "<";
  out += std::to_string(h.facility * 8 + severity);
  out += ">1 ";
  out += format_iso8601(a.detected_at);
  out += ' ';
  out += h.hostname.empty() ? "-" : h.hostname;
  out += ' ';
  out += h.app_name.empty() ? "-" : h.app_name;
  out += ' ';
  out += h.procid.empty() ? "-" : h.procid;
  out += " alert - ";
  out += body;
  return out;
}

std::string octet_counted(std::string_view message) {
  std::string out = std::to_string(message.size());
  out += ' ';
  out += message;
  return out;
}

std::string syslog_body_for(const alert& a, syslog_body format, output_schema schema,
                            std::string_view product_version) {
  if (format == syslog_body::cef) return render_cef(a, product_version);
  return render_alert(a, schema == output_schema::ocsf ? alert_schema::ocsf : alert_schema::native);
}

}  // namespace portscand
