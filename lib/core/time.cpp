#include "core/time.hpp"

#include <cstring>

namespace portscand {
namespace {

bool digits(std::string_view s, std::size_t pos, std::size_t n, unsigned& out) noexcept {
  if (pos + n > s.size()) return false;
  unsigned v = 0;
  for (std::size_t i = pos; i < pos + n; ++i) {
    const char c = s[i];
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<unsigned>(c - '0');
  }
  out = v;
  return true;
}

constexpr bool is_leap(std::int64_t y) noexcept {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

unsigned days_in_month(std::int64_t y, unsigned m) noexcept {
  static constexpr unsigned days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

}  // namespace

civil_time to_civil(timestamp_us t) noexcept {
  const timestamp_us day_us = 86400 * us_per_second;
  std::int64_t z = floor_to(t, day_us) / day_us;
  timestamp_us rem = t - z * day_us;
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  civil_time c{};
  c.day = doy - (153 * mp + 2) / 5 + 1;
  c.month = mp < 10 ? mp + 3 : mp - 9;
  c.year = static_cast<std::int64_t>(yoe) + era * 400 + (c.month <= 2);
  c.hour = static_cast<unsigned>(rem / (3600 * us_per_second));
  rem %= 3600 * us_per_second;
  c.minute = static_cast<unsigned>(rem / us_per_minute);
  rem %= us_per_minute;
  c.second = static_cast<unsigned>(rem / us_per_second);
  c.micros = static_cast<unsigned>(rem % us_per_second);
  return c;
}

namespace {
// The days since the epoch of a validated "YYYY-MM-DD" prefix, or nullopt. The last answer
// is kept per thread: consecutive records almost always share their date.
std::optional<std::int64_t> date_days(std::string_view s) noexcept {
  struct memo {
    char text[10];
    std::int64_t days;
    bool valid;
  };
  thread_local memo last{{}, 0, false};
  if (last.valid && std::memcmp(s.data(), last.text, 10) == 0) return last.days;
  unsigned y, mo, d;
  if (!digits(s, 0, 4, y) || s[4] != '-' || !digits(s, 5, 2, mo) || s[7] != '-' ||
      !digits(s, 8, 2, d))
    return std::nullopt;
  if (y < 1000 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo)) return std::nullopt;
  const std::int64_t days = days_from_civil(y, mo, d);
  std::memcpy(last.text, s.data(), 10);
  last.days = days;
  last.valid = true;
  return days;
}
}  // namespace

bool iso8601_has_zone(std::string_view text) noexcept {
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  if (text.empty()) return false;
  if (text.back() == 'Z' || text.back() == 'z') return true;
  // An offset's sign comes after the date (whose own '-' are at 4 and 7).
  return text.size() > 10 && text.find_first_of("+-", 10) != std::string_view::npos;
}

std::optional<timestamp_us> parse_iso8601(std::string_view s) noexcept {
  if (s.size() < 16) return std::nullopt;
  const auto days = date_days(s);
  unsigned h, mi, sec = 0;
  if (!days || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || !digits(s, 11, 2, h) ||
      s[13] != ':' || !digits(s, 14, 2, mi))
    return std::nullopt;
  std::size_t pos = 16;
  if (pos < s.size() && s[pos] == ':') {
    if (!digits(s, pos + 1, 2, sec)) return std::nullopt;
    pos += 3;
  }
  unsigned micros = 0;
  if (pos < s.size() && (s[pos] == '.' || s[pos] == ',')) {
    ++pos;
    std::size_t n = 0;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      if (n < 6) micros = micros * 10 + static_cast<unsigned>(s[pos] - '0');
      ++n;
      ++pos;
    }
    if (n == 0) return std::nullopt;
    for (std::size_t i = n; i < 6; ++i) micros *= 10;
  }
  std::int64_t offset_s = 0;
  if (pos < s.size()) {
    const char z = s[pos];
    if (z == 'Z' || z == 'z') {
      ++pos;
    } else if (z == '+' || z == '-') {
      unsigned oh, om = 0;
      if (!digits(s, pos + 1, 2, oh)) return std::nullopt;
      pos += 3;
      if (pos < s.size() && s[pos] == ':') ++pos;
      if (pos < s.size()) {
        if (!digits(s, pos, 2, om)) return std::nullopt;
        pos += 2;
      }
      if (oh > 23 || om > 59) return std::nullopt;
      offset_s = (static_cast<std::int64_t>(oh) * 3600 + om * 60) * (z == '-' ? -1 : 1);
    }
  }
  if (pos != s.size()) return std::nullopt;
  if (h > 23 || mi > 59 || sec > 60) return std::nullopt;
  if (sec == 60) sec = 59;  // a leap second sorts into the minute it ends
  const std::int64_t secs = *days * 86400 + h * 3600 + mi * 60 + sec - offset_s;
  return secs * us_per_second + micros;
}

std::size_t format_iso8601(timestamp_us t, char* out) noexcept {
  const civil_time c = to_civil(t);
  auto put = [&out](unsigned v, int width) {
    for (int i = width - 1; i >= 0; --i) {
      out[i] = static_cast<char>('0' + v % 10);
      v /= 10;
    }
    out += width;
  };
  char* const start = out;
  if (c.year < 0 || c.year > 9999) {  // outside ISO's 4 digits: clamp, never overflow the buffer
    std::memcpy(out, c.year < 0 ? "0000-01-01T00:00:00Z" : "9999-12-31T23:59:59Z", 20);
    return 20;
  }
  put(static_cast<unsigned>(c.year), 4);
  *out++ = '-';
  put(c.month, 2);
  *out++ = '-';
  put(c.day, 2);
  *out++ = 'T';
  put(c.hour, 2);
  *out++ = ':';
  put(c.minute, 2);
  *out++ = ':';
  put(c.second, 2);
  if (c.micros != 0) {
    *out++ = '.';
    put(c.micros, 6);
  }
  *out++ = 'Z';
  return static_cast<std::size_t>(out - start);
}

std::string format_iso8601(timestamp_us t) {
  char buf[32];
  return std::string(buf, format_iso8601(t, buf));
}

std::optional<timestamp_us> parse_duration(std::string_view s) noexcept {
  std::size_t i = 0;
  std::int64_t n = 0;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
    n = n * 10 + (s[i] - '0');
    if (n > 1'000'000'000) return std::nullopt;
    ++i;
  }
  if (i == 0) return std::nullopt;
  const std::string_view unit = s.substr(i);
  timestamp_us mult;
  if (unit == "ms")
    mult = 1000;
  else if (unit == "s")
    mult = us_per_second;
  else if (unit == "m")
    mult = us_per_minute;
  else if (unit == "h")
    mult = 60 * us_per_minute;
  else if (unit == "d")
    mult = 24 * 60 * us_per_minute;
  else
    return std::nullopt;
  return n * mult;
}

std::string format_duration(timestamp_us d) {
  struct unit {
    timestamp_us us;
    const char* name;
  };
  static constexpr unit units[] = {{24 * 60 * us_per_minute, "d"},
                                   {60 * us_per_minute, "h"},
                                   {us_per_minute, "m"},
                                   {us_per_second, "s"},
                                   {1000, "ms"}};
  for (const auto& u : units)
    if (d != 0 && d % u.us == 0) return std::to_string(d / u.us) + u.name;
  return std::to_string(d / 1000) + "ms";
}

}  // namespace portscand
