#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <memory>
#include <type_traits>
#include <vector>

#include "core/assert.hpp"
#include "core/time.hpp"
#include "window/key_evidence.hpp"
#include "window/label_set.hpp"
#include "window/port_set.hpp"

namespace portscand {

// Everything the rule and its alert need of one (source, bin): 44 bytes.
struct __attribute__((packed, aligned(4))) key_state {
  static constexpr std::uint8_t alerted =
      1;  // this key has alerted: never again (SPEC "once per key")
  static constexpr std::uint8_t dirty = 2;  // touched since its bin was last evaluated
  // Its crossing of the threshold was handed to the crossing handler (early alerts): once.
  static constexpr std::uint8_t crossed = 4;

  port_set ports;
  label_set labels;
  std::uint32_t first_offset = 0;  // first_seen - bin start, microseconds (a bin is at most 1 h)
  std::uint32_t last_offset = 0;   // last_seen - bin start
  std::uint32_t events = 0;        // saturating
  std::uint8_t flags = 0;
  std::uint8_t protocols = 0;  // protocol_bit()s of the records seen
  key_evidence evidence;       // outcome counts and targets (read with `events`)
};

// What every key counts of a record, whatever its rule (key_state, sweep_key_state): first
// and last seen, the event count (saturating), the label, the protocol and the case
// evidence. The rule's own distinct set (ports, addresses) is the caller's.
template <typename State>
void count_record(State& s, bool inserted, const network_session& r, timestamp_us bin_start,
                  const label_table& labels, std::uint32_t max_targets) {
  const auto offset = static_cast<std::uint32_t>(r.time - bin_start);
  if (inserted) {
    s.first_offset = s.last_offset = offset;
  } else {
    s.first_offset = std::min(s.first_offset, offset);
    s.last_offset = std::max(s.last_offset, offset);
  }
  const std::uint32_t prior = s.events;
  if (s.events != UINT32_MAX) ++s.events;
  s.labels.insert(r.reported_by, labels);
  s.protocols |= protocol_bit(r.protocol);
  s.evidence.add(r, prior, max_targets);
}

// Dense, chunked storage of (key, state) plus an open-addressing index (linear probing)
// whose slots hold the entry's number. For 32-bit keys (IPv4) a slot also holds the key
// itself, so probing past other keys reads only the index, never their entries (each a
// likely cache miss); 128-bit keys keep 4-byte slots to stay small.
// Entries never move while the table lives (chunks are never reallocated), removal happens
// only by rebuilding (shedding). Memory per key: sizeof(entry) + about 6 bytes of index
// (4-byte slots) or 12 (8-byte slots).
// Not thread-safe: owned by one shard.
// State defaults to the tumbling key_state; the sliding window stores its per-source state
// (lib/window/sliding_state.hpp) in the same table.
template <typename Key, typename Hash, typename State = key_state>
class key_table {
 public:
  struct entry {
    Key key;
    State state;
  };

  key_table() = default;
  key_table(const key_table&) = delete;
  key_table& operator=(const key_table&) = delete;
  key_table(key_table&&) noexcept = default;
  key_table& operator=(key_table&&) noexcept = default;

  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }

  // Finds the key or default-constructs a new entry. `inserted` tells which.
  entry& find_or_insert(const Key& key, bool& inserted) {
    if ((size_ + 1) * 4 > index_.size() * 3) grow_index();
    const std::size_t mask = index_.size() - 1;
    const std::size_t hash = Hash{}(key);
    std::size_t slot = hash & mask;
    while (true) {
      const slot_t v = index_[slot];
      if (v == 0) break;
      if (holds(v, key, hash)) {
        entry& e = at(number_of(v) - 1);
        if (tagged || e.key == key) {
          inserted = false;
          return e;
        }
      }
      slot = (slot + 1) & mask;
    }
    PORTSCAND_ASSERT(size_ < 0xfffffffeu, "key table index overflow");
    if (size_ == chunks_.size() * chunk_size)
      chunks_.push_back(std::make_unique<entry[]>(chunk_size));
    entry& e = at(size_);
    e.key = key;
    index_[slot] = make_slot(key, ++size_, hash);
    inserted = true;
    return e;
  }

  // Cache hints for a coming find_or_insert(key): the index slot, then (once that slot is
  // in cache) the entry it names. No effect on the table.
  void prefetch_slot(const Key& key) const noexcept {
    if (!index_.empty()) __builtin_prefetch(&index_[Hash{}(key) & (index_.size() - 1)]);
  }
  void prefetch_entry(const Key& key) const noexcept {
    if (index_.empty()) return;
    const std::size_t hash = Hash{}(key);
    const slot_t v = index_[hash & (index_.size() - 1)];
    if (v == 0 || !holds(v, key, hash)) return;
    const entry& e = at(number_of(v) - 1);
    __builtin_prefetch(&e);
    // An entry over a cache line (sliding sources: 80 and 88 bytes) usually spans two.
    if constexpr (sizeof(entry) > 64)
      __builtin_prefetch(reinterpret_cast<const char*>(&e) + sizeof(entry) - 1);
  }
  // The entry of `key` when it sits in its home slot, else nullptr (also when it is in the
  // table but was probed past): for cache hints that may miss, not for lookups.
  const entry* home_entry(const Key& key) const noexcept {
    if (index_.empty()) return nullptr;
    const std::size_t hash = Hash{}(key);
    const slot_t v = index_[hash & (index_.size() - 1)];
    if (v == 0 || !holds(v, key, hash)) return nullptr;
    const entry& e = at(number_of(v) - 1);
    return tagged || e.key == key ? &e : nullptr;
  }

