#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <vector>

#include "core/ip_address.hpp"
#include "core/time.hpp"
#include "event/network_session.hpp"
#include "window/key_table.hpp"
#include "window/sliding_state.hpp"
#include "window/sweep_state.hpp"

namespace portscand {

struct window_config {
  timestamp_us bin_width = 5 * us_per_minute;
  // Records whose time is more than this behind the watermark are dropped (SPEC: query
  // period + allowed lateness), and bins wholly behind it are freed once evaluated.
  timestamp_us retention = 70 * us_per_minute;
  std::size_t max_keys = 4'000'000;  // per shard; shedding keeps the keys closest to alerting
  // The rule's threshold (alert when distinct ports > threshold). Shedding needs it to know
  // which keys will alert and how far the others are; the window cannot see the rule, so
  // runtime copies it here at start and on every reload (set_threshold).
  std::uint32_t threshold = 50;
  // `evidence.max_targets`: the destination addresses each key keeps for its alert
  // (target_set: the smallest ones). 0 keeps none.
  std::uint32_t max_targets = 10;
  // `evaluation: {window: sliding}`: per-source sliding state (sliding_state) instead of
  // bins; evaluate_sliding() instead of evaluate_closed().
  bool sliding = false;
  // `early_alerts`: call the crossing handler when a key's distinct ports first exceed the
  // threshold (tumbling only). Runtime copies it from the rule, as the threshold.
  bool early_alerts = false;
  // Which rules the state serves (README "Several rules"): the vertical rule's keys
  // (source, bin), the port-sweep rule's (source, destination port, bin) in a sweep_state.
  bool vertical = true;
  bool sweep = false;
  std::uint32_t sweep_threshold = 50;     // the sweep rule's, as `threshold`
  std::uint32_t sweep_max_targets = 100;  // destinations a sweep key keeps for its alert
};

// One (source, bin) as the rule sees it when a bin is evaluated.
struct key_view {
  ip_address src;
  timestamp_us bin_start;
  key_state& state;
};

// The window state of one shard: bins of (source -> key_state), keyed by bin start.
// Owned and touched by exactly one shard thread: no locks, no atomics.
class shard_state {
 public:
  enum class add_result : std::uint8_t { added, late };

  explicit shard_state(const window_config& config,
                       const label_table& labels = label_table::global());

  // Adds a record whose source already passed the rule's filter and whose time is set.
  add_result add(const network_session& r);
  // add() for each record of a batch, prefetching the table slots of the records a few
  // places ahead (the state of 100k+ sources does not fit in cache). Returns how many
  // were late.
  std::size_t add_batch(const network_session* records, std::size_t n);

  // Moves the watermark forward (never back) and frees evaluated bins wholly behind the
  // retention horizon.
  void advance_watermark(timestamp_us watermark);
  timestamp_us watermark() const noexcept { return watermark_; }

  // Calls fn for every key of every bin with end <= close_before that has not been
  // evaluated since it last changed: all keys of a never-evaluated bin, the dirty keys of a
  // re-opened one. Marks those bins evaluated and the keys clean. Returns the bins visited.
  std::size_t evaluate_closed(timestamp_us close_before, const std::function<void(key_view)>& fn);

  // The port-sweep rule's keys of every closed bin, as evaluate_closed (config().sweep).
  std::size_t evaluate_sweeps(timestamp_us close_before, const std::function<void(sweep_view)>& fn);

  // Sliding mode only: every crossing (sliding_state::evaluate) whose interval ends before
  // close_before and that may alert. Returns the sources scanned.
  std::size_t evaluate_sliding(timestamp_us close_before, std::uint32_t threshold,
                               const std::function<void(const sliding_crossing&)>& fn);
  bool sliding() const noexcept { return sliding_ != nullptr; }
  // Sliding mode: the sliding state itself (scale-out's floor, replay and notes); nullptr
  // in tumbling mode.
  sliding_state* sliding_window() noexcept { return sliding_.get(); }
  // Sliding mode: no alert from here on can have its crossing before this time
  // (lib/runtime/README.md, "Sliding windows"): every earlier crossing was evaluated and
  // only records at or after the late-record horizon can still change a count.
  timestamp_us decided_before() const noexcept;

  // Scale-out: the log offset the records added from now on come from (at most theirs).
  // Each bin keeps the smallest such offset of the records it took, so that a partition's
  // state can be rebuilt by reading its log from the smallest offset of the bins held.
  void set_source_offset(std::int64_t offset) noexcept { source_offset_ = offset; }
  // The bins held, ascending by start, with the smallest source offset that added to each
  // (INT64_MAX when set_source_offset was never called). In sliding mode the bin-wide panes
  // of record time a new owner needs: those after decided_before() - 2 widths (the records
  // of every undecided interval, and a width before it).
  std::vector<std::pair<timestamp_us, std::int64_t>> held_bins() const;

  // Keys of both rules; bins of the vertical rule (of the sweep rule when it runs alone).
  std::size_t keys() const noexcept {
    return (sliding_ ? sliding_->keys() : keys_) + (sweep_ ? sweep_->keys() : 0);
  }
  std::size_t bins() const noexcept {
    return config_.vertical || !sweep_ ? bins_.size() : sweep_->bins();
  }
  std::size_t memory_bytes() const noexcept;  // tables + heap tiers (computed by a walk: not hot)

