#pragma once

// Shipper envelopes: the JSON object a log shipper (Filebeat, Logstash, Vector, Fluent Bit,
// rsyslog, syslog-ng, a Splunk HEC client) wraps around the device's line before it reaches
// Kafka. The decoder asks an envelope_reader whether a JSON unit is one, and if so decodes the
// device's line as if it had come bare. See lib/parse/README.md "Shipper envelopes".

#include <simdjson.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "core/time.hpp"
#include "parse/parser.hpp"

namespace portscand {

// An input's `envelope:` setting.
struct envelope_options {
  enum class kind : std::uint8_t {
    automatic,  // the known shippers' shapes (default)
    none,       // JSON units are records, never envelopes
    custom,     // every JSON object is an envelope with these dotted paths
  };
  kind mode = kind::automatic;
  std::string message;  // custom: required
  std::string time;     // custom: optional
  std::string host;     // custom: optional
};

// Whether a dotted path is one the custom reader can follow: 1..5 non-empty segments,
// at most 96 bytes. Used by config validation and the reader's constructor.
bool valid_envelope_path(std::string_view path) noexcept;

// Whether `key` is a top-level field some shipper writes into its envelope (Filebeat's
// @timestamp, Vector's source_type, rsyslog's fromhost-ip, ...). A native record of a JSON
// format starts with a key of its own, so its first key alone tells it from an envelope.
bool shipper_key(std::string_view key) noexcept;

// The first key of a JSON object as written (`{"TimeGenerated":` -> TimeGenerated), without
// parsing; "" when it holds an escape or the text is not an object's start.
std::string_view raw_first_key(std::string_view unit) noexcept;

// What an envelope held. Views stay valid until the reader's next read().
struct envelope_fields {
  // Static name of the shape (a metric label): filebeat, logstash, vector, fluent-bit,
  // rsyslog, syslog-ng, splunk-hec, message (an object with only a message), custom.
  std::string_view shape;
  std::string_view message;  // the device's line
  // True when `message` is a view of the unit (no escapes were undone): the bytes after it
  // are the rest of the unit, so whatever padding followed the unit follows it too.
  bool message_in_unit = false;
  timestamp_us time = 0;  // 0: none (or unreadable: bad_time)
  bool bad_time = false;  // a time field was there but could not be read
  std::string_view host;  // "" when none
  bool bad_host = false;  // a host field was there but was not a string
  std::string_view app;   // "" when none
};

// One per decoder (one thread): keeps a simdjson parser whose string buffer holds the
// unescaped message until the next read().
class envelope_reader {
 public:
  // Throws std::invalid_argument for a custom envelope without a valid message path (startup
  // only; config validation reports it first).
  explicit envelope_reader(envelope_options opt);

  enum class outcome : std::uint8_t {
    not_envelope,      // give the unit to the formats as it is
    unwrapped,         // `out` holds the envelope
    without_message,   // an envelope (a shipper's marks) with no message field
    message_not_text,  // its message field is not a string
    invalid_json,      // the object could not be read
    // auto with stop_at_foreign: a top-level key no shipper writes (see shipper_key): the
    // formats' probes must decide first; read again without stop_at_foreign if they do not.
    foreign,
  };

  // `unit` starts with '{'. With `ecs_claimed` (auto mode: the ecs probe claimed the unit) an
  // object without a message stays ECS (not_envelope); one that names endpoints or an event
  // category is ECS even with a message. An object made only of keys the shippers document
  // cannot be a native record of a JSON format (no format's probe keys are among them), so
  // the decoder skips the probes when such an object unwraps.
  outcome read(std::string_view unit, const parse_context& ctx, bool ecs_claimed,
               bool stop_at_foreign, envelope_fields& out);

  envelope_options::kind mode() const noexcept { return opt_.mode; }

 private:
  outcome read_auto(simdjson::ondemand::object obj, const parse_context& ctx, bool ecs_claimed,
                    bool stop_at_foreign, envelope_fields& out);
  outcome read_custom(simdjson::ondemand::object obj, const parse_context& ctx,
                      envelope_fields& out);

  envelope_options opt_;
  simdjson::ondemand::parser parser_;
  std::string scratch_;
};

}  // namespace portscand
