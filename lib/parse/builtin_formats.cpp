// The header of each factory formats.def names: the compiler checks the list against them.
#include "parse/asim_json.hpp"
#include "parse/aws_vpc.hpp"
#include "parse/azure_firewall.hpp"
#include "parse/azure_nsg.hpp"
#include "parse/cef.hpp"
#include "parse/checkpoint.hpp"
#include "parse/cisco_asa.hpp"
#include "parse/ecs.hpp"
#include "parse/flow_json.hpp"
#include "parse/fortigate.hpp"
#include "parse/iptables.hpp"
#include "parse/mde.hpp"
#include "parse/meraki.hpp"
#include "parse/ocsf.hpp"
#include "parse/panos.hpp"
#include "parse/registry.hpp"
#include "parse/suricata_eve.hpp"
#include "parse/sysmon_linux.hpp"
#include "parse/vectra.hpp"
#include "parse/vmconnection.hpp"
#include "parse/windows_wfp.hpp"
#include "parse/zeek_conn.hpp"
#include "parse/zscaler_nss.hpp"

namespace portscand {
namespace {

// A format whose units may be JSON documents (format_entry::reads_json).
format_entry json(format_entry e) {
  e.reads_json = true;
  return e;
}

// A JSON format whose probe claims only units that start with '{' or '[' (after blanks).
format_entry json_only(format_entry e) {
  e.reads_json = true;
  e.scope = probe_scope::json;
  return e;
}

// A text format whose probe never claims a unit with '{' or '[' at byte 0.
format_entry text_only(format_entry e) {
  e.scope = probe_scope::text;
  return e;
}

// A format whose units are text and whose probe may look at any unit.
format_entry plain(format_entry e) {
  return e;
}

}  // namespace

// The formats of formats.def, in its order: the probe order.
void register_builtin_formats(format_registry& r) {
#define PORTSCAND_FORMAT(id, name, factory, scope, bench_fixture) r.add(scope(factory()));
#include "parse/formats.def"
#undef PORTSCAND_FORMAT
}

}  // namespace portscand
