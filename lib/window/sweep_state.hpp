#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <unordered_set>
#include <vector>

#include "core/binary_io.hpp"
#include "core/ip_address.hpp"
#include "core/time.hpp"
#include "event/network_session.hpp"
#include "window/key_table.hpp"

namespace portscand {

// The distinct destination addresses of one sweep key, exactly (the sweep rule counts
// them), in 12 bytes: one IPv4 address inline (almost every key: a benign source talks to
// one server per port), a hash set of all of them beyond (or for an IPv6 address).
// Not thread-safe: owned by one shard. Packed like key_state's members.
class __attribute__((packed)) destination_set {
 public:
  destination_set() noexcept { u_.heap = nullptr; }
  ~destination_set() { release(); }
  destination_set(const destination_set&) = delete;
  destination_set& operator=(const destination_set&) = delete;
  destination_set(destination_set&& o) noexcept : size_(o.size_) {
    std::memcpy(&u_, &o.u_, sizeof u_);
    o.size_ = 0;
  }
  destination_set& operator=(destination_set&& o) noexcept {
    if (this != &o) {
      release();
      std::memcpy(&u_, &o.u_, sizeof u_);
      size_ = o.size_;
      o.size_ = 0;
    }
    return *this;
  }

  // True when `a` was not in the set.
  bool insert(const v6_key& a);
  std::uint32_t size() const noexcept { return size_ & ~on_heap; }
  // Every address, in no particular order (checkpoints).
  void list(std::vector<v6_key>& out) const;
  std::size_t heap_bytes() const noexcept;

 private:
  using set = std::unordered_set<v6_key, v6_key_hash>;
  static constexpr std::uint32_t on_heap = 1u << 31;  // in size_: u_.heap holds them all
  void release() noexcept;

  union {
    std::uint32_t v4;  // host order, the one address (size 1, not on the heap)
    set* heap;
  } u_;
  std::uint32_t size_ = 0;
};

// Everything the port-sweep rule and its alert need of one (source, destination port,
// bin): 44 bytes, packed as key_state.
struct __attribute__((packed, aligned(4))) sweep_key_state {
  destination_set destinations;
  label_set labels;
  std::uint32_t first_offset = 0;  // first_seen - bin start, microseconds
  std::uint32_t last_offset = 0;
  std::uint32_t events = 0;  // saturating
  std::uint8_t flags = 0;    // key_state's flags: alerted, dirty, crossed
  std::uint8_t protocols = 0;
  key_evidence evidence;  // outcome counts and the smallest targets (read with `events`)
};

// A sweep key: the 16-byte source as two words (compared inline) and the destination port;
// 18 bytes, so that a table entry with its state is 64.
struct __attribute__((packed, aligned(2))) sweep_key {
  std::uint64_t high = 0, low = 0;
  std::uint16_t port = 0;
  bool operator==(const sweep_key& o) const noexcept {
    return low == o.low && high == o.high && port == o.port;
  }
};
struct sweep_key_hash {
  static constexpr bool tag_slots = true;  // key_table: 64-bit slots with a hash tag
  std::size_t operator()(const sweep_key& k) const noexcept {
    std::uint64_t h = (k.high ^ (k.low * 0xc2b2ae3d27d4eb4fULL)) + k.port;
    h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ULL;
    h = (h ^ (h >> 27)) * 0x94d049bb133111ebULL;
    return static_cast<std::size_t>(h ^ (h >> 31));
  }
};

// One (source, port, bin) as the sweep rule sees it when a bin is evaluated.
struct sweep_view {
  ip_address src;
  std::uint16_t port;
  timestamp_us bin_start;
  sweep_key_state& state;
};

// The port-sweep rule's window state of one shard (lib/window/README.md "Port sweeps"):
// bins of (source, destination port) -> sweep_key_state, keyed by bin start, beside the
// vertical rule's bins in shard_state, which owns it and feeds it every record that has a
// destination port. Owned and touched by one shard thread.
class sweep_state {
 public:
  struct config {
    timestamp_us bin_width = 5 * us_per_minute;
    std::uint32_t threshold = 50;     // alert when distinct destinations > threshold
    std::uint32_t max_targets = 100;  // destinations each key keeps for its alert (<= 255)
    std::size_t max_keys = 4'000'000;
    bool early_alerts = false;  // call the crossing handler (see shard_state)
  };

  sweep_state(const config& cfg, const label_table& labels);

  // Adds a record that has a destination port to the key of bin `start`; `source_offset`
  // as shard_state::set_source_offset. Returns true when the record landed in an
  // already-evaluated bin (re-opened it).
  bool add(const network_session& r, timestamp_us start, std::int64_t source_offset);

  // Cache hints for a coming add(r) in the bin of the last record (shard_state::add_batch):
  // its index slot (`entry` false) or, once that is cached, its entry.
  void prefetch(const network_session& r, bool entry) const noexcept;

  // As shard_state::evaluate_closed, over the sweep keys.
  std::size_t evaluate_closed(timestamp_us close_before, const std::function<void(sweep_view)>& fn);
  // Frees evaluated bins that end at or before `horizon`. Returns how many.
  std::size_t free_before(timestamp_us horizon);
  // The bins held with the smallest source offset that added to each.
  void held_bins(std::map<timestamp_us, std::int64_t>& out) const;

  std::size_t keys() const noexcept { return keys_; }
  std::size_t bins() const noexcept { return bins_.size(); }
  std::size_t memory_bytes() const noexcept;
  const config& settings() const noexcept { return cfg_; }
  void set_threshold(std::uint32_t threshold) noexcept;
  void set_max_keys(std::size_t max_keys) noexcept;
  void set_early_alerts(bool on) noexcept { cfg_.early_alerts = on; }
  using crossing_handler = std::function<void(sweep_view)>;
  void set_crossing_handler(crossing_handler h) { on_crossing_ = std::move(h); }

  // Shedding: keys dropped by the cap, by distance band (shed_distance_band of the
  // destinations still needed), and passes.
  struct counters {
    std::uint64_t shed_keys = 0;
    std::uint64_t shed_passes = 0;
    std::array<std::uint64_t, shed_distance_bands> shed_by_distance{};
  };
  const counters& stats() const noexcept { return stats_; }

  void serialize(binary_writer& w) const;
  // False (state left empty) on bytes that are not a valid encoding.
  bool deserialize(binary_reader& r, label_table& labels);
  void clear() noexcept;

 private:
  struct bin {
    key_table<sweep_key, sweep_key_hash, sweep_key_state> keys;
    bool evaluated = false;
    bool reopened = false;
    std::int64_t first_source_offset = INT64_MAX;
  };
  void shed();
  std::size_t shed_target() const noexcept {
    return cfg_.max_keys - std::min(cfg_.max_keys, std::max<std::size_t>(1, cfg_.max_keys / 10));
  }

  config cfg_;
  const label_table& labels_;
  std::map<timestamp_us, bin> bins_;
  std::size_t keys_ = 0;
  std::size_t shed_at_;
  counters stats_;
  timestamp_us last_bin_start_ = INT64_MIN;
  bin* last_bin_ = nullptr;
  crossing_handler on_crossing_;
};

}  // namespace portscand
