#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "config/config.hpp"
#include "core/clock.hpp"
#include "core/metrics.hpp"
#include "ingest/file_reader.hpp"
#include "ingest/unit_sink.hpp"

namespace portscand {

// A `file` input of the daemon: reads a file of lines (NDJSON or any line format), or of
// JSON documents that span lines when its first non-blank line opens one (a downloaded NSG
// flow-log blob), cut into units by the file_reader that replay and parse use too, from the
// start, then follows it as it grows (like `tail -F`). Each unit is followed by chunk_padding
// readable bytes (the sink may parse it in place). A file replaced by rotation is read to its end
// first (what the writer appended just before the rotation, and a last line without a newline) and
// then the new file from its start; a truncated file is read again from its start. Read and stat
// errors are counted and logged, and the file is reopened after a pause; they never look like the
// end of the file. One thread.
class file_source {
 public:
  file_source(std::string name, const file_input_config& cfg, std::unique_ptr<unit_sink> sink,
              metrics_registry& metrics, const clock& clk);
  ~file_source();
  file_source(const file_source&) = delete;
  file_source& operator=(const file_source&) = delete;

  void start();
  void stop();

 private:
  void run();
  // Reads fd to its end, handing over complete units. False on a read error (counted).
  bool drain(int fd);
  // Hands over the units of a chunk.
  void deliver(const file_chunk& chunk);
  void count_error(const char* what, int err);

  std::string name_;
  file_input_config cfg_;
  std::unique_ptr<unit_sink> sink_;
  const clock& clock_;
  counter* lines_;
  counter* too_long_;
  counter* errors_;
  // Thread-only: the reader holds an incomplete unit between reads (at most 4 MiB: a longer
  // one is cut, see file_reader).
  buffer_pool buffers_;
  file_reader reader_;
  file_reader::emit_fn deliver_;
  std::size_t cut_seen_ = 0;  // reader_.cut_units() already counted in too_long_
  off_t offset_ = 0;
  std::thread thread_;
  std::atomic<bool> stop_{false};
};

}  // namespace portscand
