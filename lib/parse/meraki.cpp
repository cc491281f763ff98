#include "parse/meraki.hpp"

#include <optional>

#include "event/network_session.hpp"
#include "parse/firewall_text.hpp"
#include "parse/json_util.hpp"
#include "parse/port.hpp"

namespace portscand {
namespace {

using fwtext::kv_pair;
using fwtext::kv_scanner;

constexpr std::string_view flow_types[] = {"flows",
                                           "firewall",
                                           "vpn_firewall",
                                           "cellular_firewall",
                                           "ip_flow_start",
                                           "ip_flow_end",
                                           "bridge_anyconnect_client_vpn_firewall"};
// Meraki event types that are not flows: recognised so that they are skipped (or, for the
// IDS alerts among them, read as sessions), not reported as an unknown format.
constexpr std::string_view other_types[] = {"urls", "ids-alerts", "events", "security_event",
                                            "airmarshal_events"};

// IDS alerts: the older "ids-alerts" event type, and "security_event ids_alerted" (also
// spelled "ids-alerted") of newer firmware. ASIM's Meraki parsers keep both as sessions;
// every other security_event subtype (file scans, ...) is not one.
bool is_ids_alert(std::string_view type, std::string_view subtype) noexcept {
  if (type == "ids-alerts") return true;
  return type == "security_event" && (subtype == "ids_alerted" || subtype == "ids-alerted");
}

bool is_flow_type(std::string_view t) noexcept {
  for (auto f : flow_types)
    if (t == f) return true;
  return false;
}

bool is_event_type(std::string_view t) noexcept {
  if (is_flow_type(t)) return true;
  for (auto f : other_types)
    if (t == f) return true;
  return false;
}

// "1647478988.289402144": whole seconds (9+ digits, i.e. after 1973) and a fraction.
bool is_epoch(std::string_view t) noexcept {
  const std::size_t dot = t.find('.');
  if (dot == std::string_view::npos || dot < 9 || dot > 11 || dot + 1 == t.size()) return false;
  for (std::size_t i = 0; i < t.size(); ++i)
    if (i != dot && !fwtext::is_digit(t[i])) return false;
  return true;
}

struct meraki_head {
  std::string_view epoch;   // "" when a header parser already took it
  std::string_view device;  // idem
  std::string_view type;
  std::size_t rest = 0;  // offset of what follows the event type
};

// Finds "<epoch> <device> <event type>" among the first tokens of the probe window (a
// syslog header may still be in front: "<134>1 1647478988.28 MX84 flows ..."), or a body
// that starts with a flow event type and has src= (when a header parser took the epoch and
// the device name).
bool locate_head(std::string_view unit, meraki_head& h) noexcept {
  const std::string_view head = unit.substr(0, probe_window);
  constexpr std::size_t max_tokens = 12;
  std::string_view tok[max_tokens];
  std::size_t end[max_tokens];
  std::size_t n = 0, pos = 0;
  while (n < max_tokens) {
    while (pos < head.size() && fwtext::is_space(head[pos])) ++pos;
    if (pos >= head.size()) break;
    const std::size_t start = pos;
    while (pos < head.size() && !fwtext::is_space(head[pos])) ++pos;
    tok[n] = head.substr(start, pos - start);
    end[n++] = pos;
  }
  for (std::size_t i = 0; i + 2 < n; ++i) {
    if (is_epoch(tok[i]) && is_event_type(tok[i + 2])) {
      h.epoch = tok[i];
      h.device = tok[i + 1];
      h.type = tok[i + 2];
      h.rest = end[i + 2];
      return true;
    }
  }
  if (n > 0) {
    std::string_view first = fwtext::strip_pri(tok[0]);
    const bool session_type =
        is_flow_type(first) || is_ids_alert(first, n > 1 ? tok[1] : std::string_view{});
    if (session_type && head.find(" src=") != std::string_view::npos) {
      h.type = first;
      h.rest = end[0];
      return true;
    }
  }
  return false;
}

// "1.2.3.4", "1.2.3.4:80", "[2001:db8::1]:80" or a bare "2001:db8::1".
void split_host_port(std::string_view v, std::string_view& host, std::string_view& port) noexcept {
  port = {};
  if (!v.empty() && v[0] == '[') {
    const std::size_t close = v.find(']');
    if (close == std::string_view::npos) {
      host = v;  // unparseable; the caller rejects it
      return;
    }
    host = v.substr(1, close - 1);
    if (close + 1 < v.size() && v[close + 1] == ':') port = v.substr(close + 2);
    return;
  }
  const std::size_t colon = v.find(':');
  if (colon != std::string_view::npos && v.find(':', colon + 1) == std::string_view::npos) {
    host = v.substr(0, colon);
    port = v.substr(colon + 1);
    return;
  }
  host = v;
}

dvc_action action_word(std::string_view w) noexcept {
  if (fwtext::iequals(w, "allow")) return dvc_action::allow;
  if (fwtext::iequals(w, "deny")) return dvc_action::deny;
  return dvc_action::unknown;
}

std::string_view first_word(std::string_view s) noexcept {
  std::size_t i = 0;
  while (i < s.size() && fwtext::is_space(s[i])) ++i;
  std::size_t j = i;
  while (j < s.size() && !fwtext::is_space(s[j])) ++j;
  return s.substr(i, j - i);
}

void take(std::string_view& field, bool& seen, std::string_view value) noexcept {
  if (seen) return;
  seen = true;
  field = value;
}

class meraki_parser final : public format_parser {
 public:
  void parse(std::string_view unit, const parse_context& /*ctx*/, parse_sink& sink) override {
    meraki_head h;
    if (!locate_head(unit, h)) {
      sink.rejected("no_meraki_header");
      return;
    }
    std::string_view rest = unit.substr(h.rest);
    const bool flow = is_flow_type(h.type);
    const bool ids = !flow && is_ids_alert(h.type, first_word(rest));
    if (!flow && !ids) {
      sink.skipped("not_a_flow");
      return;
    }
    // The rule text after "pattern:" and an IDS alert's signature text after "message:" are
    // free text (spaces, parentheses, "&&", even "src=" in a quoted URL): never pairs.
    std::string_view pattern;
    bool have_pattern = false;
    if (const std::size_t p = rest.find(flow ? " pattern:" : " message:");
        p != std::string_view::npos) {
      pattern = rest.substr(p + 9);
      rest = rest.substr(0, p);
      have_pattern = true;
    }

    std::string_view src, dst, dport, protocol, alert_time;
    bool have_src = false, have_dst = false, have_dport = false, have_proto = false,
         have_alert_time = false;
    kv_scanner scan(rest);
    kv_pair kv;
    while (scan.next(kv)) {
      const std::string_view k = kv.key;
      if (k == "src")
        take(src, have_src, kv.value);
      else if (k == "dst")
        take(dst, have_dst, kv.value);
      else if (k == "dport")
        take(dport, have_dport, kv.value);
      else if (k == "protocol")
        take(protocol, have_proto, kv.value);
      else if (ids && k == "timestamp")
        take(alert_time, have_alert_time, kv.value);
    }

    network_session s;
    // "flows allow src=..." / "firewall deny ..." name the action right after the event type;
    // otherwise the first word of the rule ("pattern: allow all", "pattern: deny (...)").
    // "pattern: 1 all" and "Group Policy Allow" stay unknown, as in ASIM's syslog parser.
    // IDS alerts get none: ASIM maps no DvcAction for them (their decision=/action= words
    // describe the IPS, not a firewall verdict).
    if (flow) {
      s.action = action_word(first_word(rest));
      if (s.action == dvc_action::unknown && have_pattern)
        s.action = action_word(first_word(pattern));
    }

    std::string_view src_host, src_port, dst_host, dst_port;
    split_host_port(src, src_host, src_port);
    split_host_port(dst, dst_host, dst_port);
    if (src_host.empty()) {
      sink.rejected("missing_src_ip");
      return;
    }
    if (auto ip = ip_address::parse(src_host)) {
      s.src = *ip;
    } else {
      sink.rejected("bad_src_ip");
      return;
    }
    if (auto ip = ip_address::parse(dst_host)) {
      s.dst = *ip;
      s.has_dst = true;
    }
    if (read_port(have_dport ? dport : dst_port, s.dst_port) == port_status::invalid) {
      sink.rejected("bad_dst_port");
      return;
    }
    if (protocol.size() > 3 && protocol.substr(protocol.size() - 3) == "/ip")
      protocol.remove_suffix(3);  // "tcp/ip"
    s.protocol = protocol_from_name(protocol);

    // An IDS alert's own time is its timestamp= (when the packet was seen), as in ASIM; the
    // header epoch is when the alert was logged. An unreadable timestamp= (a template's
    // placeholder) is counted and the header epoch used.
    const std::optional<timestamp_us> alert_us =
        have_alert_time ? json::epoch_to_us(alert_time) : std::nullopt;
    if (alert_us) {
      s.time = *alert_us;
      s.has_time = true;
    } else if (!h.epoch.empty()) {
      if (auto t = json::epoch_to_us(h.epoch)) {
        s.time = *t;
        s.has_time = true;
      } else {
        sink.rejected("bad_time");
        return;
      }
    }
    if (have_alert_time && !alert_us) sink.ignored_field("bad_time_field");

    s.reported_by = labels_.reported_by("Cisco", "Meraki");
    if (!h.device.empty()) s.device = labels_.get(h.device);
    sink.record(s);
  }

 private:
  label_cache labels_;
};

bool probe_meraki(std::string_view head) noexcept {
  meraki_head h;
  return locate_head(head, h);
}

}  // namespace

format_entry meraki_format() {
  return {"meraki",
          "Cisco Meraki syslog (flows, firewall, ip_flow_start/end event types, IDS alerts)",
          [] { return std::make_unique<meraki_parser>(); }, probe_meraki};
}

}  // namespace portscand
