#include "parse/cisco_asa.hpp"

#include "event/network_session.hpp"
#include "parse/port.hpp"
#include "parse/syslog_header.hpp"

namespace portscand {
namespace {

constexpr auto npos = std::string_view::npos;

constexpr bool is_digit(char c) noexcept {
  return c >= '0' && c <= '9';
}
constexpr bool is_alpha(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
constexpr char lower(char c) noexcept {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c;
}
constexpr char at(std::string_view s, std::size_t i) noexcept {
  return i < s.size() ? s[i] : '\0';
}

bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}

std::size_t skip_spaces(std::string_view s, std::size_t p) noexcept {
  while (p < s.size() && s[p] == ' ') ++p;
  return p;
}

// The next space-delimited word at or after p; `p` moves past it.
std::string_view word(std::string_view s, std::size_t& p) noexcept {
  p = skip_spaces(s, p);
  const std::size_t b = p;
  while (p < s.size() && s[p] != ' ') ++p;
  return s.substr(b, p - b);
}

// Position just after `needle` at or after `from`, npos when absent.
std::size_t after(std::string_view s, std::string_view needle, std::size_t from = 0) noexcept {
  if (from > s.size()) return npos;
  const std::size_t k = s.find(needle, from);
  return k == npos ? npos : k + needle.size();
}

enum class product : std::uint8_t { asa, ftd };

struct message_id {
  product kind = product::asa;
  unsigned id = 0;
  std::string_view text;  // the message after "%ASA-6-302013: "
  std::string_view body;  // the text the id was found in
  std::size_t start = 0;  // where "%ASA-" starts in it
};

// "%ASA-6-302013:", "%ASA-session-5-106100:" (a facility name), "%FTD-6-430002:", and one
// real line without the colon ("%ASA-6-302016 Teardown ...").
bool read_message_id(std::string_view s, std::size_t p, message_id& out) noexcept {
  const std::size_t start = p;
  if (s.substr(p, 5) == "%ASA-")
    out.kind = product::asa;
  else if (s.substr(p, 5) == "%FTD-")
    out.kind = product::ftd;
  else
    return false;
  p += 5;
  if (is_alpha(at(s, p))) {
    while (is_alpha(at(s, p)) || at(s, p) == '_') ++p;
    if (at(s, p) != '-') return false;
    ++p;
  }
  if (!is_digit(at(s, p)) || at(s, p + 1) != '-') return false;
  p += 2;
  unsigned id = 0;
  for (int i = 0; i < 6; ++i, ++p) {
    if (!is_digit(at(s, p))) return false;
    id = id * 10 + static_cast<unsigned>(s[p] - '0');
  }
  if (at(s, p) == ':') ++p;
  if (p < s.size() && s[p] != ' ') return false;
  out.id = id;
  out.text = s.substr(skip_spaces(s, p));
  out.body = s;
  out.start = start;
  return true;
}

// Where the message id starts: at the start of the body (the syslog header is already off),
// or after a space or ':' when an unusual prefix was left in front of it.
std::size_t find_message_id(std::string_view s, message_id& out) noexcept {
  const std::size_t first = skip_spaces(s, 0);
  if (read_message_id(s, first, out)) return first;
  for (std::size_t k = s.find('%', first); k != npos && k < 1024; k = s.find('%', k + 1))
    if (k > 0 && (s[k - 1] == ' ' || s[k - 1] == ':') && read_message_id(s, k, out)) return k;
  return npos;
}

// `logging timestamp`: the device's own header in front of the message id ("Dec 06 2026
// 10:01:00: %ASA-...", "Dec 06 10:01:00.123 INT-FW01 : %ASA-...", "2026-12-06T10:01:00Z:
// %ASA-..."). Bare, the decoder has taken it as the syslog header and the body starts at the
// id. Behind a shipper's own header (rsyslog's "<read time> <host> <tag> ", syslog-ng's
// "$ISODATE $HOST ", a BSD "<PRI>Mmm dd hh:mm:ss host ") it is left in the body: the syslog
// header grammar is tried at each word before the id, and the first header that ends exactly
// at the id is the device's. Its time is read like the decoder's (the input's zone, the year
// from the receive time); 0 when there is none or it cannot be placed.
struct device_header {
  timestamp_us time = 0;
  std::string_view host;  // the device id, "" when the header names none
};

device_header own_header(std::string_view body, std::size_t id_start,
                         const parse_context& ctx) noexcept {
  device_header out;
  // The text up to the id's '%' is all a header before it can need, and keeps each try
  // within the prefix (the id is at most 1 KiB in) however long the message.
  const std::string_view head = body.substr(0, id_start + 1);
  for (std::size_t p = skip_spaces(head, 0); p < id_start; p = skip_spaces(head, p)) {
    syslog_header h;
    if (parse_syslog_header(head.substr(p), ctx.receive_time, h, ctx.zone) &&
        h.body.data() == head.data() + id_start) {
      out.time = h.time;
      out.host = h.host;
      return out;
    }
    while (p < id_start && head[p] != ' ') ++p;
  }
  return out;
}

// An address with its port as the message writes it. `addr` and `port` are raw text.
struct endpoint {
  std::string_view addr, port;
  std::size_t end = npos;  // position after the endpoint in the message; npos = not found
};

// "[iface:]addr[/port]" at p: 106023's "src dmz:10.1.2.30/63016", 302013's
// "for OUTSIDE:2a02:cf40::6fc6/62477", 106006's "from 192.168.2.66/137", ICMP's port-less
// "dst inside:10.0.0.1". The interface is split at the FIRST ':' (IPv6 keeps the rest) and
// only where the message has one; a username glued on ("/50120(LOCAL\user)") ends the port.
endpoint slash_endpoint(std::string_view m, std::size_t p, bool has_iface) noexcept {
  endpoint e;
  if (p == npos) return e;
  p = skip_spaces(m, p);
  std::size_t q = p;
  while (q < m.size() && m[q] != ' ' && m[q] != '(' && m[q] != ')' && m[q] != ',') ++q;
  std::string_view t = m.substr(p, q - p);
  if (t.empty()) return e;
  const std::size_t slash = t.rfind('/');
  if (slash != npos) {
    e.port = t.substr(slash + 1);
    t = t.substr(0, slash);
  }
  if (has_iface) {
    const std::size_t colon = t.find(':');
    if (colon != npos) t = t.substr(colon + 1);
  }
  e.addr = t;
  e.end = q;
  return e;
}

// 106100's "inside/10.1.2.16(2241)": interface up to the first '/', port in parentheses.
endpoint paren_endpoint(std::string_view m, std::size_t p) noexcept {
  endpoint e;
  if (p == npos) return e;
  p = skip_spaces(m, p);
  std::size_t q = p;
  while (q < m.size() && m[q] != ' ' && m[q] != '(') ++q;
  std::string_view t = m.substr(p, q - p);
  const std::size_t slash = t.find('/');
  if (slash != npos) t = t.substr(slash + 1);
  if (t.empty()) return e;
  e.addr = t;
  e.end = q;
  if (at(m, q) == '(') {
    std::size_t r = q + 1;
    while (r < m.size() && m[r] != ')' && m[r] != ' ') ++r;
    if (at(m, r) == ')') {
      e.port = m.substr(q + 1, r - q - 1);
      e.end = r + 1;
    }
  }
  return e;
}

// 106016's "from (0.0.0.0)".
endpoint parenthesised_address(std::string_view m, std::size_t p) noexcept {
  endpoint e;
  if (p == npos || at(m, p) != '(') return e;
  const std::size_t close = m.find(')', p);
  if (close == npos) return e;
  e.addr = m.substr(p + 1, close - p - 1);
  e.end = close + 1;
  return e;
}

// ASA prints a port number or, in 710xxx messages, the name from its port-literal table.
// Only unambiguous, well-known names are known here; others leave the port unset.
std::int32_t service_port(std::string_view name) noexcept {
  struct service {
    std::string_view name;
    std::int32_t port;
  };
  static constexpr service services[] = {
      {"ftp-data", 20},     {"ftp", 21},          {"ssh", 22},      {"telnet", 23},
      {"smtp", 25},         {"domain", 53},       {"bootps", 67},   {"bootpc", 68},
      {"tftp", 69},         {"http", 80},         {"www", 80},      {"kerberos", 88},
      {"pop3", 110},        {"sunrpc", 111},      {"ntp", 123},     {"netbios-ns", 137},
      {"netbios-dgm", 138}, {"netbios-ssn", 139}, {"imap4", 143},   {"snmp", 161},
      {"snmptrap", 162},    {"bgp", 179},         {"ldap", 389},    {"https", 443},
      {"isakmp", 500},      {"syslog", 514},      {"rtsp", 554},    {"ldaps", 636},
      {"lotusnotes", 1352}, {"citrix-ica", 1494}, {"sqlnet", 1521}, {"h323", 1720},
      {"pptp", 1723},       {"nfs", 2049},        {"sip", 5060},
  };
  for (const auto& s : services)
    if (iequals(s.name, name)) return s.port;
  return network_session::no_port;
}

// Protocol word(s) at p: "tcp", "UDP", "icmp", or "protocol 41".
std::uint16_t read_protocol(std::string_view m, std::size_t& p) noexcept {
  const std::string_view w = word(m, p);
  if (iequals(w, "protocol")) return protocol_from_name(word(m, p));
  if (iequals(w, "IP")) return network_session::no_protocol;  // "Deny IP ...": any protocol
  return protocol_from_name(w);
}

constexpr bool is_icmp(std::uint16_t proto) noexcept {
  return proto == 1 || proto == 58;
}

// True when the text looks like an ASA "names" alias ("OCSP_Server") rather than a broken
// address: such records are well-formed but unusable, and their rejection reason says why.
bool looks_like_name(std::string_view t) noexcept {
  if (t.empty()) return false;
  bool letter = false;
  for (char c : t) {
    if (is_alpha(c))
      letter = true;
    else if (!is_digit(c) && c != '_' && c != '-' && c != '.')
      return false;
  }
  return letter && t.find(':') == npos;
}

class cisco_asa_parser final : public format_parser {
 public:
  void parse(std::string_view unit, const parse_context& ctx, parse_sink& sink) override {
    message_id mid;
    if (find_message_id(unit, mid) == npos) return sink.rejected("no_message_id");
    const std::string_view m = mid.text;
    network_session r;
    r.action = dvc_action::deny;
    endpoint src, dst;
    std::size_t p = 0;
    switch (mid.id) {
      case 106001:  // Inbound TCP connection denied from A/p to B/q flags ... on interface X
      case 106015:  // Deny TCP (no connection) from A/p to B/q flags ... on interface X
        r.protocol = 6;
        from_to(m, src, dst);
        break;
      case 106006:  // Deny inbound UDP from A/p to B/q on interface X
      case 106007:  // Deny inbound UDP from A/p to B/q due to DNS {Query|Response}
        word(m, p);
        word(m, p);
        r.protocol = read_protocol(m, p);
        from_to(m, src, dst);
        break;
      case 106012:  // Deny IP from A to B, IP options hex
      case 106017:  // Deny IP due to Land Attack from A to B
      case 106020:  // Deny IP teardrop fragment (size = n, offset = n) from A to B
        from_to(m, src, dst);
        break;
      case 106021:  // Deny {proto} reverse path check from A to B on interface X
      case 106022:  // Deny {proto} connection spoof from A to B on interface X
        word(m, p);
        r.protocol = read_protocol(m, p);
        from_to(m, src, dst);
        break;
      case 106002:  // {proto} Connection denied by outbound list ACL src A dest B
        r.protocol = read_protocol(m, p);
        src = slash_endpoint(m, after(m, " src "), false);
        dst = slash_endpoint(m, after(m, " dest ", src.end), false);
        break;
      case 106018:  // ICMP packet type T denied by outgoing list ACL src A dest B
        r.protocol = 1;
        src = slash_endpoint(m, after(m, " src "), false);
        dst = slash_endpoint(m, after(m, " dest ", src.end), false);
        break;
      case 106010:  // Deny inbound {proto} src iface:A/p dst iface:B/q
      case 106014:  // Deny inbound icmp src iface:A dst iface:B (type t, code c)
        word(m, p);
        word(m, p);
        r.protocol = read_protocol(m, p);
        src_dst(m, p, src, dst);
        break;
      case 106023:  // Deny {proto} src iface:A/p dst iface:B/q [(type t, code c)] by access-group
        word(m, p);
        r.protocol = read_protocol(m, p);
        src_dst(m, p, src, dst);
        break;
      case 106013:  // Dropping echo request from A to PAT address B
        r.protocol = 1;
        r.action = dvc_action::drop;
        src = slash_endpoint(m, after(m, " from "), false);
        dst = slash_endpoint(m, after(m, " PAT address ", src.end), false);
        break;
      case 106016:  // Deny IP spoof from (A) to B on interface X
        src = parenthesised_address(m, after(m, " from "));
        dst = slash_endpoint(m, after(m, " to ", src.end), false);
        break;
      case 106100: {  // access-list ACL {permitted|denied|est-allowed} proto if/A(p) -> if/B(q)
        if (word(m, p) != "access-list") return sink.rejected("bad_message");
        word(m, p);
        const std::string_view verdict = word(m, p);
        r.action = verdict == "denied" ? dvc_action::deny : dvc_action::allow;
        r.protocol = read_protocol(m, p);
        src = paren_endpoint(m, p);
        dst = paren_endpoint(m, after(m, " -> ", src.end));
        break;
      }
      case 302013:  // Built {inbound|outbound} TCP connection ID for IF:A/p (..) to IF:B/q (..)
      case 302015:  // the same for UDP
        if (!built(m, r, src, dst)) return sink.rejected("bad_message");
        break;
      case 302020:  // Built {inbound|outbound} ICMP connection for faddr F/0 gaddr G/0 laddr L/0
        if (!built_icmp(m, r, src, dst)) return sink.rejected("bad_message");
        break;
      case 302014:  // Teardown TCP connection ... for A to B (no direction keyword)
      case 302016:  // Teardown UDP connection ...
      case 302021:  // Teardown ICMP connection ...
        // A teardown does not say who initiated: its "for" side is the outside host whether
        // the connection came in or went out, so for outbound connections it would make the
        // server the "source" of the client's ephemeral ports. The Built message of the same
        // connection (same level, always logged with it) carries the direction.
        return sink.skipped("teardown");
      case 710002:  // {TCP|UDP} access permitted from A/p to iface:B/service
      case 710003:  // {TCP|UDP} access denied by ACL from A/p to iface:B/service
      case 710004:  // TCP connection limit exceeded from A/p to iface:B/q (...)
      case 710005:  // {TCP|UDP|SCTP} request discarded from A/p to iface:B/service
        r.protocol = read_protocol(m, p);
        r.action = mid.id == 710002   ? dvc_action::allow
                   : mid.id == 710003 ? dvc_action::deny
                                      : dvc_action::drop;
        src = slash_endpoint(m, after(m, " from "), false);
        dst = slash_endpoint(m, after(m, " to ", src.end), true);
        break;
      case 430001:  // FTD intrusion event
      case 430002:  // FTD connection event, start
      case 430003:  // FTD connection event, end
      case 430005:  // FTD file malware event
        if (mid.kind != product::ftd) return sink.skipped("not_a_session");
        return ftd_event(mid, ctx, sink);
      default:
        return sink.skipped("not_a_session");
    }
    finish(mid, src, dst, r, ctx, sink);
  }

