#include "publish/http_request.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <nlohmann/json.hpp>

#include "core/time.hpp"
#include "event/network_session.hpp"

namespace portscand {
namespace {

using ojson = nlohmann::ordered_json;

// TheHive 5 severities: 1 low, 2 medium, 3 high, 4 critical (no "informational").
int thehive_severity(std::string_view severity) {
  if (severity == "Critical") return 4;
  if (severity == "High") return 3;
  if (severity == "Medium") return 2;
  return 1;  // Low, Informational, anything unknown
}

std::string join_ports(const std::vector<std::uint16_t>& ports) {
  std::string out;
  for (auto p : ports) {
    if (!out.empty()) out += ',';
    out += std::to_string(p);
  }
  return out;
}

ojson thehive_alert(const alert& a, const http_output_config& cfg) {
  const rule_metadata& r = *a.rule;
  const std::string src = a.source_text();
  ojson tags = ojson::array({"portscand"});
  for (const auto& t : r.techniques) tags.push_back(t);
  for (const auto& t : r.tactics) tags.push_back(t);
  std::string description = expand_alert_format(r.description_format, a);
  description += "\n\n- Source: " + src;
  if (a.sweep()) {
    description += "\n- Port swept: " + std::to_string(a.swept_port);
    description += "\n- Distinct destination addresses: " + std::to_string(a.target_count);
  } else {
    description += "\n- Distinct destination ports: " + std::to_string(a.ports_count);
  }
  if (!a.ports.empty())
    description +=
        "\n- Ports (first " + std::to_string(a.ports.size()) + "): " + join_ports(a.ports);
  description += "\n- Window: " + format_iso8601(a.bin_start) + " to " + format_iso8601(a.bin_end);
  description += "\n- Events: " + std::to_string(a.event_count);
  if (!a.reported_by.empty()) {
    description += "\n- Reported by: ";
    for (std::size_t i = 0; i < a.reported_by.size(); ++i)
      description += (i == 0 ? "" : ", ") + a.reported_by[i];
  }
  if (a.has_targets) {
    description += "\n- Targets: ";
    for (std::size_t i = 0; i < a.targets.size(); ++i)
      description += (i == 0 ? "" : ", ") + a.targets[i].address.to_string() + " (" +
                     std::to_string(a.targets[i].attempts) + " attempts)";
    if (a.targets.empty()) description += "none known";
    if (a.targets_truncated) description += ", and more";
    description += "\n- Protocols: ";
    const auto protocols = protocol_bit_names(a.protocols);
    for (std::size_t i = 0; i < protocols.size(); ++i)
      description += std::string(i == 0 ? "" : ", ") + std::string(protocols[i]);
    if (protocols.empty()) description += "unknown";
    description += "\n- Outcomes: " + std::to_string(a.outcomes.allowed) + " allowed, " +
                   std::to_string(a.outcomes.denied) + " denied, " +
                   std::to_string(a.outcomes.dropped) + " dropped";
  }
  description += "\n- Rule: " + r.name + " (" + r.id + " v" + r.version + ")";
  description += "\n- Alert id: " + a.alert_id;
  if (a.early) {
    description +=
        "\n- Early alert: sent when the count crossed the threshold, before the "
        "window closed; the window's final alert follows with id " +
        a.final_alert_id;
    tags.push_back("portscand:early");
  }
  if (!a.incident_id.empty()) {
    description += "\n- Incident id: " + a.incident_id;
    // A tag every alert of the incident shares, so the analyst finds (and merges) them.
    tags.push_back("portscand:incident=" + a.incident_id);
  }

  ojson observables = ojson::array();
  observables.push_back({{"dataType", "ip"},
                         {"data", src},
                         {"message", a.sweep() ? "port sweep source" : "port scan source"},
                         {"tags", {"src"}},
                         {"ioc", false}});
  for (const auto& t : a.targets)
    observables.push_back({{"dataType", "ip"},
                           {"data", t.address.to_string()},
                           {"message", "scan target (" + std::to_string(t.attempts) + " attempts)"},
                           {"tags", {"dst"}},
                           {"ioc", false}});
  if (!a.ports.empty())
    observables.push_back({{"dataType", "other"},
                           {"data", "ports:" + join_ports(a.ports)},
                           {"message", "destination ports attempted (" +
                                           std::to_string(a.ports_count) + " distinct)"},
                           {"tags", {"dst_ports"}}});
  ojson j;
  j["type"] = cfg.thehive_type;
  j["source"] = cfg.thehive_source;
  j["sourceRef"] = a.alert_id;
  j["title"] = expand_alert_format(r.title_format, a);
  j["description"] = description;
  j["severity"] = thehive_severity(r.severity);
  j["date"] = a.detected_at / 1000;  // milliseconds since the epoch
  j["tags"] = std::move(tags);
  j["tlp"] = 2;
  j["pap"] = 2;
  j["observables"] = std::move(observables);
  return j;
}

ojson splunk_event(const alert& a, const http_output_config& cfg, output_schema schema,
                   const std::string& host) {
  const alert_schema s = schema == output_schema::ocsf ? alert_schema::ocsf : alert_schema::native;
  ojson j;
  // Epoch seconds with milliseconds: the alert's TimeGenerated (the bin start).
  const std::int64_t bin_start_ms = a.bin_start / 1000;
  j["time"] = static_cast<double>(bin_start_ms) / 1000.0;
  j["host"] = cfg.splunk_host.empty() ? host : cfg.splunk_host;
  j["source"] = cfg.splunk_source;
  j["sourcetype"] = !cfg.splunk_sourcetype.empty()  ? cfg.splunk_sourcetype
                    : schema == output_schema::ocsf ? "portscand:ocsf"
                                                    : "portscand:alert";
  if (!cfg.splunk_index.empty()) j["index"] = cfg.splunk_index;
  j["event"] = ojson::parse(render_alert(a, s));
  return j;
}

// RFC 9110 §5.6.7 day and month names.
constexpr std::array<std::string_view, 12> months = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

bool digits(std::string_view s, std::size_t n, int& out) {
  if (s.size() != n) return false;
  out = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    out = out * 10 + (c - '0');
  }
  return true;
}

int month_index(std::string_view m) {
  for (std::size_t i = 0; i < months.size(); ++i)
    if (months[i] == m) return static_cast<int>(i) + 1;
  return 0;
}

bool hms(std::string_view s, int& h, int& m, int& sec) {
  return s.size() == 8 && s[2] == ':' && s[5] == ':' && digits(s.substr(0, 2), 2, h) &&
         digits(s.substr(3, 2), 2, m) && digits(s.substr(6, 2), 2, sec) && h < 24 && m < 60 &&
         sec < 61;
}

std::vector<std::string_view> split_spaces(std::string_view s) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && s[i] == ' ') ++i;
    const std::size_t start = i;
    while (i < s.size() && s[i] != ' ') ++i;
    if (i > start) out.push_back(s.substr(start, i - start));
  }
  return out;
}

