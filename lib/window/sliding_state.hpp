#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/binary_io.hpp"
#include "core/ip_address.hpp"
#include "core/time.hpp"
#include "event/network_session.hpp"
#include "window/key_table.hpp"
#include "window/label_set.hpp"
#include "window/run_list.hpp"

namespace portscand {

// The sliding window (`evaluation: {window: sliding}`): per source, per destination port,
// the *activity runs* of that port: maximal sets of the port's records whose consecutive
// times are at most `width` apart, kept as (first, last). A port has a record in the closed
// interval [c - width, c] exactly when c lies in [first, last + width] of one of its runs,
// so the runs answer "how many distinct ports in the 5 minutes up to c" for every c, and
// that count only rises at a run's first time, which is a record time. Runs of one port never
// overlap in that sense (a record that bridges two runs merges them), so the count of
// covering runs is the count of distinct ports. See lib/window/README.md.

// A source's port -> runs lookup, once it has more than sliding_source::linear_runs runs:
// the runs of one port are chained through `next`.
struct run_index {
  // port -> head of its run chain, open addressing (slot = run index + 1).
  std::vector<std::uint32_t> slots;
  // run index -> the next run of the same port, or UINT32_MAX.
  std::vector<std::uint32_t> next;
};

// 72 bytes: one run inline (a source with one port allocates nothing more), the others in
// one heap array (run_list).
struct sliding_source {
  static constexpr std::uint8_t dirty = 1;  // records added since the last evaluation

  run_list runs;
  // Only for sources with more than linear_runs runs (scanners), absent for the benign 1-3
  // port sources.
  std::unique_ptr<run_index> index;
  // The earliest crossing that may alert: after an alert whose interval ends at c, c + width
  // + 1 us, so two alerts of one source never share a record. INT64_MIN: never alerted.
  timestamp_us next_allowed = INT64_MIN;
  std::uint32_t live = 0;  // runs not merged away
  std::uint8_t flags = 0;

  static constexpr std::size_t linear_runs = 8;
};
static_assert(sizeof(sliding_source) == 72);

// One crossing found by sliding_state::evaluate: the interval [end - width, end] (both ends
// included) held more than `threshold` distinct destination ports; `end` is the time of the
// record that made the count cross.
struct sliding_crossing {
  ip_address src;
  timestamp_us start = 0;
  timestamp_us end = 0;
  std::vector<std::uint16_t> ports;  // every distinct port of the interval, ascending
  // The labels of the evidence ports' runs seen at or before `end`, distinct.
  std::vector<label_id> labels;
  timestamp_us first_seen = 0;
  std::uint64_t events = 0;
};

// Per-source sliding state of one shard. Owned by shard_state (which keeps the watermark,
// the late-record rule and the counters); one shard thread, no locks.
class sliding_state {
 public:
  sliding_state(timestamp_us width, const label_table& labels) : width_(width), labels_(labels) {}

  // Adds a record (its port, time and label). Records without a port add nothing: no port
  // to count, and ReportedBy is taken from the evidence ports' runs. Returns whether the
  // record lies before the point already evaluated (it re-opens its source).
  bool add(const network_session& r);
  // Cache hints for a coming add(r): the index slot of its source, or (once that is cached)
  // the source's entry. No effect on the state.
  void prefetch(const network_session& r, bool entry) const noexcept {
    if (r.src.is_v4()) {
      if (!entry) return v4_.prefetch_slot(r.src.v4());
      v4_.prefetch_entry(r.src.v4());
    } else {
      if (!entry) return v6_.prefetch_slot(r.src.bytes());
      v6_.prefetch_entry(r.src.bytes());
    }
  }
  // Once the entry is cached: the source's heap runs (its runs beyond the inline one).
  void prefetch_runs(const network_session& r) const noexcept {
    const sliding_source* s = nullptr;
    if (r.src.is_v4()) {
      if (const auto* e = v4_.home_entry(r.src.v4())) s = &e->state;
    } else if (const auto* e = v6_.home_entry(r.src.bytes())) {
      s = &e->state;
    }
    if (s != nullptr && s->runs.size() > 1) __builtin_prefetch(&s->runs[1]);
  }

