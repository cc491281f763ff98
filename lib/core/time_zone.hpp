#pragma once

// The zone a device writes its zone-less times in (an input's `timezone:`). Logstash's and
// Splunk's per-source time zone, for BSD syslog headers and vendor times without an offset.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/time.hpp"

namespace date {
class time_zone;
}

namespace portscand {

// UTC, a fixed offset, or an IANA zone of the system time-zone database. The IANA zone is
// looked up once, by find() at configuration load; converting a time afterwards reads a
// cached interval of constant offset (one tz database lookup when a time leaves it), never
// allocates and never locks. A value type: each thread keeps its own copy, since the cache
// is per copy; the zone rules behind it are immutable and shared by all copies.
class local_zone {
 public:
  local_zone() = default;  // UTC

  // "UTC" (also "Z", "GMT"), a fixed offset east of UTC ("+08:00", "-0700", "+05"; at most
  // 18 hours), or an IANA name ("Europe/Berlin", "Etc/GMT+7"). nullopt, with a message in
  // `error`, for anything else.
  static std::optional<local_zone> find(std::string_view name, std::string& error);

  const std::string& name() const noexcept { return name_; }
  bool is_utc() const noexcept { return zone_ == nullptr && fixed_ == 0; }

  // Offset east of UTC, in seconds, of the zone at the wall-clock time `local_seconds`
  // (seconds since 1970-01-01T00:00:00 read on that wall clock). A wall-clock time that
  // occurs twice (the hour repeated when daylight saving time ends) is the earlier instant;
  // one that does not occur (the hour skipped when it begins) takes the offset in force
  // before the change, as a clock that was not yet set forward would mean.
  std::int32_t offset_at_local(std::int64_t local_seconds) noexcept;

  // The UTC time of a wall-clock time in microseconds.
  timestamp_us to_utc(timestamp_us local) noexcept;

 private:
  std::int32_t lookup(std::int64_t local_seconds) noexcept;

  std::string name_ = "UTC";
  const date::time_zone* zone_ = nullptr;  // nullptr: the fixed offset
  std::int32_t fixed_ = 0;
  // The last interval of wall-clock times that map to one offset unambiguously.
  std::int64_t cached_from_ = 0, cached_to_ = 0;  // [from, to), empty at first
  std::int32_t cached_offset_ = 0;
};

}  // namespace portscand
