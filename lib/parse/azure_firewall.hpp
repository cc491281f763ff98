#pragma once

#include "parse/registry.hpp"

namespace portscand {

// Azure Firewall logs as JSON: the legacy AzureDiagnostics records (the session in the
// free-text `properties.msg`), the resource-specific AZFWNetworkRule / AZFWNatRule /
// AZFWThreatIntel / AZFWIdpsSignature records (structured `properties`), and the same
// rows flattened by a Log Analytics export. One object, an array, or {"records":[...]}.
format_entry azure_firewall_format();

}  // namespace portscand
