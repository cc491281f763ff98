#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "config/config.hpp"
#include "core/ip_address.hpp"
#include "core/time.hpp"
#include "event/network_session.hpp"

namespace portscand {

// The `exclusions:` entries, indexed for the shard threads' hot path. Immutable once built
// (a reload builds a new set and swaps the rule); any thread may read it.
//
// Matching (README "Exclusions"): an entry matches a record when each dimension it gives
// matches (a source block, a destination block, a port range) and the record's event time
// is before its expiry. A record matched by several entries is counted for the first one
// in configuration order.
//
// Index: an entry with sources is found through its source blocks, one without through its
// destination blocks, and the rest (ports only) are scanned. Blocks are kept per prefix
// length as sorted (network, entry) arrays, so a record costs one binary search per distinct
// prefix length in use (usually a handful), whatever the number of entries, and no
// allocation. An empty set costs one branch.
class exclusion_set {
 public:
  static constexpr std::size_t none = static_cast<std::size_t>(-1);

  exclusion_set() = default;
  explicit exclusion_set(const std::vector<exclusion_config>& entries);

  bool empty() const noexcept { return entries_.empty(); }
  std::size_t size() const noexcept { return entries_.size(); }
  const std::string& name(std::size_t i) const noexcept { return entries_[i].name; }

  // The first entry (configuration order) that matches the record, or `none`.
  std::size_t match(const network_session& r) const noexcept {
    if (entries_.empty()) return none;
    return match_slow(r);
  }

  // Whether a key (its source, or with ipv6 prefixes the prefix `src`/`bits` over the 16-byte
  // form) of the bin starting at `bin_start` is excluded as a whole: an entry with source
  // blocks only, one of which covers the key entirely, not expired at the bin's start. The
  // evaluator asks before alerting, so that a source excluded while its bin was open (a
  // reload) does not alert on what it counted before. Returns the entry or `none`.
  std::size_t covers_source(const ip_address& src, unsigned bits,
                            timestamp_us bin_start) const noexcept;

 private:
  struct entry {
    std::string name;
    std::vector<ip_network> destinations;
    std::vector<std::pair<std::uint16_t, std::uint16_t>> ports;
    timestamp_us expires = INT64_MAX;
    bool has_sources = false;
    bool source_only = false;  // no destinations, no ports
  };
  // An address or network as two big-endian 64-bit halves: masking and comparing cost a
  // few instructions instead of byte loops.
  struct key128 {
    std::uint64_t hi = 0, lo = 0;
    friend bool operator==(const key128&, const key128&) = default;
    friend bool operator<(const key128& a, const key128& b) noexcept {
      return a.hi != b.hi ? a.hi < b.hi : a.lo < b.lo;
    }
  };
  struct block {
    key128 net;
    std::uint32_t entry = 0;
    friend bool operator==(const block&, const block&) = default;
    friend bool operator<(const block& a, const block& b) noexcept {
      return a.net == b.net ? a.entry < b.entry : a.net < b.net;
    }
  };
  // All blocks of one prefix length, sorted by (network, entry).
  struct level {
    unsigned bits = 0;
    key128 mask;
    std::vector<block> nets;
  };
  static key128 to_key(const std::array<std::uint8_t, 16>& b) noexcept;
  static key128 masked(const key128& k, const key128& mask) noexcept {
    return {k.hi & mask.hi, k.lo & mask.lo};
  }
  // The entries of `l` whose network is `k`: the first such block, or l.nets.end().
  static std::vector<block>::const_iterator find(const level& l, const key128& k) noexcept;
  static void add_block(std::vector<level>& levels, const ip_network& n, std::uint32_t entry);
  bool rest_matches(const entry& e, const network_session& r, bool check_dst) const noexcept;
  std::size_t match_slow(const network_session& r) const noexcept;

  std::vector<entry> entries_;
  std::vector<level> by_source_;        // entries with sources
  std::vector<level> by_destination_;   // entries without sources, with destinations
  std::vector<std::uint32_t> by_port_;  // entries with ports only
};

}  // namespace portscand
