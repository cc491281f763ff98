#include "parse/azure_firewall.hpp"

#include <simdjson.h>

#include "event/network_session.hpp"
#include "parse/field_table.hpp"
#include "parse/json_util.hpp"
#include "parse/port.hpp"
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

bool istarts_with(std::string_view s, std::string_view lower_prefix) noexcept {
  return s.size() >= lower_prefix.size() && iequals(s.substr(0, lower_prefix.size()), lower_prefix);
}

// "ICMP", "ICMP Type=8" -> 1; HTTP(S) from threat-intel rows is TCP; the rest by name.
std::uint16_t firewall_protocol(std::string_view p) noexcept {
  if (istarts_with(p, "icmp")) return 1;
  if (iequals(p, "http") || iequals(p, "https")) return 6;
  return protocol_from_name(p);
}

bool is_icmp(std::uint16_t protocol) noexcept {
  return protocol == 1 || protocol == 58;
}

// Allow/Deny/Drop in any case; "Alert" (IDPS alert-only) has no DvcAction.
dvc_action firewall_action(std::string_view a) noexcept {
  if (iequals(a, "allow")) return dvc_action::allow;
  if (iequals(a, "deny")) return dvc_action::deny;
  if (iequals(a, "drop")) return dvc_action::drop;
  return dvc_action::unknown;
}

// The last segment of an Azure resource id: the firewall's name.
std::string_view resource_name(std::string_view id) noexcept {
  while (!id.empty() && id.back() == '/') id.remove_suffix(1);
  const std::size_t slash = id.rfind('/');
  return slash == std::string_view::npos ? id : id.substr(slash + 1);
}

// Splits "ip:port", "[v6]:port", "ip:" or a bare "ip" (ICMP). The port is whatever follows
// the LAST colon, so a bare IPv6 address with a port also splits; a token that only parses
// as a whole (IPv6 without port) is taken whole, and so is any address of an ICMP request
// (Azure writes those without a port, so a bare IPv6 one is never split).
void split_endpoint(std::string_view tok, bool icmp, std::string_view& host,
                    std::string_view& port) noexcept {
  host = tok;
  port = {};
  if (!tok.empty() && tok[0] == '[') {
    const std::size_t close = tok.find(']');
    if (close == std::string_view::npos) return;  // host stays unparsable
    host = tok.substr(1, close - 1);
    const std::string_view rest = tok.substr(close + 1);
    if (!rest.empty() && rest[0] == ':')
      port = rest.substr(1);
    else if (!rest.empty())
      host = tok;  // garbage after the bracket: unparsable
    return;
  }
  if (icmp && ip_address::parse(tok)) return;
  const std::size_t colon = tok.rfind(':');
  if (colon == std::string_view::npos) return;
  if (!ip_address::parse(tok.substr(0, colon)) && ip_address::parse(tok)) return;
  host = tok.substr(0, colon);
  port = tok.substr(colon + 1);
}

// Legacy msg: "<PROTO> request from <src> to <dst>. Action: <action>. ..." or, for NAT
// rules, "... to <dst> was DNAT'ed to <ip:port>...". Returns a reject reason or nullptr.
const char* parse_msg(std::string_view msg, network_session& s) noexcept {
  constexpr std::string_view from = " request from ";
  constexpr std::string_view to = " to ";
  const std::size_t f = msg.find(from);
  if (f == std::string_view::npos) return "bad_msg";
  s.protocol = firewall_protocol(msg.substr(0, msg.find(' ')));
  const bool icmp = is_icmp(s.protocol);

  std::string_view rest = msg.substr(f + from.size());
  const std::size_t t = rest.find(to);
  if (t == std::string_view::npos) return "bad_msg";
  const std::string_view src_tok = rest.substr(0, t);
  rest = rest.substr(t + to.size());
  const std::size_t end = rest.find(' ');
  std::string_view dst_tok = rest.substr(0, end);
  rest = end == std::string_view::npos ? std::string_view{} : rest.substr(end);
  // The sentence's full stop sticks to the destination: "1.2.3.4:53." / "1.2.3.4." / "1.2.3.4:."
  if (!dst_tok.empty() && dst_tok.back() == '.') dst_tok.remove_suffix(1);

  std::string_view host, port;
  split_endpoint(src_tok, icmp, host, port);
  if (host.empty()) return "missing_src_ip";
  if (auto ip = ip_address::parse(host))
    s.src = *ip;
  else
    return "bad_src_ip";

  split_endpoint(dst_tok, icmp, host, port);
  // The destination may be an FQDN (threat-intel rows): no address, the port still counts.
  if (auto ip = ip_address::parse(host)) {
    s.dst = *ip;
    s.has_dst = true;
  }
  if (!port.empty() && !parse_port(port, s.dst_port)) return "bad_dst_port";

  constexpr std::string_view action_tag = "Action: ";
  const std::size_t a = rest.find(action_tag);
  if (a != std::string_view::npos) {
    std::string_view word = rest.substr(a + action_tag.size());
    word = word.substr(0, word.find_first_of(". "));
    s.action = firewall_action(word);
  } else if (rest.find(" was DNAT'ed to ") != std::string_view::npos) {
    s.action = dvc_action::allow;  // a DNAT rule let the connection in
  }
  return nullptr;
}

