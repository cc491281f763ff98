#pragma once

// Substring search for auto-detection probes. A probe looks for short signatures
// ("\"SrcIpAddr\"", "CEF:") in up to probe_window bytes, and the sticky winner's probe runs on
// every unit, so its cost is paid per record. std::string_view::find scans for the needle's
// first byte and compares at every hit: with a quoted key as needle it stopped at every '"' of
// a JSON unit (80 % of an ECS auto profile); glibc's memmem builds a shift table per call,
// which costs more than the search when the signature is near the start (ASIM's SrcIpAddr).
// probe_find compares two bytes of the needle against 16 positions at once (SSE2, part of
// x86-64) and checks the whole needle only where both match; for a needle of 4 or more bytes
// the two are its second and second-to-last, which in a quoted key are letters, not quotes.

#include <cstddef>
#include <cstring>
#include <string_view>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace portscand {

// The first position at or after `from` where `needle` occurs in `hay`, else npos.
inline std::size_t probe_find(std::string_view hay, std::string_view needle,
                              std::size_t from = 0) noexcept {
  constexpr std::size_t npos = std::string_view::npos;
  const std::size_t n = needle.size();
  if (from > hay.size() || n > hay.size() - from) return npos;
  if (n == 0) return from;
  const char* const s = hay.data();
  if (n == 1) {
    const void* p = std::memchr(s + from, needle[0], hay.size() - from);
    return p == nullptr ? npos : static_cast<std::size_t>(static_cast<const char*>(p) - s);
  }
  const std::size_t k1 = n >= 4 ? 1 : 0;  // the two bytes compared first
  const std::size_t k2 = n >= 4 ? n - 2 : n - 1;
  const std::size_t last = hay.size() - n;  // the last position a match may start at
  std::size_t i = from;
#if defined(__SSE2__)
  const __m128i c1 = _mm_set1_epi8(needle[k1]);
  const __m128i c2 = _mm_set1_epi8(needle[k2]);
  // 16 start positions i..i+15 at a time; the loads end at s[i + 15 + k2] <= s[last + n - 1].
  for (; i + 15 <= last; i += 16) {
    // NOLINTBEGIN(cppcoreguidelines-pro-type-reinterpret-cast): unaligned SSE2 loads
    const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i + k1));
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + i + k2));
    // NOLINTEND(cppcoreguidelines-pro-type-reinterpret-cast)
    auto mask = static_cast<unsigned>(
        _mm_movemask_epi8(_mm_and_si128(_mm_cmpeq_epi8(a, c1), _mm_cmpeq_epi8(b, c2))));
    while (mask != 0) {
      const std::size_t at = i + static_cast<std::size_t>(__builtin_ctz(mask));
      if (std::memcmp(s + at, needle.data(), n) == 0) return at;
      mask &= mask - 1;
    }
  }
#endif
  for (; i <= last; ++i)
    if (s[i + k1] == needle[k1] && s[i + k2] == needle[k2] &&
        std::memcmp(s + i, needle.data(), n) == 0)
      return i;
  return npos;
}

inline bool probe_has(std::string_view hay, std::string_view needle) noexcept {
  return probe_find(hay, needle) != std::string_view::npos;
}

// True when the first byte other than blank, tab, CR and LF is '{' or '[' (a JSON object or
// array): the check every JSON probe starts with (probe_scope::json). A plain loop:
// find_first_not_of with a set calls memchr once per byte it looks at.
inline bool probe_json_start(std::string_view head) noexcept {
  for (const char c : head) {
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') continue;
    return c == '{' || c == '[';
  }
  return false;
}

}  // namespace portscand
