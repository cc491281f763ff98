#pragma once

#include "parse/registry.hpp"

namespace portscand {

// Zeek / Corelight conn.log: JSON (one object per line, an array, or NDJSON lines in one
// unit) or Zeek's TSV with its #separator/#fields/#types header lines. A parser instance
// keeps the TSV header state of its input: header lines set the column order of the data
// lines that follow.
format_entry zeek_conn_format();

}  // namespace portscand
