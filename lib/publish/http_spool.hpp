#pragma once

// The durable queue of an HTTP output: every alert accepted by publish() is appended (and
// fsynced) before publish() returns, and marked done once delivered or rejected, so alerts
// still pending when the process stops are delivered by the next one.
//
// File format, one record per line: "A <seq> <alert_id> <element> <check>" (an alert: its
// sequence number, id and rendered body element, which is one line of JSON) or
// "D <seq> <check>" (that alert is done). <check> is the FNV-1a 64 of everything before the
// space that precedes it, 16 lower-case hex digits. A line that does not parse or whose check
// fails (a torn last line after a crash, a damaged disk block) is skipped and counted. Done
// records are not synced: after a crash an alert may be sent again (same Idempotency-Key).
//
// Threads: one (the output's publisher thread).

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace portscand {

struct spool_line {
  char kind = 'A';  // 'A' added, 'D' done
  std::uint64_t seq = 0;
  std::string_view alert_id;  // 'A' only
  std::string_view element;   // 'A' only
};
// Parses one line (without its '\n'); nullopt when malformed or the check fails.
std::optional<spool_line> parse_spool_line(std::string_view line);
// Encodes a line with its '\n'. The element must not contain '\n' (JSON lines do not).
std::string encode_spool_added(std::uint64_t seq, std::string_view alert_id,
                               std::string_view element);
std::string encode_spool_done(std::uint64_t seq);

struct spooled_alert {
  std::uint64_t seq = 0;
  std::string alert_id;
  std::string element;
};

class http_spool {
 public:
  // Opens (creates, mode 0600) `path` and reads what a previous process left: the alerts
  // added and not done, in their order, with the next free sequence number above theirs.
  // The file is then rewritten with only those (compacted). Throws std::runtime_error naming
  // the path and the system error when it cannot be read, written or synced.
  explicit http_spool(std::string path);
  ~http_spool();
  http_spool(const http_spool&) = delete;
  http_spool& operator=(const http_spool&) = delete;

  // What the previous process left undelivered, in order (moved out once).
  std::vector<spooled_alert> take_recovered() { return std::move(recovered_); }
  // Lines skipped while reading (damaged or torn).
  std::uint64_t damaged_lines() const noexcept { return damaged_; }
  std::uint64_t next_seq() const noexcept { return next_seq_; }

  // Appends the alerts and fsyncs. On failure returns the errno and leaves the file as it
  // was (truncated back to its old size).
  int append(const std::vector<spooled_alert>& alerts);
  // Marks alerts done (not synced). Compacts when done records outweigh live ones, and
  // truncates the file when nothing is live. Returns 0 or the errno of a failed write (the
  // alert is then delivered again after a restart, never lost).
  int mark_done(const std::vector<std::uint64_t>& seqs);

  std::uint64_t size_bytes() const noexcept { return size_; }
  std::size_t live() const noexcept { return live_bytes_.size(); }
  const std::string& path() const noexcept { return path_; }

 private:
  // Writes the live alerts' lines (read back from the file) to a new file that replaces it:
  // tmp file, fsync, rename, fsync of the directory.
  int compact();
  int rewrite(const std::string& content);
  int write_all(int fd, std::string_view bytes);

  std::string path_;
  int fd_ = -1;
  std::uint64_t size_ = 0;
  std::uint64_t next_seq_ = 1;
  std::uint64_t damaged_ = 0;
  std::uint64_t dead_bytes_ = 0;                       // lines of done alerts and done records
  std::map<std::uint64_t, std::uint64_t> live_bytes_;  // seq -> its line's size
  std::vector<spooled_alert> recovered_;
};

}  // namespace portscand
