#include "parse/zeek_conn.hpp"

#include <array>

#include "event/network_session.hpp"
#include "parse/json_records.hpp"
#include "parse/port.hpp"
#include "parse/probe_util.hpp"

namespace portscand {
namespace {

using simdjson::ondemand::object;
using simdjson::ondemand::value;

// Sentinel's ASimNetworkSessionCorelightZeek sets these for every conn row.
constexpr std::string_view vendor = "Corelight";
constexpr std::string_view product = "Zeek";

// Zeek is a passive sensor: it blocks nothing, so ASIM leaves DvcAction empty. The one state
// that says what the network did is REJ (the SYN was answered by a RST): reported as Reset so
// that an analyst can tell closed ports from silent ones. S0 (SYN, no reply) stays unknown:
// a filtering firewall and an absent host look the same from the sensor.
dvc_action action_from_conn_state(std::string_view s) noexcept {
  return s == "REJ" ? dvc_action::reset : dvc_action::unknown;
}

// Fields of one conn record, as text views, gathered in any order and checked at the end so
// that JSON and TSV share one set of rules.
struct conn_fields {
  std::string_view ts, orig_h, resp_h, resp_p, proto, conn_state, system_name;
  bool has_ts = false, has_orig_h = false, has_resp_h = false, has_resp_p = false;
};

// Turns the gathered fields into a record or a rejection. The has_* flags are false for
// values that are absent: JSON null or no key, TSV's unset/empty markers.
void finish(const conn_fields& f, const parse_context& ctx, label_cache& labels, parse_sink& sink) {
  network_session s;
  if (!f.has_orig_h) {
    sink.rejected("missing_src_ip");
    return;
  }
  if (auto ip = ip_address::parse(f.orig_h)) {
    s.src = *ip;
  } else {
    sink.rejected("bad_src_ip");
    return;
  }
  if (f.has_resp_h) {
    // The rule does not use the destination: an unreadable one leaves it unset.
    if (auto ip = ip_address::parse(f.resp_h)) {
      s.dst = *ip;
      s.has_dst = true;
    }
  }
  s.protocol = protocol_from_name(f.proto);
  if (f.has_resp_p) {
    // ICMP rows carry the ICMP code here, as ASIM maps it (normalize() does not count it).
    if (!parse_port(f.resp_p, s.dst_port)) {
      sink.rejected("bad_dst_port");
      return;
    }
  }
  if (f.has_ts) {
    auto t = json::time_from_text(f.ts, ctx.zone);
    if (!t) {
      sink.rejected("bad_time");
      return;
    }
    s.time = *t;
    s.has_time = true;
  }
  s.action = action_from_conn_state(f.conn_state);
  // A conn record is the whole connection, told from the originator's side.
  s.side = flow_side::initiator;
  s.reported_by = labels.reported_by(vendor, product);
  if (!f.system_name.empty()) s.device = labels.get(f.system_name);
  sink.record(s);
}

// The JSON half: Zeek's JSON writer uses literal dotted keys ("id.orig_h"); a pipeline that
// re-nests them ({"id":{"orig_h":..}}) is read too.
class zeek_json_parser final : public json::record_parser {
 public:
  explicit zeek_json_parser(label_cache& labels) : record_parser(true), labels_(labels) {}

 protected:
  bool on_object(object obj, const parse_context& ctx, parse_sink& sink) override {
    conn_fields f;
    std::string_view path;
    bool has_path = false;
    const char* reject = nullptr;
    for (auto field : obj) {
      std::string_view key;
      value* const v_at = json::field_value(field, key, sink);
      if (v_at == nullptr) return false;
      value& v = *v_at;
      if (reject != nullptr) continue;
      if (key == "id") {
        object id;
        if (v.get_object().get(id) != simdjson::SUCCESS) continue;
        for (auto sub : id) {
          std::string_view k;
          value* const sv_at = json::field_value(sub, k, sink);
          if (sv_at == nullptr) return false;
          value& sv = *sv_at;
          if (const char* r = take(k, sv, f, "orig_h", "resp_h", "resp_p")) {
            reject = r;
            break;
          }
        }
        continue;
      }
      if (key.size() > 3 && key.substr(0, 3) == "id.") {
        if (const char* r = take(key.substr(3), v, f, "orig_h", "resp_h", "resp_p")) reject = r;
        continue;
      }
      std::string_view text;
      json::field_status st;
      if (key == "ts") {
        st = json::as_text(v, text);
        if (st == json::field_status::invalid) reject = "bad_time";
        f.has_ts = st == json::field_status::ok;
        f.ts = text;
      } else if (key == "proto") {
        if (json::as_text(v, text) == json::field_status::ok) f.proto = text;
      } else if (key == "conn_state") {
        if (json::as_text(v, text) == json::field_status::ok) f.conn_state = text;
      } else if (key == "_path") {
        if (json::as_text(v, text) == json::field_status::ok) {
          path = text;
          has_path = true;
        }
      } else if (key == "_system_name") {
        if (json::as_text(v, text) == json::field_status::ok) f.system_name = text;
      }
    }
    if (reject != nullptr) {
      sink.rejected(reject);
      return true;
    }
    // Corelight streams every log type with a _path; ASIM keeps conn and conn_red (the
    // reduced conn log) only. Plain Zeek JSON of conn.log has no _path at all.
    if (has_path && path != "conn" && path != "conn_red") {
      sink.skipped("not_conn_log");
      return true;
    }
    finish(f, ctx, labels_, sink);
    return true;
  }

