#include "parse/asim_json.hpp"
#include "parse/iptables.hpp"
#include "parse/registry.hpp"
#include "parse/sysmon_linux.hpp"
#include "parse/windows_wfp.hpp"
#include "parse/zscaler_nss.hpp"

namespace portscand {

// Probe order matters: specific signatures first, generic ones last.
void register_builtin_formats(format_registry& r) {
  r.add(asim_json_format());
  r.add(sysmon_linux_format());
  r.add(windows_wfp_format());
  r.add(zscaler_nss_format());
  r.add(iptables_format());
}

}  // namespace portscand
