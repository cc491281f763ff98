// gen_workload — a deterministic ASIM NetworkSession NDJSON workload for the replay oracle
// test and the end-to-end benchmark.
//
// Background noise (many sources, each using 1..5 ports) is interleaved in time order with
// planted scans whose expected outcome is written down here, by hand, per case (not
// computed by a classifier that could share a bug with the daemon). The background alerts
// only where many of its sources share one address: 127.0.0.2, a candidate by the rule,
// can gather more than 50 ports in a bin in large workloads.
// A manifest (--manifest FILE) lists every planted (source, bin) with its exact figures and
// the count of deliberately malformed lines by reason, so the test can tell a broken oracle
// from a broken daemon.
//
// Port sweeps (--sweeps W; more than 50 destination addresses for one source and port in a
// bin): named cases and W random sweepers, listed in the manifest's sweep_cases. Nothing
// else is meant to sweep, but two things can by chance: the planted scans send each record
// to a random 198.18/16 address, so a case with ~40 records per port (dup_heavy50,
// 203.0.113.93) passes 50 destinations on a few ports; and a background source has at most
// 4 destinations, but the background sources that share 127.0.0.2 could add up (none did in
// 2,000,000 events from 100,000 sources). Both are keys like any other for the oracle and
// the daemon; check_planted only holds the planted sweeps to their figures.
//
// Deliberately independent of lib/: its own time and IPv6 formatting, so a formatting bug in
// the daemon cannot be mirrored in its input. Same arguments → same bytes, on any platform:
// splitmix64 and integer arithmetic only (std:: distributions are implementation-defined).

#include <algorithm>
#include <array>
#include <charconv>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace {

using usec = std::int64_t;
__extension__ using u128 = unsigned __int128;  // GCC/Clang: exact 64x64 products
constexpr usec us_per_s = 1'000'000;
constexpr usec bin_width = 300 * us_per_s;

// ---------------------------------------------------------------------------------------
// Randomness

class splitmix64 {
 public:
  explicit splitmix64(std::uint64_t seed) : state_(seed) {}

  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  // Uniform in [0, n) by multiply-shift (Lemire); the tiny bias is irrelevant here and,
  // unlike std::uniform_int_distribution, the result is the same on every platform.
  std::uint64_t below(std::uint64_t n) {
    return static_cast<std::uint64_t>((static_cast<u128>(next()) * n) >> 64);
  }
  std::int64_t between(std::int64_t lo, std::int64_t hi) {  // inclusive
    return lo + static_cast<std::int64_t>(below(static_cast<std::uint64_t>(hi - lo + 1)));
  }
  bool per_mille(unsigned p) { return below(1000) < p; }

 private:
  std::uint64_t state_;
};

// A generator for item `index` that does not depend on how many draws came before, so a
// source's address and ports stay the same whatever the event count.
splitmix64 keyed(std::uint64_t seed, std::uint64_t stream, std::uint64_t index) {
  splitmix64 mix(seed ^ (stream * 0xd1b54a32d192ed03ULL));
  const std::uint64_t a = mix.next();
  return splitmix64(a ^ (index * 0x9e3779b97f4a7c15ULL));
}

// ---------------------------------------------------------------------------------------
// Time

// Days since 1970-01-01 of a proleptic Gregorian date, and back (era-based arithmetic, so
// it is exact for any year without tables).
std::int64_t days_from_date(std::int64_t y, int m, int d) {
  y -= m <= 2 ? 1 : 0;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const std::int64_t year_of_era = y - era * 400;
  const std::int64_t day_of_year = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const std::int64_t day_of_era =
      year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
  return era * 146097 + day_of_era - 719468;
}

struct date {
  std::int64_t year;
  int month, day;
};

date date_from_days(std::int64_t z) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const std::int64_t day_of_era = z - era * 146097;
  const std::int64_t year_of_era =
      (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
  const std::int64_t day_of_year =
      day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
  const std::int64_t mp = (5 * day_of_year + 2) / 153;
  const int d = static_cast<int>(day_of_year - (153 * mp + 2) / 5 + 1);
  const int m = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  return {year_of_era + era * 400 + (m <= 2 ? 1 : 0), m, d};
}

// How a record writes its time. Sub-second digits are cut, never rounded, so a written time
// is never later than the intended one and a planted event never leaves its bin.
enum class time_style : std::uint8_t { whole, millis, micros, offset_millis };

usec effective_time(usec t, time_style s) {
  const usec unit = s == time_style::whole ? us_per_s : s == time_style::micros ? 1 : 1000;
  const usec q = t / unit;
  return (q * unit > t ? q - 1 : q) * unit;
}

void put_digits(std::string& out, std::int64_t v, int width) {
  char buf[24];
  for (int i = width - 1; i >= 0; --i) {
    buf[i] = static_cast<char>('0' + v % 10);
    v /= 10;
  }
  out.append(buf, static_cast<std::size_t>(width));
}

// "YYYY-MM-DDThh:mm:ss" of a second since the epoch.
void append_civil_second(std::string& out, std::int64_t secs) {
  std::int64_t days = secs / 86400;
  std::int64_t sod = secs % 86400;
  if (sod < 0) {
    sod += 86400;
    --days;
  }
  const date d = date_from_days(days);
  put_digits(out, d.year, 4);
  out += '-';
  put_digits(out, d.month, 2);
  out += '-';
  put_digits(out, d.day, 2);
  out += 'T';
  put_digits(out, sod / 3600, 2);
  out += ':';
  put_digits(out, sod / 60 % 60, 2);
  out += ':';
  put_digits(out, sod % 60, 2);
}

void append_time(std::string& out, usec t, time_style s) {
  t = effective_time(t, s);
  std::int64_t secs = t / us_per_s;
  std::int64_t frac = t % us_per_s;
  if (frac < 0) {
    frac += us_per_s;
    --secs;
  }
  // Hundreds of records share each second (give or take the jitter): remember the text of
  // the last few seconds instead of redoing the calendar for every record.
  struct cached_second {
    std::int64_t secs = INT64_MIN;
    std::array<char, 19> text{};
  };
  static std::array<cached_second, 16> cache;
  cached_second& c = cache[static_cast<std::uint64_t>(secs) % cache.size()];
  if (c.secs != secs) {
    std::string tmp;
    append_civil_second(tmp, secs);
    std::memcpy(c.text.data(), tmp.data(), c.text.size());
    c.secs = secs;
  }
  out.append(c.text.data(), c.text.size());
  switch (s) {
    case time_style::whole:
      out += 'Z';
      break;
    case time_style::millis:
      out += '.';
      put_digits(out, frac / 1000, 3);
      out += 'Z';
      break;
    case time_style::micros:
      out += '.';
      put_digits(out, frac, 6);
      out += 'Z';
      break;
    case time_style::offset_millis:
      out += '.';
      put_digits(out, frac / 1000, 3);
      out += "+00:00";
      break;
  }
}

// The alert rendering of SPEC §2: microseconds only when there is a sub-second part. Used
// for the manifest only.
std::string alert_time(usec t) {
  std::string s;
  append_time(s, t, t % us_per_s == 0 ? time_style::whole : time_style::micros);
  return s;
}

// "YYYY-MM-DDThh:mm:ssZ" (seconds and Z optional): the only shape --start needs.
std::optional<usec> parse_start(std::string_view s) {
  auto num = [&](std::size_t pos, std::size_t len, int& out) {
    if (pos + len > s.size()) return false;
    const auto r = std::from_chars(s.data() + pos, s.data() + pos + len, out);
    return r.ec == std::errc() && r.ptr == s.data() + pos + len;
  };
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0;
  if (!num(0, 4, y) || s.size() < 16 || s[4] != '-' || !num(5, 2, mo) || s[7] != '-' ||
      !num(8, 2, d) || (s[10] != 'T' && s[10] != ' ') || !num(11, 2, h) || s[13] != ':' ||
      !num(14, 2, mi))
    return std::nullopt;
  std::size_t rest = 16;
  if (s.size() > rest && s[rest] == ':') {
    if (!num(rest + 1, 2, sec)) return std::nullopt;
    rest += 3;
  }
  if (s.substr(rest) != "Z" && !s.substr(rest).empty()) return std::nullopt;
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 59) return std::nullopt;
  return ((days_from_date(y, mo, d) * 86400) + h * 3600 + mi * 60 + sec) * us_per_s;
}

// ---------------------------------------------------------------------------------------
// Addresses

void append_uint(std::string& out, std::uint64_t v) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

void append_v4(std::string& out, std::uint32_t a) {
  append_uint(out, a >> 24);
  out += '.';
  append_uint(out, (a >> 16) & 255);
  out += '.';
  append_uint(out, (a >> 8) & 255);
  out += '.';
  append_uint(out, a & 255);
}

std::string v4_text(std::uint32_t a) {
  std::string s;
  append_v4(s, a);
  return s;
}

// RFC 5952: lower-case hex without leading zeros; the longest run of two or more zero
// groups (the first of equally long runs) becomes "::".
std::string v6_text(const std::array<std::uint16_t, 8>& g) {
  int best_pos = -1, best_len = 1;
  for (int i = 0; i < 8;) {
    if (g[i] != 0) {
      ++i;
      continue;
    }
    int j = i;
    while (j < 8 && g[j] == 0) ++j;
    if (j - i > best_len) {
      best_pos = i;
      best_len = j - i;
    }
    i = j;
  }
  std::string out;
  for (int i = 0; i < 8; ++i) {
    if (i == best_pos) {
      out += "::";
      i += best_len - 1;
      continue;
    }
    if (!out.empty() && out.back() != ':') out += ':';
    char buf[8];
    const auto r = std::to_chars(buf, buf + sizeof buf, g[i], 16);
    out.append(buf, r.ptr);
  }
  return out;
}