  struct counters {
    std::uint64_t late_dropped = 0;  // records older than the retention horizon
    std::uint64_t reopened = 0;      // records that landed in an already-evaluated bin
    std::uint64_t shed_keys = 0;     // keys dropped by the memory cap
    std::uint64_t shed_passes = 0;
    // shed_keys split by shed_distance_band(); the bands add up to shed_keys.
    std::array<std::uint64_t, shed_distance_bands> shed_by_distance{};
    std::uint64_t freed_bins = 0;
  };
  // Both rules' keys (the sweep keys' shedding included).
  counters stats() const noexcept;

  // Checkpoint encoding of the whole state (bins, keys with their ports, labels as strings,
  // flags, the watermark). Labels are written as strings because label ids are per process.
  void serialize(std::string& out) const;
  // Replaces this state with a serialized one. Returns false (state left empty) when the
  // bytes are not a valid encoding; never reads out of bounds.
  bool deserialize(std::string_view in, label_table& labels);
  const window_config& config() const noexcept { return config_; }
  // The cap applies to each rule's keys on its own (the vertical and the sweep keys).
  void set_max_keys(std::size_t max_keys) noexcept {
    config_.max_keys = max_keys;
    shed_at_ = max_keys;
    if (sweep_) sweep_->set_max_keys(max_keys);
  }
  // The rule's current threshold (SIGHUP may change it): shedding never drops a key over it.
  // A change re-arms shedding at the cap: keys a raised threshold no longer protects may go.
  void set_threshold(std::uint32_t threshold) noexcept {
    if (threshold == config_.threshold) return;
    config_.threshold = threshold;
    shed_at_ = config_.max_keys;
  }
  void set_sweep_threshold(std::uint32_t threshold) noexcept {
    config_.sweep_threshold = threshold;
    if (sweep_) sweep_->set_threshold(threshold);
  }

  // Early alerts: with config().early_alerts, add() calls the handler (on the shard thread,
  // inside add) with the key whose record just took its distinct ports over the threshold,
  // once per key (key_state::crossed; never for a key that has alerted). The key_view is
  // valid during the call only.
  using crossing_handler = std::function<void(key_view)>;
  void set_crossing_handler(crossing_handler h) { on_crossing_ = std::move(h); }
  // The same for the sweep keys (their distinct destinations over sweep_threshold).
  void set_sweep_crossing_handler(sweep_state::crossing_handler h) {
    if (sweep_) sweep_->set_crossing_handler(std::move(h));
  }
  void set_early_alerts(bool on) noexcept {
    config_.early_alerts = on;
    if (sweep_) sweep_->set_early_alerts(on);
  }

  // What one shedding pass leaves: max_keys minus a tenth of it (at least one key), so the
  // next pass is a tenth of the cap of new keys away, not one.
  std::size_t shed_target() const noexcept {
    return config_.max_keys -
           std::min(config_.max_keys, std::max<std::size_t>(1, config_.max_keys / 10));
  }

 private:
  struct bin {
    key_table<std::uint32_t, v4_key_hash> v4;
    key_table<v6_key, v6_key_hash> v6;
    bool evaluated = false;
    bool reopened = false;                         // some key is dirty: evaluate again
    std::int64_t first_source_offset = INT64_MAX;  // see set_source_offset
  };

  // Starts loading what add(r) will touch, if r falls in the bin of the last record: its
  // index slot (`entry` false) or, once that is cached, its entry.
  void prefetch(const network_session& r, bool entry) const noexcept;
  void shed();
  void clear() noexcept;
  void touch(bin& b, key_state& s, bool inserted, const network_session& r, timestamp_us bin_start);
  template <typename Table, typename ToIp>
  static void visit(Table& table, timestamp_us start, bool only_dirty, ToIp to_ip,
                    const std::function<void(key_view)>& fn);

  window_config config_;
  const label_table& labels_;
  std::map<timestamp_us, bin> bins_;
  timestamp_us watermark_ = INT64_MIN;
  std::int64_t source_offset_ = INT64_MAX;
  std::size_t keys_ = 0;
  // add() sheds when keys_ reaches this: max_keys, or more after a pass that could not get
  // down to shed_target() because the rest will alert (those are never shed). Without
  // it every add() would walk millions of keys again for nothing.
  std::size_t shed_at_ = 0;
  counters stats_;
  // The bin the last record went to: consecutive records mostly share it.
  timestamp_us last_bin_start_ = INT64_MIN;
  bin* last_bin_ = nullptr;
  std::unique_ptr<sliding_state> sliding_;  // sliding mode: all the state (bins_ stays empty)
  // Sliding mode with source offsets (scale-out): per bin-wide pane of record time, the
  // smallest source offset that added to it (held_bins).
  std::map<timestamp_us, std::int64_t> panes_;
  std::unique_ptr<sweep_state> sweep_;  // config().sweep
  crossing_handler on_crossing_;
};

}  // namespace portscand