  entry& at(std::size_t i) noexcept { return chunks_[i / chunk_size][i % chunk_size]; }
  const entry& at(std::size_t i) const noexcept { return chunks_[i / chunk_size][i % chunk_size]; }

  // Keeps the entries for which keep(entry) is true, in order; rebuilds the index. keep is
  // called exactly once per entry, in entry order (shedding counts positions on that).
  template <typename Keep>
  std::size_t retain_if(Keep keep) {
    std::size_t out = 0;
    for (std::size_t i = 0; i < size_; ++i) {
      entry& e = at(i);
      if (!keep(e)) continue;
      if (out != i) {
        entry& dst = at(out);
        dst.key = e.key;
        dst.state = std::move(e.state);
      }
      ++out;
    }
    for (std::size_t i = out; i < size_; ++i) at(i).state = State{};  // frees heap tiers
    const std::size_t removed = size_ - out;
    size_ = out;
    chunks_.resize((size_ + chunk_size - 1) / chunk_size);
    rebuild_index();
    return removed;
  }

  std::size_t memory_bytes() const noexcept {
    return chunks_.size() * chunk_size * sizeof(entry) + index_.size() * sizeof(slot_t);
  }

 private:
  static constexpr std::size_t chunk_size = 1024;
  // A slot: the entry number + 1 (0 = empty), and for 32-bit keys the key in the upper half.
  static constexpr bool tagged = std::is_same_v<Key, std::uint32_t>;
  // A Hash that says `tag_slots` gets 64-bit slots holding the upper half of the key's
  // hash: a probe past other keys then reads their entries only on a 32-bit tag match (the
  // sweep keys: millions, and 18 bytes to compare).
  static constexpr bool hash_tagged = requires { Hash::tag_slots; };
  using slot_t = std::conditional_t<tagged || hash_tagged, std::uint64_t, std::uint32_t>;
  static slot_t make_slot([[maybe_unused]] const Key& key, std::size_t number,
                          [[maybe_unused]] std::size_t hash) noexcept {
    if constexpr (tagged)
      return std::uint64_t{key} << 32 | number;
    else if constexpr (hash_tagged)
      return (std::uint64_t{hash} >> 32) << 32 | number;
    else
      return static_cast<slot_t>(number);
  }
  static std::size_t number_of(slot_t v) noexcept { return static_cast<std::uint32_t>(v); }
  // Whether the slot may be the key's: exactly when tagged, else (hash tags: on a tag
  // match) it must be compared.
  static bool holds(slot_t v, [[maybe_unused]] const Key& key,
                    [[maybe_unused]] std::size_t hash) noexcept {
    if constexpr (hash_tagged)
      return (v >> 32) == (std::uint64_t{hash} >> 32);
    else if constexpr (tagged)
      return (v >> 32) == key;
    else
      return true;
  }

  void grow_index() { rebuild_index(std::max<std::size_t>(16, index_.size() * 2)); }
  void rebuild_index(std::size_t buckets = 0) {
    if (buckets == 0) {
      buckets = 16;
      while ((size_ + 1) * 4 > buckets * 3) buckets *= 2;
    }
    index_.assign(buckets, 0);
    const std::size_t mask = buckets - 1;
    for (std::size_t i = 0; i < size_; ++i) {
      const std::size_t hash = Hash{}(at(i).key);
      std::size_t slot = hash & mask;
      while (index_[slot] != 0) slot = (slot + 1) & mask;
      index_[slot] = make_slot(at(i).key, i + 1, hash);
    }
  }

  std::vector<std::unique_ptr<entry[]>> chunks_;
  std::vector<slot_t> index_;
  std::size_t size_ = 0;
};

// Shedding counts what it dropped by distance to the threshold (the ports a key still
// needed to alert: threshold + 1 - ports), so an operator sees whether the cap hits keys
// that were about to alert. Bands: [1, 5], [6, 20], [21, ...).
inline constexpr std::size_t shed_distance_bands = 3;
inline constexpr std::array<const char*, shed_distance_bands> shed_distance_band_names{
    "1-5", "6-20", "21+"};
constexpr std::size_t shed_distance_band(std::uint64_t distance) noexcept {
  return distance <= 5 ? 0 : distance <= 20 ? 1 : 2;
}

struct v4_key_hash {
  std::size_t operator()(std::uint32_t k) const noexcept {
    std::uint64_t h = k * 0x9e3779b97f4a7c15ULL;
    return static_cast<std::size_t>(h ^ (h >> 29));
  }
};

using v6_key = std::array<std::uint8_t, 16>;
struct v6_key_hash {
  std::size_t operator()(const v6_key& k) const noexcept {
    std::uint64_t a, b;
    std::memcpy(&a, k.data(), 8);
    std::memcpy(&b, k.data() + 8, 8);
    std::uint64_t h = (a ^ (b * 0xc2b2ae3d27d4eb4fULL)) * 0x9e3779b97f4a7c15ULL;
    return static_cast<std::size_t>(h ^ (h >> 31));
  }
};

}  // namespace portscand
