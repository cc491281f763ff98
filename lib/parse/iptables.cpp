#include "parse/iptables.hpp"

#include "event/network_session.hpp"
#include "parse/port.hpp"
#include "parse/tcp_flags.hpp"
#include "parse/text_util.hpp"

namespace portscand {
namespace {

constexpr bool is_digit(char c) noexcept {
  return c >= '0' && c <= '9';
}
constexpr bool is_alpha(char c) noexcept {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

// The "IN=" that opens the netfilter fields: the kernel always writes `IN=<if> OUT=` first.
// A --log-prefix without a trailing space glues onto it ("DROPIN=eth0"), so IN= need not
// start a word; requiring " OUT=" right after the interface keeps a prefix such as
// "LOGIN=..." from matching.
std::size_t find_fields(std::string_view s) noexcept {
  std::size_t p = s.find("IN=");
  while (p != std::string_view::npos) {
    std::size_t e = p + 3;
    while (e < s.size() && s[e] != ' ') ++e;
    if (s.substr(e, 5) == " OUT=") return p;
    p = s.find("IN=", p + 1);
  }
  return std::string_view::npos;
}

// Skips a syslog header the unit may still carry ("<6>", "Oct 10 07:25:12 ",
// "2021-03-12T14:10:18Z ", then a host name) so that a host called "dropbox" is not read
// as a DROP prefix. Only used when there is no "kernel:" tag to anchor on.
std::string_view skip_header(std::string_view s) noexcept {
  if (!s.empty() && s[0] == '<') {
    std::size_t i = 1;
    while (i < s.size() && i < 5 && is_digit(s[i])) ++i;
    if (i > 1 && i < s.size() && s[i] == '>') s.remove_prefix(i + 1);
    if (s.size() > 2 && s[0] == '1' && s[1] == ' ') s.remove_prefix(2);  // RFC 5424 version
  }
  bool had_time = false;
  // RFC 3164: "Mmm dd hh:mm:ss " (day space-padded).
  if (s.size() >= 16 && is_alpha(s[0]) && is_alpha(s[1]) && is_alpha(s[2]) && s[3] == ' ') {
    std::size_t i = 4;
    while (i < s.size() && s[i] == ' ') ++i;
    while (i < s.size() && is_digit(s[i])) ++i;
    if (i + 10 <= s.size() && s[i] == ' ' && is_digit(s[i + 1]) && is_digit(s[i + 2]) &&
        s[i + 3] == ':' && is_digit(s[i + 4]) && is_digit(s[i + 5]) && s[i + 6] == ':' &&
        is_digit(s[i + 7]) && is_digit(s[i + 8]) && s[i + 9] == ' ') {
      s.remove_prefix(i + 10);
      had_time = true;
    }
  } else if (s.size() >= 20 && is_digit(s[0]) && is_digit(s[3]) && s[4] == '-' && s[7] == '-' &&
             (s[10] == 'T' || s[10] == ' ')) {
    // RFC 3339 / RFC 5424 timestamp.
    std::size_t e = s.find(' ', 11);
    if (e != std::string_view::npos) {
      s.remove_prefix(e + 1);
      had_time = true;
    }
  }
  if (!had_time) return s;
  // A host name: one token, not a tag ("DENY:"), not a bracketed prefix.
  while (!s.empty() && s[0] == ' ') s.remove_prefix(1);
  const std::size_t e = s.find(' ');
  if (e != std::string_view::npos && e > 0 && s[0] != '[' && s[e - 1] != ':')
    s.remove_prefix(e + 1);
  return s;
}

// The admin's --log-prefix: what precedes IN=, after the "kernel:" tag and the uptime.
std::string_view log_prefix(std::string_view before) noexcept {
  const std::size_t k = before.rfind("kernel:");
  if (k != std::string_view::npos)
    before.remove_prefix(k + 7);
  else
    before = skip_header(before);
  before = text::trim(before);
  // "[16571.459614] " or "[  307.757925] ": the kernel's uptime stamp, not a prefix.
  if (!before.empty() && before[0] == '[') {
    std::size_t i = 1;
    while (i < before.size() && before[i] == ' ') ++i;
    const std::size_t digits_start = i;
    while (i < before.size() && (is_digit(before[i]) || before[i] == '.')) ++i;
    if (i > digits_start && i < before.size() && before[i] == ']')
      before = text::trim(before.substr(i + 1));
  }
  return before;
}

// The action is whatever the admin wrote into the prefix. EdgeOS/UniFi name rules
// "[<ruleset>-<rule>-<A|D|R>]" (accept, drop, reject); others use words (UFW "[UFW BLOCK]",
// "DROP_INPUT:", "DENY:").
dvc_action action_from_prefix(std::string_view p) noexcept {
  if (p.size() >= 4 && p.back() == ']' && p[p.size() - 3] == '-') {
    switch (p[p.size() - 2]) {
      case 'A':
        return dvc_action::allow;
      case 'D':
        return dvc_action::drop;
      case 'R':
        return dvc_action::deny;
      default:
        break;
    }
  }
  if (text::icontains_upper(p, "DROP")) return dvc_action::drop;
  if (text::icontains_upper(p, "REJECT") || text::icontains_upper(p, "DENY") ||
      text::icontains_upper(p, "BLOCK"))
    return dvc_action::deny;
  if (text::icontains_upper(p, "ACCEPT") || text::icontains_upper(p, "ALLOW"))
    return dvc_action::allow;
  return dvc_action::unknown;
}

class iptables_parser final : public format_parser {
 public:
  void parse(std::string_view unit, const parse_context& ctx, parse_sink& sink) override {
    const std::size_t start = find_fields(unit);
    if (start == std::string_view::npos) {
      sink.rejected("no_netfilter_fields");
      return;
    }
    std::string_view src, dst, proto, dpt;
    bool have_src = false, have_dst = false, have_proto = false, have_dpt = false;
    // TCP flag words follow RES= (nf_log: "RES=0x00 ACK SYN URGP=0"); before it, a word
    // without '=' is an IP flag (DF, MF, CE).
    bool after_res = false;
    std::uint32_t flags = 0;
    std::string_view rest = unit.substr(start);
    while (!rest.empty()) {
      const std::size_t sp = rest.find(' ');
      const std::string_view tok = rest.substr(0, sp);
      rest = sp == std::string_view::npos ? std::string_view{} : rest.substr(sp + 1);
      if (tok.empty()) continue;
      // "[SRC=... ]" is the packet an ICMP error quotes; "INCOMPLETE [n bytes]" a cut one.
      if (tok[0] == '[') break;
      const std::size_t eq = tok.find('=');
      if (eq == std::string_view::npos) {  // a flag: DF, SYN, ACK...
        if (after_res) {
          if (tok == "SYN")
            flags |= tcp_flag::syn;
          else if (tok == "ACK")
            flags |= tcp_flag::ack;
          else if (tok == "RST")
            flags |= tcp_flag::rst;
          else if (tok == "FIN")
            flags |= tcp_flag::fin;
        }
        continue;
      }
      const std::string_view key = tok.substr(0, eq), val = tok.substr(eq + 1);
      after_res = key == "RES";
      // First occurrence wins (ICMP echo lines repeat ID=, UDP repeats LEN=).
      if (key == "SRC") {
        if (!have_src) src = val, have_src = true;
      } else if (key == "DST") {
        if (!have_dst) dst = val, have_dst = true;
      } else if (key == "PROTO") {
        if (!have_proto) proto = val, have_proto = true;
      } else if (key == "DPT") {
        if (!have_dpt) dpt = val, have_dpt = true;
      }
    }
    network_session s;
    if (!have_src || src.empty()) {
      sink.rejected("missing_src_ip");
      return;
    }
    auto ip = ip_address::parse(src);
    if (!ip) {
      sink.rejected("bad_src_ip");
      return;
    }
    s.src = *ip;
    if (have_dst && !dst.empty()) {
      ip = ip_address::parse(dst);
      if (!ip) {
        sink.rejected("bad_dst_ip");
        return;
      }
      s.dst = *ip;
      s.has_dst = true;
    }
    if (have_proto) s.protocol = protocol_from_name(proto);
    if (s.protocol == 6) s.side = side_from_packet_tcp_flags(flags);
    // No DPT: ICMP (TYPE/CODE), ESP (SPI), or a fragment after the first.
    if (have_dpt && !parse_port(dpt, s.dst_port)) {
      sink.rejected("bad_dst_port");
      return;
    }
    // The decoder splits the syslog header off first, and a prefix that ends in ": " right
    // after the header's time ("Jan  8 03:37:09 DENY: IN=...") is an RFC 3164 TAG to it:
    // the prefix then arrives as ctx.app. Read it there when the body itself carries none
    // ("kernel" is the kernel's own tag, never a prefix).
    std::string_view prefix = log_prefix(unit.substr(0, start));
    if (prefix.empty() && !ctx.app.empty() && ctx.app != "kernel") prefix = ctx.app;
    s.action = action_from_prefix(prefix);
    s.reported_by = labels_.reported_by("Linux", "iptables");
    sink.record(s);
  }

 private:
  label_cache labels_;
};

bool probe_iptables(std::string_view head) noexcept {
  const std::size_t start = find_fields(head);
  if (start == std::string_view::npos) return false;
  const std::size_t src = head.find(" SRC=", start);
  return src != std::string_view::npos && head.find(" DST=", src) != std::string_view::npos;
}

}  // namespace

format_entry iptables_format() {
  return {
      "iptables",
      "Linux netfilter LOG lines (iptables/ip6tables/UFW/EdgeOS): IN= OUT= SRC= DST= PROTO= DPT=",
      [] { return std::make_unique<iptables_parser>(); }, probe_iptables};
}

}  // namespace portscand
