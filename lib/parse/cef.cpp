#include "parse/cef.hpp"

#include <array>
#include <string>

#include "event/network_session.hpp"
#include "parse/field_table.hpp"
#include "parse/json_util.hpp"
#include "parse/port.hpp"
#include "parse/syslog_header.hpp"

namespace portscand {
namespace {

constexpr auto npos = std::string_view::npos;

constexpr bool is_digit(char c) noexcept {
  return c >= '0' && c <= '9';
}
constexpr bool is_alnum(char c) noexcept {
  return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
constexpr char lower(char c) noexcept {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c;
}

bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}

bool istarts_with(std::string_view s, std::string_view prefix) noexcept {
  return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

bool icontains(std::string_view s, std::string_view needle) noexcept {
  if (needle.size() > s.size()) return false;
  for (std::size_t i = 0; i + needle.size() <= s.size(); ++i)
    if (iequals(s.substr(i, needle.size()), needle)) return true;
  return false;
}

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Undoes CEF escapes into `buf`, only when the value has any (the common case is a view).
// Header fields escape '|' and '\'; extension values escape '=', '\', and spell line breaks
// as \n and \r.
std::string_view unescape(std::string_view v, bool extension, std::string& buf) {
  if (v.find('\\') == npos) return v;
  buf.clear();
  for (std::size_t i = 0; i < v.size(); ++i) {
    char c = v[i];
    if (c == '\\' && i + 1 < v.size()) {
      c = v[++i];
      if (extension && c == 'n')
        c = '\n';
      else if (extension && c == 'r')
        c = '\r';
    }
    buf.push_back(c);
  }
  return buf;
}

// Where the CEF text starts: at byte 0, or after a prefix the syslog header parser did not
// take ("2024-01-01 10:00:00 host CEF:0|..."), then always "CEF:" + a version digit. The
// parser takes any "CEF:" at byte 0 (a bad version there is a malformed header); the probe
// wants the digit everywhere.
std::size_t find_cef(std::string_view s, bool strict) noexcept {
  const std::size_t first = s.find_first_not_of(" \t");
  if (first == npos) return npos;
  if (s.substr(first, 4) == "CEF:" && (!strict || (first + 4 < s.size() && is_digit(s[first + 4]))))
    return first;
  for (std::size_t k = s.find(" CEF:"); k != npos; k = s.find(" CEF:", k + 1))
    if (k + 5 < s.size() && is_digit(s[k + 5])) return k + 1;
  return npos;
}

// The extension fields the normalized record needs. Values are raw (still escaped) views.
struct extension {
  std::string_view src, dst, dpt, proto, act, rt, start, end, c6a2, c6a3, dvchost, dev_id, cat, msg;
  // FortiGate's own time fields; Sentinel's connector renames the FTNTFGT prefix to
  // FortinetFortiGate in AdditionalExtensions, and rows exported from there carry that.
  std::string_view fgt_start, fgt_eventtime, fgt_tz;

  void set(std::string_view key, std::string_view value) noexcept;
};

// Each extension key the record needs, to the member that keeps its value.
constexpr auto extension_fields = make_field_table<std::string_view extension::*>(
    nullptr, {{"rt", &extension::rt},
              {"src", &extension::src},
              {"dst", &extension::dst},
              {"dpt", &extension::dpt},
              {"act", &extension::act},
              {"end", &extension::end},
              {"cat", &extension::cat},
              {"msg", &extension::msg},
              {"c6a2", &extension::c6a2},
              {"c6a3", &extension::c6a3},
              {"proto", &extension::proto},
              {"start", &extension::start},
              {"dvchost", &extension::dvchost},
              {"FTNTFGTtz", &extension::fgt_tz},
              {"FTNTFGTstart", &extension::fgt_start},
              {"deviceExternalId", &extension::dev_id},
              {"FTNTFGTeventtime", &extension::fgt_eventtime},
              {"FortinetFortiGatetz", &extension::fgt_tz},
              {"FortinetFortiGatestart", &extension::fgt_start},
              {"FortinetFortiGateeventtime", &extension::fgt_eventtime}});

void extension::set(std::string_view key, std::string_view value) noexcept {
  if (const auto field = extension_fields.find(key)) this->*field = value;
}

constexpr bool is_key_char(char c) noexcept {
  return is_alnum(c) || c == '_' || c == '.' || c == '-' || c == '[' || c == ']';
}

// Splits "k1=v1 k2=v two k3=v3" in one pass. A value runs until the last space before the
// next unescaped '=' that follows a well-formed key; an '=' that does not (an unescaped '='
// inside a URL, say) stays in the value, as ArcSight's own parser reads it.
// Calls set(key, raw value) for each key=value pair, in order.
template <typename Set>
void for_each_extension(std::string_view s, Set&& set) noexcept {
  std::size_t i = 0;
  while (i < s.size() && s[i] == ' ') ++i;
  while (i < s.size()) {
    std::size_t eq = i;
    while (eq < s.size() && s[eq] != '=') ++eq;
    if (eq >= s.size()) return;  // trailing text without '=': nothing more to read
    const std::string_view key = s.substr(i, eq - i);
    const std::size_t v = eq + 1;
    std::size_t value_end = s.size(), next = s.size();
    std::size_t last_space = npos;
    bool key_ok = false;  // every byte since last_space is a key character
    for (std::size_t j = v; j < s.size(); ++j) {
      const char c = s[j];
      if (c == '\\') {
        ++j;  // the escaped byte is value text
        key_ok = false;
      } else if (c == ' ') {
        last_space = j;
        key_ok = true;
      } else if (c == '=') {
        if (key_ok && last_space != npos && j > last_space + 1) {
          value_end = last_space;
          next = last_space + 1;
          break;
        }
        key_ok = false;
      } else if (!is_key_char(c)) {
        key_ok = false;
      }
    }
    set(key, trim(s.substr(v, value_end - v)));
    i = next;
  }
}

void parse_extension(std::string_view s, extension& out) noexcept {
  for_each_extension(s, [&out](std::string_view k, std::string_view v) { out.set(k, v); });
}

// Splits the seven header fields (still escaped) off `s`, the text after "CEF:"; `pos`
// receives where the extension starts. False for a header cut short or a bad version.
bool split_header(std::string_view s, std::string_view (&f)[7], std::size_t& pos) noexcept {
  pos = 0;
  for (auto& field : f) {
    std::size_t j = pos;
    while (j < s.size() && s[j] != '|') j += s[j] == '\\' ? 2 : 1;
    if (j >= s.size()) return false;
    field = s.substr(pos, j - pos);
    pos = j + 1;
  }
  return !f[0].empty() && f[0].size() <= 3 && f[0].find_first_not_of("0123456789") == npos;
}

enum class vendor_kind : std::uint8_t {
  generic,
  panos,
  pan_other,
  fortigate,
  checkpoint_fw,
  zscaler_fw,
  zscaler_web,
  zscaler_other,
  cisco_asa,
};

vendor_kind classify(std::string_view vendor, std::string_view product) noexcept {
  // Matches follow the row filters of each ASIM parser (ASIM-MAPPINGS.md): PAN-OS exact;
  // FortiGate product prefix in any case; Check Point with or without the space.
  if (vendor == "Palo Alto Networks")
    return product == "PAN-OS" ? vendor_kind::panos : vendor_kind::pan_other;
  if (vendor == "Fortinet" && istarts_with(product, "FortiGate")) return vendor_kind::fortigate;
  if ((vendor == "Check Point" || vendor == "CheckPoint") && product == "VPN-1 & FireWall-1")
    return vendor_kind::checkpoint_fw;
  if (vendor == "Zscaler") {
    if (product == "NSSFWlog") return vendor_kind::zscaler_fw;
    return product == "NSSWeblog" ? vendor_kind::zscaler_web : vendor_kind::zscaler_other;
  }
  // ASIM compares "Cisco" exactly; ArcSight connectors send "CISCO" for the same product
  // (the fixture's line). Reading it as the ASA keeps its message-id filter, so the 305012
  // NAT teardown in the fixture is skipped rather than labelled "CISCO/ASA".
  if (iequals(vendor, "Cisco") && product == "ASA") return vendor_kind::cisco_asa;
  return vendor_kind::generic;
}

// The Cisco ASA message ids the ASIM parser keeps; anything else is dropped there.
bool asa_session_id(std::string_view id) noexcept {
  static constexpr std::string_view ids[] = {
      "106001", "106002", "106006", "106007", "106010", "106012", "106013", "106014", "106015",
      "106016", "106017", "106018", "106020", "106021", "106022", "106023", "106100", "302013",
      "302014", "302015", "302016", "302020", "302021", "710002", "710003", "710004", "710005"};
  for (auto x : ids)
    if (x == id) return true;
  return false;
}

dvc_action asa_action(std::string_view id, std::string_view msg) noexcept {
  if (id == "106013" || id == "710004" || id == "710005") return dvc_action::drop;
  if (id == "106100") return msg.find("denied") != npos ? dvc_action::deny : dvc_action::allow;
  if (id.substr(0, 3) == "106" || id == "710003") return dvc_action::deny;
  if (id == "302014") return dvc_action::unknown;  // from the teardown reason; mostly empty
  return dvc_action::allow;                        // 3020xx, 710002
}

dvc_action panos_action(std::string_view a) noexcept {
  if (iequals(a, "allow")) return dvc_action::allow;
  if (iequals(a, "deny")) return dvc_action::deny;
  if (iequals(a, "drop")) return dvc_action::drop;
  if (iequals(a, "drop ICMP") || iequals(a, "drop-icmp")) return dvc_action::drop_icmp;
  if (iequals(a, "reset client") || iequals(a, "reset-client")) return dvc_action::reset_source;
  if (iequals(a, "reset server") || iequals(a, "reset-server"))
    return dvc_action::reset_destination;
  if (iequals(a, "reset both") || iequals(a, "reset-both")) return dvc_action::reset;
  return dvc_action::unknown;
}

dvc_action fortigate_action(std::string_view a) noexcept {
  if (iequals(a, "accept")) return dvc_action::allow;
  if (iequals(a, "deny")) return dvc_action::deny;
  if (iequals(a, "client-rst")) return dvc_action::reset_source;
  if (iequals(a, "server-rst")) return dvc_action::reset_destination;
  return dvc_action::unknown;  // close, timeout, ip-conn: ASIM leaves them empty
}

dvc_action checkpoint_action(std::string_view a) noexcept {
  if (iequals(a, "Accept") || iequals(a, "Allow") || iequals(a, "Bypass")) return dvc_action::allow;
  if (iequals(a, "Drop")) return dvc_action::drop;
  if (iequals(a, "Reject") || iequals(a, "Block")) return dvc_action::deny;
  if (iequals(a, "Encrypt")) return dvc_action::encrypt;
  if (iequals(a, "Decrypt")) return dvc_action::decrypt;
  return dvc_action::unknown;
}

dvc_action zscaler_action(std::string_view a) noexcept {
  if (a.substr(0, 5) == "Allow") return dvc_action::allow;
  if (a == "Block/Drop" || a == "IPS Drop" || a == "Drop") return dvc_action::drop;
  if (a == "Block/ICMP" || a == "Block ICMP") return dvc_action::drop_icmp;
  if (a == "Block/Reset" || a == "IPS Reset") return dvc_action::reset;
  return dvc_action::unknown;
}

// ASIM's generic CEF parser: whole-word terms of DeviceAction, first list that matches wins.
dvc_action generic_action(std::string_view a) noexcept {
  static constexpr std::string_view allow[] = {"allow", "allowed", "permit", "accept", "start"};
  static constexpr std::string_view reset[] = {"reset", "rst"};
  static constexpr std::string_view deny[] = {"deny", "denied"};
  static constexpr std::string_view drop[] = {"drop",    "block", "blocked",
                                              "dropped", "close", "closed"};
  auto has_term = [a](const auto& terms) {
    std::size_t i = 0;
    while (i < a.size()) {
      while (i < a.size() && !is_alnum(a[i])) ++i;
      std::size_t j = i;
      while (j < a.size() && is_alnum(a[j])) ++j;
      const std::string_view word = a.substr(i, j - i);
      for (auto t : terms)
        if (iequals(word, t)) return true;
      i = j;
    }
    return false;
  };
  if (has_term(allow)) return dvc_action::allow;
  if (has_term(reset)) return dvc_action::reset;
  if (has_term(deny)) return dvc_action::deny;
  if (has_term(drop)) return dvc_action::drop;
  return dvc_action::unknown;
}

// "+hh[:]mm", "-hh", optionally after "GMT"/"UTC" (Java's "zzz" renders GMT-08:00).
bool numeric_offset(std::string_view z, std::int32_t& out) noexcept {
  if (z.substr(0, 3) == "GMT" || z.substr(0, 3) == "UTC") z.remove_prefix(3);
  if (z.size() < 2 || (z[0] != '+' && z[0] != '-')) return false;
  const int sign = z[0] == '-' ? -1 : 1;
  z.remove_prefix(1);
  unsigned h = 0, m = 0;
  std::size_t i = 0;
  while (i < z.size() && i < 2 && is_digit(z[i])) h = h * 10 + static_cast<unsigned>(z[i++] - '0');
  if (i == 0) return false;
  if (i < z.size() && z[i] == ':') ++i;
  const std::size_t mstart = i;
  while (i < z.size() && i < mstart + 2 && is_digit(z[i]))
    m = m * 10 + static_cast<unsigned>(z[i++] - '0');
  if (i != z.size() || (i > mstart && i != mstart + 2) || h > 23 || m > 59) return false;
  out = sign * static_cast<std::int32_t>(h * 3600 + m * 60);
  return true;
}

enum class time_status : std::uint8_t { absent, ok, bad };

// Where a time without a zone of its own is read: a fixed offset the record gives
// (FortiGate's tz), else the input's zone (nullptr: UTC).
struct zone_less {
  std::optional<std::int32_t> offset;
  local_zone* zone = nullptr;
};

// rt/start/end: epoch milliseconds or "MMM dd [yyyy ]HH:mm:ss[.SSS][ zzz]" (the CEF spec's
// formats); an ISO 8601 time is accepted too.
time_status cef_time(std::string_view v, timestamp_us receive_time, const zone_less& wall,
                     timestamp_us& out) noexcept {
  v = trim(v);
  if (v.empty()) return time_status::absent;
  if (is_digit(v[0]) && v.find_first_not_of("0123456789.") == npos) {
    if (auto t = json::epoch_to_us(v)) {
      out = *t;
      return time_status::ok;
    }
    return time_status::bad;
  }
  syslog_time::legacy_fields f;
  const std::size_t n = syslog_time::parse_legacy(v, f);
  if (n == 0) {
    if (auto t = wall.offset ? parse_iso8601(v) : syslog_time::read_iso8601(v, wall.zone)) {
      out = *t;
      return time_status::ok;
    }
    return time_status::bad;
  }
  const std::string_view zone = trim(v.substr(n));
  std::optional<timestamp_us> resolved;
  if (!zone.empty()) {
    std::int32_t offset = 0;
    if (auto z = syslog_time::zone_offset(zone))
      offset = *z;
    else if (!numeric_offset(zone, offset))
      return time_status::bad;
    resolved = syslog_time::resolve(f, offset, receive_time);
  } else if (wall.offset) {
    resolved = syslog_time::resolve(f, *wall.offset, receive_time);
  } else {
    resolved = syslog_time::resolve(f, wall.zone, receive_time);
  }
  if (auto t = resolved) {
    out = *t;
    return time_status::ok;
  }
  // A year-less date without a receive time to place it is not wrong, only unplaceable.
  return f.year < 0 && receive_time <= 0 ? time_status::absent : time_status::bad;
}

class cef_parser final : public format_parser {
 public:
  void parse(std::string_view unit, const parse_context& ctx, parse_sink& sink) override {
    const std::size_t start = find_cef(unit, false);
    if (start == npos) {
      sink.rejected("no_cef_header");
      return;
    }
    const std::string_view s = unit.substr(start + 4);
    std::string_view f[7];  // version vendor product version signature name severity
    std::size_t pos = 0;
    if (!split_header(s, f, pos)) {
      sink.rejected("bad_cef_header");
      return;
    }
    const std::string_view vendor = unescape(f[1], false, vendor_buf_);
    const std::string_view product = unescape(f[2], false, product_buf_);
    const std::string_view signature = f[4];
    const std::string_view name = unescape(f[5], false, name_buf_);
    const vendor_kind kind = classify(vendor, product);

    switch (kind) {
      case vendor_kind::panos:
        if (name != "TRAFFIC") return sink.skipped("not_traffic");
        break;
      case vendor_kind::zscaler_web:
        return sink.skipped("web_session");
      case vendor_kind::pan_other:
      case vendor_kind::zscaler_other:
        // ASIM's generic CEF parser leaves these vendors to their own parsers, which do not
        // read these products as network sessions.
        return sink.skipped("not_a_session");
      case vendor_kind::cisco_asa:
        if (!asa_session_id(signature)) return sink.skipped("not_a_session");
        break;
      default:
        break;
    }

    extension e;
    parse_extension(s.substr(pos), e);
    std::string_view act = unescape(e.act, true, act_buf_);

    if (kind == vendor_kind::fortigate) {
      if (!icontains(e.cat, "traffic")) return sink.skipped("not_traffic");
      if (iequals(act, "dns") || icontains(name, "dns")) return sink.skipped("dns");
      if (act.empty()) {  // "traffic:forward close": the action is the Name's last word
        const std::size_t sp = name.rfind(' ');
        if (sp != npos) act = name.substr(sp + 1);
      }
    }

    // IPv6 sources and destinations may come only in the custom address fields (Check Point
    // labels c6a2/c6a3 "Source/Destination IPv6 Address").
    const std::string_view src_text = !e.src.empty() ? e.src : e.c6a2;
    const std::string_view dst_text = !e.dst.empty() ? e.dst : e.c6a3;
    if (src_text.empty() || (kind == vendor_kind::generic && dst_text.empty()))
      return sink.skipped("no_network_tuple");

    network_session r;
    if (auto a = ip_address::parse(src_text)) {
      r.src = *a;
    } else {
      return sink.rejected("bad_src_ip");
    }
    if (auto a = ip_address::parse(dst_text)) {
      r.dst = *a;
      r.has_dst = true;
    }
    if (!e.dpt.empty() && !parse_port(e.dpt, r.dst_port)) return sink.rejected("bad_dst_port");
    r.protocol = protocol_from_name(trim(e.proto));

    switch (kind) {
      case vendor_kind::panos:
        r.action = panos_action(act);
        break;
      case vendor_kind::fortigate:
        r.action = fortigate_action(act);
        break;
      case vendor_kind::checkpoint_fw:
        r.action = checkpoint_action(act);
        break;
      case vendor_kind::zscaler_fw:
        r.action = zscaler_action(act);
        break;
      case vendor_kind::cisco_asa:
        r.action = asa_action(signature, e.msg);
        break;
      default:
        r.action = generic_action(act);
        break;
    }

    // The record's time, in the order of the vendor's ASIM parser (ASIM-MAPPINGS.md):
    // - FortiGate: EventStartTime is FTNTFGTstart or start, else TimeGenerated, for which the
    //   device's own eventtime stands in (FortiGate sends no rt); then rt, end.
    // - PAN-OS: EventStartTime is start, which PAN-OS's CEF template fills with the generated
    //   time; then rt (the management plane's receipt), end.
    // - Everyone else: TimeGenerated, for which the device receipt time rt is the closest;
    //   then the session's own bounds.
    // A malformed field ahead of the one used is counted and passed over; a record whose
    // every present time is malformed is rejected rather than binned on its receipt.
    std::array<std::string_view, 5> times{};
    if (kind == vendor_kind::fortigate)
      times = {e.fgt_start, e.start, e.fgt_eventtime, e.rt, e.end};
    else if (kind == vendor_kind::panos)
      times = {e.start, e.rt, e.end};
    else
      times = {e.rt, e.start, e.end};
    zone_less wall;
    wall.zone = ctx.zone;
    if (kind == vendor_kind::fortigate && !e.fgt_tz.empty()) {
      std::int32_t offset = 0;
      if (numeric_offset(trim(e.fgt_tz), offset)) wall.offset = offset;
    }
    bool bad_field = false;
    for (std::string_view t : times) {
      const time_status st = cef_time(t, ctx.receive_time, wall, r.time);
      if (st == time_status::bad) bad_field = true;
      if (st == time_status::ok) {
        r.has_time = true;
        break;
      }
    }
    if (bad_field) {
      if (!r.has_time) return sink.rejected("bad_time");
      sink.ignored_field("bad_time_field");
    }

    std::string_view device = !e.dvchost.empty() ? e.dvchost : e.dev_id;
    if (!device.empty()) r.device = labels_.get(unescape(device, true, device_buf_));

    switch (kind) {
      case vendor_kind::panos:
        r.reported_by = labels_.get("Palo Alto/PanOS");
        break;
      case vendor_kind::fortigate:
        r.reported_by = labels_.get("Fortinet/Fortigate");
        break;
      case vendor_kind::checkpoint_fw:
        r.reported_by = labels_.get("Check Point/Firewall");
        break;
      case vendor_kind::zscaler_fw:
        r.reported_by = labels_.get("Zscaler/ZIA Firewall");
        break;
      case vendor_kind::cisco_asa:
        r.reported_by = labels_.get("Cisco/ASA");
        break;
      default:
        r.reported_by = labels_.reported_by(vendor, product);
        break;
    }
    sink.record(r);
  }

 private:
  label_cache labels_;
  std::string vendor_buf_, product_buf_, name_buf_, act_buf_, device_buf_;
};

bool probe_cef(std::string_view head) noexcept {
  const std::size_t first = head.find_first_not_of(" \t");
  if (first == npos || head[first] == '{' || head[first] == '[') return false;
  return find_cef(head, true) != npos;
}

}  // namespace

std::optional<cef_message> parse_cef_message(std::string_view unit) {
  const std::size_t start = find_cef(unit, false);
  if (start == npos) return std::nullopt;
  const std::string_view s = unit.substr(start + 4);
  std::string_view f[7];
  std::size_t pos = 0;
  if (!split_header(s, f, pos)) return std::nullopt;
  cef_message m;
  std::string buf;
  std::string* const header[] = {&m.version,   &m.vendor, &m.product, &m.device_version,
                                 &m.signature, &m.name,   &m.severity};
  for (std::size_t i = 0; i < 7; ++i) *header[i] = std::string(unescape(f[i], false, buf));
  for_each_extension(s.substr(pos), [&](std::string_view k, std::string_view v) {
    m.extension.emplace_back(std::string(k), std::string(unescape(v, true, buf)));
  });
  return m;
}

format_entry cef_format() {
  return {"cef",
          "ArcSight CEF (CommonSecurityLog): PAN-OS, FortiGate, Check Point, Zscaler, ASA, generic",
          [] { return std::make_unique<cef_parser>(); }, probe_cef};
}

}  // namespace portscand
