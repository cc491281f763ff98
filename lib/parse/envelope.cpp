#include "parse/envelope.hpp"

#include <array>
#include <cstring>
#include <optional>
#include <stdexcept>

#include "parse/field_table.hpp"
#include "parse/json_util.hpp"
#include "parse/syslog_header.hpp"

namespace portscand {
namespace {

using simdjson::ondemand::object;
using simdjson::ondemand::value;

constexpr std::size_t max_path = 96;

enum class text_kind : std::uint8_t { absent, text, not_text, unreadable };

// A string value: a view of the parsed buffer when it holds no escapes (in_unit), else the
// unescaped text in the parser's string buffer. null is absent; any other type is not_text.
text_kind string_of(value& v, std::string_view& out, bool& in_unit) noexcept {
  const std::string_view token = v.raw_json_token();
  if (token.empty()) return text_kind::unreadable;
  if (token[0] == '"') {
    std::string_view inner;
    if (json::raw_string(token, inner) && !json::has_backslash(inner.data(), inner.size())) {
      out = inner;
      in_unit = true;
      return text_kind::text;
    }
    if (v.get_string().get(out) != simdjson::SUCCESS) return text_kind::unreadable;
    in_unit = false;
    return text_kind::text;
  }
  if (token.substr(0, 4) == "null") return text_kind::absent;
  return text_kind::not_text;
}

// A time as shippers write it: ISO 8601 / RFC 3339 (zone-less: the input's zone), an epoch
// number or numeric string (s/ms/us/ns by magnitude, a fraction allowed: Fluent Bit, HEC), or
// a BSD "Mmm dd hh:mm:ss" (syslog-ng's DATE; the year from the receive time).
std::optional<timestamp_us> envelope_time(std::string_view text,
                                          const parse_context& ctx) noexcept {
  if (text.empty()) return std::nullopt;
  if (text.size() >= 10 && text[4] == '-') return syslog_time::read_iso8601(text, ctx.zone);
  if (text[0] >= '0' && text[0] <= '9') return json::epoch_to_us(text);
  syslog_time::legacy_fields f;
  if (syslog_time::parse_legacy(text, f) != text.size()) return std::nullopt;
  return syslog_time::resolve(f, ctx.zone, ctx.receive_time);
}

// Message fields, in the order they are preferred: the raw line before the line with its
// header taken off (event.original / rawmsg keep the syslog header, whose time and host
// beat the envelope's).
enum message_slot : std::uint8_t {
  m_event_original,  // Filebeat / Elastic Agent / Logstash (ECS mode)
  m_message,         // Filebeat, Logstash, Vector, Fluent Bit (syslog parser), generic
  m_log,             // Fluent Bit (tail and forward inputs)
  m_rawmsg,          // rsyslog
  m_msg,             // rsyslog
  m_upper_message,   // syslog-ng format-json
  m_event_text,      // Splunk HEC
  message_slots
};
enum time_slot : std::uint8_t {
  t_at_timestamp,  // Filebeat, Logstash (Fluent Bit's out_kafka default key too)
  t_timestamp,     // Vector
  t_timereported,  // rsyslog
  t_isodate,       // syslog-ng
  t_date,          // Fluent Bit
  t_time,          // Splunk HEC
  t_upper_date,    // syslog-ng
  time_slots
};
enum host_slot : std::uint8_t {
  h_log_syslog_hostname,  // Filebeat syslog input/processor: the device
  h_hostname,             // Vector syslog source, rsyslog
  h_upper_host,           // syslog-ng
  h_host_text,            // Logstash (legacy), Vector, Splunk HEC, Fluent Bit
  h_host_name,            // Beats: the shipper's own host
  h_host_hostname,
  h_fromhost_ip,  // rsyslog: the sender's address
  host_slots
};
enum app_slot : std::uint8_t {
  a_log_syslog_appname,
  a_appname,      // Vector syslog source
  a_programname,  // rsyslog
  a_app_name,     // rsyslog (RFC 5424 APP-NAME)
  a_program,      // syslog-ng
  a_ident,        // Fluent Bit syslog parser
  app_slots
};

struct scan {
  std::array<std::string_view, message_slots> message{};
  std::array<bool, message_slots> message_seen{}, message_in_unit{}, message_bad{};
  std::array<std::string_view, time_slots> time{};
  std::array<std::string_view, host_slots> host{};
  std::array<std::string_view, app_slots> app{};
  bool bad_host = false;
  bool endpoint = false;  // ECS source/destination: a normalized event, not an envelope
  bool category = false;  // ECS event.category: the shipper's pipeline classified it
  bool elastic = false;   // agent / ecs / log.*: Beats and Elastic Agent
  bool logstash = false;  // @version
  bool vector = false;    // source_type
  bool fluent_date = false;
  bool marks = false;  // any field only shippers write: an envelope even without a message
  bool broken = false;
};

void read_message(value& v, scan& s, message_slot slot) noexcept {
  bool in_unit = false;
  std::string_view text;
  switch (string_of(v, text, in_unit)) {
    case text_kind::absent:
      return;
    case text_kind::text:
      s.message[slot] = text;
      s.message_in_unit[slot] = in_unit;
      s.message_seen[slot] = true;
      return;
    case text_kind::not_text:
      s.message_seen[slot] = true;
      s.message_bad[slot] = true;
      return;
    case text_kind::unreadable:
      s.broken = true;
      return;
  }
}

void read_time(value& v, scan& s, time_slot slot) noexcept {
  std::string_view text;
  if (json::as_text(v, text) == json::field_status::ok) s.time[slot] = text;
}

// A host or app name: a string, else passed over (a host of another type is noted).
template <std::size_t N>
void read_name(value& v, scan& s, std::array<std::string_view, N>& slots, std::size_t slot) {
  bool in_unit = false;
  std::string_view text;
  const text_kind k = string_of(v, text, in_unit);
  if (k == text_kind::text)
    slots[slot] = text;
  else if (k == text_kind::not_text && N == host_slots)
    s.bad_host = true;
  else if (k == text_kind::unreadable)
    s.broken = true;
}

// The top-level keys the envelope reader looks at. `elastic` and `endpoint` stand for several
// keys with the same meaning: an Elastic shipper's marks, an ECS endpoint field.
enum class envelope_key : std::uint8_t {
  other,
  msg,
  log,
  elastic,
  host,
  time,
  date,
  upper_host,
  upper_date,
  event,
  ident,
  rawmsg,
  source,
  message,
  upper_message,
  appname,
  isodate,
  program,
  hostname,
  version,
  app_name,
  timestamp,
  host_name,
  endpoint,
  at_timestamp,
  source_type,
  destination,
  fromhost_ip,
  programname,
  timereported,
  host_hostname,
  event_original,
  event_category,
  log_syslog_appname,
  log_syslog_hostname
};

constexpr auto envelope_keys = make_field_table(
    envelope_key::other, {{"msg", envelope_key::msg},
                          {"log", envelope_key::log},
                          {"ecs", envelope_key::elastic},
                          {"host", envelope_key::host},
                          {"time", envelope_key::time},
                          {"date", envelope_key::date},
                          {"HOST", envelope_key::upper_host},
                          {"DATE", envelope_key::upper_date},
                          {"event", envelope_key::event},
                          {"agent", envelope_key::elastic},
                          {"ident", envelope_key::ident},
                          {"rawmsg", envelope_key::rawmsg},
                          {"source", envelope_key::source},
                          {"message", envelope_key::message},
                          {"MESSAGE", envelope_key::upper_message},
                          {"appname", envelope_key::appname},
                          {"ISODATE", envelope_key::isodate},
                          {"PROGRAM", envelope_key::program},
                          {"hostname", envelope_key::hostname},
                          {"@version", envelope_key::version},
                          {"app-name", envelope_key::app_name},
                          {"timestamp", envelope_key::timestamp},
                          {"host.name", envelope_key::host_name},
                          {"source.ip", envelope_key::endpoint},
                          {"@timestamp", envelope_key::at_timestamp},
                          {"source_type", envelope_key::source_type},
                          {"ecs.version", envelope_key::elastic},
                          {"destination", envelope_key::destination},
                          {"fromhost-ip", envelope_key::fromhost_ip},
                          {"programname", envelope_key::programname},
                          {"timereported", envelope_key::timereported},
                          {"host.hostname", envelope_key::host_hostname},
                          {"event.original", envelope_key::event_original},
                          {"event.category", envelope_key::event_category},
                          {"source.address", envelope_key::endpoint},
                          {"destination.ip", envelope_key::endpoint},
                          {"destination.port", envelope_key::endpoint},
                          {"log.syslog.appname", envelope_key::log_syslog_appname},
                          {"log.syslog.hostname", envelope_key::log_syslog_hostname},
                          {"destination.address", envelope_key::endpoint}});

// Calls f(key, value&) for each field of the object `v`; false when it cannot be read.
template <class F>
bool for_each_field(value& v, const F& f) noexcept {
  object o;
  if (v.get_object().get(o) != simdjson::SUCCESS) return false;
  for (auto field : o) {
    std::string_view key;
    if (!json::key_of(field, key)) return false;
    value sub;
    if (field.value().get(sub) != simdjson::SUCCESS) return false;
    f(key, sub);
  }
  return true;
}

bool is_object(value& v) noexcept {
  const std::string_view token = v.raw_json_token();
  return !token.empty() && token[0] == '{';
}

void scan_field(std::string_view key, value& v, scan& s) noexcept {
  if (s.broken) return;
  switch (envelope_keys.find(key)) {
    case envelope_key::msg:
      read_message(v, s, m_msg);
      return;
    case envelope_key::log:
      if (is_object(v)) {
        s.elastic = true;
        s.broken |= !for_each_field(v, [&s](std::string_view k, value& sub) {
          if (k == "syslog" && is_object(sub)) {
            s.marks = true;
            s.broken |= !for_each_field(sub, [&s](std::string_view k2, value& leaf) {
              if (k2 == "hostname")
                read_name(leaf, s, s.host, h_log_syslog_hostname);
              else if (k2 == "appname")
                read_name(leaf, s, s.app, a_log_syslog_appname);
            });
          }
        });
      } else {
        read_message(v, s, m_log);
      }
      return;
    case envelope_key::elastic:
      s.elastic = s.marks = true;
      return;
    case envelope_key::host:
      if (is_object(v)) {
        s.broken |= !for_each_field(v, [&s](std::string_view k, value& leaf) {
          if (k == "name")
            read_name(leaf, s, s.host, h_host_name);
          else if (k == "hostname")
            read_name(leaf, s, s.host, h_host_hostname);
        });
      } else {
        read_name(v, s, s.host, h_host_text);
      }
      return;
    case envelope_key::time:
      read_time(v, s, t_time);
      return;
    case envelope_key::date:
      read_time(v, s, t_date);
      s.fluent_date = true;
      return;
    case envelope_key::upper_host:
      read_name(v, s, s.host, h_upper_host);
      s.marks = true;
      return;
    case envelope_key::upper_date:
      read_time(v, s, t_upper_date);
      return;
    case envelope_key::event:
      if (is_object(v)) {
        s.broken |= !for_each_field(v, [&s](std::string_view k, value& leaf) {
          if (k == "original")
            read_message(leaf, s, m_event_original);
          else if (k == "category")
            s.category = true;
        });
      } else {
        read_message(v, s, m_event_text);
      }
      return;
    case envelope_key::ident:
      read_name(v, s, s.app, a_ident);
      return;
    case envelope_key::rawmsg:
      read_message(v, s, m_rawmsg);
      return;
    case envelope_key::source:
      s.endpoint |= is_object(v);
      return;
    case envelope_key::message:
      read_message(v, s, m_message);
      return;
    case envelope_key::upper_message:
      read_message(v, s, m_upper_message);
      return;
    case envelope_key::appname:
      read_name(v, s, s.app, a_appname);
      return;
    case envelope_key::isodate:
      read_time(v, s, t_isodate);
      return;
    case envelope_key::program:
      read_name(v, s, s.app, a_program);
      s.marks = true;
      return;
    case envelope_key::hostname:
      read_name(v, s, s.host, h_hostname);
      return;
    case envelope_key::version:
      s.logstash = s.marks = true;
      return;
    case envelope_key::app_name:
      read_name(v, s, s.app, a_app_name);
      return;
    case envelope_key::timestamp:
      read_time(v, s, t_timestamp);
      return;
    case envelope_key::host_name:
      read_name(v, s, s.host, h_host_name);
      return;
    case envelope_key::endpoint:
      s.endpoint = true;
      return;
    case envelope_key::at_timestamp:
      read_time(v, s, t_at_timestamp);
      return;
    case envelope_key::source_type:
      s.vector = s.marks = true;
      return;
    case envelope_key::destination:
      s.endpoint |= is_object(v);
      return;
    case envelope_key::fromhost_ip:
      read_name(v, s, s.host, h_fromhost_ip);
      s.marks = true;
      return;
    case envelope_key::programname:
      read_name(v, s, s.app, a_programname);
      return;
    case envelope_key::timereported:
      read_time(v, s, t_timereported);
      s.marks = true;
      return;
    case envelope_key::host_hostname:
      read_name(v, s, s.host, h_host_hostname);
      return;
    case envelope_key::event_original:
      read_message(v, s, m_event_original);
      return;
    case envelope_key::event_category:
      s.category = true;
      return;
    case envelope_key::log_syslog_appname:
      read_name(v, s, s.app, a_log_syslog_appname);
      return;
    case envelope_key::log_syslog_hostname:
      read_name(v, s, s.host, h_log_syslog_hostname);
      return;
    case envelope_key::other:
      return;
  }
}

template <std::size_t N>
std::string_view first_of(const std::array<std::string_view, N>& slots) noexcept {
  for (std::string_view v : slots)
    if (!v.empty()) return v;
  return {};
}

void pick_time(const std::string_view* texts, std::size_t n, const parse_context& ctx,
               envelope_fields& out) noexcept {
  for (std::size_t i = 0; i < n; ++i) {
    if (texts[i].empty()) continue;
    if (auto t = envelope_time(texts[i], ctx)) {
      out.time = *t;
      out.bad_time = false;
      return;
    }
    out.bad_time = true;
  }
}

}  // namespace

// The top-level fields the shippers document for their output (the envelope's own), as the
// fixtures' NOTICE.md lists them, plus the common extras (tags, fields, kubernetes metadata).
// None is a key a JSON format's probe looks for, except ECS's @timestamp/ecs (handled apart).
bool shipper_key(std::string_view key) noexcept {
  static constexpr std::string_view keys[] = {
      // Beats / Elastic Agent / Logstash (ECS base fields they add)
      "@metadata", "@timestamp", "@version", "agent", "cloud", "container", "data_stream", "ecs",
      "elastic_agent", "event", "fields", "host", "input", "kubernetes", "labels", "log", "message",
      "orchestrator", "path", "service", "tags", "type",
      // Vector
      "appname", "facility", "file", "hostname", "msgid", "offset", "port", "procid", "severity",
      "source_ip", "source_type", "timestamp", "version",
      // Fluent Bit
      "date", "ident", "pid", "pri", "stream", "time",
      // rsyslog message properties
      "$!", "$.", "$/", "app-name", "fromhost", "fromhost-ip", "inputname", "iut", "msg",
      "pri-text", "programname", "protocol-version", "rawmsg", "rawmsg-after-pri", "source",
      "structured-data", "syslogfacility", "syslogfacility-text", "syslogpriority",
      "syslogpriority-text", "syslogseverity", "syslogseverity-text", "syslogtag", "timegenerated",
      "timereported", "uuid",
      // syslog-ng macros
      "DATE", "FACILITY", "HOST", "HOST_FROM", "ISODATE", "LEGACY_MSGHDR", "LEVEL", "MESSAGE",
      "MSGHDR", "MSGID", "PID", "PRIORITY", "PROGRAM", "SDATA", "SEQNUM", "SOURCE", "SOURCEIP",
      "TAGS",
      // Splunk HEC
      "index", "sourcetype"};
  // Bucketed by length and first byte, built once: this runs on every JSON unit of an
  // auto-envelope input, where a scan of the whole list cost a quarter of an ASIM parse.
  struct bucket {
    char first;
    std::string_view key;
  };
  static const auto by_length = [] {
    std::array<std::vector<bucket>, 32> t;
    for (std::string_view k : keys)
      if (k.size() < t.size()) t[k.size()].push_back({k[0], k});
    return t;
  }();
  if (!key.empty() && key.size() < by_length.size())
    for (const bucket& b : by_length[key.size()])
      if (b.first == key[0] && b.key == key) return true;
  // Flat dotted spellings of the Beats objects ("host.name", "log.syslog.hostname").
  for (std::string_view prefix : {"@metadata.", "agent.", "ecs.", "host.", "input.", "log."})
    if (key.substr(0, prefix.size()) == prefix) return true;
  return key == "event.original";
}

bool valid_envelope_path(std::string_view path) noexcept {
  if (path.empty() || path.size() > max_path) return false;
  std::size_t segments = 1;
  for (std::size_t i = 0; i < path.size(); ++i) {
    if (path[i] != '.') continue;
    if (i == 0 || i + 1 == path.size() || path[i + 1] == '.') return false;
    ++segments;
  }
  return segments <= 5;
}

envelope_reader::envelope_reader(envelope_options opt) : opt_(std::move(opt)) {
  if (opt_.mode != envelope_options::kind::custom) return;
  if (!valid_envelope_path(opt_.message))
    throw std::invalid_argument("envelope: invalid message path '" + opt_.message + "'");
  for (const std::string* p : {&opt_.time, &opt_.host})
    if (!p->empty() && !valid_envelope_path(*p))
      throw std::invalid_argument("envelope: invalid path '" + *p + "'");
}

envelope_reader::outcome envelope_reader::read(std::string_view unit, const parse_context& ctx,
                                               bool ecs_claimed, bool stop_at_foreign,
                                               envelope_fields& out) {
  simdjson::ondemand::document doc;
  object obj;
  if (parser_.iterate(json::padded_view(unit, ctx, scratch_)).get(doc) != simdjson::SUCCESS ||
      doc.get_object().get(obj) != simdjson::SUCCESS)
    return outcome::invalid_json;
  if (opt_.mode == envelope_options::kind::custom) return read_custom(obj, ctx, out);
  return read_auto(obj, ctx, ecs_claimed, stop_at_foreign, out);
}

envelope_reader::outcome envelope_reader::read_auto(object obj, const parse_context& ctx,
                                                    bool ecs_claimed, bool stop_at_foreign,
                                                    envelope_fields& out) {
  scan s;
  for (auto field : obj) {
    std::string_view key;
    if (!json::key_of(field, key)) return outcome::invalid_json;
    if (stop_at_foreign && !shipper_key(key)) return outcome::foreign;
    value v;
    if (field.value().get(v) != simdjson::SUCCESS) return outcome::invalid_json;
    scan_field(key, v, s);
    if (s.broken) return outcome::invalid_json;
  }
  // A normalized ECS event (the shipper's pipeline parsed the line: it names the endpoints or
  // classified the event) is read as ECS, whatever message it also carries.
  if (s.endpoint || s.category) return outcome::not_envelope;
  std::size_t slot = message_slots;
  bool bad = false;
  for (std::size_t i = 0; i < message_slots; ++i) {
    if (!s.message_seen[i]) continue;
    if (s.message_bad[i]) {
      bad = true;
      continue;
    }
    slot = i;
    break;
  }
  if (slot == message_slots) {
    if (bad) return outcome::message_not_text;
    if (ecs_claimed || !s.marks) return outcome::not_envelope;
    return outcome::without_message;
  }
  out = envelope_fields{};
  out.message = s.message[slot];
  out.message_in_unit = s.message_in_unit[slot];
  if (s.vector)
    out.shape = "vector";
  else if (s.logstash)
    out.shape = "logstash";
  else if (slot == m_event_original || s.elastic)
    out.shape = "filebeat";
  else if (slot == m_log || (slot == m_message && s.fluent_date))
    out.shape = "fluent-bit";
  else if (slot == m_rawmsg || slot == m_msg)
    out.shape = "rsyslog";
  else if (slot == m_upper_message)
    out.shape = "syslog-ng";
  else if (slot == m_event_text)
    out.shape = "splunk-hec";
  else
    out.shape = "message";
  pick_time(s.time.data(), s.time.size(), ctx, out);
  out.host = first_of(s.host);
  out.bad_host = s.bad_host && out.host.empty();
  out.app = first_of(s.app);
  return outcome::unwrapped;
}

namespace {

// Walks the fields of `obj`, giving each value whose dotted path (nested objects or dotted
// flat keys, mixed as the producer likes) equals a target to visit(index, value), and entering
// only objects on the way to a target.
template <class Visit>
bool walk_targets(object obj, const std::string_view (&targets)[3], char* buf, std::size_t len,
                  int depth, const Visit& visit) {
  for (auto field : obj) {
    std::string_view key;
    if (!json::key_of(field, key)) return false;
    value v;
    if (field.value().get(v) != simdjson::SUCCESS) return false;
    std::size_t n = len;
    if (n != 0) {
      if (n + 1 + key.size() > max_path) continue;
      buf[n++] = '.';
    } else if (key.size() > max_path) {
      continue;
    }
    std::memcpy(buf + n, key.data(), key.size());
    n += key.size();
    const std::string_view path(buf, n);
    bool matched = false, on_the_way = false;
    for (std::size_t i = 0; i < 3; ++i) {
      const std::string_view t = targets[i];
      if (t.empty()) continue;
      if (t == path) {
        if (!visit(i, v)) return false;
        matched = true;
        break;
      }
      on_the_way |= t.size() > n && t[n] == '.' && t.substr(0, n) == path;
    }
    if (matched || !on_the_way || depth >= 4 || !is_object(v)) continue;
    object child;
    if (v.get_object().get(child) != simdjson::SUCCESS) return false;
    if (!walk_targets(child, targets, buf, n, depth + 1, visit)) return false;
  }
  return true;
}

}  // namespace

envelope_reader::outcome envelope_reader::read_custom(object obj, const parse_context& ctx,
                                                      envelope_fields& out) {
  const std::string_view targets[3] = {opt_.message, opt_.time, opt_.host};
  std::string_view found[3];
  bool seen[3] = {}, in_unit[3] = {}, not_text[3] = {};
  // The first occurrence of a path counts (a nested and a flat spelling of one path).
  auto visit = [&](std::size_t i, value& v) {
    if (seen[i]) return true;
    if (i == 1) {  // the time may be a number
      std::string_view text;
      const json::field_status st = json::as_text(v, text);
      seen[i] = st != json::field_status::absent;
      if (st == json::field_status::ok)
        found[i] = text;
      else
        not_text[i] = seen[i];
      return true;
    }
    switch (string_of(v, found[i], in_unit[i])) {
      case text_kind::absent:
        return true;
      case text_kind::text:
        seen[i] = true;
        return true;
      case text_kind::not_text:
        seen[i] = not_text[i] = true;
        return true;
      case text_kind::unreadable:
        return false;
    }
    return false;
  };
  std::array<char, max_path> buf{};
  if (!walk_targets(obj, targets, buf.data(), 0, 0, visit)) return outcome::invalid_json;
  if (not_text[0]) return outcome::message_not_text;
  if (!seen[0]) return outcome::without_message;
  out = envelope_fields{};
  out.shape = "custom";
  out.message = found[0];
  out.message_in_unit = in_unit[0];
  if (not_text[1])
    out.bad_time = true;
  else if (seen[1])
    pick_time(&found[1], 1, ctx, out);
  if (not_text[2])
    out.bad_host = true;
  else
    out.host = found[2];
  return outcome::unwrapped;
}

std::string_view raw_first_key(std::string_view unit) noexcept {
  std::size_t i = unit.find_first_not_of(" \t\r\n");
  if (i == std::string_view::npos || unit[i] != '{') return {};
  i = unit.find_first_not_of(" \t\r\n", i + 1);
  if (i == std::string_view::npos || unit[i] != '"') return {};
  // A plain loop: find_first_of with a set calls memchr once per byte.
  for (std::size_t end = i + 1; end < unit.size(); ++end) {
    if (unit[end] == '\\') return {};
    if (unit[end] == '"') return unit.substr(i + 1, end - i - 1);
  }
  return {};
}

}  // namespace portscand
