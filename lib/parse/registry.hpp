#pragma once

#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "parse/parser.hpp"

namespace portscand {

// Which units a format's probe can claim, judged by the unit's first bytes: detection skips
// the probes that could not match (first-byte dispatch), so a syslog line never pays for the
// JSON probes nor a JSON object for the text ones. Declared in builtin_formats.cpp; it must
// agree with the probe, which the tests check over every fixture line:
// - json: the probe is false unless the first byte other than blank, tab, CR and LF is '{'
//   or '[';
// - text: the probe is false when byte 0 is '{' or '[';
// - any: no such promise (windows-wfp and zscaler-nss read JSON or text; zeek-conn JSON or
//   TSV; the syslog-borne formats search the whole window).
enum class probe_scope : unsigned char { any, json, text };

// A record format: its name (as in config and --format), how to build a parser, and a
// cheap probe for auto-detection.
struct format_entry {
  std::string name;
  std::string description;
  std::function<std::unique_ptr<format_parser>()> make;
  // Auto-detection probe over the first bytes of a unit (a body, after any syslog header).
  // Must be cheap: substring checks, no full parse. Returns true when the unit is of this
  // format. Under auto the decoder first tries its recent winners' probes, then the others in
  // registration order; the first that matches wins, so a format whose signature is a subset
  // of another's registers after it (lib/parse/README.md, "Auto-detection").
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
  probe_scope scope = probe_scope::any;
  // True when the parser calls parse_sink::claim() for every unit of its format before
  // reporting anything for it, and only for such units (the probe's signature, read in the
  // parse): as the sticky winner under auto it then takes the next unit without its probe
  // (unit_decoder, lib/parse/README.md "Auto-detection"). Set by the format's own file.
  bool claims = false;
};

// The first bytes of a unit as first-byte dispatch sees them.
struct probe_shape {
  bool json = false;        // the first byte other than blank, tab, CR, LF is '{' or '['
  bool brace_at_0 = false;  // byte 0 is '{' or '['

  static probe_shape of(std::string_view head) noexcept;
  // False when `e`'s probe cannot claim a unit of this shape (its scope rules it out).
  bool admits(const format_entry& e) const noexcept {
    return e.scope == probe_scope::any || (e.scope == probe_scope::json ? json : !brace_at_0);
  }
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
  // The first format whose probe matches, or nullptr. The probes of formats whose scope rules
  // the unit out are not run (they would be false), nor those of the entries (by index) in
  // `skip`: a caller that has just seen them fail on this unit.
  const format_entry* detect(std::string_view unit) const noexcept;
  const format_entry* detect(std::string_view unit, const probe_shape& shape,
                             std::span<const std::size_t> skip) const noexcept;

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