bool is_rfc1918(std::uint32_t a) {
  return (a >> 24) == 10 || (a >> 20) == ((172u << 4) | 1u) || (a >> 16) == ((192u << 8) | 168u);
}

// Documentation prefixes, kept for planted scans so the background can never add a port to
// a planted source and change its exact figures.
bool is_test_net(std::uint32_t a) {
  const std::uint32_t p = a >> 8;
  return p == ((192u << 16) | (0u << 8) | 2u) || p == ((198u << 16) | (51u << 8) | 100u) ||
         p == ((203u << 16) | (0u << 8) | 113u);
}

// ---------------------------------------------------------------------------------------
// Labels: EventVendor / EventProduct as written in JSON (nullptr = key absent) and the
// ReportedBy label they make (SPEC §1: missing parts are empty strings).

struct label {
  const char* vendor_json;
  const char* product_json;
  const char* key;
};

// Background labels. The last ones exercise missing keys and JSON null.
constexpr std::array<label, 14> common_labels = {{
    {"\"Fortinet\"", "\"FortiGate\"", "Fortinet/FortiGate"},
    {"\"Palo Alto Networks\"", "\"PAN-OS\"", "Palo Alto Networks/PAN-OS"},
    {"\"Microsoft\"", "\"Azure Firewall\"", "Microsoft/Azure Firewall"},
    {"\"AWS\"", "\"VPC\"", "AWS/VPC"},
    {"\"Cisco\"", "\"ASA\"", "Cisco/ASA"},
    {"\"Cisco\"", "\"Meraki\"", "Cisco/Meraki"},
    {"\"Check Point\"", "\"VPN-1 & FireWall-1\"", "Check Point/VPN-1 & FireWall-1"},
    {"\"Zscaler\"", "\"ZIA\"", "Zscaler/ZIA"},
    {"\"Corelight\"", "\"Zeek\"", "Corelight/Zeek"},
    {"\"Microsoft\"", "\"Sysmon\"", "Microsoft/Sysmon"},
    {nullptr, "\"NSG\"", "/NSG"},
    {"\"Vectra\"", nullptr, "Vectra/"},
    {"null", "\"Stream\"", "/Stream"},
    {nullptr, nullptr, "/"},
}};

// Extra labels for the ReportedBy cap case: case and non-ASCII byte order, an escaped
// quote, and one label written both raw and \u-escaped (one label after unescaping).
constexpr std::array<label, 12> odd_labels = {{
    {"\"fortinet\"", "\"fortigate\"", "fortinet/fortigate"},
    {"\"S\xc3\xa9"
     "curit\xc3\xa9\"",
     "\"Pare-feu\"",
     "S\xc3\xa9"
     "curit\xc3\xa9/Pare-feu"},
    {"\"S\\u00e9curit\\u00e9\"", "\"Pare-feu\"",
     "S\xc3\xa9"
     "curit\xc3\xa9/Pare-feu"},
    {"\"Zeta\"", "\"\xce\xa9mega\"", "Zeta/\xce\xa9mega"},
    {"\"A \\\"quoted\\\" vendor\"", "\"x\"", "A \"quoted\" vendor/x"},
    {"\"juniper\"", "\"srx\"", "juniper/srx"},
    {"\"Juniper\"", "\"SRX\"", "Juniper/SRX"},
    {"\"Sophos\"", "\"XG\"", "Sophos/XG"},
    {"\"Barracuda\"", "\"CloudGen\"", "Barracuda/CloudGen"},
    {"\"~tilde\"", "\"last\"", "~tilde/last"},
    {"\"0day\"", "\"first\"", "0day/first"},
    {"\"NoPort\"", "\"OnlyLabel\"", "NoPort/OnlyLabel"},
}};
constexpr std::uint16_t odd_base = common_labels.size();

const label& label_at(std::uint16_t i) {
  return i < odd_base ? common_labels[i] : odd_labels[i - odd_base];
}

// ---------------------------------------------------------------------------------------
// Records

enum class port_style : std::uint8_t { number, string, json_null, absent };

// A line the daemon must reject, by the reason the manifest reports for it.
enum class fault : std::uint8_t {
  none,
  invalid_json,
  not_an_object,
  bad_src_ip,
  missing_src_ip,
  bad_dst_port,
  bad_time,
};
constexpr std::array<const char*, 7> fault_names = {"none",       "invalid_json",   "not_an_object",
                                                    "bad_src_ip", "missing_src_ip", "bad_dst_port",
                                                    "bad_time"};

struct record {
  usec time = 0;
  time_style tstyle = time_style::millis;
  std::string_view src;    // as written
  std::int32_t port = -1;  // -1: none (see pstyle)
  port_style pstyle = port_style::number;
  std::uint16_t label = 0;
  std::uint32_t dst = 0;
  bool no_dst = false;  // written without DstIpAddr
  fault bad = fault::none;
  std::uint8_t variant = 0;  // which malformed spelling
  usec delay = 0;            // written this much later than its time (out of order)
};

constexpr std::array<const char*, 3> protocols = {"TCP", "UDP", "TCP"};
constexpr std::array<const char*, 3> actions = {"Deny", "Allow", "Drop"};

void append_json_string_raw(std::string& out, std::string_view s) {
  out += '"';
  out += s;  // callers only pass text that needs no escaping
  out += '"';
}

void append_record(std::string& out, const record& r) {
  switch (r.bad) {
    case fault::invalid_json:
      if (r.variant % 2 == 0) {
        out += "{\"TimeGenerated\":\"";
        append_time(out, r.time, time_style::millis);
        out += "\",\"SrcIpAddr\":\"198.18.0.1\",\"DstPortNumber\":80";  // cut short
      } else {
        out += "<134>Nov 28 10:05:00 fw01 this is not json";
      }
      out += '\n';
      return;
    case fault::not_an_object:
      out += "42\n";
      return;
    default:
      break;
  }
  out += "{\"TimeGenerated\":";
  if (r.bad == fault::bad_time) {
    out += r.variant % 2 == 0 ? "\"not-a-time\"" : "\"2026-13-45T99:00:00Z\"";
  } else {
    out += '"';
    append_time(out, r.time, r.tstyle);
    out += '"';
  }
  if (r.bad == fault::bad_src_ip) {
    static constexpr std::array<const char*, 7> bad_ips = {
        "300.1.2.3", "1.2.3", "not-an-ip", "2001:db8:::1", "1.2.3.4.5", "gggg::1", "fe80::1%eth0"};
    out += ",\"SrcIpAddr\":";
    append_json_string_raw(out, bad_ips[r.variant % bad_ips.size()]);
  } else if (r.bad == fault::missing_src_ip) {
    if (r.variant % 3 == 1) out += ",\"SrcIpAddr\":\"\"";
    if (r.variant % 3 == 2) out += ",\"SrcIpAddr\":null";
  } else {
    out += ",\"SrcIpAddr\":";
    append_json_string_raw(out, r.src);
  }
  if (!r.no_dst) {
    out += ",\"DstIpAddr\":\"";
    append_v4(out, r.dst);
    out += '"';
  }
  if (r.bad == fault::bad_dst_port) {
    static constexpr std::array<const char*, 4> bad_ports = {"70000", "-1", "\"http\"", "65536"};
    out += ",\"DstPortNumber\":";
    out += bad_ports[r.variant % bad_ports.size()];
  } else {
    switch (r.pstyle) {
      case port_style::number:
        out += ",\"DstPortNumber\":";
        append_uint(out, static_cast<std::uint64_t>(r.port));
        break;
      case port_style::string:
        out += ",\"DstPortNumber\":\"";
        append_uint(out, static_cast<std::uint64_t>(r.port));
        out += '"';
        break;
      case port_style::json_null:
        out += ",\"DstPortNumber\":null";
        break;
      case port_style::absent:
        break;
    }
  }
  out += ",\"NetworkProtocol\":\"";
  out += protocols[r.dst % protocols.size()];
  out += "\",\"DvcAction\":\"";
  out += actions[(r.dst >> 3) % actions.size()];
  out += '"';
  const label& l = label_at(r.label);
  if (l.vendor_json != nullptr) {
    out += ",\"EventVendor\":";
    out += l.vendor_json;
  }
  if (l.product_json != nullptr) {
    out += ",\"EventProduct\":";
    out += l.product_json;
  }
  out += "}\n";
}

// ---------------------------------------------------------------------------------------
// Planted scans

struct key_stats {
  std::string src;  // canonical, as the alert must name it
  usec bin = 0;
  std::set<std::int32_t> ports;
  std::set<std::string> labels;
  usec first = 0, last = 0;
  std::uint64_t events = 0;
};

// What was planted for one (source, bin, port): the port-sweep rule's key.
struct sweep_stats {
  std::map<std::uint32_t, std::uint64_t> attempts;  // destination -> records (IPv4 order)
  std::set<std::string> labels;
  usec first = 0, last = 0;
  std::uint64_t events = 0;
};

// A planted sweep (--sweeps): whether (src, bin, port) alerts with the port-sweep rule at its
// threshold of 50, and the distinct destinations planted, as designed by hand (check_sweeps
// holds the planted records to it). port -1: the records carry no port, so no key at all.
struct sweep_case {
  std::string name;
  std::string src;  // canonical
  usec bin = 0;
  std::int32_t port = -1;
  bool alert_default = false;
  bool alert_sentinel = false;
  std::size_t targets = 0;
};

struct planted_case {
  std::string name;
  std::string src;  // canonical
  usec bin = 0;
  bool alert_default = false;
  bool alert_sentinel = false;
  // The background never uses this source, so the figures below are exact.
  bool exact = true;
};

