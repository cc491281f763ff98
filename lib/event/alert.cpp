#include "event/alert.hpp"

#include <openssl/evp.h>

#include <array>
#include <cctype>
#include <nlohmann/json.hpp>
#include <string_view>
#include <utility>

#include "core/assert.hpp"
#include "core/time.hpp"
#include "event/network_session.hpp"
#include "portscand/version.hpp"

namespace portscand {
namespace {

std::array<std::uint8_t, 16> parse_uuid(std::string_view text) {
  std::array<std::uint8_t, 16> out{};
  std::size_t n = 0;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (std::size_t i = 0; i < text.size() && n < 32; ++i) {
    if (text[i] == '-') continue;
    const int v = nibble(text[i]);
    PORTSCAND_ASSERT(v >= 0, "namespace uuid is not hex");
    out[n / 2] = static_cast<std::uint8_t>(out[n / 2] | (n % 2 == 0 ? v << 4 : v));
    ++n;
  }
  PORTSCAND_ASSERT(n == 32, "namespace uuid has not 32 hex digits");
  return out;
}

std::string format_uuid(const std::uint8_t* b) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string s;
  s.reserve(36);
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) s += '-';
    s += hex[b[i] >> 4];
    s += hex[b[i] & 0xf];
  }
  return s;
}

std::string iso(timestamp_us t) {
  return format_iso8601(t);
}

nlohmann::ordered_json targets_json(const alert& a) {
  nlohmann::ordered_json list = nlohmann::ordered_json::array();
  for (const auto& t : a.targets)
    list.push_back({{"address", t.address.to_string()}, {"attempts", t.attempts}});
  return list;
}

nlohmann::ordered_json outcomes_json(const alert& a) {
  const std::uint64_t known = a.outcomes.allowed + a.outcomes.denied + a.outcomes.dropped;
  return {{"allowed", a.outcomes.allowed},
          {"denied", a.outcomes.denied},
          {"dropped", a.outcomes.dropped},
          {"unknown", a.event_count >= known ? a.event_count - known : 0}};
}

// The evidence beyond the rule's columns (alert::has_targets), in either schema.
void put_case_evidence(nlohmann::ordered_json& j, const alert& a) {
  if (!a.has_targets) return;
  j["targets"] = targets_json(a);
  j["targets_truncated"] = a.targets_truncated;
  j["protocols"] = protocol_bit_names(a.protocols);
  j["outcomes"] = outcomes_json(a);
}

nlohmann::ordered_json native_json(const alert& a) {
  const rule_metadata& r = *a.rule;
  const std::string src = a.source_text();
  nlohmann::ordered_json j;
  j["alert_id"] = a.alert_id;
  if (a.early) {
    j["early"] = true;
    j["final_alert_id"] = a.final_alert_id;
  }
  if (!a.incident_id.empty()) j["incident_id"] = a.incident_id;
  j["schema"] = "portscand.alert.v1";
  j["SrcIpAddr"] = src;
  j["TimeGenerated"] = iso(a.bin_start);
  if (a.sweep()) {
    j["DstPortNumber"] = a.swept_port;
    j["TargetCount"] = a.target_count;
  }
  j["AttemptedPortsCount"] = a.ports_count;
  j["AttemptedPorts"] = a.ports;
  j["ReportedBy"] = a.reported_by;
  j["window"] = {{"start", iso(a.bin_start)}, {"end", iso(a.bin_end)}};
  j["first_seen"] = iso(a.first_seen);
  j["last_seen"] = iso(a.last_seen);
  j["event_count"] = a.event_count;
  put_case_evidence(j, a);
  j["rule"] = {{"id", r.id},           {"name", r.name},
               {"version", r.version}, {"severity", r.severity},
               {"tactics", r.tactics}, {"techniques", r.techniques}};
  j["title"] = expand_alert_format(r.title_format, a);
  j["description"] = expand_alert_format(r.description_format, a);
  j["entities"] = nlohmann::ordered_json::array({{{"type", "ip"}, {"address", src}}});
  j["custom_details"] = a.sweep() ? nlohmann::ordered_json{{"DstPortNumber", a.swept_port},
                                                           {"TargetCount", a.target_count}}
                                  : nlohmann::ordered_json{{"AttemptedPortsCount", a.ports_count}};
  j["detected_at"] = iso(a.detected_at);
  return j;
}

