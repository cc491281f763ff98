#pragma once

#include "parse/registry.hpp"

namespace portscand {

// Linux netfilter LOG target lines (iptables/ip6tables/nftables `log`, UFW, EdgeOS/UniFi):
// `[kernel: [uptime] ][log-prefix]IN=<if> OUT=<if> [MAC=...] SRC=<ip> DST=<ip> ... PROTO=<p>
// [SPT=<n> DPT=<n>] ...`. One packet per line; no own time (the syslog header's is used).
format_entry iptables_format();

}  // namespace portscand
