#include "parse/asim_json.hpp"
#include "parse/cef.hpp"
#include "parse/cisco_asa.hpp"
#include "parse/registry.hpp"

namespace portscand {

// Probe order matters: specific signatures first, generic ones last.
void register_builtin_formats(format_registry& r) {
  r.add(asim_json_format());
  r.add(cef_format());
  r.add(cisco_asa_format());
}

}  // namespace portscand
