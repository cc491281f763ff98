#pragma once

#include "parse/registry.hpp"

namespace portscand {

// Check Point Log Exporter syslog: `key:"value";` pairs (usually inside `[...]`) and the
// older RFC 5424 structured-data form `[Fields@2620 key="value" ...]`.
format_entry checkpoint_format();

}  // namespace portscand
