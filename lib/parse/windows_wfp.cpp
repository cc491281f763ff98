#include "parse/windows_wfp.hpp"

#include <simdjson.h>

#include <optional>
#include <string>

#include "event/network_session.hpp"
#include "parse/field_table.hpp"
#include "parse/json_util.hpp"
#include "parse/port.hpp"
#include "parse/probe_util.hpp"
#include "parse/text_util.hpp"
#include "parse/xml_scan.hpp"

namespace portscand {
namespace {

using simdjson::ondemand::json_type;
using simdjson::ondemand::object;
using simdjson::ondemand::value;
using opt_view = std::optional<std::string_view>;

// What one event says, as views into the unit (XML: raw, entity-encoded) or into simdjson's
// string buffer (JSON: already unescaped). Valid until the unit's document is done.
struct wfp_fields {
  opt_view event_id, time, computer;
  opt_view src_addr, src_port, dst_addr, dst_port, protocol, direction;
  bool system_xml = false;  // event_id/time/computer are XML text
  bool data_xml = false;    // the EventData values are XML text
  const char* reject = nullptr;
};

// Where each EventData value the format uses goes.
constexpr auto data_slots =
    make_field_table<opt_view wfp_fields::*>(nullptr, {{"DestPort", &wfp_fields::dst_port},
                                                       {"Protocol", &wfp_fields::protocol},
                                                       {"Direction", &wfp_fields::direction},
                                                       {"SourcePort", &wfp_fields::src_port},
                                                       {"DestAddress", &wfp_fields::dst_addr},
                                                       {"SourceAddress", &wfp_fields::src_addr}});

// Where an EventData value the format uses goes, or nullptr for the others.
opt_view* data_slot(wfp_fields& f, std::string_view name) noexcept {
  const auto member = data_slots.find(name);
  return member != nullptr ? &(f.*member) : nullptr;
}

void on_data(wfp_fields& f, std::string_view name, std::string_view value) {
  if (opt_view* slot = data_slot(f, name)) *slot = value;
}

enum class session_kind : std::uint8_t { permitted, blocked, dropped, other };

session_kind kind_of(std::int64_t id) noexcept {
  switch (id) {
    case 5156:
      return session_kind::permitted;
    case 5157:
      return session_kind::blocked;
    case 5152:
      return session_kind::dropped;
    default:
      return session_kind::other;
  }
}

enum class direction : std::uint8_t { unknown, inbound, outbound };

direction parse_direction(std::string_view s) noexcept {
  s = text::trim(s);
  // %%14592/%%14593 are the message-table ids the event stores; renderers (Event Viewer,
  // Winlogbeat's message) turn them into the words.
  if (s == "%%14592" || text::iequals_upper(s, "INBOUND")) return direction::inbound;
  if (s == "%%14593" || text::iequals_upper(s, "OUTBOUND")) return direction::outbound;
  return direction::unknown;
}

// Where a JSON document starts: the unit itself when it opens with '{' or '[' (an array of
// events), else the first '{' (behind a syslog header or a forwarder's tag; '[' is not
// searched for, a header's "[pid]" or structured data would match it).
std::size_t json_start(std::string_view unit) noexcept {
  const std::size_t first = unit.find_first_not_of(" \t");
  if (first != std::string_view::npos && (unit[first] == '{' || unit[first] == '[')) return first;
  return unit.find('{');
}

// The key of an object field without unescaping: the names this format reads are plain
// ASCII, so a key with an escape simply matches none of them. simdjson's stage 1 has seen
// the closing quote of every string, so the scan stops inside the document.
std::string_view raw_key(simdjson::ondemand::raw_json_string rk) noexcept {
  const char* p = rk.raw();
  const char* e = p;
  while (*e != '"') ++e;
  return {p, static_cast<std::size_t>(e - p)};
}

class windows_wfp_parser final : public format_parser {
 public:
  void parse(std::string_view unit, const parse_context& ctx, parse_sink& sink) override {
    // The event may sit behind a transport prefix (a syslog header, a forwarder's tag):
    // whichever of '{' and "<Event" comes first decides the shape. A JSON document may
    // carry the event XML inside a string (event.original), never the other way round.
    const std::size_t brace = json_start(unit);
    const std::size_t event = xml::find_event_element(unit);
    if (brace != std::string_view::npos && (event == std::string_view::npos || brace < event)) {
      parse_json(unit.substr(brace), ctx, sink);
    } else if (event != std::string_view::npos) {
      parse_xml(unit.substr(event), ctx, sink);
    } else {
      sink.rejected("no_event");
    }
  }

