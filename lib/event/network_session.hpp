#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "core/ip_address.hpp"
#include "core/time.hpp"
#include "event/label_table.hpp"

namespace portscand {

// What the device did with the session (ASIM DvcAction, reduced to what a SOC filters on).
enum class dvc_action : std::uint8_t {
  unknown,
  allow,
  deny,
  drop,
  drop_icmp,
  reset,
  reset_source,
  reset_destination,
  encrypt,
  decrypt
};
std::string_view to_string(dvc_action a) noexcept;

// Which side of the connection sent what the record reports, where the record says so
// (README "Reply flows"). Parsers set it only from the record's own evidence (TCP flags, a
// direction field, a format whose records are from the originator's side by definition);
// the engine's dispatcher drops `reply` records from counting when `reply_flows: skip`.
enum class flow_side : std::uint8_t {
  unknown,    // the record does not tell
  initiator,  // the side that opened (or tried to open) the connection
  reply       // the answering side: its "destination port" is the initiator's source port
};
std::string_view to_string(flow_side s) noexcept;  // "", "initiator", "reply"

// THE normalized record: one network session as the rule sees it (the ASIM NetworkSession
// columns the rule and its alert use, plus what an analyst wants next to them).
// 64 bytes (58 used), trivially copyable: it moves through the shard queues by value.
struct network_session {
  static constexpr std::int32_t no_port = -1;
  static constexpr std::uint16_t no_protocol = 0xffff;

  timestamp_us time = 0;                         // event time; see has_time
  ip_address src;                                // SrcIpAddr
  ip_address dst;                                // DstIpAddr (unset when !has_dst)
  std::int32_t dst_port = no_port;               // DstPortNumber, 0..65535, or no_port
  label_id reported_by = label_table::empty_id;  // EventVendor + "/" + EventProduct
  label_id device = label_table::empty_id;       // the device's own name (host, devname)
  std::uint16_t protocol = no_protocol;          // IANA protocol number (NetworkProtocol)
  dvc_action action = dvc_action::unknown;
  flow_side side = flow_side::unknown;
  bool has_time = false;  // false: the record had no own time; the input sets receive time
  bool has_dst = false;
  // The rules whose exclusions took this record (engine; bits below): the window does not
  // count it for them. A record every rule excludes never reaches the window.
  static constexpr std::uint8_t vertical_rule = 1;
  static constexpr std::uint8_t sweep_rule = 2;
  std::uint8_t excluded_from = 0;

  bool has_port() const noexcept { return dst_port >= 0; }
};

// IANA protocol number from a name ("TCP", "udp", "icmp", "IPv6-ICMP", "6"); no_protocol
// when unknown.
std::uint16_t protocol_from_name(std::string_view name) noexcept;
// The IANA keyword ("TCP", "IPv6-ICMP") or the number as text for unnamed ones; "" for
// no_protocol.
std::string protocol_name(std::uint16_t number);

// What an alert says of the protocols a key saw, one bit each (key_state::protocols,
// alert::protocols): TCP, UDP, ICMP, IPv6-ICMP, SCTP, any other known protocol.
inline constexpr std::size_t protocol_bit_count = 6;
constexpr std::uint8_t protocol_bit(std::uint16_t protocol) noexcept {
  switch (protocol) {
    case 6:
      return 1;
    case 17:
      return 2;
    case 1:
      return 4;
    case 58:
      return 8;
    case 132:
      return 16;
    case network_session::no_protocol:
      return 0;
    default:
      return 32;
  }
}
// The names of the bits set, in bit order: "TCP", "UDP", "ICMP", "IPv6-ICMP", "SCTP",
// "other".
std::vector<std::string_view> protocol_bit_names(std::uint8_t bits);

// The outcome of an attempt as the alert counts it ("did any of it get through?").
enum class attempt_outcome : std::uint8_t { unknown, allowed, denied, dropped };
constexpr attempt_outcome outcome_of(dvc_action a) noexcept {
  switch (a) {
    case dvc_action::allow:
    case dvc_action::encrypt:
    case dvc_action::decrypt:
      return attempt_outcome::allowed;
    case dvc_action::deny:
    case dvc_action::reset:
    case dvc_action::reset_source:
    case dvc_action::reset_destination:
      return attempt_outcome::denied;
    case dvc_action::drop:
    case dvc_action::drop_icmp:
      return attempt_outcome::dropped;
    case dvc_action::unknown:
      break;
  }
  return attempt_outcome::unknown;
}

}  // namespace portscand
