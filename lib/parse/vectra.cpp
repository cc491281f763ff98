#include "parse/vectra.hpp"

#include "event/network_session.hpp"
#include "parse/json_records.hpp"
#include "parse/probe_util.hpp"

namespace portscand {
namespace {

using simdjson::ondemand::object;
using simdjson::ondemand::value;

// Sentinel's ASimNetworkSessionVectraAI sets these for every metadata_isession row.
constexpr std::string_view vendor = "Vectra AI";
constexpr std::string_view product = "Vectra Stream";

class vectra_parser final : public json::record_parser {
 public:
  vectra_parser() : record_parser(true) {}

 protected:
  bool on_object(object obj, const parse_context& ctx, parse_sink& sink) override {
    network_session s;
    std::string_view type, start_text, ts_text, proto_name, proto_num, conn_state, hostname;
    bool has_type = false, has_src = false;
    const char* reject = nullptr;
    for (auto field : obj) {
      std::string_view key;
      value* const v_at = json::field_value(field, key, sink);
      if (v_at == nullptr) return false;
      value& v = *v_at;
      if (reject != nullptr) continue;
      std::string_view text;
      json::field_status st;
      if (key == "metadata_type") {
        has_type = json::as_text(v, type) == json::field_status::ok;
      } else if (key == "id.orig_h") {
        if (!json::read_ip(v, s.src, has_src)) reject = "bad_src_ip";
      } else if (key == "id.resp_h") {
        bool present = false;
        // The rule does not use the destination: an unreadable one leaves it unset.
        if (json::read_ip(v, s.dst, present)) s.has_dst = present;
      } else if (key == "id.resp_p") {
        st = json::as_port(v, s.dst_port);
        if (st == json::field_status::invalid)
          reject = "bad_dst_port";
        else if (st == json::field_status::absent)
          s.dst_port = network_session::no_port;
      } else if (key == "protoName") {
        if (json::as_text(v, text) == json::field_status::ok) proto_name = text;
      } else if (key == "proto") {
        if (json::as_text(v, text) == json::field_status::ok) proto_num = text;
      } else if (key == "session_start_time") {
        if (json::as_text(v, text) == json::field_status::ok) start_text = text;
      } else if (key == "ts") {
        if (json::as_text(v, text) == json::field_status::ok) ts_text = text;
      } else if (key == "conn_state") {
        if (json::as_text(v, text) == json::field_status::ok) conn_state = text;
      } else if (key == "hostname") {
        if (json::as_text(v, text) == json::field_status::ok) hostname = text;
      }
    }
    if (reject != nullptr) {
      sink.rejected(reject);
      return true;
    }
    if (!has_type) {
      sink.rejected("missing_metadata_type");
      return true;
    }
    if (type != "metadata_isession") {
      sink.skipped("not_isession");
      return true;
    }
    if (!has_src) {
      sink.rejected("missing_src_ip");
      return true;
    }
    // ASIM: NetworkProtocol from protoName; the numeric proto is the fallback.
    s.protocol = protocol_from_name(proto_name);
    if (s.protocol == network_session::no_protocol) s.protocol = protocol_from_name(proto_num);
    // ASIM: EventStartTime = session_start_time, EventEndTime = ts (both epoch ms).
    const std::string_view time_text = !start_text.empty() ? start_text : ts_text;
    if (!time_text.empty()) {
      auto t = json::time_from_text(time_text, ctx.zone);
      if (!t) {
        sink.rejected("bad_time");
        return true;
      }
      s.time = *t;
      s.has_time = true;
    }
    // Same reading of conn_state as zeek-conn: only REJ says what the network did.
    if (conn_state == "REJ") s.action = dvc_action::reset;
    s.reported_by = labels_.reported_by(vendor, product);
    if (!hostname.empty()) s.device = labels_.get(hostname);
    sink.record(s);
    return true;
  }

 private:
  label_cache labels_;
};

bool probe_vectra(std::string_view head) noexcept {
  if (!probe_json_start(head)) return false;
  if (!probe_has(head, "\"metadata_type\"")) return false;
  return probe_has(head, "metadata_isession") || probe_has(head, "\"id.orig_h\"") ||
         probe_has(head, "\"sensor_uid\"");
}

}  // namespace

format_entry vectra_format() {
  return {"vectra", "Vectra AI Stream metadata JSON (metadata_isession records)",
          [] { return std::make_unique<vectra_parser>(); }, probe_vectra};
}

}  // namespace portscand