 private:
  static void from_to(std::string_view m, endpoint& src, endpoint& dst) noexcept {
    src = slash_endpoint(m, after(m, "from "), false);
    dst = slash_endpoint(m, after(m, " to ", src.end), false);
  }

  static void src_dst(std::string_view m, std::size_t p, endpoint& src, endpoint& dst) noexcept {
    src = slash_endpoint(m, after(m, "src ", p), true);
    dst = slash_endpoint(m, after(m, " dst ", src.end), true);
  }

  // 302013/302015. "inbound": the "for" side (lower security, usually outside) initiated.
  // "outbound": the "to" side initiated, so it is the source and the "for" side's port is the
  // one probed (Cisco's message reference; the Elastic pipeline reads it the same way).
  // The real addresses are used, not the NAT-mapped ones in parentheses.
  static bool built(std::string_view m, network_session& r, endpoint& src, endpoint& dst) noexcept {
    std::size_t p = 0;
    if (word(m, p) != "Built") return false;
    const std::string_view dir = word(m, p);
    if (dir != "inbound" && dir != "outbound") return false;
    r.protocol = read_protocol(m, p);
    if (word(m, p) != "connection") return false;
    r.action = dvc_action::allow;
    const endpoint a = slash_endpoint(m, after(m, " for ", p), true);
    const endpoint b = slash_endpoint(m, after(m, " to ", a.end), true);
    if (a.end == npos || b.end == npos) return false;
    src = dir == "inbound" ? a : b;
    dst = dir == "inbound" ? b : a;
    return true;
  }