int ocsf_severity_id(std::string_view severity) {
  if (severity == "Informational") return 1;
  if (severity == "Low") return 2;
  if (severity == "Medium") return 3;
  if (severity == "High") return 4;
  if (severity == "Critical") return 5;
  return 0;
}

// MITRE ATT&CK Enterprise tactics (v14): the rule may spell them as Sentinel does
// ("CommandAndControl") or as MITRE does ("Command and Control").
struct mitre_tactic_entry {
  const char* uid;
  const char* name;
};

std::string squeeze(std::string_view s) {
  std::string out;
  for (char c : s)
    if (std::isalnum(static_cast<unsigned char>(c)))
      out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

const mitre_tactic_entry* mitre_tactic(std::string_view name) {
  static constexpr mitre_tactic_entry tactics[] = {
      {"TA0043", "Reconnaissance"},  {"TA0042", "Resource Development"},
      {"TA0001", "Initial Access"},  {"TA0002", "Execution"},
      {"TA0003", "Persistence"},     {"TA0004", "Privilege Escalation"},
      {"TA0005", "Defense Evasion"}, {"TA0006", "Credential Access"},
      {"TA0007", "Discovery"},       {"TA0008", "Lateral Movement"},
      {"TA0009", "Collection"},      {"TA0011", "Command and Control"},
      {"TA0010", "Exfiltration"},    {"TA0040", "Impact"}};
  const std::string key = squeeze(name);
  for (const auto& t : tactics)
    if (squeeze(t.name) == key) return &t;
  return nullptr;
}

// Names of the ATT&CK (v14) techniques a port-scan rule is tagged with; others keep their
// uid only.
std::string_view mitre_technique_name(std::string_view uid) {
  static constexpr std::pair<std::string_view, std::string_view> names[] = {
      {"T1046", "Network Service Discovery"},
      {"T1595", "Active Scanning"},
      {"T1595.001", "Scanning IP Blocks"},
      {"T1595.002", "Vulnerability Scanning"},
      {"T1595.003", "Wordlist Scanning"},
      {"T1590", "Gather Victim Network Information"},
      {"T1018", "Remote System Discovery"},
      {"T1016", "System Network Configuration Discovery"},
      {"T1049", "System Network Connections Discovery"},
      {"T1135", "Network Share Discovery"}};
  for (const auto& [u, n] : names)
    if (u == uid) return n;
  return {};
}

// OCSF 1.1 Detection Finding (class_uid 2004, category Findings).
nlohmann::ordered_json ocsf_json(const alert& a) {
  const rule_metadata& r = *a.rule;
  const std::string src = a.src.to_string();
  const auto ms = [](timestamp_us t) { return t / 1000; };
  nlohmann::ordered_json attacks = nlohmann::ordered_json::array();
  for (const auto& t : r.techniques) {
    // A sub-technique ("T1595.001") goes to sub_technique, under its parent technique.
    const std::string parent = t.substr(0, t.find('.'));
    nlohmann::ordered_json technique = {{"uid", parent}};
    if (auto name = mitre_technique_name(parent); !name.empty()) technique["name"] = name;
    nlohmann::ordered_json attack = {{"technique", technique}};
    if (parent != t) {
      nlohmann::ordered_json sub = {{"uid", t}};
      if (auto name = mitre_technique_name(t); !name.empty()) sub["name"] = name;
      attack["sub_technique"] = sub;
    }
    attack["version"] = "v14";
    if (!r.tactics.empty()) {
      nlohmann::ordered_json tactic = {{"name", r.tactics.front()}};
      if (const auto* known = mitre_tactic(r.tactics.front())) {
        tactic["name"] = known->name;
        tactic["uid"] = known->uid;
      }
      attack["tactic"] = tactic;
    }
    attacks.push_back(std::move(attack));
  }
  nlohmann::ordered_json j;
  j["class_uid"] = 2004;
  j["class_name"] = "Detection Finding";
  j["category_uid"] = 2;
  j["category_name"] = "Findings";
  j["activity_id"] = 1;
  j["activity_name"] = "Create";
  j["type_uid"] = 200401;
  j["severity_id"] = ocsf_severity_id(r.severity);
  j["severity"] = r.severity;
  j["status_id"] = 1;
  j["status"] = "New";
  // The count behind the finding is exact (distinct ports attempted, over the threshold), so
  // the finding itself, a port scan, is certain; whether the scan is hostile is the analyst's
  // question (severity carries the rule's opinion).
  j["confidence_id"] = 3;
  j["confidence"] = "High";
  j["time"] = ms(a.detected_at);
  j["start_time"] = ms(a.first_seen);
  j["end_time"] = ms(a.last_seen);
  j["count"] = a.event_count;
  j["message"] = expand_alert_format(r.title_format, a);
  // original_time: the time of the first source event behind the finding, as text.
  j["metadata"] = {
      {"version", "1.1.0"},
      {"product",
       {{"name", "portscand"}, {"vendor_name", "portscand"}, {"version", version_string}}},
      {"original_time", iso(a.first_seen)},
      {"uid", a.alert_id}};
  j["finding_info"] = {
      {"uid", a.alert_id},
      {"title", expand_alert_format(r.title_format, a)},
      {"desc", expand_alert_format(r.description_format, a)},
      {"types", {a.sweep() ? "Port Sweep" : "Port Scan"}},
      {"first_seen_time", ms(a.first_seen)},
      {"last_seen_time", ms(a.last_seen)},
      {"analytic",
       {{"uid", r.id}, {"name", r.name}, {"version", r.version}, {"type_id", 1}, {"type", "Rule"}}},
      {"attacks", attacks}};
  // One evidence per target (the source and that destination), after the source's own.
  nlohmann::ordered_json evidences =
      nlohmann::ordered_json::array({{{"src_endpoint", {{"ip", src}}}}});
  nlohmann::ordered_json observables =
      nlohmann::ordered_json::array({{{"name", "evidences[0].src_endpoint.ip"},
                                      {"type_id", 2},
                                      {"type", "IP Address"},
                                      {"value", src}}});
  nlohmann::ordered_json resources = nlohmann::ordered_json::array();
  for (std::size_t i = 0; i < a.targets.size(); ++i) {
    const std::string dst = a.targets[i].address.to_string();
    evidences.push_back({{"src_endpoint", {{"ip", src}}}, {"dst_endpoint", {{"ip", dst}}}});
    resources.push_back(
        {{"uid", dst}, {"type", "IP Address"}, {"data", {{"attempts", a.targets[i].attempts}}}});
    observables.push_back({{"name", "resources[" + std::to_string(i) + "].uid"},
                           {"type_id", 2},
                           {"type", "IP Address"},
                           {"value", dst}});
  }
  if (a.has_targets) j["resources"] = std::move(resources);
  j["evidences"] = std::move(evidences);
  j["observables"] = std::move(observables);
  j["unmapped"] = {{"AttemptedPortsCount", a.ports_count},
                   {"AttemptedPorts", a.ports},
                   {"ReportedBy", a.reported_by},
                   {"window", {{"start", iso(a.bin_start)}, {"end", iso(a.bin_end)}}}};
  if (a.sweep()) {
    j["unmapped"]["DstPortNumber"] = a.swept_port;
    j["unmapped"]["TargetCount"] = a.target_count;
  }
  if (!a.incident_id.empty()) j["unmapped"]["incident_id"] = a.incident_id;
  if (a.early) {
    j["unmapped"]["early"] = true;
    j["unmapped"]["final_alert_id"] = a.final_alert_id;
  }
  if (a.has_targets) {
    j["unmapped"]["targets_truncated"] = a.targets_truncated;
    j["unmapped"]["protocols"] = protocol_bit_names(a.protocols);
    j["unmapped"]["outcomes"] = outcomes_json(a);
  }
  return j;
}

}  // namespace

