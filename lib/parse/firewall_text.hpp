#pragma once

// Helpers shared by the plain-text firewall formats (fortigate, panos, checkpoint, meraki):
// bounded scanning of views into the unit, no allocation, no exceptions.

#include <cstdint>
#include <cstring>
#include <optional>
#include <string_view>

#include "core/time.hpp"

namespace portscand::fwtext {

inline bool is_digit(char c) noexcept {
  return c >= '0' && c <= '9';
}

inline bool is_space(char c) noexcept {
  return c == ' ' || c == '\t';
}

// Drops a leading syslog PRI ("<134>") and the blanks after it: several vendors send
// "<PRI>body" without any other header, which a header parser may leave in place.
inline std::string_view strip_pri(std::string_view s) noexcept {
  if (s.size() >= 3 && s[0] == '<') {
    std::size_t i = 1;
    while (i < s.size() && i <= 4 && is_digit(s[i])) ++i;
    if (i > 1 && i < s.size() && s[i] == '>') s.remove_prefix(i + 1);
  }
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  return s;
}

inline bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

// A UTC offset in seconds from "+0100", "-05:00", "+1", "-5:30", optionally prefixed by
// "UTC"/"GMT" ("UTC-5:00", FortiOS's older spelling); "Z", "UTC", "GMT" are 0.
inline std::optional<std::int64_t> parse_utc_offset(std::string_view s) noexcept {
  if (s.size() >= 3 && (iequals(s.substr(0, 3), "utc") || iequals(s.substr(0, 3), "gmt")))
    s.remove_prefix(3);
  if (s.empty() || s == "Z" || s == "z") return 0;
  const char sign = s[0];
  if (sign != '+' && sign != '-') return std::nullopt;
  s.remove_prefix(1);
  unsigned h = 0, m = 0;
  std::size_t i = 0;
  while (i < s.size() && i < 2 && is_digit(s[i])) h = h * 10 + static_cast<unsigned>(s[i++] - '0');
  if (i == 0) return std::nullopt;
  const bool colon = i < s.size() && s[i] == ':';
  if (colon) ++i;
  const std::size_t mstart = i;
  while (i < s.size() && i - mstart < 2 && is_digit(s[i]))
    m = m * 10 + static_cast<unsigned>(s[i++] - '0');
  const std::size_t mdigits = i - mstart;
  if (i != s.size() || (mdigits != 0 && mdigits != 2) || (colon && mdigits == 0) || h > 23 ||
      m > 59)
    return std::nullopt;
  const std::int64_t secs = static_cast<std::int64_t>(h) * 3600 + m * 60;
  return sign == '-' ? -secs : secs;
}

// A civil date "YYYY-MM-DD" or "YYYY/MM/DD" and a time "hh:mm:ss[.fraction]" at
// `offset_s` seconds east of UTC.
inline std::optional<timestamp_us> civil_to_us(std::string_view date, std::string_view time,
                                               std::int64_t offset_s) noexcept {
  if (date.size() != 10 || time.size() < 8 || time.size() > 18) return std::nullopt;
  if (!((date[4] == '-' && date[7] == '-') || (date[4] == '/' && date[7] == '/')))
    return std::nullopt;
  char buf[32];
  std::size_t n = 0;
  for (char c : date) buf[n++] = c == '/' ? '-' : c;
  buf[n++] = 'T';
  for (char c : time) buf[n++] = c;
  buf[n++] = 'Z';
  const auto t = parse_iso8601(std::string_view(buf, n));
  if (!t) return std::nullopt;
  return *t - offset_s * us_per_second;
}

// True when s[pos..pos+19) reads "dddd/dd/dd dd:dd:dd" (PAN-OS's time layout).
inline bool is_slash_datetime(std::string_view s, std::size_t pos) noexcept {
  static constexpr std::string_view shape = "dddd/dd/dd dd:dd:dd";
  if (pos > s.size() || s.size() - pos < shape.size()) return false;
  for (std::size_t i = 0; i < shape.size(); ++i) {
    const char c = s[pos + i];
    if (shape[i] == 'd' ? !is_digit(c) : c != shape[i]) return false;
  }
  return true;
}

// The index of the quote that closes a quoted value starting at `from` (just after the
// opening quote): the first '"' not escaped by an odd run of backslashes. npos when the
// value is not closed. memchr-based: values are most of a record's bytes.
inline std::size_t find_closing_quote(std::string_view s, std::size_t from) noexcept {
  std::size_t pos = from;
  while (pos < s.size()) {
    const void* hit = std::memchr(s.data() + pos, '"', s.size() - pos);
    if (hit == nullptr) return std::string_view::npos;
    const auto q = static_cast<std::size_t>(static_cast<const char*>(hit) - s.data());
    std::size_t backslashes = 0;
    while (q - backslashes > from && s[q - backslashes - 1] == '\\') ++backslashes;
    if (backslashes % 2 == 0) return q;
    pos = q + 1;
  }
  return std::string_view::npos;
}

// One key=value pair of a blank-separated list.
struct kv_pair {
  std::string_view key;
  std::string_view value;
  bool terminated = true;  // false: a quoted value ran to the end of the text
};

// Walks `key=value` / `key="quoted value"` pairs separated by blanks (FortiOS, Meraki).
// Tokens without '=' (a syslog header left in front, free text) are stepped over. Inside
// quotes a backslash escapes the next byte; the value view keeps the escapes.
class kv_scanner {
 public:
  explicit kv_scanner(std::string_view text) noexcept : s_(text) {}

  bool next(kv_pair& out) noexcept {
    while (pos_ < s_.size()) {
      while (pos_ < s_.size() && is_space(s_[pos_])) ++pos_;
      const std::size_t key_start = pos_;
      while (pos_ < s_.size() && !is_space(s_[pos_]) && s_[pos_] != '=') ++pos_;
      if (pos_ >= s_.size()) return false;
      if (s_[pos_] != '=') continue;  // a bare word: not a pair
      out.key = s_.substr(key_start, pos_ - key_start);
      ++pos_;
      out.terminated = true;
      if (pos_ < s_.size() && s_[pos_] == '"') {
        const std::size_t v = ++pos_;
        pos_ = find_closing_quote(s_, v);
        if (pos_ == std::string_view::npos) {
          out.value = s_.substr(v);
          out.terminated = false;
          pos_ = s_.size();
        } else {
          out.value = s_.substr(v, pos_ - v);
          ++pos_;
        }
      } else {
        const std::size_t v = pos_;
        while (pos_ < s_.size() && !is_space(s_[pos_])) ++pos_;
        out.value = s_.substr(v, pos_ - v);
      }
      return true;
    }
    return false;
  }

  // What follows the last pair read.
  std::string_view rest() const noexcept { return s_.substr(pos_ < s_.size() ? pos_ : s_.size()); }

 private:
  std::string_view s_;
  std::size_t pos_ = 0;
};

}  // namespace portscand::fwtext
