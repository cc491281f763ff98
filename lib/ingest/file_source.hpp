#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "config/config.hpp"
#include "core/clock.hpp"
#include "core/metrics.hpp"
#include "ingest/unit_sink.hpp"

namespace portscand {

// A `file` input of the daemon: reads a file of lines (NDJSON or any line format), or of
// JSON documents that span lines when its first non-blank line opens one (a downloaded NSG
// flow-log blob, see json_documents.hpp), from the start, then follows it as it grows (like `tail
// -F`). A file replaced by rotation is read to its end first (what the writer appended just before
// the rotation, and a last line without a newline) and then the new file from its start; a
// truncated file is read again from its start. Read and stat errors are counted and logged, and the
// file is reopened after a pause; they never look like the end of the file. One thread.
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
  // Reads fd to its end, handing over complete lines. False on a read error (counted).
  bool drain(int fd);
  // Splits what was read into units: lines, or (a file whose first non-blank line opens a
  // multi-line JSON document, see json_documents.hpp) documents and lines between them.
  void consume(std::string_view data, timestamp_us now);
  void consume_documents(std::string_view data, timestamp_us now);
  // Hands over a last line that has no newline (the end of a rotated file).
  void flush_partial_line();
  void count_error(const char* what, int err);

  std::string name_;
  file_input_config cfg_;
  std::unique_ptr<unit_sink> sink_;
  const clock& clock_;
  counter* lines_;
  counter* too_long_;
  counter* errors_;
  // Thread-only state of the line splitter. pending_: an incomplete line, or in document
  // mode the bytes of the incomplete unit (at most 4 MiB: a longer document is counted in
  // too_long_ and skipped up to the next line break).
  enum class read_mode : std::uint8_t { undecided, lines, documents };
  read_mode mode_ = read_mode::undecided;
  std::string pending_;
  bool skipping_ = false;
  off_t offset_ = 0;
  std::vector<char> buf_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
};

}  // namespace portscand
