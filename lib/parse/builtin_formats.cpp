#include "parse/asim_json.hpp"
#include "parse/checkpoint.hpp"
#include "parse/fortigate.hpp"
#include "parse/meraki.hpp"
#include "parse/panos.hpp"
#include "parse/registry.hpp"

namespace portscand {

// Probe order matters: specific signatures first, generic ones last.
void register_builtin_formats(format_registry& r) {
  r.add(asim_json_format());
  r.add(checkpoint_format());
  r.add(panos_format());
  r.add(meraki_format());
  r.add(fortigate_format());
}

}  // namespace portscand
