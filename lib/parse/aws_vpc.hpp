#pragma once

#include "parse/registry.hpp"

namespace portscand {

// AWS VPC Flow Logs, one space-separated record per line: the default (v2) field order, or
// a custom (v3-v5) order announced by a header line that names the fields. A parser
// instance belongs to one input, so a header sets the layout of the lines that follow it.
format_entry aws_vpc_format();

}  // namespace portscand
