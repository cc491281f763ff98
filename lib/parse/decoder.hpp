#pragma once

#include <array>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "event/label_table.hpp"
#include "parse/envelope.hpp"
#include "parse/registry.hpp"

namespace portscand {

// Turns one input unit into records: takes the device's line out of a shipper's JSON envelope
// when the unit is one (its time and host go into the parse_context), strips a syslog header
// when the line has one (likewise), then hands the body to a fixed format or, for "auto", to
// the format whose probe matches. One per thread (owns parser instances) and per stream where
// the input has one (a replayed file; a Kafka input, a syslog listener thread, a file input).
//
// Auto-detection is sticky. The last winner, when its parser claims units
// (format_entry::claims), parses the next unit directly, without its probe and, for a JSON
// object that follows a bare unit, without the envelope check; its parser says "not mine"
// (reports before claiming) for a unit of another format, and only then does detection run:
// the formats that won the last units (up to max_recent, most recent first) are probed first,
// and the first of them whose probe claims the unit takes it; only when none does do the
// other formats' probes run, in registry order, skipping those already seen to fail and those
// whose probe_scope rules the unit out. So a stream of one format pays one probe per unit at
// most, a stream that switches format (or interleaves a few) is still detected unit by unit,
// and a winner that stops matching is replaced at the first unit it refuses.
//
// Every record a parser reports goes through normalize() (parse/normalize.hpp) before the
// caller's sink sees it: event time, device and port rules shared by every format.
class unit_decoder {
 public:
  // format: a registered name or "auto". Throws std::invalid_argument for an unknown name
  // (startup only; config validation reports it before this).
  // envelope: the input's `envelope:` (a custom one must have a valid message path: throws
  // std::invalid_argument otherwise, like an unknown format).
  unit_decoder(const format_registry& registry, std::string_view format,
               std::size_t max_unit_bytes = default_max_unit_bytes, envelope_options envelope = {});

  static constexpr std::size_t default_max_unit_bytes = 4u << 20;
  // How many recent winners auto-detection tries before the full probe order.
  static constexpr std::size_t max_recent = 4;

  void decode(std::string_view unit, const parse_context& ctx, parse_sink& sink);

  // The format that parsed the last unit ("" when none did; "envelope" when the unit was
  // refused as an envelope): for per-format metrics.
  std::string_view last_format() const noexcept { return last_format_; }

  // The shape of the envelope the last unit came in (a static name: "filebeat", "vector",
  // ..., "custom"), "" when it came bare.
  std::string_view last_envelope() const noexcept { return last_envelope_; }

  // The syslog header time of the last unit, else its envelope's time, else the one its
  // context brought, else 0: the time of its records that carry none of their own (before
  // the receive time).
  timestamp_us header_time() const noexcept { return header_time_; }

 private:
  format_parser& parser_for(std::size_t index);
  // Under auto: the last winner parses the unit if its parser claims it (false, nothing
  // reported: "not mine", or the winner's format does not claim).
  bool winner_takes(std::string_view unit, const parse_context& ctx, parse_sink& sink);
  // Auto-detection of one unit (a body or a JSON object): the recent winners' probes, then the
  // registry's order; the winner moves to the front of the recent list. nullptr: no format.
  const format_entry* detect(std::string_view unit);
  // The unit or an envelope's message: syslog header, then the format.
  void decode_line(std::string_view unit, const parse_context& ctx, parse_sink& sink,
                   const format_entry* detected, bool have_detected);
  // A JSON object under an `envelope:` other than none: true when it was handled as an
  // envelope (unwrapped or refused), false when it is a record for the formats (then
  // `detected` holds what auto-detection found, if it ran).
  bool try_envelope(std::string_view unit, const parse_context& ctx, parse_sink& sink,
                    const format_entry*& detected, bool& have_detected);

  const format_registry& registry_;
  std::size_t max_unit_bytes_;
  int fixed_ = -1;                     // index into registry entries, -1 = auto
  const format_entry* ecs_ = nullptr;  // the one JSON format whose documents may be envelopes
  envelope_reader envelopes_;
  label_cache labels_;  // syslog and envelope hosts, as devices (normalize())
  std::vector<std::unique_ptr<format_parser>> parsers_;  // lazily built, by entry index
  std::array<std::size_t, max_recent> recent_{};         // entry indices, most recent first
  std::size_t recent_count_ = 0;
  bool enveloped_ = false;  // the last unit came in an envelope: its next one is read as one
  std::string_view last_format_;
  std::string_view last_envelope_;
  timestamp_us header_time_ = 0;
};

}  // namespace portscand
