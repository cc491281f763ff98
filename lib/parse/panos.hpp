#pragma once

#include "parse/registry.hpp"

namespace portscand {

// PAN-OS native syslog CSV (TRAFFIC logs; THREAT, SYSTEM, CONFIG... are skipped).
format_entry panos_format();

}  // namespace portscand
