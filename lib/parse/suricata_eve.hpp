#pragma once

#include "parse/registry.hpp"

namespace portscand {

// Suricata EVE JSON: `flow` events are sessions; every other event type (alert, dns, http,
// tls, netflow, stats, ...) is skipped. One object per line, an array, or NDJSON lines.
format_entry suricata_eve_format();

}  // namespace portscand