 private:
  void parse_xml(std::string_view doc, const parse_context& ctx, parse_sink& sink) {
    wfp_fields f;
    f.system_xml = f.data_xml = true;
    bool skip = false;
    const char* err = xml::walk_event(
        doc,
        [&](xml::scanner& sc) {
          const std::string_view name = sc.name();
          std::string_view v;
          if (name == "EventID") {
            if (!sc.text(v)) return false;
            f.event_id = v;
            // Skip other events before reading their data.
            std::int64_t id = 0;
            if (json::parse_int64(text::trim(v), id) && kind_of(id) == session_kind::other) {
              skip = true;
              return false;
            }
          } else if (name == "TimeCreated") {
            if (sc.attribute("SystemTime", v)) f.time = v;
          } else if (name == "Computer") {
            if (!sc.text(v)) return false;
            f.computer = v;
          }
          return true;
        },
        [&f](std::string_view name, std::string_view value) {
          on_data(f, name, value);
          return true;
        });
    if (skip) {
      sink.skipped("not_a_connection_event");
      return;
    }
    if (err != nullptr) {
      sink.rejected(err);
      return;
    }
    emit(f, ctx, sink);
  }

  void parse_json(std::string_view text, const parse_context& ctx, parse_sink& sink) {
    json_.read(text, ctx, json::unit_shape::document, sink,
               [&](object o, bool top_level) { return parse_event(o, ctx, sink, top_level); });
  }

  // Calls on_field(key, value) for each field of an object value. Returns false on a JSON
  // error (the document is then unusable); `is_object` says whether v was an object.
  template <typename F>
  static bool each_field(value v, bool& is_object, F&& on_field) {
    json_type t;
    if (v.type().get(t) != simdjson::SUCCESS) return false;
    is_object = t == json_type::object;
    if (!is_object) return true;
    object o;
    if (v.get_object().get(o) != simdjson::SUCCESS) return false;
    for (auto field : o) {
      simdjson::ondemand::raw_json_string rk;
      if (field.key().get(rk) != simdjson::SUCCESS) return false;
      value fv;
      if (field.value().get(fv) != simdjson::SUCCESS) return false;
      if (!on_field(raw_key(rk), fv)) return false;
    }
    return true;
  }

  // Reads a value as text into `slot`; an object or array where text belongs rejects.
  static bool read_text(value v, opt_view& slot, wfp_fields& f) {
    std::string_view text;
    switch (json::as_text(v, text)) {
      case json::field_status::ok:
        slot = text;
        break;
      case json::field_status::absent:
        break;
      case json::field_status::invalid:
        f.reject = "bad_field_type";
        break;
    }
    return true;
  }

