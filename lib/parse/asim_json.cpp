#include "parse/asim_json.hpp"

#include <simdjson.h>

#include "event/network_session.hpp"
#include "parse/json_util.hpp"

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

class asim_json_parser final : public format_parser {
 public:
  void parse(std::string_view unit, const parse_context& ctx, parse_sink& sink) override {
    json::parse_document(parser_, unit, ctx, scratch_, sink,
                         [this, &sink](object o, bool top_level) { return parse_object(o, sink, top_level); });
  }

 private:
  void parse_array(simdjson::ondemand::array arr, parse_sink& sink) {
    json::for_each_object(arr, sink, [this, &sink](object o, bool) { return parse_object(o, sink, false); });
  }

  // Returns false when the document can no longer be read.
  bool parse_object(object obj, parse_sink& sink, bool top_level) {
    network_session s;
    std::string_view vendor, product;
    bool have_src = false;
    const char* reject = nullptr;
    bool time_from_generated = false;

    for (auto field : obj) {
      std::string_view key;
      if (field.unescaped_key().get(key) != simdjson::SUCCESS) {
        sink.rejected("invalid_json");
        return false;
      }
      value v;
      if (field.value().get(v) != simdjson::SUCCESS) {
        sink.rejected("invalid_json");
        return false;
      }
      if (top_level && key == "records") {
        simdjson::ondemand::array arr;
        if (v.get_array().get(arr) != simdjson::SUCCESS) {
          sink.rejected("bad_envelope");
          return false;
        }
        parse_array(arr, sink);
        return false;  // whatever followed the envelope's array is not a record
      }
      if (reject != nullptr) continue;  // keep consuming to stay in sync, value unread
      std::string_view text;
      json::field_status st;
      switch (key.size()) {
        case 9:
          if (key == "SrcIpAddr") {
            st = json::as_text(v, text);
            if (st != json::field_status::ok || text.empty()) {
              reject = st == json::field_status::invalid ? "bad_src_ip" : "missing_src_ip";
            } else if (auto ip = ip_address::parse(text)) {
              s.src = *ip;
              have_src = true;
            } else {
              reject = "bad_src_ip";
            }
          } else if (key == "DstIpAddr") {
            // The rule does not use the destination: an unreadable one leaves it unset.
            if (json::as_text(v, text) == json::field_status::ok) {
              if (auto ip = ip_address::parse(text)) {
                s.dst = *ip;
                s.has_dst = true;
              }
            }
          } else if (key == "DvcAction") {
            if (json::as_text(v, text) == json::field_status::ok) s.action = action_from_asim(text);
          }
          break;
        case 11:
          if (key == "EventVendor") {
            st = json::as_text(v, text);
            if (st == json::field_status::ok) vendor = copy_label(text, vendor_buf_);
            else if (st == json::field_status::invalid) reject = "bad_vendor";
          } else if (key == "DvcHostname") {
            if (json::as_text(v, text) == json::field_status::ok) s.device = labels_.get(text);
          }
          break;
        case 12:
          if (key == "EventProduct") {
            st = json::as_text(v, text);
            if (st == json::field_status::ok) product = copy_label(text, product_buf_);
            else if (st == json::field_status::invalid) reject = "bad_product";
          }
          break;
        case 13:
          if (key == "TimeGenerated") {
            reject = read_time(v, s);
            time_from_generated = s.has_time;
          } else if (key == "DstPortNumber") {
            st = json::as_port(v, s.dst_port);
            if (st == json::field_status::invalid) reject = "bad_dst_port";
            else if (st == json::field_status::absent) s.dst_port = network_session::no_port;
          }
          break;
        case 14:
          if (key == "EventStartTime" && !time_from_generated) reject = read_time(v, s);
          break;
        case 15:
          if (key == "NetworkProtocol") {
            if (json::as_text(v, text) == json::field_status::ok) s.protocol = protocol_from_name(text);
          }
          break;
        default:
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
  static const char* read_time(value v, network_session& s) noexcept {
    std::string_view text;
    const json::field_status st = json::as_text(v, text);
    if (st == json::field_status::absent) return nullptr;
    if (st != json::field_status::ok) return "bad_time";
    if (auto t = parse_iso8601(text)) {
      s.time = *t;
      s.has_time = true;
      return nullptr;
    }
    if (auto t = json::epoch_to_us(text)) {
      s.time = *t;
      s.has_time = true;
      return nullptr;
    }
    return "bad_time";
  }

  // Unescaped simdjson strings live in the parser's string buffer, valid for the document:
  // fine until the record is emitted, but copying keeps the rule simple for nested reads.
  static std::string_view copy_label(std::string_view text, std::string& buf) {
    buf.assign(text);
    return buf;
  }

  simdjson::ondemand::parser parser_;
  std::string scratch_;
  std::string vendor_buf_, product_buf_;
  label_cache labels_;
};

bool probe_asim(std::string_view head) noexcept {
  const auto first = head.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos || (head[first] != '{' && head[first] != '[')) return false;
  return head.find("\"SrcIpAddr\"") != std::string_view::npos;
}

}  // namespace

format_entry asim_json_format() {
  return {"asim", "ASIM NetworkSession JSON (object per line, array, or {\"records\":[...]})",
          [] { return std::make_unique<asim_json_parser>(); }, probe_asim};
}

}  // namespace portscand