// Which record family a category (or a Log Analytics Type) names.
enum class kind : std::uint8_t { unknown, legacy_network, structured, not_a_session, other };

kind kind_of(std::string_view category) noexcept {
  if (category.empty()) return kind::unknown;
  if (category == "AzureFirewallNetworkRule") return kind::legacy_network;
  if (category == "AZFWNetworkRule" || category == "AZFWNatRule" || category == "AZFWThreatIntel" ||
      category == "AZFWIdpsSignature")
    return kind::structured;
  // Application rules (HTTP/S by FQDN: ASIM's WebSession, not NetworkSession), DNS proxy,
  // flow trace, fat flows...: the firewall's, but not sessions the rule counts.
  if (category.starts_with("AzureFirewall") || category.starts_with("AZFW"))
    return kind::not_a_session;
  // AzureDiagnostics rows from a Log Analytics export carry Type "AzureDiagnostics" and the
  // real category in Category.
  if (category == "AzureDiagnostics") return kind::unknown;
  return kind::other;
}

struct row {
  std::string_view category, table, msg, src, dst, protocol, action, resource;
  bool has_msg = false;
  std::int32_t dst_port = network_session::no_port;
  timestamp_us time = 0;
  bool has_time = false;
  const char* reject = nullptr;
};

void note(row& r, const char* reason) noexcept {
  if (r.reject == nullptr) r.reject = reason;
}

void read_text(value v, std::string_view& out) noexcept {
  std::string_view text;
  if (json::as_text(v, text) == json::field_status::ok) out = text;
}

// The keys read at a row's level and inside its `properties`.
enum class firewall_field : std::uint8_t {
  other,
  msg,
  time,
  type,
  action,
  records,
  source_ip,
  protocol,
  category,
  resource,
  properties,
  destination_ip,
  time_generated,
  destination_port
};

constexpr auto firewall_fields = make_field_table(
    firewall_field::other, {{"msg", firewall_field::msg},
                            {"msg_s", firewall_field::msg},
                            {"time", firewall_field::time},
                            {"Type", firewall_field::type},
                            {"Action", firewall_field::action},
                            {"records", firewall_field::records},
                            {"SourceIp", firewall_field::source_ip},
                            {"Protocol", firewall_field::protocol},
                            {"category", firewall_field::category},
                            {"Category", firewall_field::category},
                            {"resourceId", firewall_field::resource},
                            {"ResourceId", firewall_field::resource},
                            {"_ResourceId", firewall_field::resource},
                            {"properties", firewall_field::properties},
                            {"DestinationIp", firewall_field::destination_ip},
                            {"TimeGenerated", firewall_field::time_generated},
                            {"DestinationPort", firewall_field::destination_port}});

class azure_firewall_parser final : public format_parser {
 public:
  azure_firewall_parser() : label_(labels_.reported_by("Microsoft", "Azure Firewall")) {}

  void parse(std::string_view unit, const parse_context& ctx, parse_sink& sink) override {
    json_.read(unit, ctx, json::unit_shape::document, sink,
               [this, &sink](object o, bool top_level) { return parse_row(o, sink, top_level); });
  }

