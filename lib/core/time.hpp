#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace portscand {

// Event times are microseconds since the Unix epoch, UTC. 64 bits cover ±292,000 years,
// so no record can overflow it; parsers reject what does not fit.
using timestamp_us = std::int64_t;

inline constexpr timestamp_us us_per_second = 1'000'000;
inline constexpr timestamp_us us_per_minute = 60 * us_per_second;

// Where a record's event time comes from (SPEC §1 "event time"; an input's `event_time:`).
enum class event_time_source : std::uint8_t { record, receive };

// Days since 1970-01-01 of a proleptic Gregorian civil date (H. Hinnant's algorithm).
constexpr std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) noexcept {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

struct civil_time {
  std::int64_t year;
  unsigned month, day, hour, minute, second, micros;
};
civil_time to_civil(timestamp_us t) noexcept;

// ISO 8601 / RFC 3339: "YYYY-MM-DD[T ]hh:mm[:ss[.fraction]][Z|±hh[:]mm]". A missing zone
// means UTC. Fractions beyond microseconds are truncated. Years 1000..9999 only.
std::optional<timestamp_us> parse_iso8601(std::string_view text) noexcept;

// Whether an ISO 8601 / RFC 3339 text that parse_iso8601 accepted names its zone (`Z` or
// an offset after the time); one that does not is a wall-clock time of some zone.
bool iso8601_has_zone(std::string_view text) noexcept;

// "2026-11-28T10:05:00Z", or with ".ffffff" when the time has a sub-second part.
// out needs 32 bytes; returns the length.
std::size_t format_iso8601(timestamp_us t, char* out) noexcept;
std::string format_iso8601(timestamp_us t);

// Parses a duration such as "10m", "90s", "1h", "500ms", "2d" (one unit).
std::optional<timestamp_us> parse_duration(std::string_view text) noexcept;
std::string format_duration(timestamp_us d);

// Floors t to a multiple of width (works for negative t).
constexpr timestamp_us floor_to(timestamp_us t, timestamp_us width) noexcept {
  const timestamp_us q = t / width;
  return (q * width > t ? q - 1 : q) * width;
}

}  // namespace portscand
