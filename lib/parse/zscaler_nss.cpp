#include "parse/zscaler_nss.hpp"

#include <simdjson.h>

#include <cstring>
#include <optional>
#include <string>

#include "event/network_session.hpp"
#include "parse/field_table.hpp"
#include "parse/json_util.hpp"
#include "parse/port.hpp"
#include "parse/probe_util.hpp"
#include "parse/text_util.hpp"

namespace portscand {
namespace {

using simdjson::ondemand::json_type;
using simdjson::ondemand::object;
using simdjson::ondemand::value;
using opt_view = std::optional<std::string_view>;

constexpr std::string_view firewall_sourcetype = "zscalernss-fw";

// The feed fields the record needs, as views into the unit (key=value) or into simdjson's
// string buffer (JSON). Key names are the ones Zscaler's JSON template and the usual
// name=value templates use; "time"/"ipproto" are the NSS variable names some admins keep.
struct nss_fields {
  opt_view time, tz, epoch, csip, cdip, sdip, cdport, sdport, proto, action, sourcetype;
  const char* reject = nullptr;
};

// Where each field the record uses goes.
constexpr auto field_slots =
    make_field_table<opt_view nss_fields::*>(nullptr, {{"tz", &nss_fields::tz},
                                                       {"csip", &nss_fields::csip},
                                                       {"cdip", &nss_fields::cdip},
                                                       {"sdip", &nss_fields::sdip},
                                                       {"time", &nss_fields::time},
                                                       {"proto", &nss_fields::proto},
                                                       {"cdport", &nss_fields::cdport},
                                                       {"sdport", &nss_fields::sdport},
                                                       {"action", &nss_fields::action},
                                                       {"ipproto", &nss_fields::proto},
                                                       {"datetime", &nss_fields::time},
                                                       {"epochtime", &nss_fields::epoch},
                                                       {"sourcetype", &nss_fields::sourcetype}});

// Where a field the record uses goes, or nullptr for the others.
opt_view* field_slot(nss_fields& f, std::string_view key) noexcept {
  const auto member = field_slots.find(key);
  return member != nullptr ? &(f.*member) : nullptr;
}

void on_field(nss_fields& f, std::string_view key, std::string_view value) {
  if (opt_view* slot = field_slot(f, key)) *slot = value;
}

// ASIM's Zscaler ZIA lookup (exact, case-sensitive); anything else, "Blocked" included,
// has no DvcAction there either.
dvc_action action_from_nss(std::string_view a) noexcept {
  if (a == "Allow" || a == "Allow due to insufficient app data") return dvc_action::allow;
  if (a == "Block/Drop" || a == "IPS Drop" || a == "Drop") return dvc_action::drop;
  if (a == "Block/ICMP" || a == "Block ICMP") return dvc_action::drop_icmp;
  if (a == "Block/Reset" || a == "IPS Reset") return dvc_action::reset;
  return dvc_action::unknown;
}

int month_index(std::string_view m) noexcept {
  static constexpr std::string_view months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  for (int i = 0; i < 12; ++i)
    if (months[i] == m) return i + 1;
  return 0;
}

bool is_weekday(std::string_view d) noexcept {
  return d == "Mon" || d == "Tue" || d == "Wed" || d == "Thu" || d == "Fri" || d == "Sat" ||
         d == "Sun";
}

// NSS %s{time}: ctime layout "Mon Oct 16 22:55:48 2023", in the feed's time zone. Runs of
// spaces are accepted ("Tue Dec  31 ..."); the weekday is checked for shape only (the
// vendor's own test data pairs Tuesday with a Saturday).
std::optional<timestamp_us> parse_ctime(std::string_view s) noexcept {
  std::string_view tok[5];
  int n = 0;
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && s[i] == ' ') ++i;
    if (i >= s.size()) break;
    const std::size_t start = i;
    while (i < s.size() && s[i] != ' ') ++i;
    if (n == 5) return std::nullopt;
    tok[n++] = s.substr(start, i - start);
  }
  if (n != 5 || !is_weekday(tok[0])) return std::nullopt;
  const int month = month_index(tok[1]);
  if (month == 0 || tok[2].empty() || tok[2].size() > 2 || tok[3].size() != 8 || tok[4].size() != 4)
    return std::nullopt;
  // Rebuild as ISO 8601 and let parse_iso8601 validate every range (Feb 30 included).
  char buf[19];
  std::memcpy(buf, tok[4].data(), 4);
  buf[4] = '-';
  buf[5] = static_cast<char>('0' + month / 10);
  buf[6] = static_cast<char>('0' + month % 10);
  buf[7] = '-';
  buf[8] = tok[2].size() == 2 ? tok[2][0] : '0';
  buf[9] = tok[2].back();
  buf[10] = 'T';
  std::memcpy(buf + 11, tok[3].data(), 8);
  return parse_iso8601(std::string_view(buf, sizeof buf));
}

