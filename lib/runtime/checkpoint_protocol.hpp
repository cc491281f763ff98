#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/result.hpp"
#include "core/time.hpp"
#include "runtime/checkpoint.hpp"

namespace portscand {

// What the checkpoint protocol drives. The daemon implements it with its Kafka sources,
// engine, publisher and checkpoint store; tests with fakes. Every begin_/poll_ pair is
// asynchronous: poll returns nullopt until the participants have answered.
class checkpoint_participants {
 public:
  virtual ~checkpoint_participants() = default;
  // Step 1: every input pushes what it consumed to the shards and names the offsets it
  // has handed over.
  virtual void begin_offsets() = 0;
  virtual std::optional<input_offsets> poll_offsets() = 0;
  // Step 2: every shard serializes its state (after the records of step 1 are in it). The
  // inputs may hold still between answering step 1 and this call; it releases them.
  virtual void begin_snapshot() = 0;
  virtual std::optional<std::vector<std::string>> poll_snapshot() = 0;
  // After poll_snapshot answered: what else the shards serialized with their state (the
  // evaluators' suppression state, per shard; empty when there is none).
  virtual std::vector<std::string> take_suppression() { return {}; }
  // Step 3: everything handed to the outputs before this call (alerts; with scale-out also
  // the records produced to the by-source topic) must be confirmed: begin_drain() notes how
  // far, drained() says whether the outputs got there.
  virtual void begin_drain() = 0;
  virtual bool drained() const = 0;
  // Step 4: make the checkpoint durable. Returns the offsets it is safe to commit now (the
  // store keeps older generations to fall back to, and commits only as far as the oldest).
  virtual result<input_offsets> write(const checkpoint_data& data) = 0;
  // Step 5: tell the group how far the durable state reaches.
  virtual void commit(const input_offsets& offsets) = 0;
  // The checkpoint in progress was abandoned or cancelled: release whatever it holds.
  virtual void abandoned() = 0;
};

struct checkpoint_timing {
  timestamp_us interval = 30 * us_per_second;
  // A step that has not finished after this long is abandoned (counted, retried later):
  // a checkpoint never holds the coordinator, so an output outage cannot starve liveness.
  timestamp_us step_timeout = 10 * us_per_second;
};

// The checkpoint protocol as a state machine stepped by the coordinator on every tick:
// offsets -> snapshot -> drain -> write -> commit. Never blocks. Each step starts only once
// the previous one finished, which is what makes the result consistent:
// - the snapshot is taken after the inputs answered, so the state holds at least every
//   record below the offsets (records after them are re-read after a crash: copies, never
//   losses);
// - the checkpoint is written only once every alert handed over before the snapshot is
//   confirmed, so a key marked alerted in a durable checkpoint has had its alert
//   delivered;
// - offsets are committed only after the write succeeded, and only as far as the store says
//   (its oldest kept generation), so the group never claims records whose state a damaged
//   file could still take away.
class checkpoint_protocol {
 public:
  enum class stage { idle, offsets, snapshot, drain };
  enum class outcome { none, started, written, abandoned, write_failed };

  checkpoint_protocol(checkpoint_participants& parts, checkpoint_timing timing, std::string rule_id,
                      timestamp_us bin_width);

  // The epoch of the restored checkpoint (the next one written is epoch + 1), and the time
  // the interval counts from.
  void restored(std::uint64_t epoch, timestamp_us now);
  // Advances as far as the participants allow without waiting. `force` starts a
  // checkpoint now if none is running (shutdown).
  outcome tick(timestamp_us now, bool force = false);
  // Drops a checkpoint in progress (shutdown takes a fresh one after the final advance).
  void cancel();

  stage current_stage() const noexcept { return stage_; }
  std::uint64_t epoch() const noexcept { return epoch_; }
  timestamp_us last_written() const noexcept { return last_written_; }
  // Why the last checkpoint was abandoned or failed (for logs and tests).
  const std::string& last_problem() const noexcept { return problem_; }
  // The step the last abandoned checkpoint stopped at: offsets, snapshot or drain; or
  // "write" for a failed write.
  const std::string& last_problem_step() const noexcept { return problem_step_; }
  timestamp_us last_duration() const noexcept { return last_duration_; }

 private:
  outcome abandon(timestamp_us now, std::string step, std::string why, outcome o);

  checkpoint_participants& parts_;
  checkpoint_timing timing_;
  std::string rule_id_;
  timestamp_us bin_width_;
  stage stage_ = stage::idle;
  std::uint64_t epoch_ = 0;
  timestamp_us next_due_ = 0;
  timestamp_us last_written_ = 0;
  timestamp_us started_ = 0, step_started_ = 0;
  timestamp_us last_duration_ = 0;
  checkpoint_data pending_;
  std::string problem_, problem_step_;
};

}  // namespace portscand
