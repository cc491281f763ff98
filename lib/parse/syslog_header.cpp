#include "parse/syslog_header.hpp"

#include <array>

namespace portscand {
namespace {

constexpr timestamp_us us_per_day = 86400 * us_per_second;

constexpr bool is_digit(char c) noexcept {
  return c >= '0' && c <= '9';
}
constexpr bool is_alpha(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
constexpr bool is_alnum(char c) noexcept {
  return is_digit(c) || is_alpha(c);
}
constexpr char lower(char c) noexcept {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c;
}

// The byte at i, or NUL past the end: keeps every lookahead in bounds without a size check.
constexpr char at(std::string_view s, std::size_t i) noexcept {
  return i < s.size() ? s[i] : '\0';
}

bool two_digits(std::string_view s, std::size_t p, unsigned& out) noexcept {
  if (!is_digit(at(s, p)) || !is_digit(at(s, p + 1))) return false;
  out = static_cast<unsigned>((s[p] - '0') * 10 + (s[p + 1] - '0'));
  return true;
}

constexpr bool is_leap(std::int64_t y) noexcept {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

unsigned days_in_month(std::int64_t y, unsigned m) noexcept {
  static constexpr unsigned days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

// "Jan".."Dec" in any letter case -> 1..12; 0 otherwise.
unsigned month_index(std::string_view s) noexcept {
  static constexpr std::array<std::string_view, 12> names = {
      "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"};
  if (s.size() < 3) return 0;
  const char a = lower(s[0]), b = lower(s[1]), c = lower(s[2]);
  for (unsigned i = 0; i < names.size(); ++i)
    if (names[i][0] == a && names[i][1] == b && names[i][2] == c) return i + 1;
  return 0;
}

std::size_t skip_spaces(std::string_view s, std::size_t p) noexcept {
  while (p < s.size() && s[p] == ' ') ++p;
  return p;
}

std::size_t token_end(std::string_view s, std::size_t p) noexcept {
  while (p < s.size() && s[p] != ' ') ++p;
  return p;
}

// RFC 3164 says a TAG is alphanumeric; real senders also use - _ . / and append "[pid]".
// '%' is deliberately not a tag character: "%ASA-6-302013:" is the message, not a tag.
bool tag_name(std::string_view t, std::string_view& name) noexcept {
  if (t.empty() || t.size() > 64) return false;
  std::size_t end = t.size();
  const std::size_t bracket = t.find('[');
  if (bracket != std::string_view::npos) {
    if (t.back() != ']' || bracket == 0) return false;
    for (std::size_t i = bracket + 1; i + 1 < t.size(); ++i)
      if (t[i] == '[' || t[i] == ']') return false;
    end = bracket;
  }
  for (std::size_t i = 0; i < end; ++i) {
    const char c = t[i];
    if (!is_alnum(c) && c != '-' && c != '_' && c != '.' && c != '/') return false;
  }
  name = t.substr(0, end);
  return true;
}

// A HOSTNAME: a DNS name, an IPv4 or IPv6 address. Anything with '=', '|', ',', quotes or
// brackets is the start of a message (key=value, CEF, CSV, JSON), not a host.
bool host_like(std::string_view t) noexcept {
  if (t.empty() || t.size() > 255) return false;
  for (char c : t)
    if (!is_alnum(c) && c != '.' && c != '-' && c != '_' && c != ':') return false;
  return true;
}

bool iso_date_ahead(std::string_view s, std::size_t p) noexcept {
  for (std::size_t i = 0; i < 4; ++i)
    if (!is_digit(at(s, p + i))) return false;
  return at(s, p + 4) == '-' && is_digit(at(s, p + 5)) && is_digit(at(s, p + 6)) &&
         at(s, p + 7) == '-' && is_digit(at(s, p + 8)) && is_digit(at(s, p + 9)) &&
         (at(s, p + 10) == 'T' || at(s, p + 10) == 't');
}

// Where a BSD time starts: Cisco IOS marks an unsynchronised clock with '*' and a lost NTP
// sync with '.' in front of it.
std::size_t time_start(std::string_view s, std::size_t p) noexcept {
  return (at(s, p) == '*' || at(s, p) == '.') && is_alpha(at(s, p + 1)) ? p + 1 : p;
}

std::string_view strip_line_end(std::string_view s) noexcept {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// SD-NAME (RFC 5424 section 6.3.2): 1-32 printable US-ASCII bytes except '=', ' ', ']', '"'.
std::size_t sd_name_length(std::string_view s, std::size_t p) noexcept {
  std::size_t n = 0;
  while (n <= 32) {
    const char c = at(s, p + n);
    if (c < 33 || c > 126 || c == '=' || c == ']' || c == '"') break;
    ++n;
  }
  return n <= 32 ? n : 0;
}

// The RFC 5424 part after "<PRI>VERSION ": TIMESTAMP HOSTNAME APP-NAME PROCID MSGID SD [MSG].
void parse_5424(std::string_view s, std::size_t p, syslog_header& out, local_zone* zone) noexcept {
  const std::size_t ts_end = token_end(s, p);
  const std::string_view ts = s.substr(p, ts_end - p);
  if (ts != "-" && !iso_date_ahead(s, p)) {
    // Not a 5424 timestamp: Cisco Meraki sends "<134>1 <epoch> <device> <logtype> ...". The
    // payload after the version is what Sentinel stores as the message and what the Meraki
    // format reads, so it becomes the body.
    out.body = s.substr(p);
    return;
  }
  // A malformed time (Check Point's "2023-01-13T10:10:16--5:00") still ends the token: the
  // rest of the header is fine and the record falls back to its own or the receive time.
  if (ts != "-")
    if (auto t = syslog_time::read_iso8601(ts, zone)) out.time = *t;
  std::string_view fields[4];  // HOSTNAME APP-NAME PROCID MSGID
  p = ts_end;
  for (auto& f : fields) {
    if (at(s, p) != ' ') {
      out.body = {};
      return;
    }
    ++p;
    const std::size_t e = token_end(s, p);
    f = s.substr(p, e - p);
    p = e;
  }
  out.host = fields[0] == "-" ? std::string_view{} : fields[0];
  out.app = fields[1] == "-" ? std::string_view{} : fields[1];
  if (at(s, p) != ' ') {
    out.body = {};
    return;
  }
  ++p;
  if (at(s, p) == '-' && (p + 1 == s.size() || s[p + 1] == ' ')) {
    p = p + 1 < s.size() ? p + 2 : p + 1;
  } else if (at(s, p) == '[') {
    // SD elements, then SP MSG or the end. What is not well-formed structured data (Check
    // Point's "[action:"Drop"; ...]" pairs) stays in the body: for that source it is the record.
    const std::size_t n = structured_data_length(s.substr(p));
    if (n > 0 && (p + n == s.size() || s[p + n] == ' ')) {
      out.structured_data = s.substr(p, n);
      const std::size_t msg = p + n < s.size() ? p + n + 1 : p + n;
      // No MSG: the elements are the record (Check Point's "[Fields@2620 ...]"), so the format
      // gets them as its body too.
      if (s.find_first_not_of(' ', msg) != std::string_view::npos) p = msg;
    }
  }
  std::string_view body = s.substr(p);
  if (body.size() >= 3 && body.substr(0, 3) == "\xEF\xBB\xBF") body.remove_prefix(3);  // BOM
  out.body = body;
}

// Host and tag after a BSD timestamp, starting at p. Sets host/app and the body.
void parse_3164_rest(std::string_view s, std::size_t p, syslog_header& out) noexcept {
  p = skip_spaces(s, p);
  if (at(s, p) == '%') {  // "<PRI>Mmm dd hh:mm:ss %ASA-...": Cisco without a device id
    out.body = s.substr(p);
    return;
  }
  std::size_t e = token_end(s, p);
  std::string_view tok = s.substr(p, e - p);
  if (tok == ":") {  // "Aug 15 2012 23:30:09 : %ASA-...": an empty Cisco device id
    out.body = s.substr(skip_spaces(s, e));
    return;
  }
  if (tok.size() > 1 && tok.back() == ':') {
    const std::string_view name = tok.substr(0, tok.size() - 1);
    const std::size_t next = skip_spaces(s, e);
    if (at(s, next) == '%') {  // Cisco "<device-id>: %ASA-...", device id may be anything
      out.host = name;
      out.body = s.substr(next);
      return;
    }
    std::string_view app;
    if (tag_name(name, app)) {  // no hostname, "TAG: msg" ("Jan  8 03:37:09 DENY: IN=...")
      out.app = app;
      out.body = s.substr(next);
      return;
    }
  }
  if (!host_like(tok)) {  // no hostname: the message starts right after the time
    out.body = s.substr(p);
    return;
  }
  out.host = tok;
  p = skip_spaces(s, e);
  e = token_end(s, p);
  tok = s.substr(p, e - p);
  if (tok == ":") {  // Cisco "HOST : %ASA-..."
    out.body = s.substr(skip_spaces(s, e));
    return;
  }
  std::string_view app;
  if (tok.size() > 1 && tok.back() == ':' && tag_name(tok.substr(0, tok.size() - 1), app)) {
    out.app = app;
    out.body = s.substr(skip_spaces(s, e));
    return;
  }
  out.body = s.substr(p);
}

}  // namespace

namespace syslog_time {

constexpr auto npos_ = std::string_view::npos;

std::size_t parse_legacy(std::string_view s, legacy_fields& f) noexcept {
  const unsigned month = month_index(s);
  if (month == 0 || at(s, 3) != ' ') return 0;
  std::size_t p = 4;
  unsigned day = 0;
  if (s.size() > p && s[p] == ' ') ++p;  // "Mmm  d": the day is space-padded
  if (!is_digit(at(s, p))) return 0;
  day = static_cast<unsigned>(s[p++] - '0');
  if (is_digit(at(s, p))) day = day * 10 + static_cast<unsigned>(s[p++] - '0');
  if (at(s, p) != ' ') return 0;
  ++p;
  std::int64_t year = -1;
  if (is_digit(at(s, p)) && is_digit(at(s, p + 1)) && is_digit(at(s, p + 2)) &&
      is_digit(at(s, p + 3)) && at(s, p + 4) == ' ') {  // Cisco "Mmm dd yyyy hh:mm:ss"
    year = (s[p] - '0') * 1000 + (s[p + 1] - '0') * 100 + (s[p + 2] - '0') * 10 + (s[p + 3] - '0');
    p += 5;
  }
  unsigned h, mi, sec;
  if (!two_digits(s, p, h) || at(s, p + 2) != ':' || !two_digits(s, p + 3, mi) ||
      at(s, p + 5) != ':' || !two_digits(s, p + 6, sec))
    return 0;
  p += 8;
  unsigned micros = 0;
  if (at(s, p) == '.' && is_digit(at(s, p + 1))) {  // Cisco IOS "service timestamps ... msec"
    ++p;
    std::size_t n = 0;
    while (is_digit(at(s, p))) {
      if (n < 6) micros = micros * 10 + static_cast<unsigned>(s[p] - '0');
      ++n;
      ++p;
    }
    for (; n < 6; ++n) micros *= 10;
  }
  if (day < 1 || day > 31 || h > 23 || mi > 59 || sec > 60) return 0;
  if (is_alnum(at(s, p))) return 0;  // "Jan 01 10:00:0012" is not a time followed by text
  f = legacy_fields{year, month, day, h, mi, sec, micros};
  return p;
}

namespace {

// `offset_of(local seconds)`: the zone's offset at that wall-clock time.
template <class OffsetOf>
std::optional<timestamp_us> resolve_in(const legacy_fields& f, OffsetOf&& offset_of,
                                       timestamp_us receive_time) noexcept {
  if (f.month < 1 || f.month > 12 || f.day < 1) return std::nullopt;
  const unsigned sec = f.second == 60 ? 59 : f.second;  // a leap second sorts into its minute
  auto at_year = [&](std::int64_t y) {
    const std::int64_t local =
        days_from_civil(y, f.month, f.day) * 86400 + f.hour * 3600 + f.minute * 60 + sec;
    return (local - offset_of(local)) * us_per_second + f.micros;
  };
  if (f.year >= 0) {
    if (f.year < 1000 || f.year > 9999 || f.day > days_in_month(f.year, f.month))
      return std::nullopt;
    return at_year(f.year);
  }
  if (receive_time <= 0) return std::nullopt;
  // Year-less: the latest year that does not put the time more than a day after receipt.
  // Walking back up to 8 years finds a leap year for "Feb 29".
  const std::int64_t ry = to_civil(receive_time).year;
  for (std::int64_t y = ry + 1; y >= ry - 8; --y) {
    if (f.day > days_in_month(y, f.month)) continue;
    const timestamp_us t = at_year(y);
    if (t <= receive_time + us_per_day) return t;
  }
  return std::nullopt;
}

}  // namespace

std::optional<timestamp_us> resolve(const legacy_fields& f, std::int32_t offset_seconds,
                                    timestamp_us receive_time) noexcept {
  return resolve_in(
      f, [offset_seconds](std::int64_t) { return offset_seconds; }, receive_time);
}

std::optional<timestamp_us> resolve(const legacy_fields& f, local_zone* zone,
                                    timestamp_us receive_time) noexcept {
  if (zone == nullptr) return resolve(f, std::int32_t{0}, receive_time);
  return resolve_in(
      f, [zone](std::int64_t local) { return zone->offset_at_local(local); }, receive_time);
}

std::optional<timestamp_us> read_iso8601(std::string_view text, local_zone* zone) noexcept {
  auto t = parse_iso8601(text);
  if (!t || zone == nullptr) return t;
  // An offset or Z after the time part ("2021-03-12T14:10:18-05:00"); none: a wall-clock time.
  const bool has_offset = text.size() > 11 && (text.back() == 'Z' || text.back() == 'z' ||
                                               text.find_first_of("+-", 11) != npos_);
  return has_offset ? t : std::optional<timestamp_us>(zone->to_utc(*t));
}

std::optional<std::int32_t> zone_offset(std::string_view z) noexcept {
  struct zone {
    std::string_view name;
    std::int32_t minutes;
  };
  // Abbreviations with one common reading. CST is read as US Central (Cisco configurations
  // and docs use the US zones); IST and BST have several readings and are left out.
  static constexpr zone zones[] = {
      {"UTC", 0},    {"GMT", 0},    {"UT", 0},     {"Z", 0},       {"WET", 0},     {"WEST", 60},
      {"CET", 60},   {"CEST", 120}, {"MET", 60},   {"MEST", 120},  {"EET", 120},   {"EEST", 180},
      {"MSK", 180},  {"EST", -300}, {"EDT", -240}, {"CST", -360},  {"CDT", -300},  {"MST", -420},
      {"MDT", -360}, {"PST", -480}, {"PDT", -420}, {"AKST", -540}, {"AKDT", -480}, {"HST", -600},
      {"JST", 540},  {"KST", 540},  {"HKT", 480},  {"SGT", 480},   {"AWST", 480},  {"ACST", 570},
      {"ACDT", 630}, {"AEST", 600}, {"AEDT", 660}, {"NZST", 720},  {"NZDT", 780},
  };
  for (const auto& e : zones)
    if (e.name == z) return e.minutes * 60;
  return std::nullopt;
}

}  // namespace syslog_time

std::size_t structured_data_length(std::string_view s) noexcept {
  // SD-ELEMENT = "[" SD-ID *(SP SD-PARAM) "]"; SD-PARAM = PARAM-NAME "=" DQUOTE PARAM-VALUE
  // DQUOTE. A backslash takes the next byte into the value whatever it is ('"', '\\', ']' are
  // the escapes; before anything else the backslash is a literal and so is the byte).
  std::size_t p = 0;
  while (at(s, p) == '[') {
    std::size_t n = sd_name_length(s, p + 1);
    if (n == 0) return 0;
    p += 1 + n;
    for (;;) {
      while (at(s, p) == ' ' && at(s, p + 1) == ' ') ++p;
      if (at(s, p) != ' ') break;
      if (at(s, p + 1) == ']') {  // Check Point writes a blank before the closing bracket
        ++p;
        break;
      }
      n = sd_name_length(s, p + 1);
      if (n == 0 || at(s, p + 1 + n) != '=' || at(s, p + 2 + n) != '"') return 0;
      p += 3 + n;
      for (;;) {
        if (p >= s.size()) return 0;
        if (s[p] == '\\') {
          p += 2;
          continue;
        }
        if (s[p] == '"') break;
        ++p;
      }
      ++p;  // the closing quote
    }
    if (at(s, p) != ']') return 0;
    ++p;
  }
  return p;
}

bool parse_syslog_header(std::string_view unit, timestamp_us receive_time, syslog_header& out,
                         local_zone* zone) noexcept {
  out = syslog_header{};
  const std::string_view s = strip_line_end(unit);
  out.body = s;
  std::size_t p = 0;

  // <PRI>: 1-3 digits, 0..191.
  bool have_pri = false;
  if (at(s, 0) == '<' && is_digit(at(s, 1))) {
    std::size_t i = 1;
    int v = 0;
    while (i <= 3 && is_digit(at(s, i))) v = v * 10 + (s[i++] - '0');
    if (at(s, i) == '>' && v <= 191) {
      have_pri = true;
      out.pri = v;
      p = i + 1;
    }
  }

  if (have_pri && is_digit(at(s, p))) {
    // RFC 5424: VERSION (1-3 digits) then SP. "<6>2021-03-12T..." (a digit run ending in '-')
    // is an RFC 3164 header with an ISO time, handled below.
    std::size_t v = p;
    while (v < p + 3 && is_digit(at(s, v))) ++v;
    if (at(s, v) == ' ' && s[p] != '0') {
      parse_5424(s, v + 1, out, zone);
      return true;
    }
  }

  if (have_pri) {
    // Cisco: "<166>:Jan 13 ..." and IOS sequence numbers "<189>123: Mar  1 ...".
    std::size_t q = p;
    while (q < p + 10 && is_digit(at(s, q))) ++q;
    if (q > p && at(s, q) == ':' && at(s, q + 1) == ' ') p = q + 1;
    if (at(s, p) == ':') ++p;
    p = skip_spaces(s, p);
  }
  std::size_t tp = time_start(s, p);
  syslog_time::legacy_fields f;
  std::size_t n = syslog_time::parse_legacy(s.substr(tp), f);
  std::string_view origin_id;
  if (n == 0 && have_pri) {
    // Cisco IOS "logging origin-id": "<190>123: router1: Jan 02 2006 22:04:05: %SYS-...", the
    // device id (a name, an IPv4 or IPv6 address) before the time.
    const std::size_t e = token_end(s, p);
    if (e - p > 1 && s[e - 1] == ':') {
      const std::size_t q = time_start(s, skip_spaces(s, e));
      if (const std::size_t m = syslog_time::parse_legacy(s.substr(q), f); m > 0) {
        origin_id = s.substr(p, e - p - 1);
        tp = q;
        n = m;
      }
    }
  }
  if (n > 0) {
    std::size_t r = tp + n;
    if (at(s, r) == ':') ++r;  // "Apr 15 2013 09:36:50: %ASA-..."
    // An optional zone after the time ("Apr 15 2014 09:34:34 EDT: %ASA-...").
    const std::size_t zs = skip_spaces(s, r);
    const std::size_t ze = token_end(s, zs);
    std::string_view abbreviation = s.substr(zs, ze - zs);
    if (!abbreviation.empty() && abbreviation.back() == ':') abbreviation.remove_suffix(1);
    std::optional<timestamp_us> t;
    if (auto z = syslog_time::zone_offset(abbreviation); z && !abbreviation.empty()) {
      t = syslog_time::resolve(f, *z, receive_time);
      r = ze;
    } else {
      t = syslog_time::resolve(f, zone, receive_time);  // the input's zone (default UTC)
    }
    if (t) out.time = *t;
    parse_3164_rest(s, r, out);
    if (out.host.empty()) out.host = origin_id;
    return true;
  }
  if (iso_date_ahead(s, tp)) {
    // RFC 3164 carrying an RFC 3339 time (rsyslog's file format, many appliances).
    const std::size_t e = token_end(s, tp);
    std::string_view ts = s.substr(tp, e - tp);
    if (!ts.empty() && ts.back() == ':') ts.remove_suffix(1);
    if (auto t = syslog_time::read_iso8601(ts, zone)) out.time = *t;
    parse_3164_rest(s, e, out);
    return true;
  }
  if (!have_pri) return false;

  // <PRI> without a timestamp (FortiGate "<189>date=...", ASA without "logging timestamp").
  out.body = s.substr(p);
  const std::size_t e = token_end(s, p);
  const std::string_view tok = s.substr(p, e - p);
  const std::size_t next = skip_spaces(s, e);
  if (tok.size() > 1 && tok.back() == ':' && at(s, next) == '%') {  // "<166>fw01: %ASA-..."
    out.host = tok.substr(0, tok.size() - 1);
    out.body = s.substr(next);
  } else if (host_like(tok) && at(s, next) == ':' && at(s, skip_spaces(s, next + 1)) == '%') {
    out.host = tok;  // "<166>fw01 : %ASA-..."
    out.body = s.substr(skip_spaces(s, next + 1));
  }
  return true;
}

}  // namespace portscand
