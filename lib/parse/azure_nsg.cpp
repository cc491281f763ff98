#include "parse/azure_nsg.hpp"

#include <simdjson.h>

#include <array>
#include <vector>

#include "event/network_session.hpp"
#include "parse/json_util.hpp"
#include "parse/port.hpp"
#include "parse/probe_util.hpp"

namespace portscand {
namespace {

using simdjson::ondemand::json_type;
using simdjson::ondemand::object;
using simdjson::ondemand::value;

// The last segment of an Azure resource id: the NSG's name.
std::string_view resource_name(std::string_view id) noexcept {
  while (!id.empty() && id.back() == '/') id.remove_suffix(1);
  const std::size_t slash = id.rfind('/');
  return slash == std::string_view::npos ? id : id.substr(slash + 1);
}

// Tuple fields: time,src,dst,sport,dport,proto,direction,decision (v1: 8 fields) then
// ,state,packets_out,bytes_out,packets_in,bytes_in (v2: 13 fields).
constexpr std::size_t v1_fields = 8;
constexpr std::size_t v2_fields = 13;

// Splits on ','; returns the field count, or v2_fields + 1 when there are more.
std::size_t split_tuple(std::string_view t, std::array<std::string_view, v2_fields>& out) noexcept {
  std::size_t n = 0;
  std::size_t begin = 0;
  while (true) {
    const std::size_t comma = t.find(',', begin);
    if (n == v2_fields) return v2_fields + 1;
    out[n++] =
        t.substr(begin, comma == std::string_view::npos ? std::string_view::npos : comma - begin);
    if (comma == std::string_view::npos) return n;
    begin = comma + 1;
  }
}

class azure_nsg_parser final : public format_parser {
 public:
  azure_nsg_parser() : label_(labels_.reported_by("Microsoft", "NSGFlow")) {}

  void parse(std::string_view unit, const parse_context& ctx, parse_sink& sink) override {
    json_.read(
        unit, ctx, json::unit_shape::document, sink,
        [this, &sink](object o, bool top_level) { return parse_record(o, sink, top_level); });
  }

 private:
  // One record: time, category, resourceId and properties.flows[].flows[].flowTuples[].
  // The tuples are collected first and emitted after the whole record has been read,
  // because the category and resourceId may follow the properties. Returns false when the
  // document can no longer be read (or it was an envelope, already handled).
  bool parse_record(object obj, parse_sink& sink, bool top_level) {
    tuples_.clear();
    std::string_view category, resource;
    const char* reject = nullptr;
    for (auto field : obj) {
      std::string_view key;
      value* const v_at = json::field_value(field, key, sink);
      if (v_at == nullptr) return false;
      value& v = *v_at;
      if (key == "records" && top_level) {
        return json::read_wrapper(
            v, sink, [this, &sink](object o, bool) { return parse_record(o, sink, false); });
      }
      if (key == "category") {
        std::string_view text;
        if (json::as_text(v, text) == json::field_status::ok) category = text;
      } else if (key == "resourceId") {
        std::string_view text;
        if (json::as_text(v, text) == json::field_status::ok) resource = text;
      } else if (key == "properties") {
        switch (read_properties(v)) {
          case read_result::ok:
            break;
          case read_result::malformed:
            reject = "bad_flows";
            break;
          case read_result::broken:
            sink.rejected("invalid_json");
            return false;
        }
      }
    }
    // Other NSG diagnostic categories (NetworkSecurityGroupEvent, ...RuleCounter) carry no flows.
    if (!category.empty() && category != "NetworkSecurityGroupFlowEvent") {
      sink.skipped("other_category");
      return true;
    }
    if (reject != nullptr) {
      sink.rejected(reject);
      return true;
    }
    if (tuples_.empty()) {
      sink.skipped("no_flows");
      return true;
    }
    const std::string_view name = resource_name(resource);
    const label_id device = name.empty() ? label_table::empty_id : labels_.get(name);
    for (std::string_view t : tuples_) emit_tuple(t, device, sink);
    return true;
  }

  enum class read_result : std::uint8_t { ok, malformed, broken };

  // A structural surprise (flows not an array, a tuple not a string) marks the record
  // malformed; a JSON syntax error mid-way makes the document unreadable.
  static read_result fail(simdjson::error_code e) noexcept {
    return e == simdjson::INCORRECT_TYPE ? read_result::malformed : read_result::broken;
  }

