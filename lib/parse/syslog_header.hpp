#pragma once

// Syslog header recognition for units that arrive as syslog lines: files written by a syslog
// daemon (no <PRI>), lines relayed with their <PRI>, and later the syslog listeners. Pure
// functions over the unit's bytes: any thread, no allocation, never throws.

#include <cstdint>
#include <optional>
#include <string_view>

#include "core/time.hpp"
#include "core/time_zone.hpp"

namespace portscand {

struct syslog_header {
  int pri = -1;           // -1 when the unit had no <PRI>
  timestamp_us time = 0;  // 0 when the header had no usable time
  std::string_view host;  // HOSTNAME, "" when absent or NILVALUE
  std::string_view app;   // RFC 5424 APP-NAME or the RFC 3164 TAG without [pid]
  // RFC 5424 STRUCTURED-DATA: the elements as sent ("[id k=\"v\"][id2]"), escapes kept; ""
  // for NILVALUE, RFC 3164 and anything that is not well-formed structured data.
  std::string_view structured_data;
  std::string_view body;  // what follows the header: a suffix of the unit
};

// Recognises an RFC 5424 or RFC 3164 (BSD, Cisco) header at the start of `unit` and splits
// it off. Returns false when the unit does not start with a header; then `out.body` is the
// whole unit. `receive_time` resolves the year of year-less BSD timestamps (the year that
// puts the time closest before, or at most one day after, the receive time); when it is 0
// such a timestamp cannot be placed and `out.time` stays 0. Timestamps without a zone are
// UTC. The body never includes a trailing CR/LF. See lib/parse/README.md "syslog header".
bool parse_syslog_header(std::string_view unit, timestamp_us receive_time, syslog_header& out,
                         local_zone* zone = nullptr) noexcept;

// Length of the RFC 5424 SD-ELEMENTs at the start of `s` (section 6.3: "[" SD-ID *(SP
// PARAM-NAME="PARAM-VALUE") "]", repeated without blanks), 0 when `s` does not start with a
// well-formed element. Quoted values may hold '\"', '\\' and '\]' escapes and any other byte.
// Tolerated beyond the grammar: blanks before ']' (Check Point) and runs of blanks.
std::size_t structured_data_length(std::string_view s) noexcept;

// Pieces of the BSD/Cisco timestamp grammar, shared with formats whose records carry the
// same "Mmm dd [yyyy] hh:mm:ss" dates (CEF rt/start/end).
namespace syslog_time {

struct legacy_fields {
  std::int64_t year = -1;  // -1: the text had no year
  unsigned month = 0, day = 0, hour = 0, minute = 0, second = 0, micros = 0;
};

// Parses "Mmm dd [yyyy ]hh:mm:ss[.fraction]" at the start of `text` ("Mmm  d" with a padding
// space and "Mmm d" are accepted). Returns the bytes consumed, 0 when the text does not start
// with such a timestamp. No zone is consumed.
std::size_t parse_legacy(std::string_view text, legacy_fields& out) noexcept;

// The UTC time of `f` read in a zone `offset_seconds` east of UTC. A year-less `f` takes its
// year from `receive_time` (see parse_syslog_header); nullopt for an impossible date or a
// year-less date with receive_time 0.
std::optional<timestamp_us> resolve(const legacy_fields& f, std::int32_t offset_seconds,
                                    timestamp_us receive_time) noexcept;
// The same, with `f` read on the wall clock of `zone` (nullptr: UTC).
std::optional<timestamp_us> resolve(const legacy_fields& f, local_zone* zone,
                                    timestamp_us receive_time) noexcept;

// parse_iso8601, except that a time without an offset is a wall-clock time of `zone`
// (nullptr: UTC).
std::optional<timestamp_us> read_iso8601(std::string_view text, local_zone* zone) noexcept;

// Offset east of UTC, in seconds, of a time-zone abbreviation ("UTC", "EDT", "CEST"), or
// nullopt for an unknown one. Only unambiguous abbreviations are known.
std::optional<std::int32_t> zone_offset(std::string_view abbreviation) noexcept;

}  // namespace syslog_time
}  // namespace portscand