std::string uuid_v5(std::string_view ns, std::string_view name) {
  const auto ns_bytes = parse_uuid(ns);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  PORTSCAND_ASSERT(ctx != nullptr, "EVP_MD_CTX_new failed");
  const bool ok = EVP_DigestInit_ex(ctx, EVP_sha1(), nullptr) == 1 &&
                  EVP_DigestUpdate(ctx, ns_bytes.data(), ns_bytes.size()) == 1 &&
                  EVP_DigestUpdate(ctx, name.data(), name.size()) == 1 &&
                  EVP_DigestFinal_ex(ctx, digest, &len) == 1;
  EVP_MD_CTX_free(ctx);
  PORTSCAND_ASSERT(ok && len >= 16, "SHA-1 failed");
  digest[6] = static_cast<unsigned char>((digest[6] & 0x0f) | 0x50);  // version 5
  digest[8] = static_cast<unsigned char>((digest[8] & 0x3f) | 0x80);  // RFC 4122 variant
  return format_uuid(digest);
}

std::string make_alert_id(std::string_view rule_id, const ip_address& src, timestamp_us bin_start) {
  return make_alert_id(rule_id, src.to_string(), bin_start);
}

std::string make_alert_id(std::string_view rule_id, std::string_view source,
                          timestamp_us bin_start) {
  std::string name;
  name.reserve(96);
  name.append(rule_id).append("|").append(source).append("|").append(iso(bin_start));
  return uuid_v5(alert_id_namespace, name);
}

