#pragma once

#include <array>
#include <cstdint>
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
// them): one inline, a hash set beyond. 24 bytes.
class destination_set {
 public:
  // True when `a` was not in the set.
  bool insert(const v6_key& a);
  std::uint32_t size() const noexcept { return size_; }
  // Every address, in no particular order (checkpoints).
  void list(std::vector<v6_key>& out) const;
  std::size_t heap_bytes() const noexcept;

 private:
  std::unique_ptr<std::unordered_set<v6_key, v6_key_hash>> more_;  // all of them, once 2+
  v6_key first_{};
  std::uint32_t size_ = 0;
};

// Everything the port-sweep rule and its alert need of one (source, destination port, bin).
struct sweep_key_state {
  destination_set destinations;
  label_set labels;
  std::uint32_t first_offset = 0;  // first_seen - bin start, microseconds
  std::uint32_t last_offset = 0;
  std::uint32_t events = 0;  // saturating
  std::uint8_t flags = 0;    // key_state's flags: alerted, dirty, crossed
  std::uint8_t protocols = 0;
  key_evidence evidence;  // outcome counts and the smallest targets (read with `events`)
};

// A sweep key: the 16-byte source, then the destination port (big-endian).
using sweep_key = std::array<std::uint8_t, 18>;
struct sweep_key_hash {
  std::size_t operator()(const sweep_key& k) const noexcept {
    v6_key src;
    std::memcpy(src.data(), k.data(), 16);
    const std::size_t port = std::size_t{k[16]} << 8 | k[17];
    return v6_key_hash{}(src) ^ (port * 0x9e3779b97f4a7c15ULL);
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

  // As shard_state::evaluate_closed, over the sweep keys.
  std::size_t evaluate_closed(timestamp_us close_before,
                              const std::function<void(sweep_view)>& fn);
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
