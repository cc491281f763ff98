#include "parse/vmconnection.hpp"

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

bool iequals(std::string_view a, std::string_view lower) noexcept {
  if (a.size() != lower.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char c = a[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != lower[i]) return false;
  }
  return true;
}

// One row's fields as read. String views point into the simdjson parser's string buffer,
// valid until the next parse.
struct row {
  std::string_view direction, src, dst, protocol, computer, table;
  bool has_direction = false;
  std::int32_t dst_port = network_session::no_port;
  timestamp_us time = 0;
  bool has_time = false;
  const char* reject = nullptr;
};

void note(row& r, const char* reason) noexcept {
  if (r.reject == nullptr) r.reject = reason;
}

// The columns read at a row's level and inside its `properties`.
enum class vmconnection_field : std::uint8_t {
  other,
  type,
  records,
  source_ip,
  computer,
  protocol,
  direction,
  properties,
  destination_ip,
  time_generated,
  destination_port
};

constexpr auto vmconnection_fields = make_field_table(
    vmconnection_field::other, {{"Type", vmconnection_field::type},
                                {"records", vmconnection_field::records},
                                {"SourceIp", vmconnection_field::source_ip},
                                {"Computer", vmconnection_field::computer},
                                {"Protocol", vmconnection_field::protocol},
                                {"Direction", vmconnection_field::direction},
                                {"properties", vmconnection_field::properties},
                                {"DestinationIp", vmconnection_field::destination_ip},
                                {"TimeGenerated", vmconnection_field::time_generated},
                                {"DestinationPort", vmconnection_field::destination_port}});

class vmconnection_parser final : public format_parser {
 public:
  vmconnection_parser() : label_(labels_.reported_by("Microsoft", "VMConnection")) {}

  void parse(std::string_view unit, const parse_context& ctx, parse_sink& sink) override {
    json_.read(unit, ctx, json::unit_shape::document, sink,
               [this, &sink](object o, bool top_level) { return parse_row(o, sink, top_level); });
  }

 private:
  // Reads the columns at this level; a `properties` object (diagnostic-settings shape) is
  // read the same way. Returns false when the document can no longer be read (or it was
  // an envelope, already handled).
  bool read_fields(object obj, row& r, bool top_level, bool row_level, parse_sink& sink) {
    for (auto field : obj) {
      std::string_view key;
      value* const v_at = json::field_value(field, key, sink);
      if (v_at == nullptr) return false;
      value& v = *v_at;
      std::string_view text;
      switch (vmconnection_fields.find(key)) {
        case vmconnection_field::type:
          if (json::as_text(v, text) == json::field_status::ok) r.table = text;
          break;
        case vmconnection_field::records:
          if (top_level) {
            return json::read_wrapper(
                v, sink, [this, &sink](object o, bool) { return parse_row(o, sink, false); });
          }
          break;
        case vmconnection_field::source_ip: {
          const json::field_status st = json::as_text(v, text);
          if (st == json::field_status::ok)
            r.src = text;
          else if (st == json::field_status::invalid)
            note(r, "bad_src_ip");
          break;
        }
        case vmconnection_field::computer:
          if (json::as_text(v, text) == json::field_status::ok) r.computer = text;
          break;
        case vmconnection_field::protocol:
          if (json::as_text(v, text) == json::field_status::ok) r.protocol = text;
          break;
        case vmconnection_field::direction: {
          const json::field_status st = json::as_text(v, text);
          if (st == json::field_status::ok && !text.empty()) {
            r.direction = text;
            r.has_direction = true;
          } else if (st == json::field_status::invalid) {
            note(r, "bad_direction");
          }
          break;
        }
        case vmconnection_field::properties:
          if (row_level) {
            object props;
            if (v.get_object().get(props) != simdjson::SUCCESS) {
              note(r, "bad_properties");
              break;
            }
            if (!read_fields(props, r, false, false, sink)) return false;
          }
          break;
        case vmconnection_field::destination_ip:
          if (json::as_text(v, text) == json::field_status::ok) r.dst = text;
          break;
        case vmconnection_field::time_generated: {
          const json::field_status st = json::as_text(v, text);
          if (st == json::field_status::ok && !text.empty()) {
            if (auto t = parse_iso8601(text)) {
              r.time = *t;
              r.has_time = true;
            } else if (auto e = json::epoch_to_us(text)) {
              r.time = *e;
              r.has_time = true;
            } else {
              note(r, "bad_time");
            }
          } else if (st == json::field_status::invalid) {
            note(r, "bad_time");
          }
          break;
        }
        case vmconnection_field::destination_port: {
          const json::field_status st = json::as_port(v, r.dst_port);
          if (st == json::field_status::invalid) note(r, "bad_dst_port");
          if (st != json::field_status::ok) r.dst_port = network_session::no_port;
          break;
        }
        case vmconnection_field::other:
          break;
      }
    }
    return true;
  }

  bool parse_row(object obj, parse_sink& sink, bool top_level) {
    row r;
    if (!read_fields(obj, r, top_level, true, sink)) return false;
    emit(r, sink);
    return true;
  }

  void emit(const row& r, parse_sink& sink) {
    // A data export can put VM insights' other tables (VMBoundPort, VMProcess...) on the
    // same stream.
    if (!r.table.empty() && r.table != "VMConnection") {
      sink.skipped("other_table");
      return;
    }
    if (r.reject == nullptr && !r.has_direction) {
      sink.rejected("missing_direction");
      return;
    }
    // ASIM keeps outbound and inbound rows only; the columns are already initiator first.
    if (r.reject == nullptr && !iequals(r.direction, "outbound") &&
        !iequals(r.direction, "inbound")) {
      sink.skipped("other_direction");
      return;
    }
    if (r.reject != nullptr) {
      sink.rejected(r.reject);
      return;
    }
    network_session s;
    if (r.src.empty()) {
      sink.rejected("missing_src_ip");
      return;
    }
    if (auto ip = ip_address::parse(r.src)) {
      s.src = *ip;
    } else {
      sink.rejected("bad_src_ip");
      return;
    }
    if (auto ip = ip_address::parse(r.dst)) {
      s.dst = *ip;
      s.has_dst = true;
    }
    // One row aggregates every connection of the window between the two endpoints on this
    // port (LinksEstablished of them): for the rule it is one record adding one port.
    s.dst_port = r.dst_port;
    s.protocol = protocol_from_name(r.protocol);
    s.time = r.time;
    s.has_time = r.has_time;
    if (!r.computer.empty()) s.device = labels_.get(r.computer);
    s.reported_by = label_;
    sink.record(s);
  }

  json::document_reader json_;
  label_cache labels_;
  label_id label_;
};

bool probe_vmconnection(std::string_view head) noexcept {
  if (!probe_json_start(head)) return false;
  // VM insights' other tables (VMBoundPort, VMProcess, VMComputer) come on the same data
  // export: claimed too, so that they are skipped as other_table rather than rejected as
  // unknown_format under auto.
  for (std::string_view sig : {"\"VMConnection\"", "\"LinksEstablished\"", "\"VMBoundPort\"",
                               "\"VMProcess\"", "\"VMComputer\""})
    if (probe_has(head, sig)) return true;
  return false;
}

}  // namespace

format_entry vmconnection_format() {
  return {"vmconnection",
          "Azure Monitor VMConnection rows as JSON (row, array or {\"records\":[...]})",
          [] { return std::make_unique<vmconnection_parser>(); }, probe_vmconnection};
}

}  // namespace portscand
