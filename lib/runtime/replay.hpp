#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "core/clock.hpp"
#include "detect/rule.hpp"

namespace portscand {

struct replay_options {
  std::vector<std::string> files;  // "-" = standard input
  std::string format = "auto";
  envelope_config envelope;  // as an input's `envelope:`
  detection_mode mode = detection_mode::standard;
  unsigned ipv6_prefix = 128;  // `ipv6_prefix:` of the configuration
  reply_flows_policy reply_flows = reply_flows_policy::by_mode;  // `reply_flows:`, with `mode`
  evaluation_config
      evaluation;  // allowed_lateness, max_future_skew apply; the schedule is on_close
  unsigned shards = 2;
  unsigned parse_threads = 0;  // 0 = number of cores
  std::size_t max_keys_per_shard = 4'000'000;
  unsigned max_targets = 10;  // evidence.max_targets
  output_schema schema = output_schema::native;
  std::size_t chunk_bytes = 1u << 20;
  local_zone zone;  // of zone-less times in the files (an input's `timezone:`); default UTC
};

struct replay_result {
  int exit_code = 0;  // 0 ok, 1 an input could not be read
  std::size_t alerts = 0;
};

// Offline evaluation of record files with the daemon's engine: reads the files in chunks,
// parses chunks on parse_threads threads, feeds the shards, evaluates each bin as the
// event-time watermark closes it (each file is one input of the watermark), evaluates
// everything left at end of input, and writes the alerts as JSON lines to `out`, ordered by
// TimeGenerated then SrcIpAddr. A summary of counts goes to `summary`.
replay_result run_replay(const replay_options& opt, const rule_set& rules, const clock& clk,
                         std::ostream& out, std::ostream& summary);

}  // namespace portscand