  // One Winlogbeat/Elastic document or one Sentinel row. Returns false when the document
  // can no longer be read.
  bool parse_event(object obj, const parse_context& ctx, parse_sink& sink, bool top_level) {
    wfp_fields f;
    opt_view winlog_id, flat_id, code, created, at_timestamp, generated;
    opt_view computer_name, flat_computer, host_name, data_xml;
    bool is_object = false;
    auto read_event_data = [&f](std::string_view k, value fv) {
      // Only the values the record uses are read: Application paths and the like stay
      // unread (and un-unescaped).
      opt_view* slot = data_slot(f, k);
      if (slot == nullptr) return true;
      std::string_view text;
      switch (json::as_text(fv, text)) {
        case json::field_status::ok:
          *slot = text;
          break;
        case json::field_status::absent:
          break;
        case json::field_status::invalid:
          f.reject = "bad_field_type";
          break;
      }
      return true;
    };
    for (auto field : obj) {
      simdjson::ondemand::raw_json_string rk;
      value v;
      if (field.key().get(rk) != simdjson::SUCCESS || field.value().get(v) != simdjson::SUCCESS) {
        sink.rejected("invalid_json");
        return false;
      }
      const std::string_view key = raw_key(rk);
      bool ok = true;
      if (key == "winlog") {
        ok = each_field(v, is_object, [&](std::string_view k, value wv) {
          if (k == "event_id") return read_text(wv, winlog_id, f);
          if (k == "time_created") return read_text(wv, created, f);
          if (k == "computer_name") return read_text(wv, computer_name, f);
          if (k == "event_data") {
            bool data_is_object = false;
            return each_field(wv, data_is_object, read_event_data);
          }
          return true;
        });
      } else if (key == "EventData") {
        // WindowsEvent: an object; SecurityEvent: the <EventData> XML as text.
        json_type t;
        if (v.type().get(t) != simdjson::SUCCESS) {
          ok = false;
        } else if (t == json_type::string) {
          ok = read_text(v, data_xml, f);
        } else {
          ok = each_field(v, is_object, read_event_data);
        }
      } else if (key == "EventID") {
        ok = read_text(v, flat_id, f);
      } else if (key == "@timestamp") {
        ok = read_text(v, at_timestamp, f);
      } else if (key == "TimeGenerated") {
        ok = read_text(v, generated, f);
      } else if (key == "Computer") {
        ok = read_text(v, flat_computer, f);
      } else if (key == "host") {
        ok = each_field(v, is_object, [&](std::string_view k, value hv) {
          return k == "name" ? read_text(hv, host_name, f) : true;
        });
      } else if (key == "event") {
        ok = each_field(v, is_object, [&](std::string_view k, value ev) {
          return k == "code" ? read_text(ev, code, f) : true;
        });
      } else if (top_level && key == "events") {
        // The {"events":[...]} batch Elastic's pipeline tests (and some shippers) use.
        return json::read_wrapper(v, sink,
                                  [&](object o, bool) { return parse_event(o, ctx, sink, false); });
      }
      if (!ok) {
        sink.rejected("invalid_json");
        return false;
      }
    }
    f.event_id = winlog_id ? winlog_id : flat_id ? flat_id : code;
    f.time = created ? created : at_timestamp ? at_timestamp : generated;
    f.computer = computer_name ? computer_name : flat_computer ? flat_computer : host_name;
    if (data_xml && f.reject == nullptr) {
      f.data_xml = true;
      const char* err = xml::walk_event(
          *data_xml, [](xml::scanner&) { return true; },
          [&f](std::string_view name, std::string_view value) {
            on_data(f, name, value);
            return true;
          });
      if (err != nullptr) f.reject = err;
    }
    emit(f, ctx, sink);
    return true;
  }

  opt_view decoded(opt_view raw, bool is_xml) {
    if (!raw || !is_xml) return raw;
    return xml::decode(*raw, scratch_);
  }

