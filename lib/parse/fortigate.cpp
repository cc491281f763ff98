#include "parse/fortigate.hpp"

#include "event/network_session.hpp"
#include "parse/field_table.hpp"
#include "parse/firewall_text.hpp"
#include "parse/json_util.hpp"
#include "parse/port.hpp"
#include "parse/probe_util.hpp"

namespace portscand {
namespace {

using fwtext::kv_pair;
using fwtext::kv_scanner;

dvc_action action_from_fortios(std::string_view a) noexcept {
  if (a == "accept") return dvc_action::allow;
  if (a == "deny") return dvc_action::deny;
  if (a == "client-rst") return dvc_action::reset_source;
  if (a == "server-rst") return dvc_action::reset_destination;
  // close / timeout / ip-conn end an allowed session without saying more: ASIM leaves
  // DvcAction empty for them, and so do we.
  return dvc_action::unknown;
}

// True when `key=` occurs in `head` at the start or after a blank or a PRI's '>': a key of
// its own, not the tail of another key ("FTNTFGTlogid=" in FortiGate CEF).
bool has_key(std::string_view head, std::string_view key_eq) noexcept {
  for (std::size_t p = probe_find(head, key_eq); p != std::string_view::npos;
       p = probe_find(head, key_eq, p + 1)) {
    if (p == 0 || fwtext::is_space(head[p - 1]) || head[p - 1] == '>') return true;
  }
  return false;
}

// Keeps the first occurrence of a key.
void take(std::string_view& field, bool& seen, std::string_view value) noexcept {
  if (seen) return;
  seen = true;
  field = value;
}

// The pairs a traffic record reads.
enum class fortigate_field : std::uint8_t {
  other,
  tz,
  type,
  date,
  time,
  srcip,
  dstip,
  proto,
  action,
  dstport,
  devname,
  eventtime
};

constexpr auto fortigate_fields =
    make_field_table(fortigate_field::other, {{"tz", fortigate_field::tz},
                                              {"type", fortigate_field::type},
                                              {"date", fortigate_field::date},
                                              {"time", fortigate_field::time},
                                              {"srcip", fortigate_field::srcip},
                                              {"dstip", fortigate_field::dstip},
                                              {"proto", fortigate_field::proto},
                                              {"action", fortigate_field::action},
                                              {"dstport", fortigate_field::dstport},
                                              {"devname", fortigate_field::devname},
                                              {"eventtime", fortigate_field::eventtime}});

class fortigate_parser final : public format_parser {
 public:
  void parse(std::string_view unit, const parse_context& ctx, parse_sink& sink) override {
    std::string_view type, srcip, dstip, dstport, proto, action, eventtime, date, time, tz, devname;
    bool have_type = false, have_src = false, have_dst = false, have_dport = false,
         have_proto = false, have_action = false, have_eventtime = false, have_date = false,
         have_time = false, have_devname = false;
    std::optional<std::int64_t> offset;

    // Keys repeat in some records (two tz on FortiOS 7 utm logs): the first occurrence wins,
    // except that a tz which does not read as an offset ("UTC-5:00" is read) gives way to a
    // later one.
    kv_scanner scan(unit);
    kv_pair kv;
    while (scan.next(kv)) {
      const std::string_view k = kv.key;
      const std::string_view v = kv.value;
      switch (fortigate_fields.find(k)) {
        case fortigate_field::tz:
          if (!offset) {
            offset = fwtext::parse_utc_offset(v);
            tz = v;
          }
          break;
        case fortigate_field::type:
          take(type, have_type, v);
          break;
        case fortigate_field::date:
          take(date, have_date, v);
          break;
        case fortigate_field::time:
          take(time, have_time, v);
          break;
        case fortigate_field::srcip:
          take(srcip, have_src, v);
          break;
        case fortigate_field::dstip:
          take(dstip, have_dst, v);
          break;
        case fortigate_field::proto:
          take(proto, have_proto, v);
          break;
        case fortigate_field::action:
          take(action, have_action, v);
          break;
        case fortigate_field::dstport:
          take(dstport, have_dport, v);
          break;
        case fortigate_field::devname:
          take(devname, have_devname, v);
          break;
        case fortigate_field::eventtime:
          take(eventtime, have_eventtime, v);
          break;
        case fortigate_field::other:
          break;
      }
    }

    if (!have_type || type.empty()) {
      sink.rejected("missing_type");
      return;
    }
    if (type != "traffic") {
      sink.skipped("not_traffic");
      return;
    }
    // ASIM drops FortiGate DNS rows (action "dns"): they are DNS events, not sessions.
    if (action == "dns") {
      sink.skipped("dns");
      return;
    }

    network_session s;
    if (srcip.empty()) {
      sink.rejected("missing_src_ip");
      return;
    }
    if (auto ip = ip_address::parse(srcip)) {
      s.src = *ip;
    } else {
      sink.rejected("bad_src_ip");
      return;
    }
    // The rule does not use the destination: an unreadable one leaves it unset.
    if (auto ip = ip_address::parse(dstip)) {
      s.dst = *ip;
      s.has_dst = true;
    }
    if (read_port(dstport, s.dst_port) == port_status::invalid) {
      sink.rejected("bad_dst_port");
      return;
    }
    s.protocol = protocol_from_name(proto);
    s.action = action_from_fortios(action);

    if (!eventtime.empty()) {
      // eventtime is seconds on FortiOS 6.0, nanoseconds on 6.2+ (micro/milli on some
      // builds): epoch_to_us tells them apart by magnitude.
      if (auto t = json::epoch_to_us(eventtime)) {
        s.time = *t;
        s.has_time = true;
      }
    }
    if (!s.has_time && !date.empty() && !time.empty()) {
      // date/time are the device's wall clock, in tz when given; without tz, in the input's
      // zone (default UTC).
      if (!tz.empty() && !offset) {
        sink.rejected("bad_time");
        return;
      }
      if (auto t = fwtext::civil_to_us(date, time, offset.value_or(0))) {
        s.time = !offset && ctx.zone != nullptr ? ctx.zone->to_utc(*t) : *t;
        s.has_time = true;
      }
    }
    if (!s.has_time) {
      if (!eventtime.empty() || !date.empty() || !time.empty()) {
        sink.rejected("bad_time");
        return;
      }
    }

    s.reported_by = labels_.reported_by("Fortinet", "Fortigate");
    if (!devname.empty()) s.device = labels_.get(devname);
    sink.record(s);
  }

 private:
  label_cache labels_;
};

bool probe_fortigate(std::string_view head) noexcept {
  // FortiGate also speaks CEF, whose extension keys embed the same names
  // (FTNTFGTlogid=): that is the CEF format's unit, not ours.
  if (probe_has(head, "CEF:") || probe_has(head, "LEEF:")) return false;
  if (!has_key(head, "logid=") && !has_key(head, "log_id=")) return false;
  if (!has_key(head, "type=")) return false;
  return has_key(head, "devid=") || has_key(head, "devname=") || has_key(head, "eventtime=") ||
         has_key(head, "date=") || has_key(head, "device_id=");
}

}  // namespace

format_entry fortigate_format() {
  return {"fortigate", "Fortinet FortiGate native syslog (key=value; type=traffic records)",
          [] { return std::make_unique<fortigate_parser>(); }, probe_fortigate};
}

}  // namespace portscand
