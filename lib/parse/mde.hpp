#pragma once

#include "parse/registry.hpp"

namespace portscand {

// Microsoft Defender for Endpoint DeviceNetworkEvents as JSON: the streaming-API shape
// (one event with `properties`, or a {"records":[...]} envelope of them) and the flat shape
// of a table export (the columns at top level; one object, an array, or an envelope).
format_entry mde_format();

}  // namespace portscand