  void emit(const wfp_fields& f, const parse_context& ctx, parse_sink& sink) {
    if (!f.event_id) {
      sink.rejected(f.reject != nullptr ? f.reject : "missing_event_id");
      return;
    }
    std::int64_t id = 0;
    opt_view v = decoded(f.event_id, f.system_xml);
    if (!v || !json::parse_int64(text::trim(*v), id)) {
      sink.rejected("bad_event_id");
      return;
    }
    const session_kind kind = kind_of(id);
    if (kind == session_kind::other) {
      sink.skipped("not_a_connection_event");
      return;
    }
    if (f.reject != nullptr) {
      sink.rejected(f.reject);
      return;
    }
    direction dir = direction::unknown;
    if (f.direction) {
      v = decoded(f.direction, f.data_xml);
      if (v) dir = parse_direction(*v);
    }
    // For inbound events WFP writes the local endpoint into Source* and the remote peer into
    // Dest*: the initiator (a scanner) is DestAddress and the probed port is SourcePort. ASIM's
    // WFP parsers map Source->Src whatever the direction; `sentinel` mode does the same.
    const bool swap = dir == direction::inbound && ctx.mode != detection_mode::sentinel;
    const opt_view src_raw = swap ? f.dst_addr : f.src_addr;
    const opt_view dst_raw = swap ? f.src_addr : f.dst_addr;
    const opt_view port_raw = swap ? f.src_port : f.dst_port;

    network_session s;
    v = decoded(src_raw, f.data_xml);
    if (src_raw && !v) {
      sink.rejected("bad_src_ip");
      return;
    }
    if (!v || text::trim(*v).empty()) {
      sink.rejected("missing_src_ip");
      return;
    }
    auto ip = ip_address::parse(text::trim(*v));
    if (!ip) {
      sink.rejected("bad_src_ip");
      return;
    }
    s.src = *ip;
    v = decoded(dst_raw, f.data_xml);
    if (dst_raw && !v) {
      sink.rejected("bad_dst_ip");
      return;
    }
    if (v && !text::trim(*v).empty()) {
      ip = ip_address::parse(text::trim(*v));
      if (!ip) {
        sink.rejected("bad_dst_ip");
        return;
      }
      s.dst = *ip;
      s.has_dst = true;
    }
    if (f.protocol) {
      v = decoded(f.protocol, f.data_xml);
      std::int64_t p = -1;
      if (!v || !json::parse_int64(text::trim(*v), p) || p < 0 || p > 255) {
        sink.rejected("bad_protocol");
        return;
      }
      s.protocol = static_cast<std::uint16_t>(p);
    }
    v = decoded(port_raw, f.data_xml);
    if (port_raw && !v) {
      sink.rejected("bad_dst_port");
      return;
    }
    if (v && !text::trim(*v).empty()) {
      // Trimmed first: white space around a <Data> value (pretty-printed XML) is tolerated
      // here, where read_port alone would refuse it.
      if (!parse_port(text::trim(*v), s.dst_port)) {
        sink.rejected("bad_dst_port");
        return;
      }
    }
    s.action = kind == session_kind::permitted ? dvc_action::allow : dvc_action::deny;
    if (f.time) {
      v = decoded(f.time, f.system_xml);
      auto t = v ? parse_iso8601(text::trim(*v)) : std::nullopt;
      if (!t) {
        sink.rejected("bad_time");
        return;
      }
      s.time = *t;
      s.has_time = true;
    }
    v = decoded(f.computer, f.system_xml);
    if (v && !v->empty()) s.device = labels_.get(*v);
    s.reported_by = labels_.reported_by("Microsoft", "Windows Firewall");
    sink.record(s);
  }

  json::document_reader json_;
  std::string scratch_;
  label_cache labels_;
};

// A JSON key followed by optional white space, ':', optional white space and an optional
// quote, then `prefix`: `"event_id": "5156"` and `"EventID":5156` both match "515".
bool has_json_value_prefix(std::string_view head, std::string_view key,
                           std::string_view prefix) noexcept {
  std::size_t p = probe_find(head, key);
  while (p != std::string_view::npos) {
    std::size_t i = p + key.size();
    while (i < head.size() && text::is_space(head[i])) ++i;
    if (i < head.size() && head[i] == ':') {
      ++i;
      while (i < head.size() && text::is_space(head[i])) ++i;
      if (i < head.size() && head[i] == '"') ++i;
      if (head.substr(i, prefix.size()) == prefix) return true;
    }
    p = probe_find(head, key, p + 1);
  }
  return false;
}

}  // namespace

bool probe_windows_wfp(std::string_view head) noexcept {
  const std::size_t brace = head.find('{');
  const std::size_t event = xml::find_event_element(head);
  if (brace != std::string_view::npos && (event == std::string_view::npos || brace < event)) {
    const std::string_view body = head.substr(brace);
    const bool wfp = probe_has(body, "Microsoft-Windows-Security-Auditing") ||
                     probe_has(body, "Windows Filtering Platform") ||
                     has_json_value_prefix(body, "\"event_id\"", "515") ||
                     has_json_value_prefix(body, "\"EventID\"", "515");
    // Elastic's ECS document of a WFP event keeps winlog.event_data beside the normalized
    // source/destination: it is the ecs format's (Elastic's mapping, ms @timestamp).
    return wfp && !json::has_ecs_endpoint(body);
  }
  return event != std::string_view::npos &&
         head.find("Microsoft-Windows-Security-Auditing", event) != std::string_view::npos;
}

format_entry windows_wfp_format() {
  return {"windows-wfp",
          "Windows Security WFP events 5156/5157/5152 (event XML, Winlogbeat JSON, "
          "SecurityEvent/WindowsEvent rows)",
          [] { return std::make_unique<windows_wfp_parser>(); }, probe_windows_wfp};
}

}  // namespace portscand
