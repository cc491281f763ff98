#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "core/clock.hpp"

namespace portscand {

// `portscand parse`: what the parse layer makes of each input unit, one JSON line per
// report, for a user whose ingest "produces no alerts". Units are read as the file and
// replay inputs read them (lines, or JSON documents that span lines) and decoded with the
// daemon's decoder (syslog headers, shipper envelopes, format detection), in order, on one
// thread, so stateful formats (Zeek TSV, VPC flow-log headers) see their headers first.
struct inspect_options {
  std::vector<std::string> files;  // "-" = standard input
  std::string format = "auto";
  envelope_config envelope;
  detection_mode mode = detection_mode::standard;
  reply_flows_policy reply_flows = reply_flows_policy::by_mode;  // `reply_flows:`, with `mode`
  local_zone zone;  // of zone-less times (an input's `timezone:`); default UTC
  event_time_source time_source = event_time_source::record;  // an input's `event_time:`
  std::size_t read_bytes = 1u << 20;  // per read(2); where reads end must not matter
};

struct inspect_result {
  int exit_code = 0;  // 0 ok, 1 an input could not be read
  std::size_t units = 0;
  std::size_t records = 0;
  std::size_t counted = 0;  // records that would feed a window (candidate source, a port)
  std::size_t skipped = 0;
  std::size_t rejected = 0;
};

// Writes one JSON object per line to `out`: for each record, skip and rejection of every
// unit, with the file, the line the unit starts on, the format and envelope that read it.
// A record shows its normalized fields, where its time came from (record, header, receive),
// and whether the window engine would count it (`counted`, else `not_counted` with the
// reason: a reply flow skipped under `reply_flows`, the source filter of `mode`, the port
// of a port-less protocol (normalize()), or no destination port). A summary line of counts
// goes to `summary`. Event-time checks that depend on the stream (late, future-dated) are
// not applied: they depend on when and beside what the record arrives.
inspect_result run_inspect(const inspect_options& opt, const clock& clk, std::ostream& out,
                           std::ostream& summary);

}  // namespace portscand
