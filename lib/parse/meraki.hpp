#pragma once

#include "parse/registry.hpp"

namespace portscand {

// Cisco Meraki MX/MR syslog: "<epoch> <device> <event type> ..." with flow event types
// (flows, *firewall, ip_flow_start/end) and IDS alerts as sessions; urls, events are skipped.
format_entry meraki_format();

}  // namespace portscand
