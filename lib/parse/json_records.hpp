#pragma once

// Shared driver for the JSON formats whose units carry one record object, a JSON array of
// them, or (NDJSON-native formats) several newline-separated documents: the format supplies
// on_object(), the driver handles the envelope and the error rules of simdjson ondemand.
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

class record_parser : public format_parser {
 public:
  // split_lines: a unit holding several lines is parsed line by line (a Kafka producer that
  // batches NDJSON lines into one message). Formats whose documents may be pretty-printed
  // over many lines (OCSF, ECS) pass false.
  explicit record_parser(bool split_lines) : split_lines_(split_lines) {}

  void parse(std::string_view unit, const parse_context& ctx, parse_sink& sink) final {
    if (split_lines_ && unit.find('\n') != std::string_view::npos) {
      while (!unit.empty()) {
        const std::size_t nl = unit.find('\n');
        std::string_view line = unit.substr(0, nl);
        unit = nl == std::string_view::npos ? std::string_view{} : unit.substr(nl + 1);
        while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t'))
          line.remove_suffix(1);
        while (!line.empty() && (line.front() == ' ' || line.front() == '\t'))
          line.remove_prefix(1);
        if (line.empty()) continue;
        // Lines are copied (padded_view with an unpadded context): the bytes after a line are
        // the next line, and the last line's padding is only promised for the whole unit.
        parse_document(line, parse_context{}, sink);
      }
      return;
    }
    parse_document(unit, ctx, sink);
  }

 protected:
  // One record object. Returns false when the document can no longer be read (after a
  // simdjson error): the driver then stops, the rest of the unit is lost to that rejection.
  virtual bool on_object(simdjson::ondemand::object obj, const parse_context& ctx,
                         parse_sink& sink) = 0;

 private:
  void parse_document(std::string_view text, const parse_context& ctx, parse_sink& sink) {
    simdjson::ondemand::document doc;
    if (parser_.iterate(padded_view(text, ctx, scratch_)).get(doc) != simdjson::SUCCESS) {
      sink.rejected("invalid_json");
      return;
    }
    simdjson::ondemand::json_type t;
    if (doc.type().get(t) != simdjson::SUCCESS) {
      sink.rejected("invalid_json");
      return;
    }
    if (t == simdjson::ondemand::json_type::array) {
      simdjson::ondemand::array arr;
      if (doc.get_array().get(arr) != simdjson::SUCCESS) {
        sink.rejected("invalid_json");
        return;
      }
      std::size_t objects = 0;
      if (for_each_object(arr, sink, [&](simdjson::ondemand::object o, bool) {
            ++objects;
            return on_object(o, ctx, sink);
          }))
        finish_document(doc, objects, sink);
      return;
    }
    if (t != simdjson::ondemand::json_type::object) {
      sink.rejected("not_an_object");
      return;
    }
    simdjson::ondemand::object obj;
    if (doc.get_object().get(obj) != simdjson::SUCCESS) {
      sink.rejected("invalid_json");
      return;
    }
    if (on_object(obj, ctx, sink)) finish_document(doc, 1, sink);
  }

  bool split_lines_;
  simdjson::ondemand::parser parser_;
  std::string scratch_;
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
