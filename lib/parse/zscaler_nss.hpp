#pragma once

#include "parse/registry.hpp"

namespace portscand {

// Zscaler Internet Access NSS firewall feed: the JSON feed template
// (`{"sourcetype":"zscalernss-fw","event":{...}}`, or the fields flat at the top level) and
// name=value custom feeds (tab- or space-separated `csip=... cdip=... cdport=...`).
format_entry zscaler_nss_format();

}  // namespace portscand