// %s{tz}: the zone the feed was configured with. GMT/UTC (or nothing) and explicit offsets
// ("GMT+05:30", "UTC-8") are understood; a zone name is not, and nullopt says so.
std::optional<std::int64_t> tz_offset_s(std::string_view tz) noexcept {
  tz = text::trim(tz);
  if (tz.empty() || tz == "GMT" || tz == "UTC" || tz == "Z") return 0;
  if (tz.substr(0, 3) == "GMT" || tz.substr(0, 3) == "UTC") tz.remove_prefix(3);
  if (tz.empty() || (tz[0] != '+' && tz[0] != '-')) return std::nullopt;
  const int sign = tz[0] == '-' ? -1 : 1;
  tz.remove_prefix(1);
  unsigned h = 0, m = 0;
  std::size_t i = 0;
  while (i < tz.size() && i < 2 && tz[i] >= '0' && tz[i] <= '9')
    h = h * 10 + static_cast<unsigned>(tz[i++] - '0');
  if (i == 0) return std::nullopt;
  if (i < tz.size() && tz[i] == ':') ++i;
  if (i < tz.size()) {
    if (tz.size() - i != 2 || tz[i] < '0' || tz[i] > '9' || tz[i + 1] < '0' || tz[i + 1] > '9')
      return std::nullopt;
    m = static_cast<unsigned>((tz[i] - '0') * 10 + (tz[i + 1] - '0'));
  }
  if (h > 14 || m > 59) return std::nullopt;
  return sign * static_cast<std::int64_t>(h * 3600 + m * 60);
}

