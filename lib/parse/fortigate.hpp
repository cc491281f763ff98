#pragma once

#include "parse/registry.hpp"

namespace portscand {

// FortiOS native syslog: blank-separated key=value pairs (values optionally quoted). Only
// type=traffic records are sessions.
format_entry fortigate_format();

}  // namespace portscand
