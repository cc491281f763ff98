#include "runtime/checkpoint_protocol.hpp"

namespace portscand {

checkpoint_protocol::checkpoint_protocol(checkpoint_participants& parts, checkpoint_timing timing,
                                         std::string rule_id, timestamp_us bin_width)
    : parts_(parts), timing_(timing), rule_id_(std::move(rule_id)), bin_width_(bin_width) {}

void checkpoint_protocol::restored(std::uint64_t epoch, timestamp_us now) {
  epoch_ = epoch;
  last_written_ = now;
  next_due_ = now + timing_.interval;
}

checkpoint_protocol::outcome checkpoint_protocol::abandon(timestamp_us now, std::string step,
                                                          std::string why, outcome o) {
  stage_ = stage::idle;
  pending_ = {};
  parts_.abandoned();
  problem_step_ = std::move(step);
  problem_ = std::move(why);
  // Retry sooner than a full interval: the state not yet durable keeps growing.
  next_due_ = now + timing_.interval / 4;
  return o;
}

void checkpoint_protocol::cancel() {
  if (stage_ != stage::idle) parts_.abandoned();
  stage_ = stage::idle;
  pending_ = {};
}

checkpoint_protocol::outcome checkpoint_protocol::tick(timestamp_us now, bool force) {
  bool began = false;
  switch (stage_) {
    case stage::idle:
      if (!force && now < next_due_) return outcome::none;
      began = true;
      pending_ = {};
      pending_.epoch = epoch_ + 1;
      pending_.created = now;
      pending_.rule_id = rule_id_;
      pending_.bin_width = bin_width_;
      started_ = step_started_ = now;
      stage_ = stage::offsets;
      parts_.begin_offsets();
      [[fallthrough]];
    case stage::offsets: {
      auto offsets = parts_.poll_offsets();
      if (!offsets) {
        if (now - step_started_ >= timing_.step_timeout)
          return abandon(now, "offsets", "an input did not name its offsets in time",
                         outcome::abandoned);
        return began ? outcome::started : outcome::none;
      }
      pending_.offsets = std::move(*offsets);
      stage_ = stage::snapshot;
      step_started_ = now;
      parts_.begin_snapshot();
      [[fallthrough]];
    }
    case stage::snapshot: {
      auto shards = parts_.poll_snapshot();
      if (!shards) {
        if (now - step_started_ >= timing_.step_timeout)
          return abandon(now, "snapshot", "the shards did not serialize their state in time",
                         outcome::abandoned);
        return began ? outcome::started : outcome::none;
      }
      pending_.shards = std::move(*shards);
      pending_.suppression = parts_.take_suppression();
      // Read after the snapshot: every alert of a key the snapshot marks alerted was handed
      // to the publisher before that shard serialized.
      parts_.begin_drain();
      stage_ = stage::drain;
      step_started_ = now;
      [[fallthrough]];
    }
    case stage::drain: {
      if (!parts_.drained()) {
        if (now - step_started_ >= timing_.step_timeout)
          return abandon(now, "drain",
                         "the outputs have not confirmed every alert the state marks as alerted",
                         outcome::abandoned);
        return began ? outcome::started : outcome::none;
      }
      auto safe = parts_.write(pending_);
      if (!safe) return abandon(now, "write", safe.err().message, outcome::write_failed);
      parts_.commit(safe.value());
      epoch_ = pending_.epoch;
      last_written_ = now;
      last_duration_ = now - started_;
      next_due_ = now + timing_.interval;
      stage_ = stage::idle;
      pending_ = {};
      return outcome::written;
    }
  }
  return outcome::none;
}

}  // namespace portscand
