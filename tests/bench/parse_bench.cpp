// Parse throughput per format, one core: records/s (items) and bytes/s over the sample units
// of a fixture file. Each format adds a pair of BENCHMARK_CAPTURE(run_fixture, ...) lines below:
// its fixed format and `auto`.
#include <benchmark/benchmark.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "parse/decoder.hpp"

namespace portscand {
namespace {

class counting_sink final : public parse_sink {
 public:
  void record(const network_session& s) override {
    benchmark::DoNotOptimize(s.dst_port);
    ++records;
  }
  void skipped(std::string_view) override {}
  void rejected(std::string_view) override {}
  void ignored_field(std::string_view) override {}
  std::size_t records = 0;
};

std::vector<std::string> fixture_units(const std::string& rel) {
  std::ifstream in(std::string(PORTSCAND_FIXTURES) + "/" + rel, std::ios::binary);
  std::vector<std::string> units;
  for (std::string line; std::getline(in, line);)
    if (!line.empty() && line[0] != '#') units.push_back(line);
  return units;
}

// Runs every unit through a decoder for `format`, padded as replay parses file chunks.
// Items = records produced (a line may hold several), bytes = input.
void run_units(benchmark::State& state, const std::string& format,
               const std::vector<std::string>& units) {
  unit_decoder decoder(builtin_formats(), format);
  std::vector<std::string> padded;
  std::size_t bytes = 0;
  for (const auto& u : units) {
    padded.push_back(u + std::string(unit_padding, ' '));
    bytes += u.size() + 1;
  }
  counting_sink sink;
  parse_context ctx;
  ctx.padded = true;
  for (auto _ : state)
    for (std::size_t i = 0; i < units.size(); ++i)
      decoder.decode(std::string_view(padded[i]).substr(0, units[i].size()), ctx, sink);
  state.SetItemsProcessed(static_cast<std::int64_t>(sink.records));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * bytes));
}

// Every non-empty line of a fixture (tests/fixtures/<fixture>) through run_units.
void run_fixture(benchmark::State& state, const std::string& format, const std::string& fixture) {
  const std::vector<std::string> units = fixture_units(fixture);
  if (units.empty()) {
    state.SkipWithError(("no units in " + fixture).c_str());
    return;
  }
  run_units(state, format, units);
}

