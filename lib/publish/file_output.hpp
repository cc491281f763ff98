#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "core/log.hpp"
#include "publish/alert_output.hpp"

namespace portscand {

// Appends alerts as JSON lines to a file, or to stdout for path "-".
//
// publish() only queues; poll() writes everything queued as one batch of whole lines
// (O_APPEND, so concurrent appenders never interleave inside a write) and fsyncs it when
// configured. An alert counts as delivered once its batch is written and, with fsync, synced.
// A write error (ENOSPC, EIO, EFBIG...) keeps the batch: the bytes already written are
// remembered and the next poll() continues right after them, so the file never holds a
// broken line while the process lives. A torn last line left by a crash is closed with a
// newline when the file is opened, so the next line starts clean.
//
// A failed fsync re-writes the whole batch (the kernel may have dropped the dirty pages
// and a second fsync would report success for data that is not on disk): the lines then
// appear twice, with the same alert_id.
//
// When the path is renamed or deleted (logrotate without copytruncate), the next batch goes
// to a newly created file at the path.
//
// Threads: publisher thread only.
class file_output final : public alert_output {
 public:
  // Opens (creates, mode 0640) the file. Throws std::runtime_error naming the path and the
  // system error when it cannot be opened for appending: a wrong path or a missing
  // permission is a startup problem the operator must see at once, not a silent retry loop.
  file_output(std::string name, output_schema schema, const file_output_config& cfg,
              metrics_registry& metrics, std::size_t max_pending_alerts = 100'000);
  ~file_output() override;
  file_output(const file_output&) = delete;
  file_output& operator=(const file_output&) = delete;

  const std::string& name() const override { return name_; }
  // All or nothing, as kafka_output::publish().
  bool publish(const std::vector<alert>& alerts) override;
  void poll() override;
  std::size_t pending() const override { return queue_.size() + batch_count_; }
  bool flush(std::chrono::milliseconds timeout) override;
  // False from a failed write or fsync until a batch succeeds.
  bool healthy() const override { return !failing_; }

 private:
  bool open_file();        // (re)opens path_; false and counted on error
  bool reopen_if_moved();  // logrotate: the path names another file now
  bool write_batch();      // false on error (batch kept)
  void fail(const char* operation, int err);
  void close_fd();

  const std::string name_;
  const alert_schema schema_;
  const std::string path_;
  const bool stdout_;
  const bool fsync_;
  const std::size_t max_pending_;
  metrics_registry& metrics_;
  counter& delivered_;
  gauge& pending_gauge_;

  int fd_ = -1;
  bool regular_ = false;  // fsync and rotation checks make sense only for regular files

  std::deque<std::string> queue_;  // rendered lines with '\n', not yet in a batch
  std::string batch_;              // the batch being written
  std::size_t batch_count_ = 0;    // alerts in batch_
  std::size_t batch_prefix_ = 0;   // leading "\n" closing a torn line (not re-written)
  std::size_t written_ = 0;        // bytes of batch_ already in the file
  bool needs_newline_ = false;     // the file ends in a torn line

  bool failing_ = false;
  std::uint64_t failures_in_a_row_ = 0;
  rate_limited_log log_limit_;
};

}  // namespace portscand