  // 302020: inbound = the foreign host (faddr) sent the first ICMP packet, outbound = the
  // local one (laddr). gaddr is laddr's mapped address. The "/n" after each is the ICMP id.
  static bool built_icmp(std::string_view m, network_session& r, endpoint& src,
                         endpoint& dst) noexcept {
    std::size_t p = 0;
    if (word(m, p) != "Built") return false;
    const std::string_view dir = word(m, p);
    if (dir != "inbound" && dir != "outbound") return false;
    r.protocol = read_protocol(m, p);
    r.action = dvc_action::allow;
    const endpoint f = slash_endpoint(m, after(m, "faddr ", p), false);
    const endpoint l = slash_endpoint(m, after(m, "laddr ", f.end), false);
    if (f.end == npos || l.end == npos) return false;
    src = dir == "inbound" ? f : l;
    dst = dir == "inbound" ? l : f;
    return true;
  }

  void finish(const message_id& mid, const endpoint& src, const endpoint& dst, network_session& r,
              const parse_context& ctx, parse_sink& sink) {
    if (src.end == npos || dst.end == npos) return sink.rejected("bad_message");
    if (auto a = ip_address::parse(src.addr)) {
      r.src = *a;
    } else {
      return sink.rejected(looks_like_name(src.addr) ? "src_is_a_name" : "bad_src_ip");
    }
    if (auto a = ip_address::parse(dst.addr)) {  // a names alias leaves the destination unset
      r.dst = *a;
      r.has_dst = true;
    }
    if (r.protocol == 1 && !r.src.is_v4()) r.protocol = 58;  // ASA says "icmp" for ICMPv6 too
    // In an ICMP message the number after the '/' is the ICMP id or type, not a port (as in
    // ASIM's ASA parser): the message has no port to extract.
    if (!is_icmp(r.protocol) && !dst.port.empty()) {
      if (is_digit(dst.port[0])) {
        if (!parse_port(dst.port, r.dst_port)) return sink.rejected("bad_dst_port");
      } else {
        r.dst_port = service_port(dst.port);
      }
    }
    emit(mid, r, ctx, sink);
  }

