#include "window/shard_state.hpp"

#include <algorithm>
#include <array>

namespace portscand {

shard_state::shard_state(const window_config& config, const label_table& labels)
    : config_(config), labels_(labels) {
  PORTSCAND_ASSERT(config_.bin_width > 0 && config_.bin_width <= 60 * us_per_minute,
                   "bin width must be in (0, 1h]: key_state stores 32-bit offsets");
}

shard_state::add_result shard_state::add(const network_session& r) {
  PORTSCAND_ASSERT(r.has_time, "record without time reached the window");
  if (watermark_ != INT64_MIN && r.time < watermark_ - config_.retention) {
    ++stats_.late_dropped;
    return add_result::late;
  }
  if (keys_ >= config_.max_keys) shed();
  const timestamp_us start = floor_to(r.time, config_.bin_width);
  if (start != last_bin_start_ || last_bin_ == nullptr) {
    last_bin_ = &bins_[start];  // std::map nodes are stable: the pointer stays valid until erase
    last_bin_start_ = start;
  }
  bin& b = *last_bin_;
  bool inserted = false;
  key_state& s = r.src.is_v4() ? b.v4.find_or_insert(r.src.v4(), inserted).state
                                : b.v6.find_or_insert(r.src.bytes(), inserted).state;
  touch(b, s, inserted, r, start);
  return add_result::added;
}

void shard_state::touch(bin& b, key_state& s, bool inserted, const network_session& r,
                        timestamp_us bin_start) {
  const auto offset = static_cast<std::uint32_t>(r.time - bin_start);
  if (inserted) {
    ++keys_;
    s.first_offset = s.last_offset = offset;
  } else {
    s.first_offset = std::min(s.first_offset, offset);
    s.last_offset = std::max(s.last_offset, offset);
  }
  if (s.events != UINT32_MAX) ++s.events;
  if (r.has_port()) s.ports.insert(static_cast<std::uint16_t>(r.dst_port));
  s.labels.insert(r.reported_by, labels_);
  if (b.evaluated) {
    ++stats_.reopened;
    s.flags |= key_state::dirty;
    b.reopened = true;
  }
}

void shard_state::advance_watermark(timestamp_us watermark) {
  if (watermark <= watermark_) return;
  watermark_ = watermark;
  const timestamp_us horizon = watermark_ - config_.retention;
  for (auto it = bins_.begin(); it != bins_.end();) {
    if (it->first + config_.bin_width > horizon) break;
    const bin& b = it->second;
    // Never free state the rule has not seen: an unevaluated or re-opened bin waits for its
    // evaluation, however late that comes.
    if (!b.evaluated || b.reopened) {
      ++it;
      continue;
    }
    keys_ -= b.v4.size() + b.v6.size();
    if (last_bin_ == &it->second) last_bin_ = nullptr;
    it = bins_.erase(it);
    ++stats_.freed_bins;
  }
}

template <typename Table, typename ToIp>
void shard_state::visit(Table& table, timestamp_us start, bool only_dirty, ToIp to_ip,
                        const std::function<void(key_view)>& fn) {
  for (std::size_t i = 0; i < table.size(); ++i) {
    auto& e = table.at(i);
    if (only_dirty && !(e.state.flags & key_state::dirty)) continue;
    e.state.flags = static_cast<std::uint8_t>(e.state.flags & ~key_state::dirty);
    fn(key_view{to_ip(e.key), start, e.state});
  }
}

std::size_t shard_state::evaluate_closed(timestamp_us close_before,
                                         const std::function<void(key_view)>& fn) {
  std::size_t visited = 0;
  for (auto& [start, b] : bins_) {
    if (start + config_.bin_width > close_before) break;
    if (b.evaluated && !b.reopened) continue;
    const bool only_dirty = b.evaluated;
    visit(b.v4, start, only_dirty, [](std::uint32_t k) { return ip_address::from_v4(k); }, fn);
    visit(b.v6, start, only_dirty, [](const v6_key& k) { return ip_address::from_v6(k); }, fn);
    b.evaluated = true;
    b.reopened = false;
    ++visited;
  }
  return visited;
}

void shard_state::shed() {
  // Keep the sources closest to the threshold: drop the keys with the fewest distinct
  // ports first (never one that already alerted, whose flag prevents a duplicate), until
  // a tenth of the cap is free. A histogram of port counts picks the cut in one pass.
  constexpr std::size_t buckets = 256;
  std::array<std::size_t, buckets> histogram{};
  auto bucket_of = [](const key_state& s) {
    return std::min<std::size_t>(s.ports.size(), buckets - 1);
  };
  for (auto& [start, b] : bins_) {
    for (std::size_t i = 0; i < b.v4.size(); ++i)
      if (!(b.v4.at(i).state.flags & key_state::alerted)) ++histogram[bucket_of(b.v4.at(i).state)];
    for (std::size_t i = 0; i < b.v6.size(); ++i)
      if (!(b.v6.at(i).state.flags & key_state::alerted)) ++histogram[bucket_of(b.v6.at(i).state)];
  }
  const std::size_t target = std::max<std::size_t>(1, config_.max_keys / 10);
  std::size_t freed = 0, cut = 0;
  while (cut < buckets && freed < target) freed += histogram[cut++];
  // Drop buckets [0, cut).
  std::size_t removed = 0;
  for (auto& [start, b] : bins_) {
    auto keep = [&](const auto& e) {
      return (e.state.flags & key_state::alerted) || bucket_of(e.state) >= cut;
    };
    removed += b.v4.retain_if(keep);
    removed += b.v6.retain_if(keep);
  }
  keys_ -= removed;
  stats_.shed_keys += removed;
  ++stats_.shed_passes;
}

std::size_t shard_state::memory_bytes() const noexcept {
  std::size_t total = 0;
  for (const auto& [start, b] : bins_) {
    total += b.v4.memory_bytes() + b.v6.memory_bytes();
    for (std::size_t i = 0; i < b.v4.size(); ++i)
      total += b.v4.at(i).state.ports.heap_bytes() + b.v4.at(i).state.labels.heap_bytes();
    for (std::size_t i = 0; i < b.v6.size(); ++i)
      total += b.v6.at(i).state.ports.heap_bytes() + b.v6.at(i).state.labels.heap_bytes();
  }
  return total;
}

}  // namespace portscand