std::string make_sweep_alert_id(std::string_view rule_id, std::string_view source,
                                timestamp_us bin_start, std::uint16_t port) {
  std::string name;
  name.reserve(104);
  name.append(rule_id).append("|").append(source).append("|").append(iso(bin_start));
  name.append("|").append(std::to_string(port));
  return uuid_v5(alert_id_namespace, name);
}

std::string make_incident_id(std::string_view rule_id, std::string_view source,
                             timestamp_us incident_start) {
  std::string name;
  name.reserve(104);
  name.append(rule_id).append("|").append(source).append("|").append(iso(incident_start));
  name.append("|incident");
  return uuid_v5(alert_id_namespace, name);
}

std::string alert::source_text() const {
  std::string s = src.to_string();
  if (src_prefix < 128 && !src.is_v4()) s += "/" + std::to_string(src_prefix);
  return s;
}

std::string expand_alert_format(std::string_view format, const alert& a) {
  std::string out;
  out.reserve(format.size() + 32);
  std::size_t i = 0;
  while (i < format.size()) {
    const std::size_t open = format.find("{{", i);
    if (open == std::string_view::npos) break;
    const std::size_t close = format.find("}}", open + 2);
    if (close == std::string_view::npos) break;
    out.append(format.substr(i, open - i));
    const std::string_view key = format.substr(open + 2, close - open - 2);
    if (key == "SrcIpAddr")
      out += a.source_text();
    else if (key == "AttemptedPortsCount")
      out += std::to_string(a.ports_count);
    else if (key == "DstPortNumber" && a.sweep())
      out += std::to_string(a.swept_port);
    else if (key == "TargetCount" && a.sweep())
      out += std::to_string(a.target_count);
    else
      out.append(format.substr(open, close + 2 - open));  // unknown: left as written
    i = close + 2;
  }
  out.append(format.substr(i));
  return out;
}

std::string render_alert(const alert& a, alert_schema schema) {
  PORTSCAND_ASSERT(a.rule != nullptr, "alert without rule metadata");
  const nlohmann::ordered_json j = schema == alert_schema::native ? native_json(a) : ocsf_json(a);
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

}  // namespace portscand
