#pragma once

#include <cstdint>
#include <string_view>

#include "core/ip_address.hpp"
#include "core/time.hpp"
#include "event/label_table.hpp"
#include "event/network_session.hpp"

namespace portscand {

// The one step between the parsers and detection (README "Normalization"). Parsers only
// extract what a record says; the rules below are the same for every format and run once,
// in unit_decoder, on every record a parser reports:
//   1. Event time: the record's own; else the unit's syslog header time or its shipper
//      envelope's; else the time the unit was received. `event_time: receive` takes the
//      receive time always.
//   2. Device: the record's own name for the device (DeviceName, devname, origin, ...);
//      else the syslog header's or the envelope's host.
//   3. Port: in `default` mode a destination port counts only for protocols that have
//      ports (TCP, UDP, SCTP, DCCP, UDP-Lite) or when the protocol is not known; the "port"
//      of ICMP, ICMPv6, GRE, ESP and the like (a 0, an ICMP type or code) is removed and
//      the record counts as an event without a port. `sentinel` mode keeps whatever port
//      the record carries, as the rule does with the DstPortNumber of ASIM's parsers.

// Whether a protocol's sessions have ports. Unknown protocols (no_protocol) keep what the
// record says.
constexpr bool carries_ports(std::uint16_t protocol) noexcept {
  switch (protocol) {
    case network_session::no_protocol:
    case 6:    // TCP
    case 17:   // UDP
    case 33:   // DCCP
    case 132:  // SCTP
    case 136:  // UDP-Lite
      return true;
    default:
      return false;
  }
}

// What the unit around a record says (the decoder's parse_context after the syslog header
// and the envelope were read).
struct record_origin {
  timestamp_us header_time = 0;           // the syslog header's or envelope's time, 0 when none
  timestamp_us receive_time = 0;          // 0: not known (the record's time stays unset)
  label_id host = label_table::empty_id;  // the header's or envelope's host, interned
  event_time_source time_source = event_time_source::record;
  detection_mode mode = detection_mode::standard;
};

// Applies rules 1-3 to a record as a parser reported it.
void normalize(network_session& r, const record_origin& origin) noexcept;

}  // namespace portscand
