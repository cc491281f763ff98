#include "parse/ocsf.hpp"

#include <array>

#include "event/network_session.hpp"
#include "parse/json_records.hpp"
#include "parse/probe_util.hpp"

namespace portscand {
namespace {

using simdjson::ondemand::object;
using simdjson::ondemand::value;

constexpr std::int64_t network_activity = 4001;

// disposition_id (OCSF 1.x): 1 Allowed, 2 Blocked, 6 Dropped; the rest (quarantined,
// isolated, ...) says nothing a port-scan analyst filters on.
dvc_action action_from_disposition(std::int64_t id) noexcept {
  switch (id) {
    case 1:
      return dvc_action::allow;
    case 2:
      return dvc_action::deny;
    case 6:
      return dvc_action::drop;
    default:
      return dvc_action::unknown;
  }
}

// Times: the schema says epoch milliseconds; producers also write ISO 8601 text, and the
// SiLK example writes "2015/06/17T00:00:00.083" (slashes). Text without a zone is read in
// the input's `timezone` (default UTC).
std::optional<timestamp_us> ocsf_time(std::string_view text, local_zone* zone) noexcept {
  if (text.size() >= 10 && text.size() <= 40 && text[4] == '/' && text[7] == '/') {
    std::array<char, 40> buf{};
    std::copy(text.begin(), text.end(), buf.begin());
    buf[4] = buf[7] = '-';
    return json::time_from_text(std::string_view(buf.data(), text.size()), zone);
  }
  return json::time_from_text(text, zone);
}

struct ocsf_fields {
  network_session s;
  std::string_view time, start_time, proto_num, proto_name, vendor, product, hostname;
  std::int64_t class_uid = -1, type_uid = -1, disposition_id = -1, action_id = -1, activity_id = -1;
  bool has_src = false;
  // The probe's keys, class_uid, src_endpoint or dst_endpoint, were seen: the document is
  // OCSF's under auto (parse_sink::claim).
  bool signature = false;
  const char* reject = nullptr;
};

bool is_endpoint(std::string_view path, std::string_view name) noexcept {
  return path.starts_with(name) && (path.size() == name.size() || path[name.size()] == '.');
}

void read_int(value v, std::int64_t& out) noexcept {
  std::int64_t n = 0;
  if (json::as_int64(v, n) == json::field_status::ok) out = n;
}

void ocsf_leaf(std::string_view path, value v, ocsf_fields& f) noexcept {
  if (f.reject != nullptr) return;
  std::string_view text;
  if (path == "class_uid") {
    std::int64_t n = 0;
    const auto st = json::as_int64(v, n);
    if (st == json::field_status::invalid)
      f.reject = "bad_class_uid";
    else if (st == json::field_status::ok)
      f.class_uid = n;
  } else if (path == "type_uid") {
    read_int(v, f.type_uid);
  } else if (path == "time") {
    if (json::as_text(v, text) == json::field_status::ok) f.time = text;
  } else if (path == "start_time") {
    if (json::as_text(v, text) == json::field_status::ok) f.start_time = text;
  } else if (path == "src_endpoint.ip") {
    if (!json::read_ip(v, f.s.src, f.has_src)) f.reject = "bad_src_ip";
  } else if (path == "dst_endpoint.ip") {
    bool present = false;
    // The rule does not use the destination: an unreadable one leaves it unset.
    if (json::read_ip(v, f.s.dst, present)) f.s.has_dst = present;
  } else if (path == "dst_endpoint.port") {
    const auto st = json::as_port(v, f.s.dst_port);
    if (st == json::field_status::invalid)
      f.reject = "bad_dst_port";
    else if (st == json::field_status::absent)
      f.s.dst_port = network_session::no_port;
  } else if (path == "connection_info.protocol_num") {
    if (json::as_text(v, text) == json::field_status::ok) f.proto_num = text;
  } else if (path == "connection_info.protocol_name") {
    if (json::as_text(v, text) == json::field_status::ok) f.proto_name = text;
  } else if (path == "disposition_id") {
    read_int(v, f.disposition_id);
  } else if (path == "action_id") {
    read_int(v, f.action_id);
  } else if (path == "activity_id") {
    read_int(v, f.activity_id);
  } else if (path == "metadata.product.vendor_name") {
    if (json::as_text(v, text) == json::field_status::ok) f.vendor = text;
  } else if (path == "metadata.product.name") {
    if (json::as_text(v, text) == json::field_status::ok) f.product = text;
  } else if (path == "device.hostname" || (path == "device.name" && f.hostname.empty())) {
    if (json::as_text(v, text) == json::field_status::ok) f.hostname = text;
  }
}

bool ocsf_descend(std::string_view path) noexcept {
  return path == "src_endpoint" || path == "dst_endpoint" || path == "connection_info" ||
         path == "metadata" || path == "metadata.product" || path == "device";
}

class ocsf_parser final : public json::record_parser {
 public:
  ocsf_parser() : record_parser(false) {}

