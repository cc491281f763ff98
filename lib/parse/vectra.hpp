#pragma once

#include "parse/registry.hpp"

namespace portscand {

// Vectra AI Stream network metadata, raw JSON publisher: metadata_isession records (one
// object per line, an array, or NDJSON lines in one unit). Other metadata types are skipped.
format_entry vectra_format();

}  // namespace portscand