// Seconds since the epoch of an HTTP-date, or nullopt.
std::optional<std::int64_t> parse_http_date(std::string_view v) {
  int day = 0, month = 0, year = 0, h = 0, m = 0, s = 0;
  const auto parts = split_spaces(v);
  if (parts.size() == 6 && parts[0].size() == 4 && parts[0][3] == ',' && parts[5] == "GMT") {
    // IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT
    if (!digits(parts[1], 2, day) || (month = month_index(parts[2])) == 0 ||
        !digits(parts[3], 4, year) || !hms(parts[4], h, m, s))
      return std::nullopt;
  } else if (parts.size() == 4 && !parts[0].empty() && parts[0].back() == ',' &&
             parts[3] == "GMT") {
    // RFC 850: Sunday, 06-Nov-94 08:49:37 GMT (two-digit years: 70-99 are 19xx)
    const std::string_view d = parts[1];
    if (d.size() != 9 || d[2] != '-' || d[6] != '-' || !digits(d.substr(0, 2), 2, day) ||
        (month = month_index(d.substr(3, 3))) == 0 || !digits(d.substr(7, 2), 2, year) ||
        !hms(parts[2], h, m, s))
      return std::nullopt;
    year += year < 70 ? 2000 : 1900;
  } else if (parts.size() == 5) {
    // asctime: Sun Nov  6 08:49:37 1994
    if ((month = month_index(parts[1])) == 0 || parts[2].empty() || parts[2].size() > 2 ||
        !digits(parts[2], parts[2].size(), day) || !hms(parts[3], h, m, s) ||
        !digits(parts[4], 4, year))
      return std::nullopt;
  } else {
    return std::nullopt;
  }
  if (day < 1 || day > 31) return std::nullopt;
  const std::int64_t days =
      days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
  return days * 86400 + h * 3600 + m * 60 + s;
}

}  // namespace