std::string json_string(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

// Cisco ASA over syslog, bare ("<164>Dec 06 2026 10:01:00: %ASA-...") or as Vector's syslog
// source hands it to its Kafka sink (the header parsed into timestamp/hostname/facility/
// severity, `message` the ASA text): the ASA lines of tests/fixtures/envelopes/bare/
// cisco-asa.log, the same units both ways.
void run_vector_asa(benchmark::State& state, bool envelope) {
  std::vector<std::string> units;
  for (const auto& line : fixture_units("envelopes/bare/cisco-asa.log")) {
    const std::size_t split = line.find(": %");
    if (split == std::string::npos) continue;
    if (!envelope) {
      units.push_back("<164>" + line);
      continue;
    }
    units.push_back(R"({"appname":null,"facility":"local4","host":"192.0.2.11","hostname":null,)"
                    R"("message":)" +
                    json_string(std::string_view(line).substr(split + 2)) +
                    R"(,"severity":"warning","source_ip":"192.0.2.11","source_type":"syslog",)"
                    R"("timestamp":"2026-12-06T10:01:00Z"})");
  }
  run_units(state, "auto", units);
}

// Per format, alphabetical: the fixed format, then `auto` (the default) over the same units
// through the same decoder. The pair's ratio is what auto-detection costs on that workload.
BENCHMARK_CAPTURE(run_fixture, asim, std::string("asim"), std::string("asim/sample.jsonl"));
BENCHMARK_CAPTURE(run_fixture, asim_auto, std::string("auto"), std::string("asim/sample.jsonl"));
BENCHMARK_CAPTURE(run_fixture, aws_vpc, std::string("aws-vpc"),
                  std::string("aws-vpc/test-extra-samples.log"));
BENCHMARK_CAPTURE(run_fixture, aws_vpc_auto, std::string("auto"),
                  std::string("aws-vpc/test-extra-samples.log"));
BENCHMARK_CAPTURE(run_fixture, azure_firewall, std::string("azure-firewall"),
                  std::string("azure-firewall/test-networkrules-raw.log"));
BENCHMARK_CAPTURE(run_fixture, azure_firewall_auto, std::string("auto"),
                  std::string("azure-firewall/test-networkrules-raw.log"));
BENCHMARK_CAPTURE(run_fixture, azure_nsg, std::string("azure-nsg"),
                  std::string("azure-nsg/sample_logs-testdata.log"));
BENCHMARK_CAPTURE(run_fixture, azure_nsg_auto, std::string("auto"),
                  std::string("azure-nsg/sample_logs-testdata.log"));
BENCHMARK_CAPTURE(run_fixture, cef, std::string("cef"),
                  std::string("cef/elastic-cef-checkpoint-asa.cef"));
BENCHMARK_CAPTURE(run_fixture, cef_auto, std::string("auto"),
                  std::string("cef/elastic-cef-checkpoint-asa.cef"));
BENCHMARK_CAPTURE(run_fixture, checkpoint, std::string("checkpoint"),
                  std::string("checkpoint/test-r81x.log"));
BENCHMARK_CAPTURE(run_fixture, checkpoint_auto, std::string("auto"),
                  std::string("checkpoint/test-r81x.log"));
BENCHMARK_CAPTURE(run_fixture, cisco_asa, std::string("cisco-asa"),
                  std::string("cisco-asa/test-sample.log"));
BENCHMARK_CAPTURE(run_fixture, cisco_asa_auto, std::string("auto"),
                  std::string("cisco-asa/test-sample.log"));
BENCHMARK_CAPTURE(run_fixture, ecs, std::string("ecs"),
                  std::string("ecs/aws-vpcflow-extra-samples.ecs.jsonl"));
BENCHMARK_CAPTURE(run_fixture, ecs_auto, std::string("auto"),
                  std::string("ecs/aws-vpcflow-extra-samples.ecs.jsonl"));
BENCHMARK_CAPTURE(run_fixture, flow_json, std::string("flow-json"),
                  std::string("flow-json/flows.jsonl"));
BENCHMARK_CAPTURE(run_fixture, flow_json_auto, std::string("auto"),
                  std::string("flow-json/flows.jsonl"));
BENCHMARK_CAPTURE(run_fixture, fortigate, std::string("fortigate"),
                  std::string("fortigate/test-fortinet.log"));
BENCHMARK_CAPTURE(run_fixture, fortigate_auto, std::string("auto"),
                  std::string("fortigate/test-fortinet.log"));
BENCHMARK_CAPTURE(run_fixture, iptables, std::string("iptables"),
                  std::string("iptables/test-iptables-raw.log"));
BENCHMARK_CAPTURE(run_fixture, iptables_auto, std::string("auto"),
                  std::string("iptables/test-iptables-raw.log"));
BENCHMARK_CAPTURE(run_fixture, mde, std::string("mde"),
                  std::string("mde/test-device.DeviceNetworkEvents-subset.log"));
BENCHMARK_CAPTURE(run_fixture, mde_auto, std::string("auto"),
                  std::string("mde/test-device.DeviceNetworkEvents-subset.log"));
BENCHMARK_CAPTURE(run_fixture, meraki, std::string("meraki"), std::string("meraki/test-flows.log"));
BENCHMARK_CAPTURE(run_fixture, meraki_auto, std::string("auto"),
                  std::string("meraki/test-flows.log"));
BENCHMARK_CAPTURE(run_fixture, ocsf, std::string("ocsf"), std::string("ocsf/bench.jsonl"));
BENCHMARK_CAPTURE(run_fixture, ocsf_auto, std::string("auto"), std::string("ocsf/bench.jsonl"));
BENCHMARK_CAPTURE(run_fixture, panos, std::string("panos"),
                  std::string("panos/test-panw-panos-traffic-sample.first34.log"));
BENCHMARK_CAPTURE(run_fixture, panos_auto, std::string("auto"),
                  std::string("panos/test-panw-panos-traffic-sample.first34.log"));
BENCHMARK_CAPTURE(run_fixture, suricata_eve, std::string("suricata-eve"),
                  std::string("suricata-eve/test-eve-small.log"));
BENCHMARK_CAPTURE(run_fixture, suricata_eve_auto, std::string("auto"),
                  std::string("suricata-eve/test-eve-small.log"));
BENCHMARK_CAPTURE(run_fixture, sysmon_linux, std::string("sysmon-linux"),
                  std::string("sysmon-linux/pop-ecx-wazuh-blog-sysmon3.log"));
BENCHMARK_CAPTURE(run_fixture, sysmon_linux_auto, std::string("auto"),
                  std::string("sysmon-linux/pop-ecx-wazuh-blog-sysmon3.log"));
BENCHMARK_CAPTURE(run_fixture, vectra, std::string("vectra"), std::string("vectra/isession.jsonl"));
BENCHMARK_CAPTURE(run_fixture, vectra_auto, std::string("auto"),
                  std::string("vectra/isession.jsonl"));
BENCHMARK_CAPTURE(run_fixture, vmconnection, std::string("vmconnection"),
                  std::string("vmconnection/handmade.jsonl"));
BENCHMARK_CAPTURE(run_fixture, vmconnection_auto, std::string("auto"),
                  std::string("vmconnection/handmade.jsonl"));
BENCHMARK_CAPTURE(run_fixture, windows_wfp, std::string("windows-wfp"),
                  std::string("windows-wfp/oneline.log"));
BENCHMARK_CAPTURE(run_fixture, windows_wfp_auto, std::string("auto"),
                  std::string("windows-wfp/oneline.log"));
BENCHMARK_CAPTURE(run_fixture, zeek_conn, std::string("zeek-conn"),
                  std::string("zeek-conn/test-conn.log"));
BENCHMARK_CAPTURE(run_fixture, zeek_conn_auto, std::string("auto"),
                  std::string("zeek-conn/test-conn.log"));
BENCHMARK_CAPTURE(run_fixture, zscaler_nss, std::string("zscaler-nss"),
                  std::string("zscaler-nss/test-firewall-http-endpoint.log"));
BENCHMARK_CAPTURE(run_fixture, zscaler_nss_auto, std::string("auto"),
                  std::string("zscaler-nss/test-firewall-http-endpoint.log"));
// Shipper envelopes (auto, as an input's default) beside the same lines bare.
BENCHMARK_CAPTURE(run_fixture, envelope_filebeat_cef, std::string("auto"),
                  std::string("envelopes/filebeat.ndjson"));
BENCHMARK_CAPTURE(run_fixture, envelope_filebeat_cef_bare, std::string("auto"),
                  std::string("envelopes/bare/cef.log"));
BENCHMARK_CAPTURE(run_vector_asa, envelope_vector_syslog_asa, true);
BENCHMARK_CAPTURE(run_vector_asa, envelope_vector_syslog_asa_bare, false);

}  // namespace
}  // namespace portscand
