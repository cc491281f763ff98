#pragma once

#include "parse/registry.hpp"

namespace portscand {

// Cisco Meraki MX/MR syslog: "<epoch> <device> <event type> ..." with flow event types
// (flows, *firewall, ip_flow_start/end) as sessions; urls, events, ids-alerts are skipped.
format_entry meraki_format();

}  // namespace portscand
