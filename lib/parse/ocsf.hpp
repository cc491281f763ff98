#pragma once

#include "parse/registry.hpp"

namespace portscand {

// OCSF Network Activity events (class_uid 4001) as JSON: one object per unit (pretty-printed
// or not) or a JSON array of them. Other OCSF classes are skipped.
format_entry ocsf_format();

}  // namespace portscand
