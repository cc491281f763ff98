#include "detect/exclusions.hpp"

#include <algorithm>

namespace portscand {

exclusion_set::exclusion_set(const std::vector<exclusion_config>& entries) {
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const exclusion_config& c = entries[i];
    entry e;
    e.name = c.name;
    e.destinations = c.destinations;
    e.ports = c.ports;
    e.expires = c.expires.value_or(INT64_MAX);
    e.has_sources = !c.sources.empty();
    e.source_only = e.has_sources && c.destinations.empty() && c.ports.empty();
    const auto index = static_cast<std::uint32_t>(i);
    if (!c.sources.empty())
      for (const ip_network& n : c.sources) add_block(by_source_, n, index);
    else if (!c.destinations.empty())
      for (const ip_network& n : c.destinations) add_block(by_destination_, n, index);
    else
      by_port_.push_back(index);
    entries_.push_back(std::move(e));
  }
  for (auto* levels : {&by_source_, &by_destination_})
    for (level& l : *levels) std::sort(l.nets.begin(), l.nets.end());
}

exclusion_set::key128 exclusion_set::to_key(const std::array<std::uint8_t, 16>& b) noexcept {
  key128 k;
  for (int i = 0; i < 8; ++i) {
    k.hi = (k.hi << 8) | b[i];
    k.lo = (k.lo << 8) | b[8 + i];
  }
  return k;
}

std::vector<exclusion_set::block>::const_iterator exclusion_set::find(const level& l,
                                                                      const key128& k) noexcept {
  return std::lower_bound(l.nets.begin(), l.nets.end(), k,
                          [](const block& b, const key128& key) { return b.net < key; });
}

void exclusion_set::add_block(std::vector<level>& levels, const ip_network& n,
                              std::uint32_t entry) {
  auto it =
      std::find_if(levels.begin(), levels.end(), [&n](const level& l) { return l.bits == n.bits; });
  if (it == levels.end()) {
    // Ascending prefix length: covers_source stops at the key's own length.
    std::array<std::uint8_t, 16> ones;
    ones.fill(0xFF);
    it = levels.insert(std::upper_bound(levels.begin(), levels.end(), n.bits,
                                        [](unsigned b, const level& l) { return b < l.bits; }),
                       level{n.bits, to_key(mask_bytes(ones, n.bits)), {}});
  }
  it->nets.push_back(block{to_key(n.bytes), entry});
}

bool exclusion_set::rest_matches(const entry& e, const network_session& r,
                                 bool check_dst) const noexcept {
  if (check_dst && !e.destinations.empty()) {
    if (!r.has_dst) return false;
    bool any = false;
    for (const ip_network& n : e.destinations)
      if (n.contains(r.dst)) {
        any = true;
        break;
      }
    if (!any) return false;
  }
  if (!e.ports.empty()) {
    if (!r.has_port()) return false;
    const auto p = static_cast<std::uint32_t>(r.dst_port);
    bool any = false;
    for (const auto& [lo, hi] : e.ports)
      if (p >= lo && p <= hi) {
        any = true;
        break;
      }
    if (!any) return false;
  }
  return r.time < e.expires;
}

std::size_t exclusion_set::match_slow(const network_session& r) const noexcept {
  std::size_t best = none;
  // Candidates found through a block: every entry of that block whose other dimensions match.
  const auto scan = [&](const std::vector<level>& levels, const ip_address& ip, bool check_dst) {
    const key128 k = to_key(ip.bytes());
    for (const level& l : levels) {
      const key128 key = masked(k, l.mask);
      for (auto it = find(l, key); it != l.nets.end() && it->net == key; ++it) {
        if (it->entry >= best) break;  // sorted by entry within a network: the rest are later
        if (rest_matches(entries_[it->entry], r, check_dst)) best = it->entry;
      }
    }
  };
  if (!by_source_.empty()) scan(by_source_, r.src, true);
  if (!by_destination_.empty() && r.has_dst) scan(by_destination_, r.dst, false);
  for (const std::uint32_t i : by_port_) {
    if (i >= best) break;
    if (rest_matches(entries_[i], r, false)) {
      best = i;
      break;
    }
  }
  return best;
}

std::size_t exclusion_set::covers_source(const ip_address& src, unsigned bits,
                                         timestamp_us bin_start) const noexcept {
  std::size_t best = none;
  const key128 k = to_key(src.bytes());
  for (const level& l : by_source_) {
    if (l.bits > bits) break;  // a longer block does not cover the whole key
    const key128 key = masked(k, l.mask);
    for (auto it = find(l, key); it != l.nets.end() && it->net == key; ++it) {
      const entry& e = entries_[it->entry];
      if (e.source_only && bin_start < e.expires) best = std::min<std::size_t>(best, it->entry);
    }
  }
  return best;
}

}  // namespace portscand
