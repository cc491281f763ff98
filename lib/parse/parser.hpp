#pragma once

#include <memory>
#include <string_view>

#include "core/ip_address.hpp"
#include "core/time.hpp"
#include "core/time_zone.hpp"
#include "event/network_session.hpp"

namespace portscand {

// What a parser learns from the transport around the unit it parses.
struct parse_context {
  timestamp_us receive_time = 0;  // when the unit arrived (replay: when it was read)
  timestamp_us header_time = 0;   // the syslog header's time, 0 when there is none
  std::string_view host;          // the syslog header's hostname, "" when there is none
  std::string_view app;           // the syslog header's APP-NAME / TAG, "" when there is none
  // The RFC 5424 header's structured data ("[id k=\"v\"]...", escapes kept), "" when none.
  std::string_view structured_data;
  // The input's time zone for times written without an offset (BSD syslog headers, PAN-OS,
  // FortiGate date/time without tz, CEF dates): nullptr = UTC. The pointee belongs to the
  // thread that decodes (its offset cache is not shared).
  local_zone* zone = nullptr;
  // True when at least unit_padding readable bytes follow the unit (a chunk of a file read
  // by replay): JSON parsers then parse in place instead of copying into a padded buffer.
  bool padded = false;
  // The configured detection mode (set by the input from the engine's, and by replay from
  // --mode). A parser reads it only where Sentinel's ASIM parser and the scan detector's
  // needs part: `sentinel` maps fields exactly as ASIM does (windows-wfp inbound events
  // keep WFP's local-first orientation); `default` (standard) puts the initiator first.
  detection_mode mode = detection_mode::standard;
  // The input's `event_time:` (for normalize(), not for parsers).
  event_time_source time_source = event_time_source::record;
};

inline constexpr std::size_t unit_padding = 64;  // == SIMDJSON_PADDING

// Receives what a parser makes of one input unit. A unit (a line, a Kafka message, a
// syslog message) may hold many records (an envelope, an NSG blob): each is reported once,
// as a record, a skip or a rejection.
//
// `reason` strings must be static (string literals): they become metric labels, and the
// sink may keep the view. Use short snake_case reasons ("invalid_json", "bad_src_ip").
class parse_sink {
 public:
  virtual ~parse_sink() = default;
  // A network session. time/has_time are set when the record carries its own time.
  virtual void record(const network_session& s) = 0;
  // A well-formed record of the format that is not a network session (config change,
  // admin login, NODATA row): counted as not_a_session, not as an error.
  virtual void skipped(std::string_view reason) = 0;
  // A malformed record: counted by format and reason, logged rate-limited.
  virtual void rejected(std::string_view reason) = 0;
  // A record that is reported (record/skipped) but had an optional field that could not be
  // read and was passed over (a malformed `start=` beside a usable `rt=`): counted by format
  // and reason, so the flaw is visible without losing the record. Call before the record.
  virtual void ignored_field(std::string_view reason) = 0;
  // The parser says the unit is of its format (it has seen the format's identifying keys or
  // signature), before it reports anything for the unit. Only auto-detection listens: it
  // hands the last winner's parser the next unit without running the probe, and a unit
  // that reaches a report unclaimed is "not mine" (nothing reaches the caller; detection
  // runs). A format whose parser calls it sets format_entry::claims. Other sinks ignore it.
  virtual void claim() {}
};

// One parser instance per thread: parsers keep scratch state (a simdjson parser, a label
// cache) and are not thread-safe. parse() must never throw and never crash on any input:
// every unit ends in sink calls.
class format_parser {
 public:
  virtual ~format_parser() = default;
  virtual void parse(std::string_view unit, const parse_context& ctx, parse_sink& sink) = 0;
};

}  // namespace portscand
