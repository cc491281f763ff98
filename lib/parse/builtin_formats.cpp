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

}  // namespace

// Probe order matters: specific signatures first, generic ones last.
void register_builtin_formats(format_registry& r) {
  r.add(json_only(asim_json_format()));
  // JSON formats with distinctive keys
  r.add(json_only(azure_nsg_format()));
  r.add(json_only(azure_firewall_format()));
  r.add(json_only(mde_format()));
  r.add(json_only(vmconnection_format()));
  r.add(json(windows_wfp_format()));
  r.add(json(zscaler_nss_format()));
  r.add(json_only(vectra_format()));  // before zeek-conn: Vectra reuses Zeek's id.* keys
  r.add(json(zeek_conn_format()));
  r.add(json_only(ocsf_format()));
  r.add(json_only(flow_json_format()));  // before suricata-eve: pmacct also writes "event_type"
  r.add(json_only(suricata_eve_format()));
  r.add(json_only(ecs_format()));  // generic ("@timestamp"): after every specific JSON probe
  // syslog-borne text formats (probes see the body after any syslog header)
  r.add(text_only(cef_format()));  // before the device natives: a CEF line may quote their messages
  r.add(text_only(cisco_asa_format()));
  r.add(checkpoint_format());
  r.add(panos_format());
  r.add(meraki_format());
  r.add(fortigate_format());
  r.add(sysmon_linux_format());
  r.add(iptables_format());
  // plain text
  r.add(text_only(aws_vpc_format()));  // last: its probe is the loosest (space-separated fields)
}

}  // namespace portscand