class planter {
 public:
  explicit planter(splitmix64& rng) : rng_(rng) {}

  std::string_view intern(const std::string& s) { return *strings_.insert(s).first; }

  // One accepted record of `written` (the address as it appears in the file) at time t.
  void add(const std::string& written, const std::string& canonical, usec t, std::int32_t port,
           std::uint16_t label, std::optional<time_style> style = std::nullopt,
           std::optional<port_style> pstyle = std::nullopt) {
    place(written, canonical, t, port, label, style, pstyle, std::nullopt, true);
  }

  // One accepted record to a chosen destination; nullopt: a record without DstIpAddr.
  void add_to(const std::string& written, const std::string& canonical, usec t, std::int32_t port,
              std::uint16_t label, std::optional<std::uint32_t> dst) {
    place(written, canonical, t, port, label, std::nullopt, std::nullopt, dst.value_or(0),
          dst.has_value());
  }

  // A malformed line placed among a planted scan (counted as rejected, never as an event).
  void add_fault(const std::string& written, usec t, fault f, std::uint8_t variant) {
    record r;
    r.src = intern(written);
    r.time = t;
    r.port = 0;
    r.bad = f;
    r.variant = variant;
    r.dst = 0xc6120001u;
    records_.push_back(r);
    ++faults_[static_cast<std::size_t>(f)];
  }

  // A scan: every port of `ports` once, then `extra` repeats of random ones, and
  // `portless` records without a port, at random times in [lo, hi).
  void scan(const std::string& written, const std::string& canonical,
            const std::vector<std::int32_t>& ports, std::size_t extra, std::size_t portless,
            const std::vector<std::uint16_t>& labels, usec lo, usec hi) {
    auto t = [&] {
      return lo + static_cast<usec>(rng_.below(static_cast<std::uint64_t>(hi - lo)));
    };
    auto l = [&] { return labels[rng_.below(labels.size())]; };
    for (std::int32_t p : ports) add(written, canonical, t(), p, l());
    for (std::size_t i = 0; i < extra; ++i)
      add(written, canonical, t(), ports[rng_.below(ports.size())], l());
    for (std::size_t i = 0; i < portless; ++i) add(written, canonical, t(), -1, l());
  }

  // `n` distinct ports in 1..65534 (0 and 65535 only where a case adds them on purpose).
  std::vector<std::int32_t> random_ports(std::size_t n) {
    std::set<std::int32_t> s;
    while (s.size() < n) s.insert(static_cast<std::int32_t>(rng_.between(1, 65534)));
    return {s.begin(), s.end()};
  }
  static std::vector<std::int32_t> port_range(std::int32_t first, std::size_t n) {
    std::vector<std::int32_t> v(n);
    for (std::size_t i = 0; i < n; ++i) v[i] = first + static_cast<std::int32_t>(i);
    return v;
  }

  void expect(planted_case c) { cases_.push_back(std::move(c)); }
  void expect_sweep(sweep_case c) { sweep_cases_.push_back(std::move(c)); }
  const std::vector<sweep_case>& sweep_cases() const { return sweep_cases_; }
  // The planted records of a (source, bin, port) key; nullptr: none.
  const sweep_stats* sweep_key(const std::string& src, usec bin, std::int32_t port) const {
    const auto it = sweep_keys_.find({src, bin, port});
    return it == sweep_keys_.end() ? nullptr : &it->second;
  }
  // A sliding-window case (--sliding-cases): the source's sliding alerts must end exactly at
  // `window_ends` (none: it must not alert).
  void expect_sliding(std::string name, std::string src, std::vector<usec> window_ends) {
    sliding_cases_.push_back({std::move(name), std::move(src), std::move(window_ends)});
  }
  struct sliding_case {
    std::string name, src;
    std::vector<usec> window_ends;
  };
  const std::vector<sliding_case>& sliding_cases() const { return sliding_cases_; }

  static usec floor_bin(usec t) {
    const usec q = t / bin_width;
    return (q * bin_width > t ? q - 1 : q) * bin_width;
  }

  std::vector<record>& records() { return records_; }
  const std::vector<planted_case>& cases() const { return cases_; }
  const std::map<std::pair<std::string, usec>, key_stats>& keys() const { return keys_; }
  const std::array<std::uint64_t, fault_names.size()>& faults() const { return faults_; }

 private:
  // One accepted record, tallied for its (source, bin) and, with a port, its (source, bin,
  // port) key. dst nullopt: a random 198.18/16 destination, drawn after the time and port
  // styles (the draw order every existing invocation's bytes depend on).
  void place(const std::string& written, const std::string& canonical, usec t, std::int32_t port,
             std::uint16_t label, std::optional<time_style> style, std::optional<port_style> pstyle,
             std::optional<std::uint32_t> dst, bool has_dst) {
    record r;
    r.src = intern(written);
    r.tstyle = style ? *style : pick_time_style();
    r.time = effective_time(t, r.tstyle);
    r.port = port;
    r.pstyle = port < 0 ? (rng_.below(2) == 0 ? port_style::absent : port_style::json_null)
               : pstyle ? *pstyle
               : rng_.per_mille(150) ? port_style::string
                                     : port_style::number;
    r.label = label;
    r.dst = dst ? *dst : 0xc6120000u | static_cast<std::uint32_t>(rng_.below(65536));  // 198.18/15
    r.no_dst = !has_dst;
    records_.push_back(r);

    const usec bin = floor_bin(r.time);
    key_stats& k = keys_[{canonical, bin}];
    if (k.events == 0) {
      k.src = canonical;
      k.bin = bin;
      k.first = k.last = r.time;
    }
    if (port >= 0) k.ports.insert(port);
    k.labels.insert(label_at(label).key);
    k.first = std::min(k.first, r.time);
    k.last = std::max(k.last, r.time);
    ++k.events;
    if (port < 0) return;
    sweep_stats& w = sweep_keys_[{canonical, bin, port}];
    if (w.events == 0) w.first = w.last = r.time;
    if (has_dst) ++w.attempts[r.dst];
    w.labels.insert(label_at(label).key);
    w.first = std::min(w.first, r.time);
    w.last = std::max(w.last, r.time);
    ++w.events;
  }

  time_style pick_time_style() {
    const auto r = rng_.below(100);
    return r < 55   ? time_style::millis
           : r < 80 ? time_style::whole
           : r < 95 ? time_style::micros
                    : time_style::offset_millis;
  }

  splitmix64& rng_;
  std::set<std::string> strings_;  // node-based: pointers into it stay valid
  std::vector<record> records_;
  std::vector<planted_case> cases_;
  std::vector<sliding_case> sliding_cases_;
  std::map<std::pair<std::string, usec>, key_stats> keys_;
  std::map<std::tuple<std::string, usec, std::int32_t>, sweep_stats> sweep_keys_;
  std::vector<sweep_case> sweep_cases_;
  std::array<std::uint64_t, fault_names.size()> faults_{};
};

// ---------------------------------------------------------------------------------------
// Options

struct options {
  std::uint64_t events = 200'000;
  std::uint64_t sources = 20'000;
  std::uint64_t seed = 1;
  usec start = 0;
  std::uint64_t scans = 20;
  std::uint64_t duration_min = 60;
  std::uint64_t bad_lines = 30;
  std::uint64_t jitter_s = 3;
  std::string manifest;
  bool sliding_cases = false;
  std::uint64_t sweeps = 0;
};

[[noreturn]] void usage(int code) {
  std::fputs(
      "usage: gen_workload [--events N] [--sources S] [--seed X] [--start ISO] [--scans K]\n"
      "                    [--duration-min M] [--bad-lines B] [--jitter-s J] [--manifest FILE]\n"
      "                    [--sliding-cases 1] [--sweeps W]\n"
      "Writes N ASIM NetworkSession NDJSON lines to stdout: background noise from S sources,\n"
      "the named edge-case scans, K random scans (plus K/4 near misses) and B malformed lines,\n"
      "over M minutes from --start (default 2026-01-15T10:00:00Z), each background time moved\n"
      "by up to J seconds. The manifest (JSON) lists the planted cases and malformed counts.\n"
      "--sliding-cases 1 adds the sliding-window cases (straddling and paced scans, records\n"
      "written out of order) and lists their expected sliding alerts in the manifest.\n"
      "--sweeps W adds the named port-sweep cases and W random sweepers (one port, 51..300\n"
      "destination addresses in a bin) and lists them in the manifest (sweep_cases).\n",
      code == 0 ? stdout : stderr);
  std::exit(code);
}

options parse_options(int argc, char** argv) {
  options o;
  o.start = *parse_start("2026-01-15T10:00:00Z");
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "--help" || a == "-h") usage(0);
    if (i + 1 >= argc) usage(2);
    const std::string_view v = argv[++i];
    auto number = [&](std::uint64_t& out) {
      const auto r = std::from_chars(v.data(), v.data() + v.size(), out);
      if (r.ec != std::errc() || r.ptr != v.data() + v.size()) {
        std::fprintf(stderr, "gen_workload: %s wants a number, got '%s'\n", argv[i - 1], argv[i]);
        std::exit(2);
      }
    };
    if (a == "--events")
      number(o.events);
    else if (a == "--sources")
      number(o.sources);
    else if (a == "--seed")
      number(o.seed);
    else if (a == "--scans")
      number(o.scans);
    else if (a == "--duration-min")
      number(o.duration_min);
    else if (a == "--bad-lines")
      number(o.bad_lines);
    else if (a == "--jitter-s")
      number(o.jitter_s);
    else if (a == "--manifest")
      o.manifest = v;
    else if (a == "--sweeps")
      number(o.sweeps);
    else if (a == "--sliding-cases")
      o.sliding_cases = v == "1";
    else if (a == "--start") {
      const auto t = parse_start(v);
      if (!t) {
        std::fprintf(stderr, "gen_workload: --start wants YYYY-MM-DDThh:mm[:ss]Z, got '%s'\n",
                     argv[i]);
        std::exit(2);
      }
      o.start = *t;
    } else {
      std::fprintf(stderr, "gen_workload: unknown option %s\n", argv[i - 1]);
      usage(2);
    }
  }
  if (o.sources == 0 || o.duration_min == 0) usage(2);
  return o;
}

