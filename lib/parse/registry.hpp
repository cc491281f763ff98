#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "parse/parser.hpp"

namespace portscand {

// A record format: its name (as in config and --format), how to build a parser, and a
// cheap probe for auto-detection.
struct format_entry {
  std::string name;
  std::string description;
  std::function<std::unique_ptr<format_parser>()> make;
  // Auto-detection probe over the first bytes of a unit (a body, after any syslog header).
  // Must be cheap: substring checks, no full parse. Returns true when the unit is of this
  // format. Probes run in registration order; the first that matches wins, so a format
  // whose signature is a subset of another's registers after it.
  std::function<bool(std::string_view head)> probe;
  // Stateful text formats only (a header line sets the layout of the lines after it: Zeek
  // TSV #fields, AWS VPC custom formats): true for such a header line. Replay uses it to
  // hand the latest header lines to whichever thread parses the next piece of a file.
  std::function<bool(std::string_view line)> is_header;
  // True for a format whose units may be JSON documents: its probe's claim on a JSON object
  // makes the object one of its records, never a shipper envelope to unwrap. Text formats'
  // probes may match text inside a JSON envelope (iptables' "IN=... OUT="); their claim does
  // not count. Set in builtin_formats.cpp.
  bool reads_json = false;
};

// name -> format. Built once at startup by register_builtin_formats; read-only afterwards,
// so any thread may read it.
class format_registry {
 public:
  // Fatal (throws std::logic_error) on a duplicate name: two formats under one name is a bug.
  void add(format_entry entry);
  const format_entry* find(std::string_view name) const noexcept;
  const std::vector<format_entry>& entries() const noexcept { return entries_; }
  std::vector<std::string> names() const;
  // The first format whose probe matches, or nullptr.
  const format_entry* detect(std::string_view unit) const noexcept;

 private:
  std::vector<format_entry> entries_;
};

// Every format portscand ships, one line each, in probe order.
void register_builtin_formats(format_registry& registry);

// The process-wide registry with the builtin formats.
const format_registry& builtin_formats();

// How many bytes of a unit the probes look at.
inline constexpr std::size_t probe_window = 1024;

}  // namespace portscand
