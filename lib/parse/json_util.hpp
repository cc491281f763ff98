#pragma once

// Helpers shared by the simdjson (ondemand) based formats. Everything here is for the data
// path: no exceptions (simdjson's error-code API), no allocation unless stated.

#include <simdjson.h>

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

#include "core/ip_address.hpp"
#include "core/time.hpp"
#include "parse/parser.hpp"
#include "parse/port.hpp"

namespace portscand::json {

static_assert(unit_padding == simdjson::SIMDJSON_PADDING,
              "parse_context::padded promises simdjson::SIMDJSON_PADDING");

// Gives a padded view of `unit`: in place when the context says the bytes after it are
// readable, else through `scratch` (one copy, reused across calls).
simdjson::padded_string_view padded_view(std::string_view unit, const parse_context& ctx,
                                         std::string& scratch);

enum class field_status : std::uint8_t { ok, absent, invalid };

// True when a document read without error has nothing after it. simdjson 3.0 (Debian 12)
// has no document::at_end(); current_location() says OUT_OF_BOUNDS there. Without this
// check `{"a":1} {"b":2}` parses as the first object and the second is lost unnoticed.
inline bool at_end(simdjson::ondemand::document& doc) noexcept {
  return doc.current_location().error() == simdjson::OUT_OF_BOUNDS;
}

// Whether the `n` bytes at `p` hold a backslash (an escape in a JSON string). glibc's
// vectorized memchr beat an inline word-at-a-time test here, even on 10-byte strings.
inline bool has_backslash(const char* p, std::size_t n) noexcept {
  return std::memchr(p, '\\', n) != nullptr;
}

// A field's key as written between its quotes (escapes not undone): a view of the input.
inline std::string_view raw_key(simdjson::ondemand::field& field) noexcept {
  // raw() points just past the key's opening quote. Its closing quote is found from the
  // value's first byte (known to stage 1): back over white space, the ':', white space.
  const char* const raw = field.key().raw();
  const char* p = field.value().raw_json_token().data() - 1;
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  while (space(*p)) --p;
  --p;  // the ':'
  while (space(*p)) --p;
  return {raw, static_cast<std::size_t>(p - raw)};  // p is at the closing quote
}

// A field's key: a view of the input when the key has no escapes (the common case, no copy),
// else the unescaped key in the parser's string buffer. False when it cannot be read.
inline bool key_of(simdjson::ondemand::field& field, std::string_view& out) noexcept {
  out = raw_key(field);
  return !has_backslash(out.data(), out.size()) ||
         field.unescaped_key().get(out) == simdjson::SUCCESS;
}
inline bool key_of(simdjson::simdjson_result<simdjson::ondemand::field>& field,
                   std::string_view& out) noexcept {
  return field.error() == simdjson::SUCCESS && key_of(field.value_unsafe(), out);
}

// One step of a parser's field loop: sets `key` (key_of) and returns the field's value by
// pointer into the iteration result, not a copy of simdjson's iterator (copies cost
// store-forwarding stalls). An unreadable field is rejected as invalid_json and gives
// nullptr: the caller stops reading the document.
inline simdjson::ondemand::value* field_value(
    simdjson::simdjson_result<simdjson::ondemand::field>& field, std::string_view& key,
    parse_sink& sink) {
  if (!key_of(field, key)) {
    sink.rejected("invalid_json");
    return nullptr;
  }
  return &field.value_unsafe().value();
}

// For a parser that looks keys up in a fixed set of plain (escape-free) names:
// out = match(key), trying the raw key first, so the escape check runs only for keys that
// are not in the set. `none` is what match returns for a key outside the set. False when
// the key cannot be read.
template <typename Id, typename Match>
bool match_key(simdjson::simdjson_result<simdjson::ondemand::field>& result, Id none, Match match,
               Id& out) noexcept {
  if (result.error() != simdjson::SUCCESS) return false;
  simdjson::ondemand::field& field = result.value_unsafe();
  const std::string_view raw = raw_key(field);
  out = match(raw);
  if (out != none || !has_backslash(raw.data(), raw.size())) return true;
  std::string_view key;
  if (field.unescaped_key().get(key) != simdjson::SUCCESS) return false;
  out = match(key);
  return true;
}

inline bool is_json_space(char c) noexcept {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

// The text between the quotes of a string's raw token (the quoted text plus the white
// space up to the next structural character), escapes not undone. False for a token that
// is not a string.
inline bool raw_string(std::string_view token, std::string_view& inner) noexcept {
  if (token.empty() || token[0] != '"') return false;
  std::size_t n = token.size();
  while (n > 1 && is_json_space(token[n - 1])) --n;
  if (n < 2 || token[n - 1] != '"') return false;
  inner = token.substr(1, n - 2);
  return true;
}

// A value as text: strings are views (of the input when they hold no escapes, else unescaped
// in the parser's string buffer; both valid until the next iterate()); numbers and booleans
// are their raw JSON text; null is `absent`.
field_status as_text(simdjson::ondemand::value& v, std::string_view& out) noexcept;

// For a value that a strict reader takes next (an address, a time, a keyword), skipping
// the escape check of as_text: read(text) gets a string's raw text, escapes and all, and
// only when it refuses a text that holds a backslash does it get the unescaped text.
// `read` must refuse any text with a backslash (true = accepted). Numbers and booleans
// reach it as their raw text, as with as_text. Returns absent for null, invalid when the
// value is not text or `read` refused it, else ok.
template <typename Read>
field_status read_text(simdjson::ondemand::value& v, Read read) noexcept {
  std::string_view text;
  if (raw_string(v.raw_json_token(), text)) {
    if (read(text)) return field_status::ok;
    if (!has_backslash(text.data(), text.size())) return field_status::invalid;
    if (v.get_string().get(text) != simdjson::SUCCESS) return field_status::invalid;
    return read(text) ? field_status::ok : field_status::invalid;
  }
  const field_status st = as_text(v, text);
  if (st != field_status::ok) return st;
  return read(text) ? field_status::ok : field_status::invalid;
}

// A destination port from a number or a numeric string, read by read_port (port.hpp) from
// the raw text: null/"" -> absent; anything not plain digits in 0..65535 -> invalid.
field_status as_port(simdjson::ondemand::value& v, std::int32_t& out) noexcept;

// An integer from a number or a numeric string.
field_status as_int64(simdjson::ondemand::value& v, std::int64_t& out) noexcept;

// Parses a decimal integer (optional leading '-') that must fill all of `s`.
bool parse_int64(std::string_view s, std::int64_t& out) noexcept;

// An epoch number in seconds, milliseconds, microseconds or nanoseconds, told apart by
// magnitude (a time after 2001 in any unit); fractional seconds are accepted as text.
std::optional<timestamp_us> epoch_to_us(std::string_view number_text) noexcept;

// Probe helper: whether a JSON head carries Elastic Common Schema endpoint fields, i.e. a
// "source" or "destination" key whose value is an object, or one of the dotted flat keys
// "source.ip", "source.address", "destination.ip", "destination.address",
// "destination.port". Elastic's normalized documents have them; raw Winlogbeat documents
// (winlog.event_data only) and Sentinel rows do not. Text search only: no parse.
bool has_ecs_endpoint(std::string_view head) noexcept;

// Calls on_object(obj) for each element of an array of record objects. on_object returns
// false when the document can no longer be read. A non-object element ends the array with
// one rejection: ondemand cannot step past a malformed element. Returns true when the
// array was read to its end.
template <typename OnObject>
bool for_each_object(simdjson::ondemand::array arr, parse_sink& sink, OnObject on_object) {
  for (auto element : arr) {
    simdjson::ondemand::object o;
    if (element.get_object().get(o) != simdjson::SUCCESS) {
      sink.rejected("not_an_object");
      return false;
    }
    if (!on_object(o, false)) return false;
  }
  return true;
}

// for_each_object over an envelope's record array (`{"records":[...]}`, `{"events":[...]}`):
// an empty one is skipped as `empty`, so that the unit is still accounted for.
template <typename OnObject>
bool for_each_record(simdjson::ondemand::array arr, parse_sink& sink, OnObject on_object) {
  std::size_t objects = 0;
  const bool whole = for_each_object(arr, sink, [&](simdjson::ondemand::object o, bool top_level) {
    ++objects;
    return on_object(o, top_level);
  });
  if (whole && objects == 0) sink.skipped("empty");
  return whole;
}

// After a top-level document was read to its end without error: bytes after it are a
// rejection (`{"a":1} {"b":2}` would otherwise lose the second object unnoticed), and an
// array without objects (`[]`) is skipped as empty, so that every unit is accounted for.
inline void finish_document(simdjson::ondemand::document& doc, std::size_t objects,
                            parse_sink& sink) {
  if (!at_end(doc))
    sink.rejected("trailing_content");
  else if (objects == 0)
    sink.skipped("empty");
}

// How a unit's bytes divide into documents.
enum class unit_shape : std::uint8_t {
  // One document (an object or an array of objects), which may be pretty-printed over
  // many lines.
  document,
  // As `document`, except that a unit holding a newline is NDJSON: each non-blank line is
  // a document of its own (a Kafka producer that batches lines into one message).
  lines,
};

// A record wrapper met inside a top-level object (`{"records":[...]}`, `{"events":[...]}`):
// `v` must be an array of record objects, each given to on_object(obj, /*top_level=*/false);
// anything else is rejected as `bad_envelope`. Always returns false, the per-object
// function's "stop here": whatever follows the wrapper's array is not a record, and the
// unit's trailing-content check does not apply once a wrapper has been read. ondemand reads
// in one pass, so a format finds its wrapper key in its own field loop and hands the value
// here; a format accepts exactly the wrapper keys it passes on.
template <typename OnObject>
bool read_wrapper(simdjson::ondemand::value& v, parse_sink& sink, OnObject on_object) {
  simdjson::ondemand::array arr;
  if (v.get_array().get(arr) != simdjson::SUCCESS) {
    sink.rejected("bad_envelope");
    return false;
  }
  for_each_record(arr, sink, on_object);
  return false;
}

// The one JSON driver: unit -> documents -> record objects, and every rule of that walk.
// A format owns one reader and supplies only its per-object function,
// on_object(obj, top_level) -> bool: top_level is true for a document's root object (the
// only place a record wrapper may appear, see read_wrapper) and false for an array element;
// it returns false when the document can no longer be read (after a simdjson error, which
// it has rejected) or it consumed a wrapper; the rest of the document is then not read.
// The reader rejects what is not JSON (`invalid_json`), a document that is neither an
// object nor an array of objects (`not_an_object`; in an array, the first non-object element
// ends the array), bytes after a document (`trailing_content`), and skips an array without
// objects as `empty`, so that every unit is accounted for.
class document_reader {
 public:
  template <typename OnObject>
  void read(std::string_view unit, const parse_context& ctx, unit_shape shape, parse_sink& sink,
            OnObject on_object) {
    if (shape == unit_shape::lines && unit.find('\n') != std::string_view::npos) {
      while (!unit.empty()) {
        const std::size_t nl = unit.find('\n');
        std::string_view line = unit.substr(0, nl);
        unit = nl == std::string_view::npos ? std::string_view{} : unit.substr(nl + 1);
        while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t'))
          line.remove_suffix(1);
        while (!line.empty() && (line.front() == ' ' || line.front() == '\t'))
          line.remove_prefix(1);
        if (line.empty()) continue;
        // Lines are copied (padded_view with an unpadded context): the bytes after a line
        // are the next line, and the last line's padding is only promised for the whole unit.
        read_document(line, parse_context{}, sink, on_object);
      }
      return;
    }
    read_document(unit, ctx, sink, on_object);
  }

 private:
  template <typename OnObject>
  void read_document(std::string_view text, const parse_context& ctx, parse_sink& sink,
                     OnObject& on_object) {
    simdjson::ondemand::document doc;
    simdjson::ondemand::json_type t;
    if (parser_.iterate(padded_view(text, ctx, scratch_)).get(doc) != simdjson::SUCCESS ||
        doc.type().get(t) != simdjson::SUCCESS) {
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
            return on_object(o, false);
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
    if (on_object(obj, true)) finish_document(doc, 1, sink);
  }

  simdjson::ondemand::parser parser_;
  std::string scratch_;
};

}  // namespace portscand::json