 private:
  // Stores id.orig_h / id.resp_h / id.resp_p; returns a reject reason or nullptr.
  static const char* take(std::string_view k, value v, conn_fields& f, std::string_view orig_h,
                          std::string_view resp_h, std::string_view resp_p) noexcept {
    std::string_view text;
    if (k == orig_h) {
      const auto st = json::as_text(v, text);
      if (st == json::field_status::invalid) return "bad_src_ip";
      f.has_orig_h = st == json::field_status::ok && !text.empty();
      f.orig_h = text;
    } else if (k == resp_h) {
      f.has_resp_h = json::as_text(v, text) == json::field_status::ok && !text.empty();
      f.resp_h = text;
    } else if (k == resp_p) {
      const auto st = json::as_text(v, text);
      if (st == json::field_status::invalid) return "bad_dst_port";
      f.has_resp_p = st == json::field_status::ok && !text.empty();
      f.resp_p = text;
    }
    return nullptr;
  }

  label_cache& labels_;
};

// The TSV half. Column indexes of the fields we read; -1 = not in #fields.
struct tsv_columns {
  int ts = 0, orig_h = 2, resp_h = 4, resp_p = 5, proto = 6, conn_state = 11;
  int count = 12;  // columns needed to reach the last one we read
};

class zeek_conn_parser final : public format_parser {
 public:
  zeek_conn_parser() : json_(labels_) {}

  void parse(std::string_view unit, const parse_context& ctx, parse_sink& sink) override {
    const std::size_t first = unit.find_first_not_of(" \t\r\n");
    if (first != std::string_view::npos && (unit[first] == '{' || unit[first] == '[')) {
      json_.parse(unit, ctx, sink);
      return;
    }
    while (!unit.empty()) {
      const std::size_t nl = unit.find('\n');
      std::string_view line = unit.substr(0, nl);
      unit = nl == std::string_view::npos ? std::string_view{} : unit.substr(nl + 1);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (line.empty()) continue;
      if (line.front() == '#') {
        header_line(line, sink);
      } else {
        data_line(line, ctx, sink);
      }
    }
  }

 private:
  void header_line(std::string_view line, parse_sink& sink) {
    // "#separator \x09" is the one header whose own separator is a space: it defines the
    // separator for everything after it.
    if (line.substr(0, 11) == "#separator ") {
      std::string_view spec = line.substr(11);
      if (spec.size() == 4 && spec[0] == '\\' && spec[1] == 'x') {
        const int hi = hex(spec[2]), lo = hex(spec[3]);
        if (hi >= 0 && lo >= 0) sep_ = static_cast<char>(hi * 16 + lo);
      } else if (spec.size() == 1) {
        sep_ = spec[0];
      }
      sink.skipped("header");
      return;
    }
    const std::size_t cut = line.find(sep_);
    const std::string_view name = line.substr(0, cut);
    const std::string_view rest =
        cut == std::string_view::npos ? std::string_view{} : line.substr(cut + 1);
    if (name == "#fields") {
      set_fields(rest);
    } else if (name == "#path") {
      conn_path_ = rest == "conn" || rest == "conn_red";
    } else if (name == "#unset_field") {
      unset_.assign(rest);
    } else if (name == "#empty_field") {
      empty_.assign(rest);
    }
    sink.skipped("header");
  }

  void set_fields(std::string_view names) {
    tsv_columns c;
    c.ts = c.orig_h = c.resp_h = c.resp_p = c.proto = c.conn_state = -1;
    int i = 0;
    while (true) {
      const std::size_t cut = names.find(sep_);
      const std::string_view n = names.substr(0, cut);
      if (n == "ts")
        c.ts = i;
      else if (n == "id.orig_h")
        c.orig_h = i;
      else if (n == "id.resp_h")
        c.resp_h = i;
      else if (n == "id.resp_p")
        c.resp_p = i;
      else if (n == "proto")
        c.proto = i;
      else if (n == "conn_state")
        c.conn_state = i;
      ++i;
      if (cut == std::string_view::npos) break;
      names.remove_prefix(cut + 1);
    }
    c.count = i;
    cols_ = c;
  }

