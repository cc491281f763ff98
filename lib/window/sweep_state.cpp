#include "window/sweep_state.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <string>
#include <unordered_map>
#include <utility>

namespace portscand {

static_assert(sizeof(destination_set) == 12);
static_assert(sizeof(sweep_key_state) == 44);
static_assert(sizeof(key_table<sweep_key, sweep_key_hash, sweep_key_state>::entry) == 64,
              "a sweep key and its state fill one cache line");

namespace {
constexpr std::array<std::uint8_t, 12> v4_mapped{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
bool is_v4(const v6_key& a) noexcept {
  return std::memcmp(a.data(), v4_mapped.data(), 12) == 0;
}
std::uint32_t v4_of(const v6_key& a) noexcept {
  return std::uint32_t{a[12]} << 24 | std::uint32_t{a[13]} << 16 | std::uint32_t{a[14]} << 8 |
         a[15];
}
v6_key v6_of(std::uint32_t v4) noexcept {
  v6_key a{};
  std::memcpy(a.data(), v4_mapped.data(), 12);
  a[12] = static_cast<std::uint8_t>(v4 >> 24);
  a[13] = static_cast<std::uint8_t>(v4 >> 16);
  a[14] = static_cast<std::uint8_t>(v4 >> 8);
  a[15] = static_cast<std::uint8_t>(v4);
  return a;
}
}  // namespace

void destination_set::release() noexcept {
  if (size_ & on_heap) delete u_.heap;
  size_ = 0;
}

bool destination_set::insert(const v6_key& a) {
  if (size_ == 0 && is_v4(a)) {
    u_.v4 = v4_of(a);
    size_ = 1;
    return true;
  }
  if (!(size_ & on_heap)) {
    if (size_ == 1 && is_v4(a) && v4_of(a) == u_.v4) return false;
    auto* all = new set();
    if (size_ == 1) all->insert(v6_of(u_.v4));
    u_.heap = all;
    size_ |= on_heap;
  }
  if (!u_.heap->insert(a).second) return false;
  ++size_;
  return true;
}

void destination_set::list(std::vector<v6_key>& out) const {
  out.clear();
  if (size_ & on_heap)
    out.assign(u_.heap->begin(), u_.heap->end());
  else if (size_ == 1)
    out.push_back(v6_of(u_.v4));
}

std::size_t destination_set::heap_bytes() const noexcept {
  if (!(size_ & on_heap)) return 0;
  // The set itself (56 bytes in libstdc++), a node per address (the key and the next
  // pointer, rounded by the allocator) and the bucket array.
  return 56 + u_.heap->size() * 32 + u_.heap->bucket_count() * sizeof(void*);
}

namespace {
sweep_key make_key(const ip_address& src, std::uint16_t port) noexcept {
  sweep_key k;
  std::memcpy(&k.high, src.bytes().data(), 8);
  std::memcpy(&k.low, src.bytes().data() + 8, 8);
  k.port = port;
  return k;
}
ip_address key_source(const sweep_key& k) noexcept {
  v6_key b;
  std::memcpy(b.data(), &k.high, 8);
  std::memcpy(b.data() + 8, &k.low, 8);
  return ip_address::from_v6(b);
}
}  // namespace

sweep_state::sweep_state(const config& cfg, const label_table& labels)
    : cfg_(cfg), labels_(labels), shed_at_(cfg.max_keys) {
  PORTSCAND_ASSERT(cfg_.max_targets <= target_set::max_limit, "sweep max_targets over 255");
}

void sweep_state::set_threshold(std::uint32_t threshold) noexcept {
  if (threshold == cfg_.threshold) return;
  cfg_.threshold = threshold;
  shed_at_ = cfg_.max_keys;
}

void sweep_state::set_max_keys(std::size_t max_keys) noexcept {
  cfg_.max_keys = max_keys;
  shed_at_ = max_keys;
}

bool sweep_state::add(const network_session& r, timestamp_us start, std::int64_t source_offset) {
  if (keys_ >= shed_at_) shed();
  if (start != last_bin_start_ || last_bin_ == nullptr) {
    last_bin_ = &bins_[start];
    last_bin_start_ = start;
  }
  bin& b = *last_bin_;
  b.first_source_offset = std::min(b.first_source_offset, source_offset);
  bool inserted = false;
  auto& e =
      b.keys.find_or_insert(make_key(r.src, static_cast<std::uint16_t>(r.dst_port)), inserted);
  sweep_key_state& s = e.state;
  if (inserted) ++keys_;
  count_record(s, inserted, r, start, labels_, cfg_.max_targets);
  const bool new_destination = r.has_dst && s.destinations.insert(r.dst.bytes());
  bool reopened = false;
  if (b.evaluated) {
    reopened = true;
    s.flags |= key_state::dirty;
    b.reopened = true;
  }
  if (new_destination && cfg_.early_alerts && s.destinations.size() > cfg_.threshold &&
      !(s.flags & (key_state::alerted | key_state::crossed)) && on_crossing_) {
    s.flags |= key_state::crossed;
    on_crossing_(sweep_view{r.src, static_cast<std::uint16_t>(r.dst_port), start, s});
  }
  return reopened;
}

void sweep_state::prefetch(const network_session& r, bool entry) const noexcept {
  if (last_bin_ == nullptr || !r.has_port() || r.time < last_bin_start_ ||
      r.time - last_bin_start_ >= cfg_.bin_width)
    return;
  const sweep_key k = make_key(r.src, static_cast<std::uint16_t>(r.dst_port));
  entry ? last_bin_->keys.prefetch_entry(k) : last_bin_->keys.prefetch_slot(k);
}

std::size_t sweep_state::evaluate_closed(timestamp_us close_before,
                                         const std::function<void(sweep_view)>& fn) {
  std::size_t visited = 0;
  for (auto& [start, b] : bins_) {
    if (start + cfg_.bin_width > close_before) break;
    if (b.evaluated && !b.reopened) continue;
    const bool only_dirty = b.evaluated;
    for (std::size_t i = 0; i < b.keys.size(); ++i) {
      auto& e = b.keys.at(i);
      if (only_dirty && !(e.state.flags & key_state::dirty)) continue;
      e.state.flags = static_cast<std::uint8_t>(e.state.flags & ~key_state::dirty);
      fn(sweep_view{key_source(e.key), e.key.port, start, e.state});
    }
    b.evaluated = true;
    b.reopened = false;
    ++visited;
  }
  return visited;
}

std::size_t sweep_state::free_before(timestamp_us horizon) {
  std::size_t freed = 0;
  for (auto it = bins_.begin(); it != bins_.end();) {
    if (it->first + cfg_.bin_width > horizon) break;
    if (!it->second.evaluated || it->second.reopened) {
      ++it;
      continue;
    }
    keys_ -= it->second.keys.size();
    if (last_bin_ == &it->second) last_bin_ = nullptr;
    it = bins_.erase(it);
    ++freed;
  }
  shed_at_ = std::max(cfg_.max_keys, std::min(shed_at_, keys_ + (cfg_.max_keys - shed_target())));
  return freed;
}

void sweep_state::held_bins(std::map<timestamp_us, std::int64_t>& out) const {
  for (const auto& [start, b] : bins_) {
    auto [it, fresh] = out.try_emplace(start, b.first_source_offset);
    if (!fresh) it->second = std::min(it->second, b.first_source_offset);
  }
}

void sweep_state::shed() {
  // The vertical rule's policy (lib/window/README.md): never a key that has alerted or is
  // over the threshold; fewest destinations first, then least recently seen, then table
  // position (a total order, so a pass is deterministic).
  ++stats_.shed_passes;
  const std::size_t target = shed_target();
  const std::size_t need = keys_ > target ? keys_ - target : 0;
  const std::uint32_t threshold = cfg_.threshold;
  auto sheddable = [threshold](const sweep_key_state& s) {
    return !(s.flags & key_state::alerted) && s.destinations.size() <= threshold;
  };
  struct rank {
    std::uint32_t count;
    timestamp_us last_seen;
    std::uint64_t position;
    bool operator<(const rank& o) const noexcept {
      return std::tie(count, last_seen, position) < std::tie(o.count, o.last_seen, o.position);
    }
  };
  std::vector<rank> ranks;
  std::uint64_t ordinal = 0;
  for (const auto& [start, b] : bins_) {
    for (std::size_t i = 0; i < b.keys.size(); ++i)
      if (const sweep_key_state& s = b.keys.at(i).state; sheddable(s))
        ranks.push_back({s.destinations.size(), start + s.last_offset, ordinal << 32 | i});
    ++ordinal;
  }
  const std::size_t take = std::min(need, ranks.size());
  if (take != 0) {
    std::nth_element(ranks.begin(), ranks.begin() + static_cast<std::ptrdiff_t>(take - 1),
                     ranks.end());
    const rank cutoff = ranks[take - 1];
    std::size_t removed = 0;
    ordinal = 0;
    for (auto& entry : bins_) {
      const timestamp_us start = entry.first;
      std::size_t index = 0;
      removed += entry.second.keys.retain_if([&](const auto& e) {
        const std::size_t i = index++;
        const sweep_key_state& s = e.state;
        if (!sheddable(s)) return true;
        if (cutoff < rank{s.destinations.size(), start + s.last_offset, ordinal << 32 | i})
          return true;
        ++stats_.shed_by_distance[shed_distance_band(std::uint64_t{threshold} + 1 -
                                                     s.destinations.size())];
        return false;
      });
      ++ordinal;
    }
    PORTSCAND_ASSERT(removed == take, "a sweep shedding pass removed other than it chose");
    keys_ -= removed;
    stats_.shed_keys += removed;
  }
  shed_at_ = std::max(cfg_.max_keys, keys_ + (cfg_.max_keys - target));
}

std::size_t sweep_state::memory_bytes() const noexcept {
  std::size_t total = 0;
  for (const auto& [start, b] : bins_) {
    total += b.keys.memory_bytes();
    for (std::size_t i = 0; i < b.keys.size(); ++i) {
      const sweep_key_state& s = b.keys.at(i).state;
      total += s.destinations.heap_bytes() + s.labels.heap_bytes() + s.evidence.heap_bytes();
    }
  }
  return total;
}

void sweep_state::clear() noexcept {
  bins_.clear();
  keys_ = 0;
  shed_at_ = cfg_.max_keys;
  last_bin_ = nullptr;
  last_bin_start_ = INT64_MIN;
}

// Encoding (inside the shard checkpoint, lib/window/README.md): a label dictionary, then
// per bin its start, flags and keys; per key the source and port, offsets, events, flags,
// protocols, every distinct destination, the label indexes, outcome counts and targets.
void sweep_state::serialize(binary_writer& w) const {
  std::unordered_map<label_id, std::uint32_t> dict;
  std::vector<label_id> order, ids;
  for (const auto& [start, b] : bins_)
    for (std::size_t i = 0; i < b.keys.size(); ++i) {
      b.keys.at(i).state.labels.ids(ids);
      for (auto id : ids)
        if (dict.emplace(id, static_cast<std::uint32_t>(order.size())).second) order.push_back(id);
    }
  w.put<std::uint32_t>(static_cast<std::uint32_t>(order.size()));
  for (auto id : order) w.put_string(labels_.view(id));
  w.put<std::uint64_t>(bins_.size());
  std::vector<v6_key> destinations;
  std::vector<target_set::target> targets;
  for (const auto& [start, b] : bins_) {
    w.put<std::int64_t>(start);
    w.put<std::uint8_t>(static_cast<std::uint8_t>((b.evaluated ? 1 : 0) | (b.reopened ? 2 : 0)));
    w.put<std::uint64_t>(b.keys.size());
    for (std::size_t i = 0; i < b.keys.size(); ++i) {
      const auto& e = b.keys.at(i);
      const sweep_key_state& s = e.state;
      w.put_bytes(key_source(e.key).bytes().data(), 16);
      w.put<std::uint8_t>(static_cast<std::uint8_t>(e.key.port >> 8));  // big-endian
      w.put<std::uint8_t>(static_cast<std::uint8_t>(e.key.port & 0xff));
      w.put<std::uint32_t>(s.first_offset);
      w.put<std::uint32_t>(s.last_offset);
      w.put<std::uint32_t>(s.events);
      w.put<std::uint8_t>(s.flags);
      w.put<std::uint8_t>(s.protocols);
      s.destinations.list(destinations);
      std::sort(destinations.begin(), destinations.end());  // the same state, the same bytes
      w.put<std::uint32_t>(static_cast<std::uint32_t>(destinations.size()));
      for (const auto& d : destinations) w.put_bytes(d.data(), d.size());
      s.labels.ids(ids);
      w.put<std::uint8_t>(static_cast<std::uint8_t>(ids.size()));
      for (auto id : ids) w.put<std::uint32_t>(dict.at(id));
      s.evidence.write(w, s.events, targets);
    }
  }
}

bool sweep_state::deserialize(binary_reader& r, label_table& labels) {
  clear();
  const auto fail = [this] {
    clear();
    return false;
  };
  std::uint32_t dict_size = 0;
  if (!r.get(dict_size) || dict_size > (1u << 20)) return fail();
  std::vector<label_id> dict;
  for (std::uint32_t i = 0; i < dict_size; ++i) {
    std::string s;
    if (!r.get_string(s, 4096)) return fail();
    dict.push_back(labels.intern(s));
  }
  std::uint64_t nbins = 0;
  if (!r.get(nbins) || nbins > (1u << 20)) return fail();
  std::vector<target_set::target> targets;
  for (std::uint64_t i = 0; i < nbins; ++i) {
    std::int64_t start = 0;
    std::uint8_t bin_flags = 0;
    std::uint64_t n = 0;
    if (!r.get(start) || !r.get(bin_flags) || floor_to(start, cfg_.bin_width) != start ||
        bins_.count(start) != 0 || !r.get(n))
      return fail();
    bin& b = bins_[start];
    b.evaluated = bin_flags & 1;
    b.reopened = bin_flags & 2;
    for (std::uint64_t k = 0; k < n; ++k) {
      v6_key src;
      std::uint8_t port_high = 0, port_low = 0;
      if (!r.get_bytes(src.data(), src.size()) || !r.get(port_high) || !r.get(port_low))
        return fail();
      const sweep_key key =
          make_key(ip_address::from_v6(src), static_cast<std::uint16_t>(port_high << 8 | port_low));
      bool inserted = false;
      sweep_key_state& s = b.keys.find_or_insert(key, inserted).state;
      if (!inserted) return fail();  // a key twice: corrupt
      ++keys_;
      std::uint32_t first = 0, last = 0, events = 0, ndst = 0;
      std::uint8_t flags = 0, protocols = 0, nlabels = 0;
      if (!r.get(first) || !r.get(last) || !r.get(events) || !r.get(flags) || !r.get(protocols) ||
          !r.get(ndst) || first > last || static_cast<timestamp_us>(last) >= cfg_.bin_width ||
          ndst > events)
        return fail();
      s.first_offset = first;
      s.last_offset = last;
      s.events = events;
      s.flags = flags;
      s.protocols = protocols;
      for (std::uint32_t d = 0; d < ndst; ++d) {
        v6_key a;
        if (!r.get_bytes(a.data(), a.size()) || !s.destinations.insert(a)) return fail();
      }
      if (!r.get(nlabels)) return fail();
      for (std::uint8_t l = 0; l < nlabels; ++l) {
        std::uint32_t idx = 0;
        if (!r.get(idx) || idx >= dict.size()) return fail();
        s.labels.insert(dict[idx], labels_);
      }
      if (!s.evidence.read(r, events, cfg_.max_targets, targets)) return fail();
    }
  }
  return true;
}

}  // namespace portscand
