#pragma once

// The one port reader of the parse layer: every format reads a destination port from text
// (a key=value value, a CSV/TSV column, an "ip/port" token, a JSON number's raw text or a
// JSON string) through it, so "what is a port" has one answer.

#include <cstdint>
#include <string_view>

namespace portscand {

enum class port_status : std::uint8_t { ok, absent, invalid };

// "" -> absent. Decimal digits only, leading zeros allowed ("0080" is 80), with a value
// of 0..65535 -> ok, written to `out`. Anything else -> invalid, `out` untouched: a sign
// ("+80", "-0"), white space (callers that allow padding trim first, at the call site), a
// fraction or exponent ("80.0", "8e1"), a service name, an out-of-range value.
constexpr port_status read_port(std::string_view s, std::int32_t& out) noexcept {
  if (s.empty()) return port_status::absent;
  std::int32_t v = 0;
  for (const char c : s) {
    if (c < '0' || c > '9') return port_status::invalid;
    v = v * 10 + (c - '0');  // v <= 65535 here, so no overflow
    if (v > 65535) return port_status::invalid;
  }
  out = v;
  return port_status::ok;
}

// read_port for callers where an empty port is as wrong as a malformed one.
constexpr bool parse_port(std::string_view s, std::int32_t& out) noexcept {
  return read_port(s, out) == port_status::ok;
}

}  // namespace portscand
