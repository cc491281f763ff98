#pragma once

#include <spdlog/spdlog.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/time.hpp"

namespace portscand {

// Sets up the process logger: stderr, with sd-daemon priority prefixes ("<3>…") when
// journald reads stderr (JOURNAL_STREAM is set), plain timestamps otherwise. Call once,
// from main, before any thread starts.
void init_logging(std::string_view level);
bool parse_log_level(std::string_view name, spdlog::level::level_enum& out);

// Data-path log lines are rate limited per reason: the first line of a reason is written,
// further ones within `interval` are counted and summarized in the next line written for
// that reason. One instance per thread (not thread-safe by design: no lock on the data path).
class rate_limited_log {
 public:
  explicit rate_limited_log(timestamp_us interval = 10 * us_per_second) : interval_(interval) {}

  // Returns true when a line for `key` may be written now; `suppressed` receives how many
  // were held back since the last written one.
  bool allow(std::string_view key, timestamp_us now, std::uint64_t& suppressed);

 private:
  struct slot {
    timestamp_us last = 0;
    std::uint64_t suppressed = 0;
  };
  timestamp_us interval_;
  std::unordered_map<std::string, slot> slots_;
};

}  // namespace portscand
