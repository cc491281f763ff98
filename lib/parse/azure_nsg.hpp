#pragma once

#include "parse/registry.hpp"

namespace portscand {

// Azure Network Watcher NSG flow logs (versions 1 and 2) as JSON: a storage blob
// {"records":[...]}, one record per unit (Event Hub), or an array of records. Every flow
// tuple of every rule and MAC is one session record.
format_entry azure_nsg_format();

}  // namespace portscand
