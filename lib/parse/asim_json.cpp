#include "parse/asim_json.hpp"

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

dvc_action action_from_asim(std::string_view s) noexcept {
  if (s == "Allow") return dvc_action::allow;
  if (s == "Deny") return dvc_action::deny;
  if (s == "Drop") return dvc_action::drop;
  if (s == "Drop ICMP") return dvc_action::drop_icmp;
  if (s == "Reset") return dvc_action::reset;
  if (s == "Reset Source") return dvc_action::reset_source;
  if (s == "Reset Destination") return dvc_action::reset_destination;
  if (s == "Encrypt") return dvc_action::encrypt;
  if (s == "Decrypt") return dvc_action::decrypt;
  return dvc_action::unknown;
}

// The fields the rule reads (SPEC §1), and the envelope key.
enum class asim_field : std::uint8_t {
  other,
  records,
  src_ip,
  dst_ip,
  action,
  vendor,
  hostname,
  product,
  time_generated,
  dst_port,
  event_start,
  protocol
};

constexpr auto asim_fields =
    make_field_table(asim_field::other, {{"records", asim_field::records},
                                         {"SrcIpAddr", asim_field::src_ip},
                                         {"DstIpAddr", asim_field::dst_ip},
                                         {"DvcAction", asim_field::action},
                                         {"EventVendor", asim_field::vendor},
                                         {"DvcHostname", asim_field::hostname},
                                         {"EventProduct", asim_field::product},
                                         {"TimeGenerated", asim_field::time_generated},
                                         {"DstPortNumber", asim_field::dst_port},
                                         {"EventStartTime", asim_field::event_start},
                                         {"NetworkProtocol", asim_field::protocol}});

asim_field field_of(std::string_view key) noexcept {
  return asim_fields.find(key);
}

class asim_json_parser final : public format_parser {
 public:
  void parse(std::string_view unit, const parse_context& ctx, parse_sink& sink) override {
    json_.read(
        unit, ctx, json::unit_shape::document, sink,
        [this, &sink](object o, bool top_level) { return parse_object(o, sink, top_level); });
  }

 private:
  // Returns false when the document can no longer be read.
  bool parse_object(object obj, parse_sink& sink, bool top_level) {
    network_session s;
    std::string_view vendor, product;
    bool have_src = false;
    const char* reject = nullptr;
    bool time_from_generated = false;

    for (auto result : obj) {
      // References into the iteration result, not copies of simdjson's iterators: copying
      // them costs store-forwarding stalls on every field.
      asim_field f;
      if (!json::match_key(result, asim_field::other, field_of, f)) {
        sink.rejected("invalid_json");
        return false;
      }
      value& v = result.value_unsafe().value();
      if (top_level && f == asim_field::records) {
        return json::read_wrapper(
            v, sink, [this, &sink](object o, bool) { return parse_object(o, sink, false); });
      }
      // The key the probe looks for makes the unit ASIM's (auto's sticky winner, see
      // parse_sink::claim): whatever its value, the record is ASIM's to report.
      if (f == asim_field::src_ip) sink.claim();
      if (reject != nullptr) continue;  // keep consuming to stay in sync, value unread
      std::string_view text;
      json::field_status st;
      switch (f) {
        // Addresses, times and keywords go through read_text: their readers refuse a
        // backslash, so the raw text is tried first and unescaped only if refused.
        case asim_field::src_ip: {
          bool empty = false;
          st = json::read_text(v, [&](std::string_view t) {
            return (empty = t.empty()) || ip_address::parse(t, s.src);
          });
          if (st == json::field_status::ok && !empty)
            have_src = true;
          else
            reject = st == json::field_status::invalid ? "bad_src_ip" : "missing_src_ip";
          break;
        }
        case asim_field::dst_ip:
          // The rule does not use the destination: an unreadable one leaves it unset.
          s.has_dst = json::read_text(v, [&s](std::string_view t) {
                        return ip_address::parse(t, s.dst);
                      }) == json::field_status::ok;
          if (!s.has_dst) s.dst = ip_address();
          break;
        case asim_field::action:
          json::read_text(v, [&s](std::string_view t) {
            s.action = action_from_asim(t);
            return s.action != dvc_action::unknown;
          });
          break;
        case asim_field::vendor:
          st = json::as_text(v, text);
          if (st == json::field_status::ok)
            vendor = text;
          else if (st == json::field_status::invalid)
            reject = "bad_vendor";
          break;
        case asim_field::hostname:
          if (json::as_text(v, text) == json::field_status::ok) s.device = labels_.get(text);
          break;
        case asim_field::product:
          st = json::as_text(v, text);
          if (st == json::field_status::ok)
            product = text;
          else if (st == json::field_status::invalid)
            reject = "bad_product";
          break;
        case asim_field::time_generated:
          reject = read_time(v, s);
          time_from_generated = s.has_time;
          break;
        case asim_field::dst_port:
          st = json::as_port(v, s.dst_port);
          if (st == json::field_status::invalid)
            reject = "bad_dst_port";
          else if (st == json::field_status::absent)
            s.dst_port = network_session::no_port;
          break;
        case asim_field::event_start:
          if (!time_from_generated) reject = read_time(v, s);
          break;
        case asim_field::protocol:
          json::read_text(v, [&s](std::string_view t) {
            s.protocol = protocol_from_name(t);
            return s.protocol != network_session::no_protocol;
          });
          break;
        case asim_field::records:  // "records" inside a record: not a field of the rule
        case asim_field::other:
          break;
      }
    }
    if (reject != nullptr) {
      sink.rejected(reject);
      return true;
    }
    if (!have_src) {
      sink.rejected("missing_src_ip");
      return true;
    }
    s.reported_by = labels_.reported_by(vendor, product);
    sink.record(s);
    return true;
  }

  // Reads TimeGenerated / EventStartTime. Returns a reject reason or nullptr.
  static const char* read_time(value& v, network_session& s) noexcept {
    const json::field_status st = json::read_text(v, [&s](std::string_view text) {
      auto t = parse_iso8601(text);
      if (!t) t = json::epoch_to_us(text);
      if (t) {
        s.time = *t;
        s.has_time = true;
      }
      return t.has_value();
    });
    return st == json::field_status::invalid ? "bad_time" : nullptr;
  }

  json::document_reader json_;
  label_cache labels_;
};

bool probe_asim(std::string_view head) noexcept {
  if (!probe_json_start(head)) return false;
  return probe_has(head, "\"SrcIpAddr\"");
}

}  // namespace

format_entry asim_json_format() {
  format_entry e{"asim",
                 "ASIM NetworkSession JSON (object per line, array, or {\"records\":[...]})",
                 [] { return std::make_unique<asim_json_parser>(); }, probe_asim};
  e.claims = true;
  return e;
}

}  // namespace portscand
