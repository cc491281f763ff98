#pragma once

#include <string_view>

#include "parse/registry.hpp"

namespace portscand {

// Windows Security auditing events of the Windows Filtering Platform: 5156 (connection
// permitted), 5157 (connection blocked), 5152 (packet dropped) are sessions; other event
// ids (5154/5155/5158/5159 listen/bind, any other Security event) are skipped. Shapes:
// raw event XML (<Event>...), Winlogbeat/Elastic Agent JSON (winlog.event_data), and the
// Sentinel SecurityEvent/WindowsEvent rows (EventID + EventData as XML text or object).
format_entry windows_wfp_format();

// The format's auto-detection probe, also asked by the ecs probe: an ECS document of a WFP
// event (Elastic's normalized output, with ECS source/destination) belongs to ecs, a raw
// Winlogbeat document (winlog.event_data only) or event XML to windows-wfp. The two probes
// are disjoint: this one refuses documents with ECS endpoint fields, ecs refuses what this
// one claims.
bool probe_windows_wfp(std::string_view head) noexcept;

}  // namespace portscand