 private:
  // Reads one record's fields at this level, descending into `properties`. Returns false
  // when the document can no longer be read (or it was an envelope, already handled).
  bool read_fields(object obj, row& r, bool top_level, bool row_level, parse_sink& sink) {
    for (auto field : obj) {
      std::string_view key;
      value* const v_at = json::field_value(field, key, sink);
      if (v_at == nullptr) return false;
      value& v = *v_at;
      switch (firewall_fields.find(key)) {
        case firewall_field::msg:
          read_text(v, r.msg);
          r.has_msg = true;
          break;
        case firewall_field::time:
          if (row_level) read_time(v, r);
          break;
        case firewall_field::type:
          read_text(v, r.table);
          break;
        case firewall_field::action:
          read_text(v, r.action);
          break;
        case firewall_field::records:
          if (top_level) {
            return json::read_wrapper(
                v, sink, [this, &sink](object o, bool) { return parse_row(o, sink, false); });
          }
          break;
        case firewall_field::source_ip: {
          std::string_view text;
          const json::field_status st = json::as_text(v, text);
          if (st == json::field_status::ok)
            r.src = text;
          else if (st == json::field_status::invalid)
            note(r, "bad_src_ip");
          break;
        }
        case firewall_field::protocol:
          read_text(v, r.protocol);
          break;
        case firewall_field::category:
          read_text(v, r.category);
          break;
        case firewall_field::resource:
          read_text(v, r.resource);
          break;
        case firewall_field::properties:
          if (row_level) {
            object props;
            if (v.get_object().get(props) != simdjson::SUCCESS) {
              note(r, "bad_properties");
              break;
            }
            if (!read_fields(props, r, false, false, sink)) return false;
          }
          break;
        case firewall_field::destination_ip:
          read_text(v, r.dst);
          break;
        case firewall_field::time_generated:
          read_time(v, r);
          break;
        case firewall_field::destination_port: {
          const json::field_status st = json::as_port(v, r.dst_port);
          if (st == json::field_status::invalid) note(r, "bad_dst_port");
          if (st != json::field_status::ok) r.dst_port = network_session::no_port;
          break;
        }
        case firewall_field::other:
          break;
      }
    }
    return true;
  }

  static void read_time(value v, row& r) noexcept {
    std::string_view text;
    const json::field_status st = json::as_text(v, text);
    if (st == json::field_status::absent || (st == json::field_status::ok && text.empty())) return;
    if (st == json::field_status::ok) {
      if (auto t = parse_iso8601(text)) {
        r.time = *t;
        r.has_time = true;
        return;
      }
      if (auto t = json::epoch_to_us(text)) {
        r.time = *t;
        r.has_time = true;
        return;
      }
    }
    note(r, "bad_time");
  }

  bool parse_row(object obj, parse_sink& sink, bool top_level) {
    row r;
    if (!read_fields(obj, r, top_level, true, sink)) return false;
    emit(r, sink);
    return true;
  }

  void emit(const row& r, parse_sink& sink) {
    kind k = kind_of(r.category);
    if (k == kind::unknown) k = kind_of(r.table);
    if (k == kind::unknown) {
      // No category at all: tell the families apart by their fields.
      if (r.has_msg)
        k = kind::legacy_network;
      else if (!r.src.empty())
        k = kind::structured;
    }
    switch (k) {
      case kind::not_a_session:
        sink.skipped("not_a_network_rule");
        return;
      case kind::other:
        sink.skipped("other_category");
        return;
      case kind::unknown:
        sink.rejected("unknown_record");
        return;
      default:
        break;
    }
    if (r.reject != nullptr) {
      sink.rejected(r.reject);
      return;
    }
    network_session s;
    if (k == kind::legacy_network) {
      if (r.msg.empty()) {
        sink.rejected("missing_msg");
        return;
      }
      if (const char* why = parse_msg(r.msg, s)) {
        sink.rejected(why);
        return;
      }
    } else {
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
      s.protocol = firewall_protocol(r.protocol);
      s.dst_port = r.dst_port;  // ICMP rows say 0 (normalize() decides whether it counts)
      // NAT rule rows have no Action: the DNAT let the connection through.
      s.action = r.action.empty() ? dvc_action::allow : firewall_action(r.action);
    }
    s.time = r.time;
    s.has_time = r.has_time;
    const std::string_view name = resource_name(r.resource);
    if (!name.empty()) s.device = labels_.get(name);
    s.reported_by = label_;
    sink.record(s);
  }

  json::document_reader json_;
  label_cache labels_;
  label_id label_;
};

bool probe_azure_firewall(std::string_view head) noexcept {
  if (!probe_json_start(head)) return false;
  return probe_has(head, "\"AzureFirewall") || probe_has(head, "\"AZFW") ||
         probe_has(head, "/AZUREFIREWALLS/") || probe_has(head, "/azureFirewalls/") ||
         probe_has(head, "/azurefirewalls/");
}

}  // namespace

format_entry azure_firewall_format() {
  return {"azure-firewall",
          "Azure Firewall JSON: AzureDiagnostics msg records and AZFW* resource-specific records",
          [] { return std::make_unique<azure_firewall_parser>(); }, probe_azure_firewall};
}

}  // namespace portscand
