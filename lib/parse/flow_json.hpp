#pragma once

#include "parse/registry.hpp"

namespace portscand {

// NetFlow/IPFIX/sFlow collector JSON on Kafka: pmacct (nfacctd/sfacctd/pmacctd, JSON
// output) and goflow2 (v1 CamelCase and v2 snake_case JSON). One flow record = one session.
// One object per line, an array, or NDJSON lines in one unit (pmacct's multi-value messages).
format_entry flow_json_format();

}  // namespace portscand