  read_result read_properties(value v) {
    object props;
    if (auto e = v.get_object().get(props)) return fail(e);
    for (auto field : props) {
      std::string_view key;
      value fv;
      if (field.unescaped_key().get(key) != simdjson::SUCCESS ||
          field.value().get(fv) != simdjson::SUCCESS)
        return read_result::broken;
      if (key != "flows") continue;  // Version: the tuple's field count says it too
      simdjson::ondemand::array rules;
      if (auto e = fv.get_array().get(rules)) return fail(e);
      for (auto rule : rules) {
        object ro;
        if (auto e = rule.get_object().get(ro)) return fail(e);
        for (auto rf : ro) {
          std::string_view rkey;
          value rv;
          if (rf.unescaped_key().get(rkey) != simdjson::SUCCESS ||
              rf.value().get(rv) != simdjson::SUCCESS)
            return read_result::broken;
          if (rkey != "flows") continue;  // rule: the NSG rule's name
          simdjson::ondemand::array groups;
          if (auto e = rv.get_array().get(groups)) return fail(e);
          for (auto group : groups) {
            object go;
            if (auto e = group.get_object().get(go)) return fail(e);
            for (auto gf : go) {
              std::string_view gkey;
              value gv;
              if (gf.unescaped_key().get(gkey) != simdjson::SUCCESS ||
                  gf.value().get(gv) != simdjson::SUCCESS)
                return read_result::broken;
              if (gkey != "flowTuples") continue;  // mac
              simdjson::ondemand::array tuples;
              if (auto e = gv.get_array().get(tuples)) return fail(e);
              for (auto tuple : tuples) {
                std::string_view text;
                if (auto e = tuple.get_string().get(text)) return fail(e);
                tuples_.push_back(text);
              }
            }
          }
        }
      }
    }
    return read_result::ok;
  }

  void emit_tuple(std::string_view tuple, label_id device, parse_sink& sink) {
    std::array<std::string_view, v2_fields> f{};
    const std::size_t n = split_tuple(tuple, f);
    if (n != v1_fields && n != v2_fields) {
      sink.rejected("bad_tuple");
      return;
    }
    // v2 flow state: B(egin) is the connection; C(ontinuing) and E(nd) report the same
    // connection again with counters. Counting only B keeps one record per connection.
    if (n == v2_fields) {
      const std::string_view state = f[8];
      if (state == "C" || state == "E") {
        sink.skipped("flow_continuation");
        return;
      }
      if (state != "B") {
        sink.rejected("bad_flow_state");
        return;
      }
    }
    network_session s;
    std::int64_t secs = 0;
    if (!json::parse_int64(f[0], secs) || secs < 0 || secs > 253'402'300'799LL) {
      sink.rejected("bad_time");
      return;
    }
    s.time = secs * us_per_second;
    s.has_time = true;
    if (f[1].empty()) {
      sink.rejected("missing_src_ip");
      return;
    }
    if (auto ip = ip_address::parse(f[1])) {
      s.src = *ip;
    } else {
      sink.rejected("bad_src_ip");
      return;
    }
    if (auto ip = ip_address::parse(f[2])) {
      s.dst = *ip;
      s.has_dst = true;
    }
    if (!f[4].empty()) {
      if (!parse_port(f[4], s.dst_port)) {
        sink.rejected("bad_dst_port");
        return;
      }
    }
    // The tuple is initiator first in both directions (I: a remote peer connecting to the
    // VM; O: the VM connecting out), so no swap.
    if (f[6] != "I" && f[6] != "O") {
      sink.rejected("bad_direction");
      return;
    }
    if (f[5] == "T")
      s.protocol = 6;
    else if (f[5] == "U")
      s.protocol = 17;
    if (f[7] == "A")
      s.action = dvc_action::allow;
    else if (f[7] == "D")
      s.action = dvc_action::deny;
    s.side = flow_side::initiator;  // a B tuple is its connection's, initiator first (above)
    s.device = device;
    s.reported_by = label_;
    sink.record(s);
  }

  json::document_reader json_;
  std::vector<std::string_view> tuples_;  // views into the parser's string buffer
  label_cache labels_;
  label_id label_;
};

bool probe_azure_nsg(std::string_view head) noexcept {
  if (!probe_json_start(head)) return false;
  return probe_has(head, "NetworkSecurityGroupFlowEvent") || probe_has(head, "\"flowTuples\"");
}

}  // namespace

format_entry azure_nsg_format() {
  return {"azure-nsg", "Azure NSG flow logs v1/v2 JSON (blob {\"records\":[...]} or one record)",
          [] { return std::make_unique<azure_nsg_parser>(); }, probe_azure_nsg};
}

}  // namespace portscand