 protected:
  bool on_object(object obj, const parse_context& ctx, parse_sink& sink) override {
    ocsf_fields f;
    std::array<char, 96> path{};
    if (!json::walk_paths(
            obj, path.data(), 0, path.size(), 0, ocsf_descend, [&f](std::string_view p, value v) {
              f.signature = f.signature || p == "class_uid" || is_endpoint(p, "src_endpoint") ||
                            is_endpoint(p, "dst_endpoint");
              ocsf_leaf(p, v, f);
            })) {
      sink.rejected("invalid_json");
      return false;
    }
    if (f.signature) sink.claim();
    if (f.reject != nullptr) {
      sink.rejected(f.reject);
      return true;
    }
    std::int64_t cls = f.class_uid;
    // type_uid = class_uid * 100 + activity_id: it stands in for either when missing.
    if (cls < 0 && f.type_uid >= 0) cls = f.type_uid / 100;
    if (f.activity_id < 0 && f.type_uid >= 0) f.activity_id = f.type_uid % 100;
    if (cls < 0) {
      sink.rejected("missing_class_uid");
      return true;
    }
    if (cls != network_activity) {
      sink.skipped("not_network_activity");
      return true;
    }
    network_session& s = f.s;
    if (!f.has_src) {
      sink.rejected("missing_src_ip");
      return true;
    }
    s.protocol = protocol_from_name(f.proto_num);
    if (s.protocol == network_session::no_protocol) s.protocol = protocol_from_name(f.proto_name);
    const std::string_view when = !f.time.empty() ? f.time : f.start_time;
    if (!when.empty()) {
      auto t = ocsf_time(when, ctx.zone);
      if (!t) {
        sink.rejected("bad_time");
        return true;
      }
      s.time = *t;
      s.has_time = true;
    }
    // disposition_id first (what the control did), then action_id (1.1+: 1 Allowed,
    // 2 Denied), then the activity itself (5 Refuse, 3 Reset).
    s.action = action_from_disposition(f.disposition_id);
    if (s.action == dvc_action::unknown) {
      if (f.action_id == 1)
        s.action = dvc_action::allow;
      else if (f.action_id == 2)
        s.action = dvc_action::deny;
      else if (f.activity_id == 5)
        s.action = dvc_action::deny;
      else if (f.activity_id == 3)
        s.action = dvc_action::reset;
    }
    s.reported_by = labels_.reported_by(f.vendor, f.product);
    if (!f.hostname.empty()) s.device = labels_.get(f.hostname);
    sink.record(s);
    return true;
  }

 private:
  label_cache labels_;
};

bool probe_ocsf(std::string_view head) noexcept {
  if (!probe_json_start(head)) return false;
  return probe_has(head, "\"class_uid\"") || probe_has(head, "\"src_endpoint\"") ||
         probe_has(head, "\"dst_endpoint\"");
}

}  // namespace

format_entry ocsf_format() {
  format_entry e{"ocsf", "OCSF Network Activity (class_uid 4001) JSON",
                 [] { return std::make_unique<ocsf_parser>(); }, probe_ocsf};
  e.claims = true;
  return e;
}

}  // namespace portscand
