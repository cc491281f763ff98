#include "core/time_zone.hpp"

#include <date/tz.h>

#include <algorithm>
#include <chrono>
#include <exception>

namespace portscand {
namespace {

constexpr bool is_digit(char c) noexcept {
  return c >= '0' && c <= '9';
}

// "+hh", "+hhmm", "+hh:mm" (or '-'): seconds east of UTC; nullopt otherwise.
std::optional<std::int32_t> fixed_offset(std::string_view s) noexcept {
  if (s.size() < 3 || (s[0] != '+' && s[0] != '-')) return std::nullopt;
  const int sign = s[0] == '-' ? -1 : 1;
  s.remove_prefix(1);
  if (!is_digit(s[0]) || !is_digit(s[1])) return std::nullopt;
  const int h = (s[0] - '0') * 10 + (s[1] - '0');
  int m = 0;
  s.remove_prefix(2);
  if (!s.empty() && s[0] == ':') s.remove_prefix(1);
  if (!s.empty()) {
    if (s.size() != 2 || !is_digit(s[0]) || !is_digit(s[1])) return std::nullopt;
    m = (s[0] - '0') * 10 + (s[1] - '0');
  }
  if (m > 59 || h * 60 + m > 18 * 60) return std::nullopt;
  return sign * (h * 3600 + m * 60);
}

// Interval bounds the tz database uses for "since ever" / "for ever": far outside any time
// a record can carry, and too far out to ask the database about the neighbour.
constexpr std::int64_t open_bound = 400'000'000'000;  // ~ year 14,700

}  // namespace

std::optional<local_zone> local_zone::find(std::string_view name, std::string& error) {
  local_zone z;
  z.name_ = std::string(name);
  if (name.empty()) {
    error = "empty time zone";
    return std::nullopt;
  }
  if (name == "UTC" || name == "Z" || name == "GMT") return z;
  if (name[0] == '+' || name[0] == '-') {
    if (auto off = fixed_offset(name)) {
      z.fixed_ = *off;
      return z;
    }
    error = "bad UTC offset '" + std::string(name) + "' (want +hh:mm or -hh:mm, at most 18 hours)";
    return std::nullopt;
  }
  try {
    z.zone_ = date::locate_zone(name);
    // Loads the zone's rules now, at configuration time, and proves they can be read.
    (void)z.zone_->get_info(date::sys_seconds{});
  } catch (const std::exception& e) {
    error = "unknown time zone '" + std::string(name) +
            "': use an IANA name such as Europe/Berlin or an offset such as +01:00 (system "
            "time-zone database: " +
            e.what() + ")";
    return std::nullopt;
  }
  return z;
}

std::int32_t local_zone::offset_at_local(std::int64_t local_seconds) noexcept {
  if (zone_ == nullptr) return fixed_;
  if (local_seconds >= cached_from_ && local_seconds < cached_to_) return cached_offset_;
  return lookup(local_seconds);
}

timestamp_us local_zone::to_utc(timestamp_us local) noexcept {
  const std::int64_t secs =
      local >= 0 ? local / us_per_second : -((-local + us_per_second - 1) / us_per_second);
  return local - static_cast<timestamp_us>(offset_at_local(secs)) * us_per_second;
}

std::int32_t local_zone::lookup(std::int64_t local_seconds) noexcept {
  using std::chrono::seconds;
  try {
    const auto info = zone_->get_info(date::local_seconds{seconds{local_seconds}});
    const auto off = static_cast<std::int32_t>(info.first.offset.count());
    if (info.result != date::local_info::unique) return off;
    // The wall-clock times that belong to this interval alone: its own local range, less
    // what overlaps the neighbours' (a repeated hour) at either end.
    const std::int64_t begin = info.first.begin.time_since_epoch().count();
    const std::int64_t end = info.first.end.time_since_epoch().count();
    std::int64_t from = begin + off, to = end + off;
    if (begin > -open_bound) {
      const auto prev = zone_->get_info(date::sys_seconds{seconds{begin - 1}}).offset.count();
      from = begin + std::max<std::int64_t>(off, prev);
    }
    if (end < open_bound) {
      const auto next = zone_->get_info(date::sys_seconds{seconds{end}}).offset.count();
      to = end + std::min<std::int64_t>(off, next);
    }
    if (from <= local_seconds && local_seconds < to) {
      cached_from_ = from;
      cached_to_ = to;
      cached_offset_ = off;
    }
    return off;
  } catch (...) {
    // The rules were read at find(); nothing here allocates or reads files any more.
    return cached_offset_;
  }
}

}  // namespace portscand
