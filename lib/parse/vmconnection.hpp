#pragma once

#include "parse/registry.hpp"

namespace portscand {

// Azure Monitor VM insights VMConnection rows as JSON (Log Analytics data export or query
// export): one row object, an array of rows, or a {"records":[...]} envelope.
format_entry vmconnection_format();

}  // namespace portscand
