#include "parse/suricata_eve.hpp"

#include "event/network_session.hpp"
#include "parse/field_table.hpp"
#include "parse/json_records.hpp"
#include "parse/probe_util.hpp"

namespace portscand {
namespace {

using simdjson::ondemand::object;
using simdjson::ondemand::value;

// Sentinel has no ASIM parser for Suricata; the label names the project's maintainer and
// product the way the other labels do.
constexpr std::string_view vendor = "OISF";
constexpr std::string_view product = "Suricata";

// The keys of a flow event the record reads.
enum class eve_field : std::uint8_t {
  other,
  event_type,
  timestamp,
  dest_port,
  src_ip,
  dest_ip,
  proto,
  host,
  flow
};

constexpr auto eve_fields =
    make_field_table(eve_field::other, {{"event_type", eve_field::event_type},
                                        {"timestamp", eve_field::timestamp},
                                        {"dest_port", eve_field::dest_port},
                                        {"src_ip", eve_field::src_ip},
                                        {"dest_ip", eve_field::dest_ip},
                                        {"proto", eve_field::proto},
                                        {"host", eve_field::host},
                                        {"flow", eve_field::flow}});

class suricata_eve_parser final : public json::record_parser {
 public:
  suricata_eve_parser() : record_parser(true) {}

 protected:
  bool on_object(object obj, const parse_context& /*ctx*/, parse_sink& sink) override {
    network_session s;
    std::string_view event_type, timestamp, flow_start, proto, host;
    bool has_type = false, has_src = false;
    // The probe's signature, read as keys: event_type and timestamp, and neither of pmacct's
    // writer_id and peer_ip_src.
    bool type_key = false, timestamp_key = false, pmacct_key = false;
    const char* reject = nullptr;
    for (auto field : obj) {
      std::string_view key;
      value* const v_at = json::field_value(field, key, sink);
      if (v_at == nullptr) return false;
      value& v = *v_at;
      type_key = type_key || key == "event_type";
      timestamp_key = timestamp_key || key == "timestamp";
      pmacct_key = pmacct_key || key == "writer_id" || key == "peer_ip_src";
      // Once the event is known not to be a flow, or is already rejected, the remaining
      // values are skipped unread (stats events are kilobytes of counters).
      if (reject != nullptr || (has_type && event_type != "flow")) continue;
      std::string_view text;
      switch (eve_fields.find(key)) {
        case eve_field::event_type:
          has_type = json::as_text(v, event_type) == json::field_status::ok;
          break;
        case eve_field::timestamp:
          if (json::as_text(v, text) == json::field_status::ok) timestamp = text;
          break;
        case eve_field::dest_port: {
          const auto st = json::as_port(v, s.dst_port);
          if (st == json::field_status::invalid)
            reject = "bad_dst_port";
          else if (st == json::field_status::absent)
            s.dst_port = network_session::no_port;
          break;
        }
        case eve_field::src_ip:
          if (!json::read_ip(v, s.src, has_src)) reject = "bad_src_ip";
          break;
        case eve_field::dest_ip: {
          bool present = false;
          // The rule does not use the destination: an unreadable one leaves it unset.
          if (json::read_ip(v, s.dst, present)) s.has_dst = present;
          break;
        }
        case eve_field::proto:
          if (json::as_text(v, text) == json::field_status::ok) proto = text;
          break;
        case eve_field::host:
          if (json::as_text(v, text) == json::field_status::ok) host = text;
          break;
        case eve_field::flow: {
          object flow;
          if (v.get_object().get(flow) == simdjson::SUCCESS) {
            for (auto f : flow) {
              std::string_view k;
              value* const fv_at = json::field_value(f, k, sink);
              if (fv_at == nullptr) return false;
              value& fv = *fv_at;
              if (k == "start" && json::as_text(fv, text) == json::field_status::ok)
                flow_start = text;
            }
          }
          break;
        }
        case eve_field::other:
          break;
      }
    }
    if (type_key && timestamp_key && !pmacct_key) sink.claim();
    if (!has_type) {
      sink.rejected("missing_event_type");
      return true;
    }
    // Alerts, netflow and app-layer events repeat the tuple of a flow that also gets its
    // own flow event; counting them would count connections twice (and netflow's reverse
    // half would make servers look like scanners of ephemeral ports).
    if (event_type != "flow") {
      sink.skipped("not_flow_event");
      return true;
    }
    if (reject != nullptr) {
      sink.rejected(reject);
      return true;
    }
    if (!has_src) {
      sink.rejected("missing_src_ip");
      return true;
    }
    s.protocol = protocol_from_name(proto);
    // A flow event is written when the flow ends (timeout, up to minutes later): the
    // flow's first packet is when the connection was tried.
    const std::string_view when = !flow_start.empty() ? flow_start : timestamp;
    if (!when.empty()) {
      auto t = parse_iso8601(when);
      if (!t) {
        sink.rejected("bad_time");
        return true;
      }
      s.time = *t;
      s.has_time = true;
    }
    s.reported_by = labels_.reported_by(vendor, product);
    if (!host.empty()) s.device = labels_.get(host);
    sink.record(s);
    return true;
  }

 private:
  label_cache labels_;
};

bool probe_suricata_eve(std::string_view head) noexcept {
  if (!probe_json_start(head)) return false;
  // "timestamp" with its quotes: Logstash's "@timestamp" does not contain it. pmacct's
  // BGP/BMP and purge_init messages also have event_type and timestamp, plus writer_id or
  // peer_ip_src, which Suricata never writes.
  auto has = [head](std::string_view s) { return probe_has(head, s); };
  return has("\"event_type\"") && has("\"timestamp\"") && !has("\"writer_id\"") &&
         !has("\"peer_ip_src\"");
}

}  // namespace

format_entry suricata_eve_format() {
  format_entry e{"suricata-eve", "Suricata EVE JSON (flow events)",
                 [] { return std::make_unique<suricata_eve_parser>(); }, probe_suricata_eve};
  e.claims = true;
  return e;
}

}  // namespace portscand
