#include "parse/ecs.hpp"

#include <array>
#include <cctype>

#include "event/network_session.hpp"
#include "parse/json_records.hpp"
#include "parse/probe_util.hpp"
#include "parse/windows_wfp.hpp"

namespace portscand {
namespace {

using simdjson::ondemand::json_type;
using simdjson::ondemand::object;
using simdjson::ondemand::value;

// Used when a document names neither an observer nor a module: ECS itself is the only
// thing known about its producer.
constexpr std::string_view fallback_vendor = "Elastic";
constexpr std::string_view fallback_product = "ECS";

bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != b[i]) return false;
  return true;
}

// event.action is free text per integration; only the plain verbs are read.
dvc_action action_from_verb(std::string_view s) noexcept {
  for (auto w : {"accept", "accepted", "allow", "allowed", "permit", "permitted", "pass"})
    if (iequals(s, w)) return dvc_action::allow;
  for (auto w : {"deny", "denied", "block", "blocked", "reject", "rejected"})
    if (iequals(s, w)) return dvc_action::deny;
  for (auto w : {"drop", "dropped"})
    if (iequals(s, w)) return dvc_action::drop;
  if (iequals(s, "reset")) return dvc_action::reset;
  return dvc_action::unknown;
}

struct ecs_fields {
  network_session s;
  std::string_view timestamp, event_start, transport, iana_number, protocol, action, outcome,
      module, dataset, vendor, product, observer_host, host_name;
  bool has_src = false, src_bad = false, has_category = false, network_category = false;
  bool type_allowed = false, type_denied = false;
  bool broken = false;  // a simdjson error inside an array: the document is unusable
  ip_address address_src, address_dst;
  bool has_address_src = false, has_address_dst = false;
  // What makes a document ECS's under auto (parse_sink::claim): an ECS key (@timestamp, ecs,
  // ecs.version, source.ip) and an endpoint (a source.* or destination.* field), as the probe
  // and the decoder's endpoint check read them, or a category (the envelope reader's
  // "normalized event") in a document without Winlogbeat's winlog (windows-wfp's events).
  bool ecs_key = false, endpoint = false, winlog = false;
  const char* reject = nullptr;
};

void note_claim(std::string_view p, ecs_fields& f) noexcept {
  if (p.starts_with("source.") || p.starts_with("destination.")) {
    f.endpoint = true;
    f.ecs_key = f.ecs_key || p == "source.ip";
  } else if (p == "@timestamp" || p == "ecs" || p.starts_with("ecs.")) {
    f.ecs_key = true;
  } else if (p == "winlog" || p.starts_with("winlog.")) {
    f.winlog = true;
  }
}

// Calls f(text) for a string or for each string of an array (event.category, event.type).
// Returns false when the document can no longer be read.
template <class F>
bool for_each_string(value v, const F& f) noexcept {
  json_type t;
  if (v.type().get(t) != simdjson::SUCCESS) return false;
  std::string_view text;
  if (t == json_type::string) {
    if (v.get_string().get(text) == simdjson::SUCCESS) f(text);
    return true;
  }
  if (t != json_type::array) return true;
  simdjson::ondemand::array arr;
  if (v.get_array().get(arr) != simdjson::SUCCESS) return false;
  for (auto e : arr) {
    value ev;
    if (e.get(ev) != simdjson::SUCCESS) return false;
    if (ev.get_string().get(text) == simdjson::SUCCESS) f(text);
  }
  return true;
}

void text_of(value v, std::string_view& out) noexcept {
  std::string_view text;
  if (json::as_text(v, text) == json::field_status::ok) out = text;
}

void ecs_leaf(std::string_view p, value v, ecs_fields& f) noexcept {
  if (f.reject != nullptr || f.broken) return;
  if (p == "@timestamp") return text_of(v, f.timestamp);
  if (p.substr(0, 7) == "source.") {
    p.remove_prefix(7);
    if (p == "ip") {
      if (!json::read_ip(v, f.s.src, f.has_src)) f.reject = "bad_src_ip";
    } else if (p == "address") {
      // source.address may be a host name; only an address is used, and only without ip.
      bool present = false;
      if (json::read_ip(v, f.address_src, present)) f.has_address_src = present;
    }
    return;
  }
  if (p.substr(0, 12) == "destination.") {
    p.remove_prefix(12);
    if (p == "ip") {
      bool present = false;
      // The rule does not use the destination: an unreadable one leaves it unset.
      if (json::read_ip(v, f.s.dst, present)) f.s.has_dst = present;
    } else if (p == "address") {
      bool present = false;
      if (json::read_ip(v, f.address_dst, present)) f.has_address_dst = present;
    } else if (p == "port") {
      const auto st = json::as_port(v, f.s.dst_port);
      if (st == json::field_status::invalid)
        f.reject = "bad_dst_port";
      else if (st == json::field_status::absent)
        f.s.dst_port = network_session::no_port;
    }
    return;
  }
  if (p == "network.transport") return text_of(v, f.transport);
  if (p == "network.iana_number") return text_of(v, f.iana_number);
  if (p == "network.protocol") return text_of(v, f.protocol);
  if (p.substr(0, 6) == "event.") {
    p.remove_prefix(6);
    if (p == "category") {
      f.has_category = true;
      f.broken |= !for_each_string(v, [&f](std::string_view c) {
        if (c == "network" || c == "network_traffic") f.network_category = true;
      });
    } else if (p == "type") {
      f.broken |= !for_each_string(v, [&f](std::string_view t) {
        if (t == "allowed")
          f.type_allowed = true;
        else if (t == "denied")
          f.type_denied = true;
      });
    } else if (p == "action") {
      text_of(v, f.action);
    } else if (p == "outcome") {
      text_of(v, f.outcome);
    } else if (p == "start") {
      text_of(v, f.event_start);
    } else if (p == "module") {
      text_of(v, f.module);
    } else if (p == "dataset") {
      text_of(v, f.dataset);
    }
    return;
  }
  if (p == "observer.vendor") return text_of(v, f.vendor);
  if (p == "observer.product") return text_of(v, f.product);
  if (p == "observer.hostname") return text_of(v, f.observer_host);
  if (p == "observer.name") {
    if (f.observer_host.empty()) text_of(v, f.observer_host);
    return;
  }
  if (p == "host.name" || (p == "host.hostname" && f.host_name.empty())) text_of(v, f.host_name);
}

