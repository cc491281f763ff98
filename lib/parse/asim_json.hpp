#pragma once

#include "parse/registry.hpp"

namespace portscand {

// ASIM NetworkSession JSON: one object per unit, a JSON array of objects, or a
// {"records":[...]} envelope (Azure diagnostic-settings / Event Hub shape).
format_entry asim_json_format();

}  // namespace portscand
