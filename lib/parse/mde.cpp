#include "parse/mde.hpp"

#include <simdjson.h>

#include "event/network_session.hpp"
#include "parse/field_table.hpp"
#include "parse/json_util.hpp"
#include "parse/probe_util.hpp"

namespace portscand {
namespace {

using simdjson::ondemand::json_type;
using simdjson::ondemand::object;
using simdjson::ondemand::value;

// Which side initiated, per ActionType (ASIM's Microsoft365Defender direction table).
// Only the ActionTypes of that table are sessions.
enum class orientation : std::uint8_t { unset, outbound, inbound, listen, other };

orientation orientation_of(std::string_view a) noexcept {
  if (a == "ConnectionSuccess" || a == "ConnectionFailed" || a == "ConnectionRequest")
    return orientation::outbound;
  if (a == "InboundConnectionAccepted" || a == "ConnectionFound") return orientation::inbound;
  if (a == "ListeningConnectionCreated") return orientation::listen;
  return orientation::other;
}

bool istarts_with(std::string_view s, std::string_view prefix) noexcept {
  if (s.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    char c = s[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != prefix[i]) return false;
  }
  return true;
}

// "Tcp", "TcpV4", "TcpV6" -> TCP as ASIM does; "Unknown" -> none; the rest by name.
std::uint16_t mde_protocol(std::string_view p) noexcept {
  if (istarts_with(p, "tcp")) return 6;
  if (istarts_with(p, "udp")) return 17;
  return protocol_from_name(p);
}

struct endpoint {
  std::string_view ip;  // "" when absent or null
  std::int32_t port = network_session::no_port;
  bool bad_port = false;
};

// One event's fields as they are read (ondemand reads each once, in document order; the
// orientation is only known once ActionType has been seen, which may come after the IPs).
// String views point into the simdjson parser's string buffer: valid until the next parse.
struct row {
  orientation orient = orientation::unset;
  endpoint local, remote;
  std::string_view protocol, device, category, table;
  timestamp_us event_time = 0, generated_time = 0, envelope_time = 0;
  bool has_event_time = false, has_generated_time = false, has_envelope_time = false;
  const char* reject = nullptr;
};

// Reads an ISO 8601 or epoch time. Returns false when the value is present but not a time.
bool read_time(value v, timestamp_us& out, bool& has) noexcept {
  std::string_view text;
  const json::field_status st = json::as_text(v, text);
  if (st == json::field_status::absent || (st == json::field_status::ok && text.empty()))
    return true;
  if (st != json::field_status::ok) return false;
  if (auto t = parse_iso8601(text)) {
    out = *t;
    has = true;
    return true;
  }
  if (auto t = json::epoch_to_us(text)) {
    out = *t;
    has = true;
    return true;
  }
  return false;
}

void read_ip(value v, std::string_view& out, row& r) noexcept {
  std::string_view text;
  const json::field_status st = json::as_text(v, text);
  if (st == json::field_status::ok)
    out = text;
  else if (st == json::field_status::invalid && r.reject == nullptr)
    r.reject = "bad_ip";
}

void read_port(value v, endpoint& e) noexcept {
  const json::field_status st = json::as_port(v, e.port);
  if (st == json::field_status::invalid) e.bad_port = true;
  if (st != json::field_status::ok) e.port = network_session::no_port;
}

// The keys read at an event's level and inside its `properties`.
enum class mde_field : std::uint8_t {
  other,
  time,
  type,
  local_ip,
  records,
  remote_ip,
  protocol,
  category,
  local_port,
  timestamp,
  remote_port,
  action_type,
  device_name,
  properties,
  time_generated
};

constexpr auto mde_fields =
    make_field_table(mde_field::other, {{"time", mde_field::time},
                                        {"Type", mde_field::type},
                                        {"LocalIP", mde_field::local_ip},
                                        {"records", mde_field::records},
                                        {"RemoteIP", mde_field::remote_ip},
                                        {"Protocol", mde_field::protocol},
                                        {"category", mde_field::category},
                                        {"LocalPort", mde_field::local_port},
                                        {"Timestamp", mde_field::timestamp},
                                        {"RemotePort", mde_field::remote_port},
                                        {"ActionType", mde_field::action_type},
                                        {"DeviceName", mde_field::device_name},
                                        {"properties", mde_field::properties},
                                        {"TimeGenerated", mde_field::time_generated}});

class mde_parser final : public format_parser {
 public:
  mde_parser() : label_(labels_.reported_by("Microsoft", "M365 Defender for Endpoint")) {}

  void parse(std::string_view unit, const parse_context& ctx, parse_sink& sink) override {
    json_.read(unit, ctx, json::unit_shape::document, sink,
               [this, &sink](object o, bool top_level) { return parse_event(o, sink, top_level); });
  }