bool ecs_descend(std::string_view p) noexcept {
  return p == "source" || p == "destination" || p == "network" || p == "event" || p == "observer" ||
         p == "host";
}

class ecs_parser final : public json::record_parser {
 public:
  ecs_parser() : record_parser(false) {}

 protected:
  bool on_object(object obj, const parse_context& ctx, parse_sink& sink) override {
    ecs_fields f;
    std::array<char, 96> path{};
    if (!json::walk_paths(obj, path.data(), 0, path.size(), 0, ecs_descend,
                          [&f](std::string_view p, value v) {
                            note_claim(p, f);
                            ecs_leaf(p, v, f);
                          }) ||
        f.broken) {
      sink.rejected("invalid_json");
      return false;
    }
    if (f.ecs_key && (f.endpoint || (f.has_category && !f.winlog))) sink.claim();
    // Only network events are sessions: a document that states its category must list
    // network; one that does not must still name both ends.
    if (f.has_category && !f.network_category) {
      sink.skipped("not_network_event");
      return true;
    }
    if (f.reject != nullptr) {
      sink.rejected(f.reject);
      return true;
    }
    network_session& s = f.s;
    if (!f.has_src && f.has_address_src) {
      s.src = f.address_src;
      f.has_src = true;
    }
    if (!s.has_dst && f.has_address_dst) {
      s.dst = f.address_dst;
      s.has_dst = true;
    }
    if (!f.has_src) {
      // AWS NODATA/SKIPDATA rows and the like: a network event with no tuple at all.
      if (!s.has_dst) {
        sink.skipped("no_addresses");
      } else {
        sink.rejected("missing_src_ip");
      }
      return true;
    }
    if (!f.has_category && !s.has_dst) {
      sink.skipped("not_network_event");
      return true;
    }
    // network.transport is the ECS field; iana_number is its number; some integrations
    // (Meraki) put the transport into network.protocol, whose ECS meaning is the
    // application protocol: it is used only when it names an IP protocol.
    s.protocol = protocol_from_name(f.transport);
    if (s.protocol == network_session::no_protocol) s.protocol = protocol_from_name(f.iana_number);
    if (s.protocol == network_session::no_protocol) s.protocol = protocol_from_name(f.protocol);
    const std::string_view when = !f.timestamp.empty() ? f.timestamp : f.event_start;
    if (!when.empty()) {
      auto t = json::time_from_text(when, ctx.zone);
      if (!t) {
        sink.rejected("bad_time");
        return true;
      }
      s.time = *t;
      s.has_time = true;
    }
    // event.type allowed/denied are the ECS categorization values; then a plain verb in
    // event.action; then ECS 1.x-era outcome values "allow"/"deny" (AWS VPC pipelines).
    // outcome success/failure is not an action (a failed connection was not denied).
    if (f.type_denied)
      s.action = dvc_action::deny;
    else if (f.type_allowed)
      s.action = dvc_action::allow;
    else
      s.action = action_from_verb(f.action);
    if (s.action == dvc_action::unknown) {
      if (f.outcome == "allow")
        s.action = dvc_action::allow;
      else if (f.outcome == "deny")
        s.action = dvc_action::deny;
    }
    if (!f.vendor.empty() || !f.product.empty()) {
      s.reported_by = labels_.reported_by(f.vendor, f.product);
    } else if (!f.module.empty() || !f.dataset.empty()) {
      s.reported_by = labels_.reported_by(f.module, f.dataset);
    } else {
      s.reported_by = labels_.reported_by(fallback_vendor, fallback_product);
    }
    if (!f.observer_host.empty())
      s.device = labels_.get(f.observer_host);
    else if (!f.host_name.empty())
      s.device = labels_.get(f.host_name);
    sink.record(s);
    return true;
  }

 private:
  label_cache labels_;
};

bool probe_ecs(std::string_view head) noexcept {
  if (!probe_json_start(head)) return false;
  // Beats and Logstash write @timestamp first; Elastic Agent output also carries "ecs".
  // Dotted flat keys are the other signature.
  const bool ecs = probe_has(head, "\"@timestamp\"") || probe_has(head, "\"ecs\"") ||
                   probe_has(head, "\"ecs.version\"") || probe_has(head, "\"source.ip\"");
  // Raw Winlogbeat documents of WFP events (winlog.event_data, no ECS source/destination)
  // also carry @timestamp and ecs.version: they are windows-wfp's (disjoint probes).
  return ecs && !probe_windows_wfp(head);
}

}  // namespace

format_entry ecs_format() {
  format_entry e{"ecs", "Elastic Common Schema network events (Beats/Logstash/Agent JSON)",
                 [] { return std::make_unique<ecs_parser>(); }, probe_ecs};
  e.claims = true;
  return e;
}

}  // namespace portscand
