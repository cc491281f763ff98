#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/ip_address.hpp"
#include "core/time.hpp"

namespace portscand {

// The rule's metadata as it travels with each alert (SPEC §1, last paragraph). Immutable
// once built; shared between threads through shared_ptr<const rule_metadata>.
struct rule_metadata {
  std::string id;
  std::string name;
  std::string version;
  std::string severity;
  std::vector<std::string> tactics;
  std::vector<std::string> techniques;
  std::string title_format;        // placeholders: expand_alert_format
  std::string description_format;  // same placeholders
};

// A destination address the source tried, with the records sent to it.
struct alert_target {
  ip_address address;
  std::uint32_t attempts = 0;
  bool operator==(const alert_target&) const = default;
};

// The records of an alert by outcome (attempt_outcome): the rest of event_count had none.
struct alert_outcomes {
  std::uint64_t allowed = 0;
  std::uint64_t denied = 0;
  std::uint64_t dropped = 0;
};

// One alert: a (source, bin) whose distinct destination ports exceeded the threshold.
struct alert {
  std::string alert_id;  // UUIDv5 over rule_id|source|bin_start_iso
  ip_address src;
  timestamp_us bin_start = 0;
  timestamp_us bin_end = 0;
  // With `ipv6_prefix` below 128, an IPv6 source is a prefix: `src` is its network address
  // and this its length (128 for IPv4 and single IPv6 addresses).
  std::uint8_t src_prefix = 128;
  std::uint32_t ports_count = 0;         // AttemptedPortsCount (exact)
  std::vector<std::uint16_t> ports;      // AttemptedPorts: ascending, capped
  std::vector<std::string> reported_by;  // ReportedBy: ascending byte order, capped
  timestamp_us first_seen = 0;
  timestamp_us last_seen = 0;
  std::uint64_t event_count = 0;
  timestamp_us detected_at = 0;
  std::shared_ptr<const rule_metadata> rule;
  // The same for every alert of this source within `incidents.grouping` of the incident's
  // first alert (evaluator): one case per scan, not one per bin.
  std::string incident_id;
  // What a case needs beyond the rule's columns (tumbling alerts; a sliding alert has
  // has_targets false and says nothing of them): the smallest destination addresses with
  // their attempts (ascending, at most evidence.max_targets), whether some address is
  // missing from that list, the protocols seen (protocol_bit), the outcomes.
  bool has_targets = false;
  std::vector<alert_target> targets;
  bool targets_truncated = false;
  std::uint8_t protocols = 0;
  alert_outcomes outcomes;
  // An early alert (README "Early alerts"): sent when the key crossed the threshold, with the
  // evidence up to that record; its own id (make_early_alert_id) and the id of the bin's
  // final alert, which follows as usual.
  bool early = false;
  std::string final_alert_id;
  // The port-sweep rule's alerts (README "Port sweeps"): the destination port swept and the
  // distinct destination addresses tried on it (exact); ports_count is 1 and ports {port},
  // the targets list up to the rule's max_targets of them. -1: a vertical-scan alert.
  std::int32_t swept_port = -1;
  std::uint32_t target_count = 0;
  bool sweep() const noexcept { return swept_port >= 0; }

  // What the alert calls its source (SrcIpAddr, title, Kafka key, alert id): the address, or
  // for an IPv6 prefix "2001:db8:1:2::/64".
  std::string source_text() const;
};

enum class alert_schema : std::uint8_t { native, ocsf };

// The namespace of our alert ids (RFC 4122 §4.3). Fixed forever: changing it changes every
// alert id and breaks de-duplication downstream.
inline constexpr std::string_view alert_id_namespace = "3f6c1a2e-9b47-5d8e-a1c3-7e2b94d05f61";

// UUIDv5 of `name` in namespace `ns` (ns in canonical text form), lower-case canonical text.
std::string uuid_v5(std::string_view ns, std::string_view name);
std::string make_alert_id(std::string_view rule_id, const ip_address& src, timestamp_us bin_start);
// The same over a source text (alert::source_text()).
std::string make_alert_id(std::string_view rule_id, std::string_view source,
                          timestamp_us bin_start);
// A port-sweep alert's id: a UUIDv5 over rule_id|source|bin_start_iso|port (decimal).
std::string make_sweep_alert_id(std::string_view rule_id, std::string_view source,
                                timestamp_us bin_start, std::uint16_t port);
// The incident id: a UUIDv5 over rule_id|source|incident_start_iso|incident, so it never
// equals an alert id.
std::string make_incident_id(std::string_view rule_id, std::string_view source,
                             timestamp_us incident_start);

// Replaces {{SrcIpAddr}}, {{AttemptedPortsCount}} and, in a sweep alert, {{DstPortNumber}}
// and {{TargetCount}} in a title/description format.
std::string expand_alert_format(std::string_view format, const alert& a);

// One line of JSON (no trailing newline). Any thread.
std::string render_alert(const alert& a, alert_schema schema);

}  // namespace portscand