  // FTD 4300xx: "Key: Value, Key: Value, ..." (ASIM's Cisco FTD parser reads the same keys).
  void ftd_event(const message_id& mid, const parse_context& ctx, parse_sink& sink) {
    const unsigned id = mid.id;
    const std::string_view m = mid.text;
    std::string_view src_ip, dst_ip, dst_port, proto, verdict, first_packet;
    std::size_t p = 0;
    while (p < m.size()) {
      std::size_t e = m.find(", ", p);
      if (e == npos) e = m.size();
      const std::string_view pair = m.substr(p, e - p);
      p = e + 2;
      const std::size_t colon = pair.find(": ");
      if (colon == npos) continue;
      const std::string_view key = pair.substr(0, colon), value = pair.substr(colon + 2);
      if (key == "SrcIP")
        src_ip = value;
      else if (key == "DstIP")
        dst_ip = value;
      else if (key == "DstPort")
        dst_port = value;
      else if (key == "Protocol")
        proto = value;
      else if (key == "FirstPacketSecond")
        first_packet = value;
      else if ((id == 430002 || id == 430003) && key == "AccessControlRuleAction")
        verdict = value;
      else if (id == 430001 && key == "InlineResult")
        verdict = value;
      else if (id == 430005 && key == "FileAction")
        verdict = value;
    }
    if (src_ip.empty()) return sink.skipped("no_network_tuple");
    network_session r;
    if (auto a = ip_address::parse(src_ip))
      r.src = *a;
    else
      return sink.rejected("bad_src_ip");
    if (auto a = ip_address::parse(dst_ip)) {
      r.dst = *a;
      r.has_dst = true;
    }
    if (!dst_port.empty()) {
      if (!parse_port(dst_port, r.dst_port)) return sink.rejected("bad_dst_port");
    }
    r.protocol = protocol_from_name(proto);
    if (id == 430001) {
      r.action = verdict == "Block"                               ? dvc_action::deny
                 : verdict == "Alert" || verdict == "Would block" ? dvc_action::allow
                                                                  : dvc_action::unknown;
    } else if (id == 430005) {
      r.action = verdict == "Malware Block" ? dvc_action::deny
                 : verdict.empty()          ? dvc_action::unknown
                                            : dvc_action::allow;
    } else {
      r.action = verdict == "Allow" || verdict == "Fastpath" || verdict == "Trust"
                     ? dvc_action::allow
                 : verdict == "Block"            ? dvc_action::deny
                 : verdict == "Block with reset" ? dvc_action::reset
                                                 : dvc_action::unknown;
    }
    // The connection's first packet is the event's own time (ASIM's EventStartTime).
    if (auto t = parse_iso8601(first_packet)) {
      r.time = *t;
      r.has_time = true;
    }
    emit(mid, r, ctx, sink);
  }