  // Evaluates every source with records added since its last evaluation, or with records at
  // or after the previous close_before: finds, in time order, each crossing c < close_before
  // with c >= the source's next_allowed and c >= the floor (set_floor), and calls fn for it.
  // Returns the sources scanned. While replaying (set_replaying) it only marks the sources
  // evaluated: the decisions are the notes' (apply_note).
  std::size_t evaluate(timestamp_us close_before, std::uint32_t threshold,
                       const std::function<void(const sliding_crossing&)>& fn);

  // Scale-out (lib/runtime/README.md, "Sliding windows"). A crossing before the floor is
  // never decided here: its history is older than what this state was rebuilt from.
  void set_floor(timestamp_us floor) noexcept { floor_ = floor; }
  void set_replaying(bool on) noexcept { replaying_ = on; }
  // Keep (source, next_allowed) of every decision, for take_notes().
  void keep_notes(bool on) noexcept { keep_notes_ = on; }
  std::vector<std::pair<ip_address, timestamp_us>> take_notes() {
    return std::exchange(notes_, {});
  }
  // What another owner decided: the source's next_allowed becomes at least `next_allowed`
  // (a source without records is kept for it, see prune()).
  void apply_note(const ip_address& src, timestamp_us next_allowed);

  // Drops runs that can no longer cover a crossing at or after `horizon` (last + width <
  // horizon) nor an unevaluated one (at or after evaluated_to()), and sources left without
  // runs whose next_allowed is not after the horizon (one that is still blocks a crossing,
  // whenever the walk comes). Cheap to call often: it walks the sources only
  // when the horizon moved a window width past the previous walk.
  void prune(timestamp_us horizon);

  // Sheds `need` sources (fewest ports first, then least recently seen, then table
  // position), never one that has alerted or holds more than threshold ports. Returns the
  // number shed; adds each to by_distance[shed_distance_band(threshold + 1 - ports)].
  std::size_t shed(std::size_t need, std::uint32_t threshold,
                   std::array<std::uint64_t, 3>& by_distance);

  std::size_t keys() const noexcept { return v4_.size() + v6_.size(); }
  std::size_t memory_bytes() const noexcept;
  timestamp_us evaluated_to() const noexcept { return evaluated_to_; }

  void serialize(binary_writer& w) const;
  bool deserialize(binary_reader& r, label_table& labels);
  void clear() noexcept;

 private:
  using v4_table = key_table<std::uint32_t, v4_key_hash, sliding_source>;
  using v6_table = key_table<v6_key, v6_key_hash, sliding_source>;

  void insert(sliding_source& s, std::uint16_t port, timestamp_us t, label_id label);
  void scan(const ip_address& src, sliding_source& s, timestamp_us close_before,
            std::uint32_t threshold, const std::function<void(const sliding_crossing&)>& fn);
  void compact(sliding_source& s) const;  // drops dead runs, rebuilds chains and the index

  timestamp_us width_;
  const label_table& labels_;
  v4_table v4_;
  v6_table v6_;
  timestamp_us evaluated_to_ = INT64_MIN;  // the close_before of the last evaluation
  timestamp_us floor_ = INT64_MIN;         // set_floor
  bool replaying_ = false;
  bool keep_notes_ = false;
  std::vector<std::pair<ip_address, timestamp_us>> notes_;
  timestamp_us pruned_at_ = INT64_MIN;
  // Scratch for scan(): (time, +1 start / -1 end, run).
  struct edge {
    timestamp_us time;
    std::int32_t delta;
    std::uint32_t run;
  };
  std::vector<edge> edges_;
};

}  // namespace portscand
