#pragma once

// Field helpers for the JSON formats, and record_parser: the JSON driver (document_reader,
// json_util.hpp) as a format_parser base for formats that take no record wrapper.
// Header-only so that adding a format stays one line in CMake.

#include <simdjson.h>

#include <cstring>
#include <optional>
#include <string>
#include <string_view>

#include "core/ip_address.hpp"
#include "core/time.hpp"
#include "parse/json_util.hpp"
#include "parse/parser.hpp"

namespace portscand::json {

// The format_parser of a JSON format without a record wrapper: the one driver
// (document_reader) with the format's on_object(). split_lines: the unit is NDJSON when it
// holds a newline (unit_shape::lines); formats whose documents may be pretty-printed over
// many lines (OCSF, ECS) pass false.
class record_parser : public format_parser {
 public:
  explicit record_parser(bool split_lines)
      : shape_(split_lines ? unit_shape::lines : unit_shape::document) {}

  void parse(std::string_view unit, const parse_context& ctx, parse_sink& sink) final {
    reader_.read(unit, ctx, shape_, sink,
                 [&](simdjson::ondemand::object o, bool) { return on_object(o, ctx, sink); });
  }

 protected:
  // One record object. Returns false when the document can no longer be read (after a
  // simdjson error): the driver then stops, the rest of the unit is lost to that rejection.
  virtual bool on_object(simdjson::ondemand::object obj, const parse_context& ctx,
                         parse_sink& sink) = 0;

 private:
  unit_shape shape_;
  document_reader reader_;
};

// A time given as ISO 8601 text or as an epoch number (s/ms/us/ns by magnitude; see
// epoch_to_us). Numbers arrive as their raw JSON text through as_text. ISO text without a
// zone (pmacct's "2024-03-01 10:00:00", a collector's local time) is read in `zone`, the
// input's `timezone` (nullptr: UTC).
inline std::optional<timestamp_us> time_from_text(std::string_view text,
                                                  local_zone* zone) noexcept {
  if (text.empty()) return std::nullopt;
  if (text.size() >= 10 && text[4] == '-') {
    const auto t = parse_iso8601(text);
    if (t && zone != nullptr && !iso8601_has_zone(text)) return zone->to_utc(*t);
    return t;
  }
  return epoch_to_us(text);
}

// Reads an address value: `present` tells a non-empty string from null/"" (absent).
// Returns false for a value that is there but is not an address.
inline bool read_ip(simdjson::ondemand::value v, ip_address& out, bool& present) noexcept {
  std::string_view text;
  const field_status st = as_text(v, text);
  present = false;
  if (st == field_status::absent || (st == field_status::ok && text.empty())) return true;
  if (st != field_status::ok) return false;
  auto ip = ip_address::parse(text);
  if (!ip) return false;
  out = *ip;
  present = true;
  return true;
}

// Walks an object's fields depth first, giving each leaf value its full dotted path
// ("source.ip") whether the producer nested objects ({"source":{"ip":..}}) or flattened the
// keys ({"source.ip":..}) or mixed both. `descend(path)` says which object paths are worth
// entering (everything else is skipped unread); `leaf(path, value)` sees every other value
// (the walk always consumes the whole object, so an enclosing array stays in sync). Returns
// false when the document can no longer be read. Paths longer than the buffer are skipped.
template <class Descend, class Leaf>
bool walk_paths(simdjson::ondemand::object obj, char* buf, std::size_t len, std::size_t cap,
                int depth, const Descend& descend, const Leaf& leaf) {
  for (auto field : obj) {
    std::string_view key;
    if (!json::key_of(field, key)) return false;  // a view of the input unless escaped
    simdjson::ondemand::value v;
    if (field.value().get(v) != simdjson::SUCCESS) return false;
    std::size_t n = len;
    if (len != 0) {
      if (n + 1 + key.size() > cap) continue;
      buf[n++] = '.';
    } else if (key.size() > cap) {
      continue;
    }
    std::memcpy(buf + n, key.data(), key.size());
    n += key.size();
    const std::string_view path(buf, n);
    simdjson::ondemand::json_type t;
    if (v.type().get(t) != simdjson::SUCCESS) return false;
    if (t == simdjson::ondemand::json_type::object) {
      if (depth < 4 && descend(path)) {
        simdjson::ondemand::object child;
        if (v.get_object().get(child) != simdjson::SUCCESS) return false;
        if (!walk_paths(child, buf, n, cap, depth + 1, descend, leaf)) return false;
      }
      continue;
    }
    leaf(path, v);
  }
  return true;
}

}  // namespace portscand::json
