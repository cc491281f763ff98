#pragma once

#include "parse/registry.hpp"

namespace portscand {

// Sysmon for Linux events: an `<Event>` XML document in a syslog message (the "sysmon:"
// program's body, or the whole line while it still carries its syslog header). Event ID 3
// (NetworkConnect) is a session; every other Event ID is skipped.
format_entry sysmon_linux_format();

}  // namespace portscand
