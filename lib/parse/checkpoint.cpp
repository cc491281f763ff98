#include "parse/checkpoint.hpp"

#include "event/network_session.hpp"
#include "parse/field_table.hpp"
#include "parse/firewall_text.hpp"
#include "parse/json_util.hpp"
#include "parse/port.hpp"
#include "parse/syslog_header.hpp"

namespace portscand {
namespace {

using fwtext::kv_pair;

bool is_key_char(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

// True when s[i..] reads `key:"` (the Log Exporter's pair syntax), or `key::"` (its
// system messages).
bool starts_colon_pair(std::string_view s, std::size_t i) noexcept {
  const std::size_t start = i;
  while (i < s.size() && is_key_char(s[i])) ++i;
  if (i == start || i + 1 >= s.size() || s[i] != ':') return false;
  if (s[i + 1] == ':') ++i;
  return i + 1 < s.size() && s[i + 1] == '"';
}

// Where the pairs start: a "[Fields@" SD element, a '[' opening `key:"` pairs, or a body that
// begins with `key:"` right away. Searched within the probe window, so that an RFC 5424
// header still in front of the body is stepped over. npos when absent.
std::size_t locate_pairs(std::string_view unit) noexcept {
  const std::string_view head = unit.substr(0, probe_window);
  std::size_t best = head.find("[Fields@");
  std::size_t first = 0;
  while (first < head.size() && fwtext::is_space(head[first])) ++first;
  if (starts_colon_pair(unit, first)) return first < best ? first : best;
  for (std::size_t p = head.find('['); p != std::string_view::npos && p < best;
       p = head.find('[', p + 1)) {
    if (starts_colon_pair(unit, p + 1)) return p;
  }
  return best;
}

// Walks `key:"value";` and `key="value"` pairs up to the closing ']' of the element. A
// backslash escapes the next byte inside quotes (`\"`, `\]`, `\\`); views keep the escapes.
class pair_scanner {
 public:
  explicit pair_scanner(std::string_view text) noexcept : s_(text) {}

  bool next(kv_pair& out) noexcept {
    for (;;) {
      while (pos_ < s_.size() && (fwtext::is_space(s_[pos_]) || s_[pos_] == ';')) ++pos_;
      if (pos_ >= s_.size() || s_[pos_] == ']') return false;
      const std::size_t key_start = pos_;
      while (pos_ < s_.size() && s_[pos_] != ':' && s_[pos_] != '=' && s_[pos_] != ';' &&
             s_[pos_] != ']' && s_[pos_] != '"' && !fwtext::is_space(s_[pos_]))
        ++pos_;
      if (pos_ >= s_.size()) return false;  // a trailing bare word
      const char sep = s_[pos_];
      if (sep == '"') {  // a quote with no key in front: the text is not pairs any more
        broken_ = true;
        return false;
      }
      if (sep != ':' && sep != '=') continue;  // a bare word ("ICMP Type=..."): step over
      out.key = s_.substr(key_start, pos_ - key_start);
      ++pos_;
      // The Log Exporter writes system messages with a doubled colon
      // (`sys_message::"The eth0 interface is not protected..."`).
      if (sep == ':' && pos_ + 1 < s_.size() && s_[pos_] == ':' && s_[pos_ + 1] == '"') ++pos_;
      if (pos_ < s_.size() && s_[pos_] == '"') {
        const std::size_t v = ++pos_;
        pos_ = fwtext::find_closing_quote(s_, v);
        if (pos_ == std::string_view::npos) {
          broken_ = true;
          return false;
        }
        out.value = s_.substr(v, pos_ - v);
        ++pos_;
      } else {
        const std::size_t v = pos_;
        while (pos_ < s_.size() && s_[pos_] != ';' && s_[pos_] != ']' &&
               !fwtext::is_space(s_[pos_]))
          ++pos_;
        out.value = s_.substr(v, pos_ - v);
      }
      return true;
    }
  }

  // True when the pairs ended in an unterminated quote or stray quote (a cut record).
  bool broken() const noexcept { return broken_; }

 private:
  std::string_view s_;
  std::size_t pos_ = 0;
  bool broken_ = false;
};

dvc_action action_from_checkpoint(std::string_view a) noexcept {
  if (a == "Accept" || a == "Allow" || a == "Bypass") return dvc_action::allow;
  if (a == "Drop") return dvc_action::drop;
  if (a == "Reject" || a == "Block") return dvc_action::deny;
  if (a == "Encrypt") return dvc_action::encrypt;
  if (a == "Decrypt") return dvc_action::decrypt;
  return dvc_action::unknown;  // e.g. "Dropped", "Inline": ASIM leaves DvcAction empty
}

// ASIM's Check Point parser reads only the firewall blade (DeviceProduct "VPN-1 &
// FireWall-1"); newer exporters name the same blade "Firewall".
bool is_firewall_product(std::string_view p) noexcept {
  return p == "VPN-1 & FireWall-1" || p == "Firewall";
}

// The CN of an originsicname ("CN=fw1,O=mgmt..abc" -> "fw1"), as ASIM's DvcHostname.
std::string_view sic_common_name(std::string_view sic) noexcept {
  if (sic.size() < 3 || !fwtext::iequals(sic.substr(0, 3), "cn=")) return {};
  sic.remove_prefix(3);
  return sic.substr(0, sic.find(','));
}

void take(std::string_view& field, bool& seen, std::string_view value) noexcept {
  if (seen) return;
  seen = true;
  field = value;
}

// The pairs a record reads; `svc` and `ProductName` are the Fields@ form's names.
enum class checkpoint_field : std::uint8_t {
  other,
  src,
  dst,
  dport,
  time,
  proto,
  action,
  origin,
  product,
  packets,
  sys_message,
  sicname
};

constexpr auto checkpoint_fields =
    make_field_table(checkpoint_field::other, {{"src", checkpoint_field::src},
                                               {"dst", checkpoint_field::dst},
                                               {"svc", checkpoint_field::dport},
                                               {"time", checkpoint_field::time},
                                               {"proto", checkpoint_field::proto},
                                               {"action", checkpoint_field::action},
                                               {"origin", checkpoint_field::origin},
                                               {"service", checkpoint_field::dport},
                                               {"product", checkpoint_field::product},
                                               {"packets", checkpoint_field::packets},
                                               {"ProductName", checkpoint_field::product},
                                               {"sys_message", checkpoint_field::sys_message},
                                               {"originsicname", checkpoint_field::sicname}});

class checkpoint_parser final : public format_parser {
 public:
  void parse(std::string_view unit, const parse_context& ctx, parse_sink& sink) override {
    std::size_t start = locate_pairs(unit);
    if (start == std::string_view::npos && !ctx.structured_data.empty()) {
      // The record in the RFC 5424 structured data, a message of its own after it.
      unit = ctx.structured_data;
      start = locate_pairs(unit);
    }
    if (start == std::string_view::npos) {
      sink.rejected("no_checkpoint_pairs");
      return;
    }
    std::string_view body = unit.substr(start);
    if (!body.empty() && body[0] == '[') {
      body.remove_prefix(1);
      if (body.substr(0, 7) == "Fields@") {  // SD-ID: up to the first blank
        std::size_t i = 0;
        while (i < body.size() && !fwtext::is_space(body[i]) && body[i] != ']') ++i;
        body.remove_prefix(i);
      }
    }

    std::string_view src, dst, dport, proto, action, time, origin, sicname, product, packets;
    bool have_src = false, have_dst = false, have_dport = false, have_proto = false,
         have_action = false, have_time = false, have_origin = false, have_sic = false,
         have_product = false, have_packets = false, have_sys_message = false;
    pair_scanner scan(body);
    kv_pair kv;
    // Duplicate keys occur (a second rule_action for an inline layer): the first one wins.
    while (scan.next(kv)) {
      const std::string_view k = kv.key;
      const std::string_view v = kv.value;
      switch (checkpoint_fields.find(k)) {
        case checkpoint_field::src:
          take(src, have_src, v);
          break;
        case checkpoint_field::dst:
          take(dst, have_dst, v);
          break;
        case checkpoint_field::dport:
          take(dport, have_dport, v);
          break;
        case checkpoint_field::time:
          take(time, have_time, v);
          break;
        case checkpoint_field::proto:
          take(proto, have_proto, v);
          break;
        case checkpoint_field::action:
          take(action, have_action, v);
          break;
        case checkpoint_field::origin:
          take(origin, have_origin, v);
          break;
        case checkpoint_field::product:
          take(product, have_product, v);
          break;
        case checkpoint_field::packets:
          take(packets, have_packets, v);
          break;
        case checkpoint_field::sys_message:
          have_sys_message = true;
          break;
        case checkpoint_field::sicname:
          take(sicname, have_sic, v);
          break;
        case checkpoint_field::other:
          break;
      }
    }
    if (scan.broken()) {
      sink.rejected("truncated_record");
      return;
    }
    // "packets" is a count on connection logs and a list of "<src,sport,dst,dport,proto>"
    // tuples on optimized-drop logs, which carry no top-level src/dst.
    const bool tuples = src.empty() && packets.find('<') != std::string_view::npos;
    // A gateway's system message (product "System Monitor": anti-spoofing warnings, policy
    // installed, ...) names no connection: not a firewall record.
    if (have_sys_message && src.empty() && !tuples) {
      sink.skipped("system_message");
      return;
    }
    if (have_product && !is_firewall_product(product)) {
      sink.skipped("not_firewall");
      return;
    }
    if (src.empty() && !tuples) {
      sink.skipped("no_connection");
      return;
    }

    network_session base;
    base.action = action_from_checkpoint(action);
    if (!time.empty()) {
      // Epoch seconds from the Log Exporter; some exporter templates write ISO 8601.
      auto t = json::epoch_to_us(time);
      if (!t) t = syslog_time::read_iso8601(time, ctx.zone);  // zone-less: the input's zone
      if (t) {
        base.time = *t;
        base.has_time = true;
      } else {
        sink.rejected("bad_time");
        return;
      }
    }
    base.reported_by = labels_.reported_by("Check Point", "Firewall");
    std::string_view device = sic_common_name(sicname);
    if (device.empty()) device = origin;
    if (!device.empty()) base.device = labels_.get(device);

    if (tuples) {
      emit_tuples(packets, base, sink);
      return;
    }
    emit(base, src, dst, dport, proto, sink);
  }

 private:
  static void emit(network_session s, std::string_view src, std::string_view dst,
                   std::string_view dport, std::string_view proto, parse_sink& sink) {
    if (auto ip = ip_address::parse(src)) {
      s.src = *ip;
    } else {
      sink.rejected("bad_src_ip");
      return;
    }
    if (auto ip = ip_address::parse(dst)) {
      s.dst = *ip;
      s.has_dst = true;
    }
    if (read_port(dport, s.dst_port) == port_status::invalid) {
      sink.rejected("bad_dst_port");
      return;
    }
    s.protocol = protocol_from_name(proto);
    sink.record(s);
  }

  // One record per "<src,sport,dst,dport,proto[;iface]>" tuple: each is a packet the
  // gateway dropped, i.e. one probe of a scan.
  static void emit_tuples(std::string_view list, const network_session& base, parse_sink& sink) {
    for (std::size_t open = list.find('<'); open != std::string_view::npos;
         open = list.find('<', open + 1)) {
      const std::size_t close = list.find('>', open + 1);
      if (close == std::string_view::npos) {
        sink.rejected("bad_packet_tuple");
        return;
      }
      std::string_view t = list.substr(open + 1, close - open - 1);
      std::string_view part[5];
      std::size_t n = 0;
      while (n < 5) {
        const std::size_t comma = t.find(',');
        part[n++] = t.substr(0, comma);
        if (comma == std::string_view::npos) break;
        t.remove_prefix(comma + 1);
      }
      if (n != 5) {
        sink.rejected("bad_packet_tuple");
        open = close;
        continue;
      }
      const std::string_view proto = part[4].substr(0, part[4].find(';'));
      emit(base, part[0], part[2], part[3], proto, sink);
      open = close;
    }
  }

  label_cache labels_;
};

bool probe_checkpoint(std::string_view head) noexcept {
  return locate_pairs(head) != std::string_view::npos;
}

}  // namespace

format_entry checkpoint_format() {
  return {"checkpoint",
          "Check Point Log Exporter syslog (key:\"value\"; pairs or [Fields@2620 ...])",
          [] { return std::make_unique<checkpoint_parser>(); }, probe_checkpoint};
}

}  // namespace portscand
