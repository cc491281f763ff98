#pragma once

#include <cstdint>

#include "event/network_session.hpp"

namespace portscand {

// TCP header flag bits (RFC 9293), as flow exporters write them: one byte, FIN = bit 0.
namespace tcp_flag {
inline constexpr std::uint32_t fin = 0x01;
inline constexpr std::uint32_t syn = 0x02;
inline constexpr std::uint32_t rst = 0x04;
inline constexpr std::uint32_t ack = 0x10;
}  // namespace tcp_flag

// The side of a unidirectional TCP flow from the OR of the flags of its packets (NetFlow
// v5/v9 and IPFIX tcpControlBits, pmacct's `tcpflags`, goflow2, iptables' flag words of one
// packet):
// - SYN without ACK: the opener's SYN (a connect or SYN probe, a retry) -> initiator;
// - RST+ACK without SYN: a stack's answer to a SYN at a closed port (RFC 9293 3.10.7.1)
//   -> reply. A reset of an established connection looks the same; its port was counted
//   when it opened;
// - anything else -> unknown: SYN+ACK is a server's SYN-ACK, but also a client's whole
//   handshake once the flags are ORed; ACK-only, FIN and PSH flows are mid-connection or
//   ACK/FIN/NULL/Xmas probes, which must keep counting.
constexpr flow_side side_from_ored_tcp_flags(std::uint32_t flags) noexcept {
  const bool syn = (flags & tcp_flag::syn) != 0;
  const bool ack = (flags & tcp_flag::ack) != 0;
  if (syn && !ack) return flow_side::initiator;
  if (!syn && ack && (flags & tcp_flag::rst) != 0) return flow_side::reply;
  return flow_side::unknown;
}

// The side of ONE packet from its own flags (iptables LOG lines): as above, and a SYN+ACK
// packet is a SYN-ACK, which only the answering side sends -> reply.
constexpr flow_side side_from_packet_tcp_flags(std::uint32_t flags) noexcept {
  const bool syn = (flags & tcp_flag::syn) != 0;
  const bool ack = (flags & tcp_flag::ack) != 0;
  if (syn) return ack ? flow_side::reply : flow_side::initiator;
  return ack && (flags & tcp_flag::rst) != 0 ? flow_side::reply : flow_side::unknown;
}

// AWS VPC Flow Logs `tcp-flags` (v3+): AWS records only FIN (1), SYN (2), RST (4) and
// SYN-ACK (18); ACK appears only inside SYN-ACK, and flags are ORed over the aggregation
// interval ("19 for SYN-ACK and FIN, 3 for SYN and FIN"). So SYN with ACK is a SYN-ACK the
// flow's source sent -> reply; SYN without ACK -> initiator; RST alone (a closed port's
// answer, or an initiator's abort) -> unknown.
constexpr flow_side side_from_aws_tcp_flags(std::uint32_t flags) noexcept {
  if ((flags & tcp_flag::syn) == 0) return flow_side::unknown;
  return (flags & tcp_flag::ack) != 0 ? flow_side::reply : flow_side::initiator;
}

}  // namespace portscand