// ---------------------------------------------------------------------------------------
// The named edge cases (SPEC §1), each with its expected outcome in both modes.

void plant_named_cases(planter& p, splitmix64& rng, usec first_bin, std::uint64_t bins) {
  std::uint64_t slot = 0;
  // Spread the cases over the file; +1 keeps a following bin for the boundary cases.
  auto next_bin = [&] {
    return first_bin + static_cast<usec>((slot++ * 5) % (bins - 1)) * bin_width;
  };
  const std::vector<std::uint16_t> fg = {0}, mixed = {0, 1, 2}, few = {3, 4};

  auto simple = [&](const char* name, const std::string& written, const std::string& canonical,
                    std::size_t nports, bool def, bool sen, bool exact = true) {
    const usec b = next_bin();
    p.scan(written, canonical, p.random_ports(nports), nports / 5, 3, mixed, b, b + bin_width);
    p.expect({name, canonical, b, def, sen, exact});
  };

  {  // 51 distinct ports alert; the first record exactly at the bin start, the last 1 µs
     // before its end, both still in the bin.
    const std::string s = "203.0.113.51";
    const usec b = next_bin();
    auto ports = p.random_ports(51);
    p.add(s, s, b, ports[0], 0, time_style::whole);
    p.add(s, s, b + bin_width - 1, ports[1], 1, time_style::micros);
    p.scan(s, s, {ports.begin() + 2, ports.end()}, 30, 2, fg, b + us_per_s,
           b + bin_width - us_per_s);
    p.expect({"exact51", s, b, true, true});
  }
  {  // 50 distinct ports do not; neither does a 51st port that is rejected (port 70000),
     // nor one exactly at the next bin's start (it belongs to that bin).
    const std::string s = "203.0.113.50";
    const usec b = next_bin();
    p.scan(s, s, p.random_ports(50), 40, 5, fg, b, b + bin_width);
    p.add_fault(s, b + 150 * us_per_s, fault::bad_dst_port, 0);
    p.add(s, s, b + bin_width, 65000, 0, time_style::whole);
    p.expect({"exact50", s, b, false, false});
  }
  {  // 30 + 30 ports around a bin boundary: two keys of 30, no alert.
    const std::string s = "203.0.113.30";
    const usec b = next_bin();
    const usec end = b + bin_width;
    p.scan(s, s, p.port_range(1000, 30), 5, 0, fg, end - 20 * us_per_s, end);
    p.scan(s, s, p.port_range(2000, 30), 5, 0, fg, end, end + 20 * us_per_s);
    p.expect({"split30_first", s, b, false, false});
    p.expect({"split30_second", s, end, false, false});
  }
  {  // More than 100 ports and more than 20 labels: both lists are capped.
    const std::string s = "203.0.113.100";
    const usec b = next_bin();
    std::vector<std::uint16_t> all;
    for (std::uint16_t i = 0; i < odd_base + odd_labels.size(); ++i) all.push_back(i);
    p.scan(s, s, p.random_ports(1500), 500, 20, all, b, b + bin_width);
    for (std::uint16_t l : all) p.add(s, s, b + 7 * us_per_s, -1, l);  // every label surely
    p.expect({"caps", s, b, true, true});
  }
  {  // The largest: 3000 sequential ports.
    const std::string s = "203.0.113.101";
    const usec b = next_bin();
    p.scan(s, s, p.port_range(1, 3000), 100, 0, few, b, b + bin_width);
    p.expect({"big3000", s, b, true, true});
  }
  {  // Ports 0 and 65535 are valid, also written as strings.
    const std::string s = "203.0.113.90";
    const usec b = next_bin();
    auto ports = p.random_ports(49);
    p.scan(s, s, ports, 10, 0, fg, b, b + bin_width);
    p.add(s, s, b + 10 * us_per_s, 0, 0, std::nullopt, port_style::string);
    p.add(s, s, b + 11 * us_per_s, 65535, 0, std::nullopt, port_style::string);
    p.add(s, s, b + 12 * us_per_s, 0, 0, std::nullopt, port_style::number);
    p.add(s, s, b + 13 * us_per_s, 65535, 0, std::nullopt, port_style::number);
    p.expect({"port_edges", s, b, true, true});
  }
  {  // Port-less records add their label and their count, never a port.
    const std::string s = "203.0.113.91";
    const usec b = next_bin();
    p.scan(s, s, p.random_ports(55), 0, 0, fg, b, b + bin_width);
    const std::uint16_t only = odd_base + 11;  // NoPort/OnlyLabel
    for (int i = 0; i < 100; ++i)
      p.add(s, s, b + static_cast<usec>(rng.below(bin_width)), -1, only);
    p.expect({"portless_labels", s, b, true, true});
  }
  {  // Many rows, few distinct ports: 51 ports x 20 alert, 50 ports x 40 do not.
    const std::string s1 = "203.0.113.92", s2 = "203.0.113.93";
    const usec b = next_bin();
    p.scan(s1, s1, p.random_ports(51), 51 * 19, 0, fg, b, b + bin_width);
    p.scan(s2, s2, p.random_ports(50), 50 * 39, 0, fg, b, b + bin_width);
    p.expect({"dup_heavy51", s1, b, true, true});
    p.expect({"dup_heavy50", s2, b, false, false});
  }
  {  // The same source in two consecutive bins: two alerts.
    const std::string s = "203.0.113.60";
    const usec b = next_bin();
    p.scan(s, s, p.random_ports(60), 10, 0, fg, b, b + bin_width);
    p.scan(s, s, p.random_ports(70), 10, 0, fg, b + bin_width, b + 2 * bin_width);
    p.expect({"twice_first", s, b, true, true});
    p.expect({"twice_second", s, b + bin_width, true, true});
  }
  {  // Output order inside one bin is the byte order of the address text:
     // "2001:db8:ff::1" < "203.0.113.10" < "203.0.113.9".
    const usec b = next_bin();
    const std::string v6 = "2001:db8:ff::1", a = "203.0.113.9", c = "203.0.113.10";
    p.scan(v6, v6, p.random_ports(55), 5, 0, mixed, b, b + bin_width);
    p.scan(a, a, p.random_ports(53), 5, 0, mixed, b, b + bin_width);
    p.scan(c, c, p.random_ports(52), 5, 0, mixed, b, b + bin_width);
    p.expect({"order_v6", v6, b, true, false});
    p.expect({"order_dot9", a, b, true, true});
    p.expect({"order_dot10", c, b, true, true});
  }
  {  // An IPv4-mapped source is its IPv4 address: 40 ports written mapped plus 30 written
     // plain make one key of 70, in both modes.
    const std::string plain = "203.0.113.77", mapped = "::ffff:203.0.113.77";
    const usec b = next_bin();
    auto ports = p.random_ports(70);
    p.scan(mapped, plain, {ports.begin(), ports.begin() + 40}, 5, 0, fg, b, b + bin_width);
    p.scan(plain, plain, {ports.begin() + 40, ports.end()}, 5, 0, fg, b, b + bin_width);
    p.expect({"mapped_merge", plain, b, true, true});
  }
  simple("mapped_only", "::ffff:203.0.113.78", "203.0.113.78", 60, true, true);
  simple("mapped_private", "::ffff:10.9.8.7", "10.9.8.7", 60, false, false, false);
  simple("mapped_loopback", "::ffff:127.0.0.1", "127.0.0.1", 60, false, false, false);
  simple("v6_global", "2a03:2880:f10c:83:face:b00c:0:25de", "2a03:2880:f10c:83:face:b00c:0:25de",
         80, true, false);
  // Two equal zero runs: RFC 5952 compresses the first.
  simple("v6_two_runs", "2001:db8::1:0:0:1", "2001:db8::1:0:0:1", 60, true, false);
  simple("v6_loopback", "::1", "::1", 60, false, false, false);
  simple("v6_ula_low", "fc00::1", "fc00::1", 60, false, false, false);
  simple("v6_ula_high", "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
         "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 60, false, false, false);
  simple("v6_below_ula", "fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
         "fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 60, true, false);
  simple("v6_link_local", "fe80::1", "fe80::1", 60, false, false, false);
  simple("v6_link_local_high", "febf:ffff::1", "febf:ffff::1", 60, false, false, false);
  simple("v6_above_link_local", "fec0::1", "fec0::1", 60, true, false);
  simple("v6_between", "fe00::1", "fe00::1", 60, true, false);
  simple("private_10", "10.20.30.40", "10.20.30.40", 200, false, false, false);
  simple("private_172_high", "172.31.255.255", "172.31.255.255", 60, false, false, false);
  simple("private_192_low", "192.168.0.0", "192.168.0.0", 60, false, false, false);
  simple("near_172_low", "172.15.255.255", "172.15.255.255", 60, true, true);
  simple("near_172_high", "172.32.0.0", "172.32.0.0", 60, true, true);
  simple("near_192_high", "192.169.0.0", "192.169.0.0", 60, true, true);
  simple("loopback_v4", "127.0.0.1", "127.0.0.1", 60, false, false, false);
  // Only exactly 127.0.0.1 is excluded; the background also uses 127.0.0.2.
  simple("loopback_other", "127.0.0.2", "127.0.0.2", 60, true, true, false);
  simple("cgnat", "100.64.0.1", "100.64.0.1", 60, true, true);
  simple("v4_link_local", "169.254.10.20", "169.254.10.20", 60, true, true);
}

// Random scans from documentation prefixes, plus near misses (40..50 ports).
void plant_random_scans(planter& p, splitmix64& rng, const options& o, usec first_bin,
                        std::uint64_t bins) {
  const std::uint64_t total = o.scans + o.scans / 4;
  std::uint64_t v4_next = 0;
  for (std::uint64_t i = 0; i < total; ++i) {
    const bool near_miss = i >= o.scans;
    std::string src;
    if (i % 4 == 3 || v4_next >= 508) {
      std::array<std::uint16_t, 8> g = {0x2001,
                                        0x0db8,
                                        0x5ca0,
                                        0,
                                        0,
                                        0,
                                        static_cast<std::uint16_t>(i >> 16),
                                        static_cast<std::uint16_t>((i & 0xffff) + 1)};
      src = v6_text(g);
    } else {
      const std::uint32_t base = v4_next < 254 ? 0xc6336400u : 0xc0000200u;  // 198.51.100 / 192.0.2
      src = v4_text(base + static_cast<std::uint32_t>(v4_next % 254) + 1);
      ++v4_next;
    }
    const usec b = first_bin + static_cast<usec>(rng.below(bins)) * bin_width;
    // Mostly small scans, a few thousands of ports.
    const std::uint64_t u = rng.below(1000);
    const std::size_t n =
        near_miss ? static_cast<std::size_t>(rng.between(40, 50))
                  : static_cast<std::size_t>(51 + (u * u * u) / (1000ULL * 1000ULL) * 2949 / 1000);
    std::vector<std::int32_t> ports;
    switch (rng.below(3)) {
      case 0:
        ports = p.random_ports(n);
        break;
      case 1:
        ports = p.port_range(static_cast<std::int32_t>(rng.between(1, 65535 - 3000)), n);
        break;
      default: {
        ports = p.random_ports(n);
        for (std::size_t k = 0; k < std::min<std::size_t>(n, 6); ++k)
          ports[k] = std::array<std::int32_t, 6>{22, 23, 80, 443, 445, 3389}[k];
        std::sort(ports.begin(), ports.end());
        ports.erase(std::unique(ports.begin(), ports.end()), ports.end());
        while (ports.size() < n) {
          ports.push_back(static_cast<std::int32_t>(rng.between(1, 65534)));
          std::sort(ports.begin(), ports.end());
          ports.erase(std::unique(ports.begin(), ports.end()), ports.end());
        }
      }
    }
    std::vector<std::uint16_t> labels;
    for (std::uint64_t k = 0, m = 1 + rng.below(3); k < m; ++k)
      labels.push_back(static_cast<std::uint16_t>(rng.below(common_labels.size())));
    const std::size_t extra = static_cast<std::size_t>(rng.below(n / 2 + 1));
    const std::size_t portless = static_cast<std::size_t>(rng.below(n / 20 + 1));
    p.scan(src, src, ports, extra, portless, labels, b, b + bin_width);
    const bool v6 = src.find(':') != std::string::npos;
    p.expect({(near_miss ? "near_miss_" : "scan_") + std::to_string(i), src, b, !near_miss,
              !near_miss && !v6});
  }
}

// ---------------------------------------------------------------------------------------
// Background sources

// One cache line per source: the background picks sources at random from a table larger
// than the cache, so the main loop is bound by these loads (and prefetches them).
struct alignas(64) source {
  std::array<char, 41> text{};  // as written; the longest is an IPv6 address, 39 bytes
  std::uint8_t text_len = 0;
  std::uint8_t nports = 1;
  std::uint8_t label = 0;
  std::array<std::uint16_t, 5> ports{};
  std::uint32_t dst = 0;

  std::string_view address() const { return {text.data(), text_len}; }
};
static_assert(sizeof(source) == 64);

std::string random_public_v4(splitmix64& r) {
  for (;;) {
    const auto a = static_cast<std::uint32_t>(r.next());
    const std::uint32_t top = a >> 24;
    if (top == 0 || top == 127 || top >= 224 || is_rfc1918(a) || is_test_net(a)) continue;
    return v4_text(a);
  }
}

std::string random_private_v4(splitmix64& r) {
  static constexpr std::array<const char*, 6> edges = {"10.0.0.0",    "10.255.255.255",
                                                       "172.16.0.0",  "172.31.255.255",
                                                       "192.168.0.0", "192.168.255.255"};
  if (r.per_mille(20)) return edges[r.below(edges.size())];
  const auto a = static_cast<std::uint32_t>(r.next());
  switch (r.below(4)) {
    case 0:
    case 1:
      return v4_text((10u << 24) | (a & 0x00ffffffu));
    case 2:
      return v4_text((172u << 24) | (16u << 16) | (a & 0x000fffffu));
    default:
      return v4_text((192u << 24) | (168u << 16) | (a & 0x0000ffffu));
  }
}

// Global unicast outside 2001:db8::/32, with zero groups often enough to exercise "::".
std::string random_global_v6(splitmix64& r) {
  std::array<std::uint16_t, 8> g{};
  g[0] = static_cast<std::uint16_t>(0x2400 + r.below(0x0700));
  for (int i = 1; i < 8; ++i)
    g[i] = r.per_mille(350) ? 0 : static_cast<std::uint16_t>(r.below(0x10000));
  return v6_text(g);
}

std::string special_source(splitmix64& r) {
  std::array<std::uint16_t, 8> g{};
  switch (r.below(8)) {
    case 0:
      return "127.0.0.1";
    case 1:
      return "127.0.0.2";
    case 2:
      return "::1";
    case 3:  // fc00::/7
      g[0] = static_cast<std::uint16_t>(0xfc00 | r.below(0x200));
      g[1] = static_cast<std::uint16_t>(r.below(0x10000));
      g[7] = static_cast<std::uint16_t>(1 + r.below(0xffff));
      return v6_text(g);
    case 4:  // fe80::/64 with a random interface id
      g[0] = 0xfe80;
      for (int i = 4; i < 8; ++i) g[i] = static_cast<std::uint16_t>(r.below(0x10000));
      g[4] |= 0x0200;
      return v6_text(g);
    case 5:
      return "::ffff:" + random_public_v4(r);
    case 6:
      return "::ffff:" + random_private_v4(r);
    default:  // other 127/8, 100.64/10 and 169.254/16 are candidates
      switch (r.below(3)) {
        case 0:
          return v4_text((127u << 24) | static_cast<std::uint32_t>(2 + r.below(0xfffffd)));
        case 1:
          return v4_text((100u << 24) | (64u << 16) |
                         static_cast<std::uint32_t>(r.below(1u << 22)));
        default:
          return v4_text((169u << 24) | (254u << 16) |
                         static_cast<std::uint32_t>(r.below(1u << 16)));
      }
  }
}

constexpr std::array<std::int32_t, 16> common_ports = {22,  23,  25,  53,   80,   110,  123,  143,
                                                       443, 445, 993, 1433, 3306, 3389, 8080, 8443};

std::vector<source> make_sources(const options& o,
                                 const std::unordered_set<std::string>& reserved) {
  std::vector<source> out(o.sources);
  for (std::uint64_t k = 0; k < o.sources; ++k) {
    splitmix64 r = keyed(o.seed, 1, k);
    source& s = out[k];
    std::string text;
    do {
      const auto cls = r.below(1000);
      text = cls < 150   ? random_private_v4(r)
             : cls < 165 ? special_source(r)
             : cls < 200 ? random_global_v6(r)
                         : random_public_v4(r);
    } while (reserved.count(text) != 0);
    std::memcpy(s.text.data(), text.data(), text.size());
    s.text_len = static_cast<std::uint8_t>(text.size());
    s.nports = static_cast<std::uint8_t>(1 + r.below(5));
    for (std::uint8_t i = 0; i < s.nports; ++i) {
      const auto c = r.below(100);
      s.ports[i] = static_cast<std::uint16_t>(
          c < 60   ? common_ports[r.below(common_ports.size())]
          : c < 95 ? r.between(1, 65534)
          : c < 97 ? 0
                   : 65535);  // duplicates within a source are fine: they repeat a port
    }
    s.label = static_cast<std::uint8_t>(r.below(common_labels.size()));
    s.dst = (172u << 24) | (20u << 16) | static_cast<std::uint32_t>(r.below(1u << 16));
  }
  return out;
}

// ---------------------------------------------------------------------------------------

class output {
 public:
  output() { buf_.reserve(limit + 4096); }
  ~output() { flush(); }
  output(const output&) = delete;
  output& operator=(const output&) = delete;

  std::string& buf() { return buf_; }
  void maybe_flush() {
    if (buf_.size() >= limit) flush();
  }
  void flush() {
    if (!buf_.empty() && std::fwrite(buf_.data(), 1, buf_.size(), stdout) != buf_.size()) {
      std::perror("gen_workload: write");
      std::exit(1);
    }
    buf_.clear();
  }

 private:
  static constexpr std::size_t limit = 1 << 20;
  std::string buf_;
};

std::string json_escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

// The sliding-window cases (README "Sliding windows"): a source alerts when the 5 minutes up
// to one of its records, both ends included, hold more than 50 distinct ports; the alert's
// window ends at the first such record, and the next alert's interval may not share a
// record with the previous one. Each case names the window ends it expects, worked out here
// by hand. Whole-second or whole-millisecond times, so the figures are exact.
void plant_sliding_cases(planter& p, usec first_bin, std::uint64_t bins) {
  // Bins chosen away from the named tumbling cases (those use every fifth bin from the first).
  auto bin_at = [&](std::uint64_t k) {
    return first_bin + static_cast<usec>((2 + 5 * k) % (bins - 2)) * bin_width;
  };
  const usec s = us_per_s;
  {  // The case: 30 ports in the last 150 s of a bin (every 5 s from end - 150 s), 30
     // in the first 150 s of the next. Tumbling: 30 + 30, never an alert. Sliding: the 51st
     // port is the 21st of the second half, at end + 100 s; [end - 200 s, end + 100 s] holds
     // all 30 of the first half.
    const std::string a = "203.0.113.160";
    const usec end = bin_at(0) + bin_width;
    for (int i = 0; i < 30; ++i)
      p.add(a, a, end - 150 * s + i * 5 * s, 3000 + i, 0, time_style::whole);
    for (int i = 0; i < 30; ++i) p.add(a, a, end + i * 5 * s, 3100 + i, 0, time_style::whole);
    p.expect({"slide_straddle_first", a, end - bin_width, false, false});
    p.expect({"slide_straddle_second", a, end, false, false});
    p.expect_sliding("slide_straddle", a, {end + 100 * s});
  }
  {  // The same, with the first half written 3 minutes late (after 36 records of the second
     // half): inside the allowed lateness, so the same single alert.
    const std::string a = "203.0.113.163";
    const usec end = bin_at(1) + bin_width;
    for (int i = 0; i < 30; ++i) {
      p.add(a, a, end - 150 * s + i * 5 * s, 5000 + i, 1, time_style::whole);
      p.records().back().delay = 180 * s;
    }
    for (int i = 0; i < 30; ++i) p.add(a, a, end + i * 5 * s, 5100 + i, 1, time_style::whole);
    p.expect_sliding("slide_out_of_order", a, {end + 100 * s});
  }
  {  // Paced just over: a new port every 6 s from a bin start for 10 minutes (100 ports). A
     // bin holds 50 (no tumbling alert); [b, b + 300 s] holds 51 (records 0..50): one sliding
     // alert ending at b + 300 s; the next could end no earlier than b + 600 s + 1 us, past the
     // last record (b + 594 s).
    const std::string a = "203.0.113.161";
    const usec b = bin_at(2);
    for (int i = 0; i < 100; ++i) p.add(a, a, b + i * 6 * s, 6000 + i, 2, time_style::whole);
    p.expect({"slide_paced_over_first", a, b, false, false});
    p.expect({"slide_paced_over_second", a, b + bin_width, false, false});
    p.expect_sliding("slide_paced_over", a, {b + 300 * s});
  }
  {  // Paced just under: every 6.1 s. 5 minutes hold at most floor(300 / 6.1) + 1 = 50
     // records: never an alert in either mode.
    const std::string a = "203.0.113.162";
    const usec b = bin_at(3);
    for (int i = 0; i < 100; ++i) p.add(a, a, b + i * 6100 * 1000, 7000 + i, 0, time_style::millis);
    p.expect_sliding("slide_paced_under", a, {});
  }
  {  // Paced over for 20 minutes (200 ports every 6 s): alerts end at records 50, 101 and 152
     // (b + 300 s, b + 606 s, b + 912 s); each next one is the first record more than 5
     // minutes after the previous end.
    const std::string a = "203.0.113.164";
    const usec b = bin_at(4);
    for (int i = 0; i < 200; ++i) p.add(a, a, b + i * 6 * s, 8000 + i, 0, time_style::whole);
    p.expect_sliding("slide_paced_long", a, {b + 300 * s, b + 606 * s, b + 912 * s});
  }
}

// The port-sweep cases (--sweeps): more than 50 distinct destination addresses for one
// (source, port) in a bin alert. Each named case says by hand how many distinct destinations
// it plants and whether that alerts; check_sweeps holds the planted records to it. Sources
// are from 203.0.113.128/25 and 2001:db8:5e::/48, which nothing else plants and the
// background never uses, so every figure is exact; destinations are IPv4, from 198.19/16.
void plant_sweeps(planter& p, splitmix64& rng, const options& o, usec first_bin,
                  std::uint64_t bins) {
  std::uint64_t slot = 0;
  auto next_bin = [&] {
    return first_bin + static_cast<usec>((slot++ * 7 + 1) % (bins - 1)) * bin_width;
  };
  auto at = [&](usec lo, usec hi) {
    return lo + static_cast<usec>(rng.below(static_cast<std::uint64_t>(hi - lo)));
  };
  // `n` distinct destinations, ascending.
  auto targets = [&](std::size_t n) {
    std::set<std::uint32_t> set;
    while (set.size() < n) set.insert(0xc6130000u | static_cast<std::uint32_t>(rng.below(65536)));
    return std::vector<std::uint32_t>(set.begin(), set.end());
  };
  // Each destination once, then `extra` repeats of random ones, at random times in [lo, hi).
  // Draws go into locals first: argument evaluation order is unspecified.
  auto sweep = [&](const std::string& written, const std::string& canonical, std::int32_t port,
                   const std::vector<std::uint32_t>& dsts, std::size_t extra,
                   const std::vector<std::uint16_t>& labels, usec lo, usec hi) {
    for (std::size_t i = 0; i < dsts.size() + extra; ++i) {
      const usec t = at(lo, hi);
      const std::uint16_t l = labels[rng.below(labels.size())];
      const std::uint32_t d = i < dsts.size() ? dsts[i] : dsts[rng.below(dsts.size())];
      p.add_to(written, canonical, t, port, l, d);
    }
  };
  const std::vector<std::uint16_t> fg = {0}, two = {0, 1}, few = {3, 4};

  {  // 51 destinations alert; the first record at the bin start, one in its last second.
    const std::string s = "203.0.113.200";
    const usec b = next_bin();
    const auto d = targets(51);
    p.add_to(s, s, b, 445, 0, d[0]);
    p.add_to(s, s, b + bin_width - 1, 445, 0, d[1]);
    sweep(s, s, 445, {d.begin() + 2, d.end()}, 0, fg, b, b + bin_width);
    p.expect_sweep({"sweep51", s, b, 445, true, true, 51});
  }
  {  // 300 destinations: more than the 100 an alert lists (targets_truncated).
    const std::string s = "203.0.113.201";
    const usec b = next_bin();
    sweep(s, s, 22, targets(300), 60, few, b, b + bin_width);
    p.expect_sweep({"sweep300", s, b, 22, true, true, 300});
  }
  {  // An IPv6 sweeper: a candidate in default mode only.
    const std::string s = "2001:db8:5e::1";
    const usec b = next_bin();
    sweep(s, s, 3389, targets(120), 10, fg, b, b + bin_width);
    p.expect_sweep({"sweep_v6", s, b, 3389, true, false, 120});
  }
  {  // 50 destinations in 100 records: the count is of addresses, not records.
    const std::string s = "203.0.113.202";
    const usec b = next_bin();
    sweep(s, s, 80, targets(50), 50, fg, b, b + bin_width);
    p.expect_sweep({"sweep_near50", s, b, 80, false, false, 50});
  }
  {  // 40 + 40 destinations around a bin edge: two keys of 40, no alert.
    const std::string s = "203.0.113.203";
    const usec b = next_bin();
    const usec end = b + bin_width;
    const auto d = targets(80);
    sweep(s, s, 443, {d.begin(), d.begin() + 40}, 5, fg, end - 20 * us_per_s, end);
    sweep(s, s, 443, {d.begin() + 40, d.end()}, 5, fg, end, end + 20 * us_per_s);
    p.expect_sweep({"sweep_split_first", s, b, 443, false, false, 40});
    p.expect_sweep({"sweep_split_second", s, end, 443, false, false, 40});
  }
  {  // Two ports swept in one bin: two alerts, by port.
    const std::string s = "203.0.113.204";
    const usec b = next_bin();
    sweep(s, s, 2323, targets(70), 0, fg, b, b + bin_width);
    sweep(s, s, 23, targets(60), 0, fg, b, b + bin_width);
    p.expect_sweep({"sweep_two_ports_23", s, b, 23, true, true, 60});
    p.expect_sweep({"sweep_two_ports_2323", s, b, 2323, true, true, 70});
  }
  {  // Repeated destinations: the i-th (ascending) gets 1 + i % 4 records.
    const std::string s = "203.0.113.205";
    const usec b = next_bin();
    const auto d = targets(55);
    for (std::size_t i = 0; i < d.size(); ++i)
      for (std::size_t k = 0; k <= i % 4; ++k) {
        const usec t = at(b, b + bin_width);
        p.add_to(s, s, t, 1433, 0, d[i]);
      }
    p.expect_sweep({"sweep_repeats", s, b, 1433, true, true, 55});
  }
  {  // Two vendor labels, alternating: ReportedBy lists both.
    const std::string s = "203.0.113.206";
    const usec b = next_bin();
    const auto d = targets(64);
    for (std::size_t i = 0; i < d.size(); ++i) {
      const usec t = at(b, b + bin_width);
      p.add_to(s, s, t, 53, two[i % 2], d[i]);
    }
    p.expect_sweep({"sweep_two_labels", s, b, 53, true, true, 64});
  }
  {  // A vertical scan of one host and a sweep of another port in one bin: both rules alert
     // (the scan counts 60 ports + the swept one).
    const std::string s = "203.0.113.207";
    const usec b = next_bin();
    sweep(s, s, 5900, targets(70), 5, fg, b, b + bin_width);
    for (std::int32_t port : planter::port_range(6000, 60)) {
      const usec t = at(b, b + bin_width);
      p.add_to(s, s, t, port, 0, 0xc613ff01u);  // 198.19.255.1
    }
    p.expect_sweep({"sweep_and_scan_5900", s, b, 5900, true, true, 70});
    p.expect({"sweep_and_scan", s, b, true, true});
  }
  {  // Records without DstIpAddr count as events, never as destinations: 51 + 10 alert,
     // 50 + 10 do not.
    const std::string s1 = "203.0.113.208", s2 = "203.0.113.209";
    const usec b = next_bin();
    sweep(s1, s1, 8080, targets(51), 0, fg, b, b + bin_width);
    sweep(s2, s2, 8443, targets(50), 0, fg, b, b + bin_width);
    for (int i = 0; i < 10; ++i) {
      const usec t1 = at(b, b + bin_width);
      p.add_to(s1, s1, t1, 8080, 1, std::nullopt);
      const usec t2 = at(b, b + bin_width);
      p.add_to(s2, s2, t2, 8443, 1, std::nullopt);
    }
    p.expect_sweep({"sweep_dstless", s1, b, 8080, true, true, 51});
    p.expect_sweep({"sweep_dstless_near", s2, b, 8443, false, false, 50});
  }
  {  // 60 destinations without any port: no (source, bin, port) key, no alert.
    const std::string s = "203.0.113.210";
    const usec b = next_bin();
    sweep(s, s, -1, targets(60), 0, fg, b, b + bin_width);
    p.expect_sweep({"sweep_portless", s, b, -1, false, false, 60});
  }
  {  // Written IPv4-mapped and plain: one source, one key of 60.
    const std::string plain = "203.0.113.211", mapped = "::ffff:203.0.113.211";
    const usec b = next_bin();
    const auto d = targets(60);
    sweep(mapped, plain, 161, {d.begin(), d.begin() + 30}, 3, fg, b, b + bin_width);
    sweep(plain, plain, 161, {d.begin() + 30, d.end()}, 3, fg, b, b + bin_width);
    p.expect_sweep({"sweep_mapped", plain, b, 161, true, true, 60});
  }
  {  // Three rounds of one sweeper: the first bin, 10 minutes on, and the last bin (for
     // suppression and incidents: the second round is inside any suppression of 10 min or
     // more, the third as far from the first as the file allows).
    const std::string s = "203.0.113.212";
    const usec b1 = first_bin, b2 = first_bin + 2 * bin_width;
    const usec b3 = first_bin + static_cast<usec>(bins - 1) * bin_width;
    sweep(s, s, 139, targets(55), 0, fg, b1, b1 + bin_width);
    sweep(s, s, 139, targets(56), 0, fg, b2, b2 + bin_width);
    sweep(s, s, 139, targets(57), 0, fg, b3, b3 + bin_width);
    p.expect_sweep({"sweep_rounds_1", s, b1, 139, true, true, 55});
    p.expect_sweep({"sweep_rounds_2", s, b2, 139, true, true, 56});
    p.expect_sweep({"sweep_rounds_3", s, b3, 139, true, true, 57});
  }

  // Random sweepers: 51..300 destinations of one port in a random bin; every fifth also
  // scans 51..80 ports of one host in that bin (both rules alert).
  for (std::uint64_t i = 0; i < o.sweeps; ++i) {
    std::string src;
    if (i % 4 == 3 || i >= 64) {
      src = v6_text({0x2001, 0x0db8, 0x005e, 1, 0, 0, static_cast<std::uint16_t>(i >> 16),
                     static_cast<std::uint16_t>((i & 0xffff) + 1)});
    } else {
      src = v4_text(0xcb007180u + static_cast<std::uint32_t>(i - i / 4));  // 203.0.113.128+
    }
    const bool v6 = src.find(':') != std::string::npos;
    const usec b = first_bin + static_cast<usec>(rng.below(bins)) * bin_width;
    const std::size_t n = 51 + static_cast<std::size_t>(rng.below(250));
    const auto port = static_cast<std::int32_t>(
        rng.below(2) == 0 ? common_ports[rng.below(common_ports.size())] : rng.between(1, 65534));
    const std::size_t extra = static_cast<std::size_t>(rng.below(n / 4 + 1));
    std::vector<std::uint16_t> labels;
    for (std::uint64_t k = 0, m = 1 + rng.below(2); k < m; ++k)
      labels.push_back(static_cast<std::uint16_t>(rng.below(common_labels.size())));
    sweep(src, src, port, targets(n), extra, labels, b, b + bin_width);
    p.expect_sweep({"sweep_" + std::to_string(i), src, b, port, true, !v6, n});
    if (i % 5 == 4) {
      const std::size_t nports = 51 + static_cast<std::size_t>(rng.below(30));
      std::vector<std::int32_t> ports = p.random_ports(nports + 1);
      ports.erase(std::remove(ports.begin(), ports.end(), port), ports.end());
      ports.resize(nports);
      for (std::int32_t q : ports) {
        const usec t = at(b, b + bin_width);
        p.add_to(src, src, t, q, labels[0], 0xc613fe01u);  // 198.19.254.1
      }
      p.expect({"sweeper_scan_" + std::to_string(i), src, b, true, !v6});
    }
  }
}

// The manifest's sweep_cases: each case's expectation and, from the planted records, its
// figures: the distinct destinations, the records, first/last seen, the labels in byte
// order, and the smallest 100 destinations with their records.
void write_sweep_cases(std::FILE* f, const planter& p) {
  std::fputs(",\"sweep_cases\":[", f);
  bool first = true;
  for (const sweep_case& c : p.sweep_cases()) {
    std::fprintf(f, "%s\n{\"name\":\"%s\",\"SrcIpAddr\":\"%s\",\"TimeGenerated\":\"%s\",",
                 first ? "" : ",", c.name.c_str(), json_escape(c.src).c_str(),
                 alert_time(c.bin).c_str());
    first = false;
    if (c.port < 0)
      std::fputs("\"DstPortNumber\":null,", f);
    else
      std::fprintf(f, "\"DstPortNumber\":%d,", c.port);
    std::fprintf(f, "\"alert_default\":%s,\"alert_sentinel\":%s,\"TargetCount\":%zu",
                 c.alert_default ? "true" : "false", c.alert_sentinel ? "true" : "false",
                 c.targets);
    const sweep_stats* w = c.port < 0 ? nullptr : p.sweep_key(c.src, c.bin, c.port);
    if (w == nullptr) {
      std::fputs("}", f);
      continue;
    }
    std::fprintf(f, ",\"event_count\":%llu,\"first_seen\":\"%s\",\"last_seen\":\"%s\",\"labels\":[",
                 static_cast<unsigned long long>(w->events), alert_time(w->first).c_str(),
                 alert_time(w->last).c_str());
    bool first_label = true;  // std::set<std::string> orders by bytes (char_traits compare)
    for (const std::string& l : w->labels) {
      std::fprintf(f, "%s\"%s\"", first_label ? "" : ",", json_escape(l).c_str());
      first_label = false;
    }
    std::fputs("],\"targets\":[", f);
    std::size_t listed = 0;
    for (const auto& [dst, attempts] : w->attempts) {  // ascending IPv4 value
      if (listed == 100) break;
      std::fprintf(f, "%s{\"address\":\"%s\",\"attempts\":%llu}", listed ? "," : "",
                   v4_text(dst).c_str(), static_cast<unsigned long long>(attempts));
      ++listed;
    }
    std::fputs("]}", f);
  }
  std::fputs("\n]", f);
}

void write_manifest(const options& o, const planter& p, std::uint64_t lines,
                    const std::array<std::uint64_t, fault_names.size()>& faults,
                    std::uint64_t background, usec end) {
  std::FILE* f = std::fopen(o.manifest.c_str(), "w");
  if (f == nullptr) {
    std::perror(o.manifest.c_str());
    std::exit(1);
  }
  std::uint64_t bad_total = 0;
  for (std::size_t i = 1; i < faults.size(); ++i) bad_total += faults[i];
  std::fprintf(f, "{\"lines\":%llu,\"background\":%llu,\"start\":\"%s\",\"end\":\"%s\",",
               static_cast<unsigned long long>(lines), static_cast<unsigned long long>(background),
               alert_time(o.start).c_str(), alert_time(end).c_str());
  std::fprintf(f, "\"malformed_total\":%llu,\"malformed\":{",
               static_cast<unsigned long long>(bad_total));
  for (std::size_t i = 1; i < faults.size(); ++i)
    std::fprintf(f, "%s\"%s\":%llu", i > 1 ? "," : "", fault_names[i],
                 static_cast<unsigned long long>(faults[i]));
  std::fputs("},\"cases\":[\n", f);
  bool first = true;
  for (const planted_case& c : p.cases()) {
    const auto it = p.keys().find({c.src, c.bin});
    if (it == p.keys().end()) {
      std::fprintf(stderr, "gen_workload: case %s planted nothing\n", c.name.c_str());
      std::exit(1);
    }
    const key_stats& k = it->second;
    std::fprintf(f,
                 "%s{\"name\":\"%s\",\"SrcIpAddr\":\"%s\",\"TimeGenerated\":\"%s\","
                 "\"alert_default\":%s,\"alert_sentinel\":%s,\"exact\":%s,"
                 "\"AttemptedPortsCount\":%zu,\"labels\":%zu,\"first_seen\":\"%s\","
                 "\"last_seen\":\"%s\",\"event_count\":%llu}",
                 first ? "" : ",\n", c.name.c_str(), json_escape(c.src).c_str(),
                 alert_time(c.bin).c_str(), c.alert_default ? "true" : "false",
                 c.alert_sentinel ? "true" : "false", c.exact ? "true" : "false", k.ports.size(),
                 k.labels.size(), alert_time(k.first).c_str(), alert_time(k.last).c_str(),
                 static_cast<unsigned long long>(k.events));
    first = false;
  }
  std::fputs("\n],\"sliding_cases\":[", f);
  first = true;
  for (const auto& c : p.sliding_cases()) {
    std::fprintf(f, "%s\n{\"name\":\"%s\",\"SrcIpAddr\":\"%s\",\"window_ends\":[", first ? "" : ",",
                 c.name.c_str(), c.src.c_str());
    for (std::size_t i = 0; i < c.window_ends.size(); ++i)
      std::fprintf(f, "%s\"%s\"", i ? "," : "", alert_time(c.window_ends[i]).c_str());
    std::fputs("]}", f);
    first = false;
  }
  std::fputs("\n]", f);
  if (o.sweeps > 0) write_sweep_cases(f, p);
  std::fputs("}\n", f);
  std::fclose(f);
}

// The figures each case promises must hold in what was planted, or the test would be
// checking the wrong thing.
void check_cases(const planter& p) {
  for (const planted_case& c : p.cases()) {
    const auto it = p.keys().find({c.src, c.bin});
    if (it == p.keys().end()) continue;  // reported by write_manifest
    const std::size_t n = it->second.ports.size();
    if ((c.alert_default || c.alert_sentinel) && n <= 50) {
      std::fprintf(stderr, "gen_workload: case %s expects an alert with %zu ports\n",
                   c.name.c_str(), n);
      std::exit(1);
    }
    // Exact cases that must not alert are all about the count (only non-candidates, which
    // are never exact, may pass 50 without alerting).
    if (c.exact && !c.alert_default && !c.alert_sentinel && n > 50) {
      std::fprintf(stderr, "gen_workload: case %s has %zu ports but expects no alert\n",
                   c.name.c_str(), n);
      std::exit(1);
    }
  }
}

// Each sweep case must have planted what it says by hand: that many distinct destinations
// for its key, and an alert exactly when there are more than 50.
void check_sweeps(const planter& p) {
  for (const sweep_case& c : p.sweep_cases()) {
    if (c.port < 0) continue;
    const sweep_stats* w = p.sweep_key(c.src, c.bin, c.port);
    const std::size_t n = w == nullptr ? 0 : w->attempts.size();
    if (n != c.targets || (c.alert_default || c.alert_sentinel) != (n > 50)) {
      std::fprintf(stderr,
                   "gen_workload: sweep case %s planted %zu destinations, designed %zu (%s)\n",
                   c.name.c_str(), n, c.targets, c.alert_default ? "alert" : "no alert");
      std::exit(1);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  const options o = parse_options(argc, argv);
  const usec duration = static_cast<usec>(o.duration_min) * 60 * us_per_s;
  const usec end = o.start + duration;
  // Planted scans use whole bins inside [start, end).
  const usec first_bin = planter::floor_bin(o.start + bin_width - 1);
  const usec last_bin_end = planter::floor_bin(end);
  if (last_bin_end - first_bin < 4 * bin_width) {
    std::fputs("gen_workload: --duration-min must cover at least four whole 5-minute bins\n",
               stderr);
    return 2;
  }
  const auto bins = static_cast<std::uint64_t>((last_bin_end - first_bin) / bin_width);

  splitmix64 rng = keyed(o.seed, 2, 0);
  planter p(rng);
  plant_named_cases(p, rng, first_bin, bins);
  plant_random_scans(p, rng, o, first_bin, bins);
  if (o.sliding_cases) plant_sliding_cases(p, first_bin, bins);
  if (o.sweeps > 0) plant_sweeps(p, rng, o, first_bin, bins);
  check_cases(p);
  check_sweeps(p);

  // The background must not touch a source whose figures the manifest promises; mapped
  // spellings of planted sources are kept out too.
  std::unordered_map<std::string, bool> case_exact;
  for (const planted_case& c : p.cases()) case_exact[c.src] = c.exact;
  std::unordered_set<std::string> reserved;
  for (const record& r : p.records()) {
    const auto it = case_exact.find(std::string(r.src));
    if (it == case_exact.end() || it->second) reserved.emplace(r.src);
  }
  for (const auto& [src, exact] : case_exact)
    if (exact) reserved.insert(src);
  for (const sweep_case& c : p.sweep_cases()) reserved.insert(c.src);

  std::vector<record>& planted = p.records();
  // In the order written: time plus the delay of a record planted out of order.
  std::stable_sort(planted.begin(), planted.end(), [](const record& a, const record& b) {
    return a.time + a.delay < b.time + b.delay;
  });
  const std::uint64_t fixed = planted.size() + o.bad_lines;
  if (o.events < fixed + 1000) {
    std::fprintf(stderr,
                 "gen_workload: --events %llu is too small: the planted scans and malformed lines "
                 "alone take %llu lines; use at least %llu\n",
                 static_cast<unsigned long long>(o.events), static_cast<unsigned long long>(fixed),
                 static_cast<unsigned long long>(fixed + 1000));
    return 2;
  }
  const std::uint64_t background = o.events - fixed;
  const std::vector<source> sources = make_sources(o, reserved);

  auto faults = p.faults();
  // Malformed background lines, evenly spaced, cycling through every reason and spelling.
  static constexpr std::array<fault, 8> bad_cycle = {
      fault::invalid_json,  fault::bad_src_ip, fault::bad_dst_port, fault::missing_src_ip,
      fault::not_an_object, fault::bad_time,   fault::invalid_json, fault::bad_src_ip};
  const std::uint64_t bad_every = o.bad_lines == 0 ? 0 : background / o.bad_lines;

  // Heavy hitters (NAT gateways, busy proxies): 30% of the background from 0.5% of sources,
  // so "more than 50 rows in a bin" alone is no shortcut for the distinct count.
  const std::uint64_t heavy = std::max<std::uint64_t>(1, o.sources / 200);

  output out;
  std::size_t next_planted = 0;
  std::uint64_t lines = 0, bad_emitted = 0;
  const usec jitter = static_cast<usec>(o.jitter_s) * us_per_s;
  splitmix64 r = keyed(o.seed, 3, 0);
  // Malformed background lines name a valid source unless the source is their fault.
  const std::string_view fault_src = "198.18.7.7";
  auto pick_source = [&] { return r.per_mille(300) ? r.below(heavy) : r.below(o.sources); };
  std::array<std::uint64_t, 8> upcoming{};
  for (auto& k : upcoming) k = pick_source();
  for (std::uint64_t i = 0; i < background; ++i) {
    const usec base = o.start + static_cast<usec>(static_cast<u128>(i) *
                                                  static_cast<u128>(duration) / background);
    // Planted records go out in their own time order, ahead of the background at the same
    // time; only the background jitter makes the file slightly out of order.
    while (next_planted < planted.size() &&
           planted[next_planted].time + planted[next_planted].delay <= base) {
      append_record(out.buf(), planted[next_planted++]);
      ++lines;
      out.maybe_flush();
    }
    if (bad_every != 0 && bad_emitted < o.bad_lines && i % bad_every == bad_every / 2) {
      record b;
      b.time = base;
      b.src = fault_src;
      b.bad = bad_cycle[bad_emitted % bad_cycle.size()];
      // Each reason cycles through its spellings (the cycle length is coprime to them).
      b.variant = static_cast<std::uint8_t>(bad_emitted % 251);
      b.dst = 0xac140001u;
      b.port = 80;  // only a bad_dst_port line may have a bad port
      append_record(out.buf(), b);
      ++faults[static_cast<std::size_t>(b.bad)];
      ++bad_emitted;
      ++lines;
    }
    // Pick the source a few records ahead and prefetch it.
    const std::uint64_t k = upcoming[i % upcoming.size()];
    upcoming[i % upcoming.size()] = pick_source();
    __builtin_prefetch(&sources[upcoming[i % upcoming.size()]]);
    const source& s = sources[k];
    record rec;
    rec.src = s.address();
    rec.time = base + (jitter == 0 ? 0 : r.between(-jitter, jitter));
    const auto ts = r.below(100);
    rec.tstyle = ts < 55   ? time_style::millis
                 : ts < 80 ? time_style::whole
                 : ts < 95 ? time_style::micros
                           : time_style::offset_millis;
    rec.port = s.ports[r.below(s.nports)];
    const auto ps = r.below(100);
    rec.pstyle = ps < 90   ? port_style::number
                 : ps < 96 ? port_style::string
                 : ps < 98 ? port_style::json_null
                           : port_style::absent;
    rec.label =
        r.per_mille(900) ? s.label : static_cast<std::uint16_t>(r.below(common_labels.size()));
    rec.dst = s.dst ^ static_cast<std::uint32_t>(r.below(4));
    append_record(out.buf(), rec);
    ++lines;
    out.maybe_flush();
  }
  while (next_planted < planted.size()) {
    append_record(out.buf(), planted[next_planted++]);
    ++lines;
    out.maybe_flush();
  }
  while (bad_emitted < o.bad_lines) {  // only when background < bad_lines
    record b;
    b.time = end - 1;
    b.src = fault_src;
    b.bad = fault::invalid_json;
    append_record(out.buf(), b);
    ++faults[static_cast<std::size_t>(b.bad)];
    ++bad_emitted;
    ++lines;
  }
  out.flush();
  if (std::fflush(stdout) != 0) {
    std::perror("gen_workload: write");
    return 1;
  }
  if (!o.manifest.empty()) write_manifest(o, p, lines, faults, background, end);
  std::fprintf(stderr, "gen_workload: %llu lines (%llu background, %zu planted, %llu malformed)\n",
               static_cast<unsigned long long>(lines), static_cast<unsigned long long>(background),
               planted.size(), static_cast<unsigned long long>(bad_emitted));
  return 0;
}