constexpr bool is_key_char(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

// Space-separated name=value: the next "key=" that starts a word at or after `from`.
std::size_t next_key(std::string_view s, std::size_t from, std::size_t& eq) noexcept {
  std::size_t i = from;
  while (i < s.size()) {
    if ((i == 0 || s[i - 1] == ' ') && is_key_char(s[i])) {
      std::size_t j = i;
      while (j < s.size() && is_key_char(s[j])) ++j;
      if (j < s.size() && s[j] == '=') {
        eq = j;
        return i;
      }
      i = j;
    } else {
      ++i;
    }
  }
  return std::string_view::npos;
}

std::string_view unquote(std::string_view v) noexcept {
  v = text::trim(v);
  if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
  return v;
}

// Where a JSON document starts: the unit itself when it opens with '{' or '[' (an array of
// events), else the first '{' (behind a syslog header or a forwarder's tag; '[' is not
// searched for, a header's "[pid]" or structured data would match it).
std::size_t json_start(std::string_view unit) noexcept {
  const std::size_t first = unit.find_first_not_of(" \t");
  if (first != std::string_view::npos && (unit[first] == '{' || unit[first] == '[')) return first;
  return unit.find('{');
}

// See windows_wfp.cpp: keys compared raw, without unescaping.
std::string_view raw_key(simdjson::ondemand::raw_json_string rk) noexcept {
  const char* p = rk.raw();
  const char* e = p;
  while (*e != '"') ++e;
  return {p, static_cast<std::size_t>(e - p)};
}

class zscaler_nss_parser final : public format_parser {
 public:
  void parse(std::string_view unit, const parse_context& ctx, parse_sink& sink) override {
    // A JSON feed line may still carry a syslog header; a name=value line has no '{' before
    // its first field.
    const std::size_t brace = json_start(unit);
    const std::size_t first_eq = unit.find('=');
    if (brace != std::string_view::npos &&
        (first_eq == std::string_view::npos || brace < first_eq)) {
      parse_json(unit.substr(brace), ctx, sink);
    } else {
      parse_kv(unit, ctx, sink);
    }
  }

 private:
  void parse_kv(std::string_view unit, const parse_context& ctx, parse_sink& sink) {
    nss_fields f;
    bool any = false;
    std::size_t first_key = 0;
    if (unit.find('\t') != std::string_view::npos) {
      // Tab-separated (what Zscaler recommends): values may hold spaces, never tabs.
      std::string_view rest = unit;
      while (!rest.empty()) {
        const std::size_t tab = rest.find('\t');
        std::string_view field = rest.substr(0, tab);
        rest = tab == std::string_view::npos ? std::string_view{} : rest.substr(tab + 1);
        const std::size_t eq = field.find('=');
        if (eq == std::string_view::npos) continue;
        std::string_view key = field.substr(0, eq);
        // The first field may follow a syslog header: the key is its last word.
        const std::size_t sp = key.rfind(' ');
        if (sp != std::string_view::npos) key.remove_prefix(sp + 1);
        on_field(f, key, unquote(field.substr(eq + 1)));
        if (!any) first_key = static_cast<std::size_t>(key.data() - unit.data());
        any = true;
      }
    } else {
      // Space-separated: a value runs to the next " key=", so "datetime=Mon Oct 16 ..." keeps
      // its spaces.
      std::size_t eq = 0;
      std::size_t k = next_key(unit, 0, eq);
      first_key = k;
      while (k != std::string_view::npos) {
        std::size_t next_eq = 0;
        const std::size_t next = next_key(unit, eq + 1, next_eq);
        const std::size_t end = next == std::string_view::npos ? unit.size() : next;
        on_field(f, unit.substr(k, eq - k), unquote(unit.substr(eq + 1, end - eq - 1)));
        any = true;
        k = next;
        eq = next_eq;
      }
    }
    if (!any) {
      sink.rejected("no_fields");
      return;
    }
    // The probe's name=value signature (parse_sink::claim): csip and cdip or cdport, in a
    // line that is not CEF or LEEF (Zscaler can send those too; they are their formats'):
    // their header precedes the first name=value field.
    const std::string_view before = unit.substr(0, first_key);
    if (f.csip && (f.cdip || f.cdport) && !probe_has(before, "CEF:") && !probe_has(before, "LEEF:"))
      sink.claim();
    emit(f, ctx, sink);
  }

  void parse_json(std::string_view text, const parse_context& ctx, parse_sink& sink) {
    json_.read(text, ctx, json::unit_shape::document, sink,
               [&](object o, bool) { return parse_object(o, ctx, sink); });
  }

  // Reads the fields of `obj` into f; the template's "event" object is read in place.
  // Returns false on a JSON error (reported already).
  static bool read_fields(object obj, nss_fields& f, bool top_level, parse_sink& sink) {
    for (auto field : obj) {
      simdjson::ondemand::raw_json_string rk;
      value v;
      if (field.key().get(rk) != simdjson::SUCCESS || field.value().get(v) != simdjson::SUCCESS) {
        sink.rejected("invalid_json");
        return false;
      }
      const std::string_view key = raw_key(rk);
      if (top_level && key == "event") {
        json_type t;
        if (v.type().get(t) != simdjson::SUCCESS) {
          sink.rejected("invalid_json");
          return false;
        }
        if (t != json_type::object) continue;
        object inner;
        if (v.get_object().get(inner) != simdjson::SUCCESS) {
          sink.rejected("invalid_json");
          return false;
        }
        if (!read_fields(inner, f, false, sink)) return false;
        continue;
      }
      // Most of the ~90 feed fields are not needed: leave their values unread (simdjson
      // skips them without unescaping), which is most of this parser's speed.
      opt_view* slot = field_slot(f, key);
      if (slot == nullptr) continue;
      std::string_view text;
      switch (json::as_text(v, text)) {
        case json::field_status::ok:
          *slot = text;
          break;
        case json::field_status::absent:
          break;
        case json::field_status::invalid:
          f.reject = "bad_field_type";
          break;
      }
      // Everything the record needs is known: the remaining fields (often half the feed)
      // are not iterated. The fallbacks (sdip, sdport, epochtime) are only needed when one
      // of these is missing, and then this never triggers.
      if (f.time && f.tz && f.csip && f.cdip && f.cdport && f.proto && f.action) return true;
    }
    return true;
  }

  bool parse_object(object obj, const parse_context& ctx, parse_sink& sink) {
    nss_fields f;
    if (!read_fields(obj, f, true, sink)) return false;
    // The probe's JSON keys (parse_sink::claim): csip and cdip or cdport. Not the sourcetype
    // alone: a Splunk HEC envelope names it too, around a name=value line to unwrap.
    if (f.csip && (f.cdip || f.cdport)) sink.claim();
    emit(f, ctx, sink);
    return true;
  }

  void emit(const nss_fields& f, const parse_context& ctx, parse_sink& sink) {
    if (f.sourcetype && *f.sourcetype != firewall_sourcetype) {
      sink.skipped("not_firewall_feed");  // a web, DNS or tunnel feed on the same input
      return;
    }
    if (f.reject != nullptr) {
      sink.rejected(f.reject);
      return;
    }
    network_session s;
    if (!f.csip || text::trim(*f.csip).empty()) {
      sink.rejected("missing_src_ip");
      return;
    }
    auto ip = ip_address::parse(text::trim(*f.csip));
    if (!ip) {
      sink.rejected("bad_src_ip");
      return;
    }
    s.src = *ip;
    // Sentinel's CEF template sends cdip/cdport (what the client asked for) as dst/dpt; the
    // server-side sdip/sdport are the fallback when a custom feed leaves them out.
    const opt_view dst = f.cdip && !text::trim(*f.cdip).empty() ? f.cdip : f.sdip;
    if (dst && !text::trim(*dst).empty()) {
      ip = ip_address::parse(text::trim(*dst));
      if (!ip) {
        sink.rejected("bad_dst_ip");
        return;
      }
      s.dst = *ip;
      s.has_dst = true;
    }
    if (f.proto) s.protocol = protocol_from_name(text::trim(*f.proto));
    const opt_view port = f.cdport && !text::trim(*f.cdport).empty() ? f.cdport : f.sdport;
    if (port && !text::trim(*port).empty()) {
      // Trimmed first, as every value of this format is: spaces a feed template leaves
      // around a value are tolerated here, where read_port alone would refuse them.
      if (!parse_port(text::trim(*port), s.dst_port)) {
        sink.rejected("bad_dst_port");
        return;
      }
    }
    if (f.action) s.action = action_from_nss(text::trim(*f.action));
    if (const char* reason = read_time(f, ctx, s)) {
      sink.rejected(reason);
      return;
    }
    // devicehostname/devicename name the user's machine (ASIM's SrcHostname), not the
    // reporting device: the device is the NSS that sent the message (its syslog host, which
    // normalize() supplies).
    s.reported_by = labels_.reported_by("Zscaler", "ZIA Firewall");
    sink.record(s);
  }

  // datetime (+ tz), else epochtime, else the syslog header's time. Returns a reject reason.
  static const char* read_time(const nss_fields& f, const parse_context& ctx, network_session& s) {
    if (f.time && !text::trim(*f.time).empty()) {
      const std::string_view t = text::trim(*f.time);
      auto local = parse_ctime(t);
      if (!local) local = parse_iso8601(t);
      if (!local) return "bad_time";
      if (!f.tz || text::trim(*f.tz).empty()) {
        // No tz field: the feed's own zone, which the input's `timezone` names (default UTC).
        s.time = ctx.zone != nullptr && !iso8601_has_zone(t) ? ctx.zone->to_utc(*local) : *local;
        s.has_time = true;
        return nullptr;
      }
      if (const auto off = tz_offset_s(*f.tz)) {
        s.time = *local - *off * us_per_second;
        s.has_time = true;
        return nullptr;
      }
      // A named zone we cannot resolve: fall through to the zone-free sources.
    }
    if (f.epoch && !text::trim(*f.epoch).empty()) {
      const auto t = json::epoch_to_us(text::trim(*f.epoch));
      if (!t) return "bad_time";
      s.time = *t;
      s.has_time = true;
    }
    return nullptr;
  }

  json::document_reader json_;
  label_cache labels_;
};

// A word-initial "key=" in head.
bool has_kv_key(std::string_view head, std::string_view key_eq) noexcept {
  std::size_t p = probe_find(head, key_eq);
  while (p != std::string_view::npos) {
    if (p == 0 || head[p - 1] == ' ' || head[p - 1] == '\t') return true;
    p = probe_find(head, key_eq, p + 1);
  }
  return false;
}

bool probe_zscaler_nss(std::string_view head) noexcept {
  const std::size_t brace = head.find('{');
  if (brace != std::string_view::npos) {
    const std::string_view body = head.substr(brace);
    if (probe_has(body, "\"zscalernss-fw\"")) return true;
    if (probe_has(body, "\"csip\"") &&
        (probe_has(body, "\"cdip\"") || probe_has(body, "\"cdport\"")))
      return true;
  }
  // name=value feeds; CEF and LEEF (which Zscaler can also send) belong to their own formats.
  if (probe_has(head, "CEF:") || probe_has(head, "LEEF:")) return false;
  return has_kv_key(head, "csip=") && (has_kv_key(head, "cdip=") || has_kv_key(head, "cdport="));
}

}  // namespace

format_entry zscaler_nss_format() {
  format_entry e{"zscaler-nss",
                 "Zscaler ZIA NSS firewall feed: JSON template or name=value (tab/space separated)",
                 [] { return std::make_unique<zscaler_nss_parser>(); }, probe_zscaler_nss};
  e.claims = true;
  return e;
}

}  // namespace portscand