 private:
  // Reads one event's fields at this level, descending into `properties`. Returns false
  // when the document can no longer be read.
  // envelope_level: the event object itself (not its properties); top_level: the document
  // root, where a "records" array makes the object an envelope.
  bool read_fields(object obj, row& r, bool envelope_level, bool top_level, parse_sink& sink) {
    for (auto field : obj) {
      std::string_view key;
      value* const v_at = json::field_value(field, key, sink);
      if (v_at == nullptr) return false;
      value& v = *v_at;
      switch (mde_fields.find(key)) {
        case mde_field::time:
          if (envelope_level) {
            if (!read_time(v, r.envelope_time, r.has_envelope_time) && !r.reject)
              r.reject = "bad_time";
          }
          break;
        case mde_field::type:
          if (json::as_text(v, r.table) != json::field_status::ok) r.table = {};
          break;
        case mde_field::local_ip:
          read_ip(v, r.local.ip, r);
          break;
        case mde_field::records:
          if (top_level) {
            // {"records":[...]}: every element is an event; nothing else in this object is.
            return json::read_wrapper(
                v, sink, [this, &sink](object o, bool) { return parse_event(o, sink, false); });
          }
          break;
        case mde_field::remote_ip:
          read_ip(v, r.remote.ip, r);
          break;
        case mde_field::protocol:
          if (json::as_text(v, r.protocol) != json::field_status::ok) r.protocol = {};
          break;
        case mde_field::category:
          if (json::as_text(v, r.category) != json::field_status::ok) r.category = {};
          break;
        case mde_field::local_port:
          read_port(v, r.local);
          break;
        case mde_field::timestamp:
          if (!read_time(v, r.event_time, r.has_event_time) && !r.reject) r.reject = "bad_time";
          break;
        case mde_field::remote_port:
          read_port(v, r.remote);
          break;
        case mde_field::action_type: {
          std::string_view a;
          const json::field_status st = json::as_text(v, a);
          if (st == json::field_status::ok && !a.empty())
            r.orient = orientation_of(a);
          else if (st == json::field_status::invalid && !r.reject)
            r.reject = "bad_action_type";
          break;
        }
        case mde_field::device_name:
          if (json::as_text(v, r.device) != json::field_status::ok) r.device = {};
          break;
        case mde_field::properties:
          if (envelope_level) {
            object props;
            if (v.get_object().get(props) != simdjson::SUCCESS) {
              if (!r.reject) r.reject = "bad_properties";
              break;  // the value was not consumed as an object; the iterator skips it
            }
            if (!read_fields(props, r, false, false, sink)) return false;
          }
          break;
        case mde_field::time_generated:
          if (!read_time(v, r.generated_time, r.has_generated_time) && !r.reject)
            r.reject = "bad_time";
          break;
        case mde_field::other:
          break;
      }
    }
    return true;
  }

  // Returns false when the document can no longer be read.
  bool parse_event(object obj, parse_sink& sink, bool top_level) {
    row r;
    if (!read_fields(obj, r, true, top_level, sink)) return false;
    emit(r, sink);
    return true;
  }

  void emit(const row& r, parse_sink& sink) {
    // Other Advanced Hunting tables share the streaming API's Event Hub.
    if ((!r.category.empty() && r.category != "AdvancedHunting-DeviceNetworkEvents") ||
        (!r.table.empty() && r.table != "DeviceNetworkEvents")) {
      sink.skipped("other_table");
      return;
    }
    if (r.reject != nullptr) {
      sink.rejected(r.reject);
      return;
    }
    if (r.orient == orientation::unset) {
      sink.rejected("missing_action_type");
      return;
    }
    if (r.orient == orientation::other) {
      sink.skipped("not_a_connection");
      return;
    }
    // Outbound: the device connected out. Inbound/found/listen: the remote peer is the
    // initiator and the device's local port is the one probed.
    const bool out = r.orient == orientation::outbound;
    const endpoint& src = out ? r.local : r.remote;
    const endpoint& dst = out ? r.remote : r.local;

    network_session s;
    const auto src_ip = ip_address::parse(src.ip);
    if (r.orient == orientation::listen &&
        (src.ip.empty() || (src_ip && is_unspecified(*src_ip)))) {
      // A socket that started listening: no peer yet, so no one to attribute a probe to.
      sink.skipped("listen_without_peer");
      return;
    }
    if (src.ip.empty()) {
      sink.rejected("missing_src_ip");
      return;
    }
    if (!src_ip) {
      sink.rejected("bad_src_ip");
      return;
    }
    s.src = *src_ip;
    if (dst.bad_port) {
      sink.rejected("bad_dst_port");
      return;
    }
    s.dst_port = dst.port;
    if (auto ip = ip_address::parse(dst.ip)) {
      s.dst = *ip;
      s.has_dst = true;
    }
    s.protocol = mde_protocol(r.protocol);
    // The event's own Timestamp; the table's TimeGenerated (what ASIM uses) and the
    // envelope's export time are later, by minutes to hours.
    if (r.has_event_time) {
      s.time = r.event_time;
      s.has_time = true;
    } else if (r.has_generated_time) {
      s.time = r.generated_time;
      s.has_time = true;
    } else if (r.has_envelope_time) {
      s.time = r.envelope_time;
      s.has_time = true;
    }
    if (!r.device.empty()) s.device = labels_.get(r.device);
    s.reported_by = label_;
    sink.record(s);
  }

  static bool is_unspecified(const ip_address& ip) noexcept {
    if (ip.is_v4()) return ip.v4() == 0;
    for (auto b : ip.bytes())
      if (b != 0) return false;
    return true;
  }

  json::document_reader json_;
  label_cache labels_;
  label_id label_;
};

bool probe_mde(std::string_view head) noexcept {
  if (!probe_json_start(head)) return false;
  if (probe_has(head, "AdvancedHunting-DeviceNetworkEvents")) return true;
  if (probe_has(head, "\"DeviceNetworkEvents\"")) return true;
  return probe_has(head, "\"ActionType\"") &&
         (probe_has(head, "\"RemoteIP\"") || probe_has(head, "\"LocalIP\""));
}

}  // namespace

format_entry mde_format() {
  return {"mde",
          "Microsoft Defender for Endpoint DeviceNetworkEvents JSON (streaming API or flat export)",
          [] { return std::make_unique<mde_parser>(); }, probe_mde};
}

}  // namespace portscand
