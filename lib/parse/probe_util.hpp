#pragma once

// Substring search for auto-detection probes. A probe looks for short signatures ("\"SrcIpAddr\"",
// "CEF:") in up to probe_window bytes. std::string_view::find scans for the needle's first
// byte and compares at every hit: with a quoted key as needle it stops at every '"' of a JSON
// unit, which made the JSON probes 5-10x slower than glibc's memmem (measured on the ECS and
// Suricata fixtures). Needles that start with a rare byte ("Microsoft-...") are fast either
// way; memmem is never much slower.

#include <cstddef>
#include <cstring>
#include <string_view>

namespace portscand {

// The first position at or after `from` where `needle` occurs in `hay`, else npos.
inline std::size_t probe_find(std::string_view hay, std::string_view needle,
                              std::size_t from = 0) noexcept {
  if (from > hay.size() || needle.size() > hay.size() - from) return std::string_view::npos;
  if (needle.empty()) return from;
  const void* p = ::memmem(hay.data() + from, hay.size() - from, needle.data(), needle.size());
  return p == nullptr ? std::string_view::npos
                      : static_cast<std::size_t>(static_cast<const char*>(p) - hay.data());
}

inline bool probe_has(std::string_view hay, std::string_view needle) noexcept {
  return probe_find(hay, needle) != std::string_view::npos;
}

}  // namespace portscand
