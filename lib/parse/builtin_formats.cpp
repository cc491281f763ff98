#include "parse/asim_json.hpp"
#include "parse/aws_vpc.hpp"
#include "parse/azure_firewall.hpp"
#include "parse/azure_nsg.hpp"
#include "parse/mde.hpp"
#include "parse/vmconnection.hpp"
#include "parse/registry.hpp"

namespace portscand {

// Probe order matters: specific signatures first, generic ones last.
void register_builtin_formats(format_registry& r) {
  r.add(asim_json_format());
  r.add(azure_nsg_format());
  r.add(azure_firewall_format());
  r.add(mde_format());
  r.add(vmconnection_format());
  r.add(aws_vpc_format());
}

}  // namespace portscand
