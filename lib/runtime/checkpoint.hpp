#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/result.hpp"
#include "core/time.hpp"

namespace portscand {

// input name -> "topic/partition" -> next offset
using input_offsets = std::map<std::string, std::map<std::string, std::int64_t>>;

// One checkpoint: every shard's serialized window state and, per Kafka input, the offsets
// whose records are all reflected in that state. Written as a directory
// state_dir/ckpt-<epoch>/ (shard-<i>.bin + manifest.json with SHA-256 checksums), made
// durable (fsync of files and directories), then named in state_dir/CURRENT (for people and
// tools; loading does not need it). A crash at any point leaves the previous checkpoints
// intact.
struct checkpoint_data {
  std::uint64_t epoch = 0;
  timestamp_us created = 0;
  std::string rule_id;
  timestamp_us bin_width = 0;
  std::vector<std::string> shards;  // serialized shard states, index = shard
  input_offsets offsets;
  // Each shard's alert history (evaluator::serialize_history: suppression and incidents),
  // index = shard; empty when it holds nothing. Optional in the manifest ("suppression", its
  // first content), so checkpoints of earlier versions load (no history) and earlier
  // versions load these (they ignore the key).
  std::vector<std::string> suppression;
};

// A checkpoint read back: its shard files that passed the checksum (`intact[i]`; the bytes
// of a damaged one are empty) and whatever was wrong with the others.
struct checkpoint_generation {
  checkpoint_data data;
  std::vector<bool> intact;
  std::vector<bool> suppression_intact;  // per shard; true when the manifest has none
  std::vector<std::string> problems;
};

// The offsets from which the input must be read again when shards were restored from
// these generations: per partition the smallest offset; a partition missing from any of
// them is left out (it is read from the group's committed offset).
input_offsets merge_offsets(const std::vector<const input_offsets*>& generations);

// The last `generations` checkpoints are kept, so that one damaged file costs a shard only
// the records since an older generation (read again from Kafka), never its state: offsets
// are committed to the group only as far as the oldest kept generation reaches.
class checkpoint_store {
 public:
  static constexpr std::size_t default_generations = 3;
  explicit checkpoint_store(std::string state_dir, std::size_t generations = default_generations)
      : dir_(std::move(state_dir)), generations_(generations) {}

  // Creates the directory if needed and checks it is writable.
  status prepare();
  // Writes `data` as the newest generation and removes those beyond the kept count. Returns
  // the offsets it is safe to commit: those of the oldest generation kept.
  result<input_offsets> write(const checkpoint_data& data);
  // Every complete checkpoint directory, newest first. A damaged manifest or shard file is
  // reported in that generation's `problems` (or leaves the generation out when its
  // manifest is unreadable), never a crash. Empty when there is none.
  std::vector<checkpoint_generation> load_all(std::vector<std::string>* problems = nullptr);

  const std::string& dir() const noexcept { return dir_; }

 private:
  std::vector<std::uint64_t> epochs_on_disk() const;
  std::string dir_;
  std::size_t generations_;
};

}  // namespace portscand
