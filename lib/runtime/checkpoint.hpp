#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/result.hpp"
#include "core/time.hpp"

namespace portscand {

// One checkpoint: every shard's serialized window state and, per Kafka input, the offsets
// whose records are all reflected in that state. Written as a directory
// state_dir/ckpt-<epoch>/ (shard-<i>.bin + manifest.json), made durable (fsync of files and
// directories) and then published by atomically replacing state_dir/CURRENT. A crash at any
// point leaves the previous checkpoint current.
struct checkpoint_data {
  std::uint64_t epoch = 0;
  timestamp_us created = 0;
  std::string rule_id;
  timestamp_us bin_width = 0;
  std::vector<std::string> shards;  // serialized shard states, index = shard
  // input name -> "topic/partition" -> next offset
  std::map<std::string, std::map<std::string, std::int64_t>> offsets;
};

class checkpoint_store {
 public:
  explicit checkpoint_store(std::string state_dir) : dir_(std::move(state_dir)) {}

  // Creates the directory if needed and checks it is writable.
  status prepare();
  status write(const checkpoint_data& data);
  // The current checkpoint, if any. An error (corrupt, truncated, checksum mismatch,
  // unknown version) is reported, never a crash: the caller falls back to a fresh start.
  std::optional<result<checkpoint_data>> load();

  const std::string& dir() const noexcept { return dir_; }

 private:
  std::string dir_;
};

}  // namespace portscand
