#include "parse/panos.hpp"

#include <array>

#include "event/network_session.hpp"
#include "parse/firewall_text.hpp"
#include "parse/port.hpp"

namespace portscand {
namespace {

// 0-based CSV positions of the TRAFFIC log, stable from PAN-OS 8.x to 11.x (later versions
// only append fields).
enum field : std::size_t {
  f_receive_time = 1,
  f_type = 3,
  f_generated_time = 6,
  f_src = 7,
  f_dst = 8,
  f_dst_port = 25,
  f_protocol = 29,
  f_action = 30,
  f_device_name = 52,
  f_count  // fields read; the rest of the line is ignored
};
constexpr std::size_t min_fields = f_action + 1;

dvc_action action_from_panos(std::string_view a) noexcept {
  if (a == "allow") return dvc_action::allow;
  if (a == "deny") return dvc_action::deny;
  if (a == "drop") return dvc_action::drop;
  if (a == "drop-icmp" || a == "drop ICMP" || a == "drop-ICMP") return dvc_action::drop_icmp;
  if (a == "reset-client" || a == "reset client") return dvc_action::reset_source;
  if (a == "reset-server" || a == "reset server") return dvc_action::reset_destination;
  if (a == "reset-both" || a == "reset both") return dvc_action::reset;
  return dvc_action::unknown;
}

// Where the CSV starts: the FUTURE_USE field in front of ",YYYY/MM/DD hh:mm:ss,<serial>,
// <TYPE>,". Looked for within the probe window so that a syslog header still in front of
// the body ("Nov 30 16:09:08 PA-220 1,2018/11/30 ...") is stepped over. npos when absent.
std::size_t locate_csv(std::string_view unit) noexcept {
  const std::string_view head = unit.substr(0, probe_window);
  for (std::size_t p = head.find(','); p != std::string_view::npos; p = head.find(',', p + 1)) {
    if (!fwtext::is_slash_datetime(unit, p + 1) || p + 20 >= unit.size() || unit[p + 20] != ',')
      continue;
    // serial, then the log type in capitals
    const std::size_t serial_end = unit.find(',', p + 21);
    if (serial_end == std::string_view::npos) continue;
    std::size_t q = serial_end + 1;
    const std::size_t type_start = q;
    while (q < unit.size() && ((unit[q] >= 'A' && unit[q] <= 'Z') || unit[q] == '_')) ++q;
    if (q == type_start || q >= unit.size() || unit[q] != ',') continue;
    std::size_t start = p;
    while (start > 0 && !fwtext::is_space(unit[start - 1]) && unit[start - 1] != '>' &&
           unit[start - 1] != ',')
      --start;
    return start;
  }
  return std::string_view::npos;
}

// Splits the first f_count CSV fields; quoted fields may hold commas ("" escapes a quote
// and stays in the view). Returns how many fields were read, or 0 on broken quoting; `rest`
// is what follows the last field read (after its comma).
std::size_t split_csv(std::string_view s, std::array<std::string_view, f_count>& out,
                      std::string_view& rest) noexcept {
  std::size_t n = 0, pos = 0;
  rest = {};
  while (n < f_count) {
    if (pos < s.size() && s[pos] == '"') {
      const std::size_t v = ++pos;
      for (;;) {
        if (pos >= s.size()) return 0;
        if (s[pos] == '"') {
          if (pos + 1 < s.size() && s[pos + 1] == '"') {
            pos += 2;
            continue;
          }
          break;
        }
        ++pos;
      }
      out[n++] = s.substr(v, pos - v);
      ++pos;  // closing quote; a comma or the end must follow
      if (pos < s.size() && s[pos] != ',') return 0;
    } else {
      const std::size_t comma = s.find(',', pos);
      const std::size_t end = comma == std::string_view::npos ? s.size() : comma;
      out[n++] = s.substr(pos, end - pos);
      pos = end;
    }
    if (pos >= s.size()) break;
    ++pos;  // the comma
  }
  if (n == f_count && pos <= s.size()) rest = s.substr(pos);
  return n;
}

// "YYYY-MM-DDThh:mm:ss[.fff](Z|+hh:mm|-hh:mm)": PAN-OS's High Resolution Timestamp.
bool is_high_res(std::string_view v) noexcept {
  if (v.size() < 20 || v.size() > 35 || v[4] != '-' || v[7] != '-' || v[10] != 'T' ||
      v[13] != ':' || v[16] != ':')
    return false;
  const char last = v.back();
  return last == 'Z' || (v.size() >= 25 && (v[v.size() - 6] == '+' || v[v.size() - 6] == '-'));
}

// PAN-OS 10.0 and later append a High Resolution Timestamp (the generated time with
// milliseconds and the device's UTC offset) to every log type, after the fields read here;
// its position moves with the version (102 in 10.1+ TRAFFIC logs). The first field after the
// device name with its shape is taken. Quoted fields are stepped over whole.
std::optional<timestamp_us> high_res_time(std::string_view rest) noexcept {
  std::size_t pos = 0;
  while (pos < rest.size()) {
    std::size_t end;
    if (rest[pos] == '"') {
      std::size_t q = pos + 1;
      for (;;) {
        if (q >= rest.size()) return std::nullopt;  // an unterminated quote ends the search
        if (rest[q] != '"') {
          ++q;
        } else if (q + 1 < rest.size() && rest[q + 1] == '"') {
          q += 2;
        } else {
          break;
        }
      }
      end = rest.find(',', q);
    } else {
      end = rest.find(',', pos);
    }
    if (end == std::string_view::npos) end = rest.size();
    const std::string_view v = rest.substr(pos, end - pos);
    if (is_high_res(v)) {
      // Placeholders of an unset time read as the epoch (1969-12-31T16:00:00-08:00).
      if (auto t = parse_iso8601(v); t && *t > 0) return t;
    }
    pos = end + 1;
  }
  return std::nullopt;
}

std::optional<timestamp_us> panos_time(std::string_view text, local_zone* zone) noexcept {
  if (text.size() != 19 || !fwtext::is_slash_datetime(text, 0)) return std::nullopt;
  // The firewall writes its own local time without a zone: read in the input's zone (default
  // UTC; see README).
  auto t = fwtext::civil_to_us(text.substr(0, 10), text.substr(11), 0);
  if (t && zone != nullptr) return zone->to_utc(*t);
  return t;
}

class panos_parser final : public format_parser {
 public:
  void parse(std::string_view unit, const parse_context& ctx, parse_sink& sink) override {
    const std::size_t start = locate_csv(unit);
    if (start == std::string_view::npos) {
      sink.rejected("no_panos_header");
      return;
    }
    std::array<std::string_view, f_count> f{};
    std::string_view rest;
    const std::size_t n = split_csv(unit.substr(start), f, rest);
    if (n == 0) {
      sink.rejected("bad_quoting");
      return;
    }
    if (f[f_type] != "TRAFFIC") {
      sink.skipped("not_traffic");
      return;
    }
    if (n < min_fields) {
      sink.rejected("truncated_record");
      return;
    }

    network_session s;
    if (f[f_src].empty()) {
      sink.rejected("missing_src_ip");
      return;
    }
    if (auto ip = ip_address::parse(f[f_src])) {
      s.src = *ip;
    } else {
      sink.rejected("bad_src_ip");
      return;
    }
    if (auto ip = ip_address::parse(f[f_dst])) {
      s.dst = *ip;
      s.has_dst = true;
    }
    if (read_port(f[f_dst_port], s.dst_port) == port_status::invalid) {
      sink.rejected("bad_dst_port");
      return;
    }
    s.protocol = protocol_from_name(f[f_protocol]);
    s.action = action_from_panos(f[f_action]);

    // When the dataplane logged the session: the high-resolution timestamp with the device's
    // own offset (PAN-OS 10+), else the generated time, else the management plane's receive
    // time, both on the device's wall clock. Not the session start time: a long session's
    // log would be binned where the session began.
    std::optional<timestamp_us> t = high_res_time(rest);
    if (!t) t = panos_time(f[f_generated_time], ctx.zone);
    if (!t) t = panos_time(f[f_receive_time], ctx.zone);
    if (!t) {
      sink.rejected("bad_time");
      return;
    }
    s.time = *t;
    s.has_time = true;

    s.reported_by = labels_.reported_by("Palo Alto", "PanOS");
    if (n > f_device_name && !f[f_device_name].empty()) s.device = labels_.get(f[f_device_name]);
    sink.record(s);
  }

 private:
  label_cache labels_;
};

bool probe_panos(std::string_view head) noexcept {
  return locate_csv(head) != std::string_view::npos;
}

}  // namespace

format_entry panos_format() {
  return {"panos", "Palo Alto Networks PAN-OS syslog CSV (TRAFFIC logs)",
          [] { return std::make_unique<panos_parser>(); }, probe_panos};
}

}  // namespace portscand