  void emit(const message_id& mid, network_session& r, const parse_context& ctx, parse_sink& sink) {
    // The message text has no time: the device's own leading timestamp is the event time,
    // else the syslog header's (bare, they are the same). A shipper's header in front of the
    // device's holds the shipper's read time, which must not move a backlog into its bin.
    const device_header own = own_header(mid.body, mid.start, ctx);
    if (!r.has_time && own.time != 0) {
      r.time = own.time;
      r.has_time = true;
    }
    if (!own.host.empty()) r.device = labels_.get(own.host);
    r.reported_by = labels_.get(mid.kind == product::asa ? "Cisco/ASA" : "Cisco/FTD");
    sink.record(r);
  }

  label_cache labels_;
};

bool probe_cisco_asa(std::string_view head) noexcept {
  const std::size_t first = skip_spaces(head, 0);
  if (first >= head.size() || head[first] == '{' || head[first] == '[') return false;
  if (head.substr(first, 4) == "CEF:") return false;  // CEF may quote an ASA message in msg=
  message_id mid;
  return find_message_id(head, mid) != npos;
}

}  // namespace

format_entry cisco_asa_format() {
  return {"cisco-asa", "Cisco ASA / FTD native syslog (%ASA-n-nnnnnn, %FTD-n-nnnnnn)",
          [] { return std::make_unique<cisco_asa_parser>(); }, probe_cisco_asa};
}

}  // namespace portscand