std::optional<http_url> parse_http_url(const std::string& url) {
  if (http_url_problem(url)) return std::nullopt;
  http_url out;
  out.tls = url.rfind("https://", 0) == 0;
  const std::string rest = url.substr(out.tls ? 8 : 7);
  const auto path_at = rest.find_first_of("/?");
  const std::string authority = rest.substr(0, path_at);
  out.target = path_at == std::string::npos ? "/" : rest.substr(path_at);
  if (out.target.front() == '?') out.target.insert(0, "/");
  out.host_header = authority;
  std::string port;
  if (authority.front() == '[') {
    const auto close = authority.find(']');
    out.host = authority.substr(1, close - 1);
    if (close + 1 < authority.size()) port = authority.substr(close + 2);
  } else if (const auto colon = authority.rfind(':'); colon != std::string::npos) {
    out.host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  } else {
    out.host = authority;
  }
  out.port = port.empty() ? (out.tls ? "443" : "80") : port;
  return out;
}

std::string render_http_element(const alert& a, const http_output_config& cfg, output_schema schema,
                                const std::string& host) {
  const auto dump = [](const ojson& j) {
    return j.dump(-1, ' ', false, ojson::error_handler_t::replace);
  };
  switch (cfg.preset) {
    case http_preset::thehive:
      return dump(thehive_alert(a, cfg));
    case http_preset::splunk_hec:
      return dump(splunk_event(a, cfg, schema, host));
    case http_preset::webhook:
      break;
  }
  return render_alert(a, schema == output_schema::ocsf ? alert_schema::ocsf : alert_schema::native);
}

std::string http_body(http_batch batch, const std::vector<std::string_view>& elements) {
  std::string out;
  std::size_t total = 2;
  for (auto e : elements) total += e.size() + 1;
  out.reserve(total);
  if (batch == http_batch::array) {
    out += '[';
    for (std::size_t i = 0; i < elements.size(); ++i) {
      if (i > 0) out += ',';
      out += elements[i];
    }
    out += ']';
  } else if (batch == http_batch::ndjson) {
    for (auto e : elements) {
      out += e;
      out += '\n';
    }
  } else {
    for (auto e : elements) out += e;  // one element
  }
  return out;
}

std::string_view http_content_type(http_preset preset, http_batch batch) {
  // HEC reads its stacked events from an application/json body.
  if (batch == http_batch::ndjson && preset != http_preset::splunk_hec)
    return "application/x-ndjson";
  return "application/json";
}

std::string http_idempotency_key(const std::vector<std::string_view>& alert_ids) {
  if (alert_ids.size() == 1) return std::string(alert_ids.front());
  std::string name = "batch";
  for (auto id : alert_ids) {
    name += '|';
    name += id;
  }
  return uuid_v5(alert_id_namespace, name);
}

std::optional<std::chrono::seconds> parse_retry_after(std::string_view value,
                                                      std::chrono::system_clock::time_point now) {
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  if (value.empty()) return std::nullopt;
  if (std::all_of(value.begin(), value.end(),
                  [](char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; })) {
    std::uint64_t s = 0;
    const auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), s);
    // Absurdly large values are as good as "a very long time"; the caller caps them.
    if (ec == std::errc::result_out_of_range) return std::chrono::seconds(INT32_MAX);
    if (ec != std::errc() || p != value.data() + value.size()) return std::nullopt;
    return std::chrono::seconds(std::min<std::uint64_t>(s, INT32_MAX));
  }
  const auto at = parse_http_date(value);
  if (!at) return std::nullopt;
  const std::int64_t now_s =
      std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  return std::chrono::seconds(std::clamp<std::int64_t>(*at - now_s, 0, INT32_MAX));
}

std::chrono::milliseconds full_jitter_backoff(std::chrono::milliseconds base,
                                              std::chrono::milliseconds max, std::uint32_t attempt,
                                              std::uint64_t random) {
  const std::uint32_t doublings = std::min<std::uint32_t>(attempt == 0 ? 0 : attempt - 1, 30);
  const std::int64_t b = std::max<std::int64_t>(base.count(), 0);
  const std::int64_t cap = std::max<std::int64_t>(max.count(), 0);
  const std::int64_t ceiling =
      b > (cap >> doublings) ? cap : std::min<std::int64_t>(cap, b << doublings);
  return std::chrono::milliseconds(
      static_cast<std::int64_t>(random % (static_cast<std::uint64_t>(ceiling) + 1)));
}

bool http_status_retriable(unsigned status) {
  return status == 429 || status >= 500 || status == 401 || status == 403 || status == 408;
}

}  // namespace portscand