  void data_line(std::string_view line, const parse_context& ctx, parse_sink& sink) {
    if (!conn_path_) {
      sink.skipped("not_conn_log");
      return;
    }
    conn_fields f;
    int i = 0;
    while (true) {
      const std::size_t cut = line.find(sep_);
      std::string_view v = line.substr(0, cut);
      const bool set = v != unset_ && v != empty_ && !v.empty();
      if (i == cols_.ts) {
        f.ts = v;
        f.has_ts = set;
      } else if (i == cols_.orig_h) {
        f.orig_h = v;
        f.has_orig_h = set;
      } else if (i == cols_.resp_h) {
        f.resp_h = v;
        f.has_resp_h = set;
      } else if (i == cols_.resp_p) {
        f.resp_p = v;
        f.has_resp_p = set;
      } else if (i == cols_.proto) {
        if (set) f.proto = v;
      } else if (i == cols_.conn_state) {
        if (set) f.conn_state = v;
      }
      ++i;
      if (cut == std::string_view::npos) break;
      line.remove_prefix(cut + 1);
    }
    // A line with fewer columns than the header promised is truncated or of another log.
    if (i < cols_.count) {
      sink.rejected("missing_columns");
      return;
    }
    finish(f, ctx, labels_, sink);
  }

  static int hex(char c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }

  label_cache labels_;
  zeek_json_parser json_;
  // TSV state: Zeek's defaults until the input's own header lines say otherwise, so that
  // header-less conn.log lines (a tail that started mid-file) still parse.
  char sep_ = '\t';
  std::string unset_ = "-";
  std::string empty_ = "(empty)";
  tsv_columns cols_;
  bool conn_path_ = true;
};

bool is_digit(char c) noexcept {
  return c >= '0' && c <= '9';
}

// A TSV data line of conn.log: "<epoch>.<frac>\tC<uid>\t" (conn uids start with 'C').
bool probe_tsv_data(std::string_view head) noexcept {
  std::size_t i = 0;
  while (i < head.size() && is_digit(head[i])) ++i;
  if (i < 9 || i > 10 || i >= head.size() || head[i] != '.') return false;
  const std::size_t frac = ++i;
  while (i < head.size() && is_digit(head[i])) ++i;
  if (i == frac || i + 2 >= head.size() || head[i] != '\t') return false;
  return head[i + 1] == 'C';
}

// `"id": {"orig_h"` (blanks and line breaks allowed, any of the four id keys first): the
// conn id re-nested into an object, as pipelines (Logstash, Vector, jq) write Zeek JSON.
bool has_nested_conn_id(std::string_view head) noexcept {
  constexpr std::string_view blanks = " \t\r\n";
  for (std::size_t p = probe_find(head, "\"id\""); p != std::string_view::npos;
       p = probe_find(head, "\"id\"", p + 4)) {
    std::size_t i = head.find_first_not_of(blanks, p + 4);
    if (i == std::string_view::npos || head[i] != ':') continue;
    i = head.find_first_not_of(blanks, i + 1);
    if (i == std::string_view::npos || head[i] != '{') continue;
    i = head.find_first_not_of(blanks, i + 1);
    if (i == std::string_view::npos) return false;
    const std::string_view key = head.substr(i, 8);
    if (key == "\"orig_h\"" || key == "\"orig_p\"" || key == "\"resp_h\"" || key == "\"resp_p\"")
      return true;
  }
  return false;
}

bool probe_zeek_conn(std::string_view head) noexcept {
  const auto first = head.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return false;
  head.remove_prefix(first);
  if (head[0] == '{' || head[0] == '[') {
    // Vectra Stream metadata reuses Zeek's id.* keys; it carries metadata_type.
    if (probe_has(head, "\"metadata_type\"")) return false;
    return probe_has(head, "\"id.orig_h\"") || has_nested_conn_id(head);
  }
  if (head[0] == '#') {
    static constexpr std::array<std::string_view, 9> headers = {
        "#separator ", "#set_separator\t", "#empty_field\t", "#unset_field\t", "#path\t",
        "#open\t",     "#close\t",         "#fields\t",      "#types\t"};
    for (auto h : headers)
      if (head.substr(0, h.size()) == h) return true;
    return false;
  }
  return probe_tsv_data(head);
}

}  // namespace

format_entry zeek_conn_format() {
  return {"zeek-conn", "Zeek/Corelight conn.log: JSON lines or TSV with #fields headers",
          [] { return std::make_unique<zeek_conn_parser>(); }, probe_zeek_conn,
          [](std::string_view line) { return !line.empty() && line[0] == '#'; }};
}

}  // namespace portscand
