#include "window/shard_state.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/binary_io.hpp"

namespace portscand {

shard_state::shard_state(const window_config& config, const label_table& labels)
    : config_(config), labels_(labels), shed_at_(config.max_keys) {
  PORTSCAND_ASSERT(config_.bin_width > 0 && config_.bin_width <= 60 * us_per_minute,
                   "bin width must be in (0, 1h]: key_state stores 32-bit offsets");
  PORTSCAND_ASSERT(!(config_.sliding && config_.sweep), "the sweep rule needs tumbling bins");
  if (config_.sliding) sliding_ = std::make_unique<sliding_state>(config_.bin_width, labels_);
  if (config_.sweep)
    sweep_ = std::make_unique<sweep_state>(
        sweep_state::config{config_.bin_width, config_.sweep_threshold, config_.sweep_max_targets,
                            config_.max_keys, config_.early_alerts},
        labels_);
}

shard_state::counters shard_state::stats() const noexcept {
  counters c = stats_;
  if (sweep_) {
    const auto& s = sweep_->stats();
    c.shed_keys += s.shed_keys;
    c.shed_passes += s.shed_passes;
    for (std::size_t band = 0; band < shed_distance_bands; ++band)
      c.shed_by_distance[band] += s.shed_by_distance[band];
  }
  return c;
}

std::size_t shard_state::evaluate_sweeps(timestamp_us close_before,
                                         const std::function<void(sweep_view)>& fn) {
  return sweep_ ? sweep_->evaluate_closed(close_before, fn) : 0;
}

shard_state::add_result shard_state::add(const network_session& r) {
  PORTSCAND_ASSERT(r.has_time, "record without time reached the window");
  if (watermark_ != INT64_MIN && r.time < watermark_ - config_.retention) {
    ++stats_.late_dropped;
    return add_result::late;
  }
  if (sliding_) {
    if (sliding_->keys() >= shed_at_) shed();
    if (sliding_->add(r)) ++stats_.reopened;
    if (source_offset_ != INT64_MAX) {
      auto [it, fresh] = panes_.try_emplace(floor_to(r.time, config_.bin_width), source_offset_);
      if (!fresh) it->second = std::min(it->second, source_offset_);
    }
    return add_result::added;
  }
  const timestamp_us start = floor_to(r.time, config_.bin_width);
  // A rule's exclusions may take a record from that rule alone (engine: excluded_from).
  const bool vertical = config_.vertical && !(r.excluded_from & network_session::vertical_rule);
  if (vertical) {
    if (keys_ >= shed_at_) shed();
    if (start != last_bin_start_ || last_bin_ == nullptr) {
      last_bin_ = &bins_[start];  // std::map nodes are stable: valid until erase
      last_bin_start_ = start;
    }
    bin& b = *last_bin_;
    b.first_source_offset = std::min(b.first_source_offset, source_offset_);
    bool inserted = false;
    key_state& s = r.src.is_v4() ? b.v4.find_or_insert(r.src.v4(), inserted).state
                                 : b.v6.find_or_insert(r.src.bytes(), inserted).state;
    touch(b, s, inserted, r, start);
  }
  // A record that re-opens both rules' bins is one re-opening record (counted by touch).
  if (sweep_ && r.has_port() && !(r.excluded_from & network_session::sweep_rule) &&
      sweep_->add(r, start, source_offset_) && !vertical)
    ++stats_.reopened;
  return add_result::added;
}

std::size_t shard_state::add_batch(const network_session* records, std::size_t n) {
  // Distances in records: far enough for a memory load to land, near enough that the
  // prefetched lines are still in L1/L2 when used.
  constexpr std::size_t slot_ahead = 16, entry_ahead = 8, runs_ahead = 4;
  std::size_t late = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (i + slot_ahead < n) prefetch(records[i + slot_ahead], false);
    if (i + entry_ahead < n) prefetch(records[i + entry_ahead], true);
    // Sliding: a source's runs beyond the first are in a heap array of their own.
    if (sliding_ && i + runs_ahead < n) sliding_->prefetch_runs(records[i + runs_ahead]);
    if (add(records[i]) == add_result::late) ++late;
  }
  return late;
}

void shard_state::prefetch(const network_session& r, bool entry) const noexcept {
  if (sliding_) return sliding_->prefetch(r, entry);
  if (sweep_) sweep_->prefetch(r, entry);
  if (last_bin_ == nullptr || r.time < last_bin_start_ ||
      r.time - last_bin_start_ >= config_.bin_width)
    return;
  if (r.src.is_v4()) {
    entry ? last_bin_->v4.prefetch_entry(r.src.v4()) : last_bin_->v4.prefetch_slot(r.src.v4());
  } else {
    entry ? last_bin_->v6.prefetch_entry(r.src.bytes())
          : last_bin_->v6.prefetch_slot(r.src.bytes());
  }
}

void shard_state::touch(bin& b, key_state& s, bool inserted, const network_session& r,
                        timestamp_us bin_start) {
  if (inserted) ++keys_;
  count_record(s, inserted, r, bin_start, labels_, config_.max_targets);
  const bool new_port = r.has_port() && s.ports.insert(static_cast<std::uint16_t>(r.dst_port));
  if (b.evaluated) {
    ++stats_.reopened;
    s.flags |= key_state::dirty;
    b.reopened = true;
  }
  // Only a new port can take the count over; the record is in the state by now, so the
  // handler sees the evidence up to and including it.
  if (new_port && config_.early_alerts && s.ports.size() > config_.threshold &&
      !(s.flags & (key_state::alerted | key_state::crossed)) && on_crossing_) {
    s.flags |= key_state::crossed;
    on_crossing_(key_view{r.src, bin_start, s});
  }
}

timestamp_us shard_state::decided_before() const noexcept {
  if (!sliding_ || watermark_ == INT64_MIN) return INT64_MIN;
  return std::min(sliding_->evaluated_to(), watermark_ - config_.retention);
}

std::vector<std::pair<timestamp_us, std::int64_t>> shard_state::held_bins() const {
  std::vector<std::pair<timestamp_us, std::int64_t>> out;
  if (sliding_) {
    // Records from a width before the earliest undecided interval's start: a run that began
    // earlier then starts, rebuilt, before that interval too (first_seen stays its start).
    const timestamp_us decided = decided_before();
    const timestamp_us from = decided == INT64_MIN ? INT64_MIN : decided - 2 * config_.bin_width;
    for (const auto& [start, offset] : panes_)
      if (from == INT64_MIN || start + config_.bin_width > from) out.emplace_back(start, offset);
    return out;
  }
  out.reserve(bins_.size());
  if (!sweep_) {
    for (const auto& [start, b] : bins_) out.emplace_back(start, b.first_source_offset);
    return out;
  }
  std::map<timestamp_us, std::int64_t> merged;
  for (const auto& [start, b] : bins_) merged.emplace(start, b.first_source_offset);
  sweep_->held_bins(merged);
  out.assign(merged.begin(), merged.end());
  return out;
}

void shard_state::advance_watermark(timestamp_us watermark) {
  if (watermark <= watermark_) return;
  watermark_ = watermark;
  const timestamp_us horizon = watermark_ - config_.retention;
  if (sweep_) stats_.freed_bins += sweep_->free_before(horizon);
  if (sliding_) {
    sliding_->prune(horizon);
    if (const timestamp_us decided = decided_before(); decided != INT64_MIN)
      while (!panes_.empty() &&
             panes_.begin()->first + config_.bin_width <= decided - 2 * config_.bin_width)
        panes_.erase(panes_.begin());
    shed_at_ =
        std::max(config_.max_keys, std::min(shed_at_, keys() + (config_.max_keys - shed_target())));
    return;
  }
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
  // Freed keys make room: a raised shedding point (see shed()) comes back down toward the cap.
  shed_at_ =
      std::max(config_.max_keys, std::min(shed_at_, keys_ + (config_.max_keys - shed_target())));
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
    visit(
        b.v4, start, only_dirty, [](std::uint32_t k) { return ip_address::from_v4(k); }, fn);
    visit(
        b.v6, start, only_dirty, [](const v6_key& k) { return ip_address::from_v6(k); }, fn);
    b.evaluated = true;
    b.reopened = false;
    ++visited;
  }
  return visited;
}

std::size_t shard_state::evaluate_sliding(timestamp_us close_before, std::uint32_t threshold,
                                          const std::function<void(const sliding_crossing&)>& fn) {
  PORTSCAND_ASSERT(sliding_ != nullptr, "evaluate_sliding on a tumbling window");
  return sliding_->evaluate(close_before, threshold, fn);
}

void shard_state::shed() {
  if (sliding_) {
    // The same policy over sources (lib/window/README.md): never one that has alerted or
    // holds more ports than the threshold; fewest ports first, then least recently seen.
    ++stats_.shed_passes;
    const std::size_t target = shed_target();
    const std::size_t need = sliding_->keys() > target ? sliding_->keys() - target : 0;
    const std::size_t removed = sliding_->shed(need, config_.threshold, stats_.shed_by_distance);
    stats_.shed_keys += removed;
    shed_at_ = std::max(config_.max_keys, sliding_->keys() + (config_.max_keys - target));
    return;
  }
  // Policy (lib/window/README.md): keep the keys closest to alerting.
  // - Never drop a key that has alerted (its flag is what prevents a duplicate alert) or
  //   whose port count is over the threshold (it will alert at its bin's evaluation).
  // - Drop exactly keys_ - shed_target() of the others, or all of them if there are fewer:
  //   a pass that drops more empties the shard of keys it did not need to lose.
  // - Farthest from the threshold (fewest ports) first; among keys with the same port count,
  //   the least recently seen first: a source that went quiet is the least likely to add
  //   ports, and a key of an older bin has less (or no) time left to do so. Last seen is
  //   absolute time, so an older bin's keys go before a newer bin's. Equal times fall back to
  //   table position (bin, family, entry), so a pass is deterministic.
  // Two walks and a partial selection: a histogram of port counts finds the cut count, then
  // only the keys at exactly that count are ranked (nth_element), never all of them.
  ++stats_.shed_passes;
  const std::uint32_t threshold = config_.threshold;
  const std::size_t target = shed_target();
  const std::size_t need = keys_ > target ? keys_ - target : 0;
  if (need == 0) return;  // only with a cap of 0; the cut below assumes need >= 1
  // A rule file may say up to 999,999,999; no key holds more than 65,536 ports, so counts
  // above `top` never occur and the histogram stays small.
  const std::uint32_t top = std::min<std::uint32_t>(threshold, 65'536);
  auto sheddable = [threshold](const key_state& s) {
    return !(s.flags & key_state::alerted) && s.ports.size() <= threshold;
  };
  std::vector<std::size_t> histogram(std::size_t{top} + 1);
  auto count = [&](const auto& table) {
    for (std::size_t i = 0; i < table.size(); ++i)
      if (const key_state& s = table.at(i).state; sheddable(s)) ++histogram[s.ports.size()];
  };
  for (const auto& [start, b] : bins_) {
    count(b.v4);
    count(b.v6);
  }
  // Every key with fewer than `cut` ports goes, and `take_at_cut` of those with exactly
  // `cut` (1 <= take_at_cut <= histogram[cut]); cut > top means fewer sheddable keys than
  // needed: all of them go.
  std::size_t below = 0;
  std::uint32_t cut = 0;
  while (cut <= top && below + histogram[cut] < need) below += histogram[cut++];
  const std::size_t take_at_cut = cut <= top ? need - below : 0;

  // The rank of a key at the cut count: (last seen, table position), a total order.
  using rank = std::pair<timestamp_us, std::uint64_t>;
  auto position = [](std::uint64_t bin_ordinal, bool v6, std::size_t index) {
    return bin_ordinal << 33 | std::uint64_t{v6} << 32 | index;  // index < 2^32 (key_table)
  };
  rank cutoff{INT64_MAX, UINT64_MAX};  // the whole cut bucket goes, no ranking needed
  if (take_at_cut != 0 && take_at_cut < histogram[cut]) {
    std::vector<rank> ranks;
    ranks.reserve(histogram[cut]);
    std::uint64_t ordinal = 0;
    auto collect = [&](const auto& table, timestamp_us start, bool v6) {
      for (std::size_t i = 0; i < table.size(); ++i)
        if (const key_state& s = table.at(i).state; sheddable(s) && s.ports.size() == cut)
          ranks.emplace_back(start + s.last_offset, position(ordinal, v6, i));
    };
    for (const auto& [start, b] : bins_) {
      collect(b.v4, start, false);
      collect(b.v6, start, true);
      ++ordinal;
    }
    std::nth_element(ranks.begin(), ranks.begin() + static_cast<std::ptrdiff_t>(take_at_cut - 1),
                     ranks.end());
    cutoff = ranks[take_at_cut - 1];
  }

  std::size_t removed = 0;
  std::uint64_t ordinal = 0;
  // Not a structured binding: the lambda below captures the bin start, and clang before 16
  // (the fuzz preset's compiler, clang-tidy) refuses to capture a structured binding.
  for (auto& entry : bins_) {
    const timestamp_us start = entry.first;
    bin& b = entry.second;
    auto retain = [&](auto& table, bool v6) {
      std::size_t index = 0;  // retain_if calls keep once per entry, in table order
      removed += table.retain_if([&](const auto& e) {
        const std::size_t i = index++;
        const key_state& s = e.state;
        if (!sheddable(s)) return true;
        const std::uint32_t ports = s.ports.size();
        if (ports > cut) return true;
        if (ports == cut && rank{start + s.last_offset, position(ordinal, v6, i)} > cutoff)
          return true;
        ++stats_.shed_by_distance[shed_distance_band(std::uint64_t{threshold} + 1 - ports)];
        return false;
      });
    };
    retain(b.v4, false);
    retain(b.v6, true);
    ++ordinal;
  }
  // When the cut fell past the threshold, `below` counted every sheddable key.
  PORTSCAND_ASSERT(removed == (cut <= top ? need : below),
                   "a shedding pass removed other than it chose");
  keys_ -= removed;
  stats_.shed_keys += removed;
  // If keys that will alert fill the shard beyond the target, wait for another tenth of the
  // cap of new keys before walking them all again.
  shed_at_ = std::max(config_.max_keys, keys_ + (config_.max_keys - target));
}

std::size_t shard_state::memory_bytes() const noexcept {
  std::size_t total =
      (sliding_ ? sliding_->memory_bytes() : 0) + (sweep_ ? sweep_->memory_bytes() : 0);
  for (const auto& [start, b] : bins_) {
    total += b.v4.memory_bytes() + b.v6.memory_bytes();
    const auto heap = [](const key_state& k) {
      return k.ports.heap_bytes() + k.labels.heap_bytes() + k.evidence.heap_bytes();
    };
    for (std::size_t i = 0; i < b.v4.size(); ++i) total += heap(b.v4.at(i).state);
    for (std::size_t i = 0; i < b.v6.size(); ++i) total += heap(b.v6.at(i).state);
  }
  return total;
}

}  // namespace portscand

namespace portscand {
namespace {

constexpr std::uint32_t state_magic = 0x50534853;  // "SHSP"
// Version 1: tumbling state without the alert's evidence beyond ports and labels (still
// read: its keys restore with no targets, protocols or outcomes).
constexpr std::uint32_t state_version_1 = 1;
// Version 2: a sliding window's state (sliding_state::serialize) after the same header.
constexpr std::uint32_t sliding_state_version = 2;
// Version 3: tumbling state as version 1, each key followed by its protocols, outcome
// counts and targets (key_state).
constexpr std::uint32_t state_version_3 = 3;
// Version 4: version 3, then the port-sweep rule's keys (sweep_state::serialize). Written
// only when the sweep rule runs, so a state without it stays readable by older releases.
constexpr std::uint32_t state_version = 4;

template <typename Table, typename WriteKey>
void write_table(binary_writer& w, const Table& t,
                 const std::unordered_map<label_id, std::uint32_t>& dict, WriteKey write_key) {
  std::vector<std::uint16_t> ports;
  std::vector<label_id> ids;
  std::vector<target_set::target> targets;
  w.put<std::uint64_t>(t.size());
  for (std::size_t i = 0; i < t.size(); ++i) {
    const auto& e = t.at(i);
    write_key(w, e.key);
    const key_state& s = e.state;
    w.put<std::uint32_t>(s.first_offset);
    w.put<std::uint32_t>(s.last_offset);
    w.put<std::uint32_t>(s.events);
    w.put<std::uint8_t>(s.flags);
    s.ports.first(UINT32_MAX, ports);
    w.put<std::uint32_t>(static_cast<std::uint32_t>(ports.size()));
    for (auto p : ports) w.put<std::uint16_t>(p);
    s.labels.ids(ids);
    w.put<std::uint8_t>(static_cast<std::uint8_t>(ids.size()));
    for (auto id : ids) w.put<std::uint32_t>(dict.at(id));
    w.put<std::uint8_t>(s.protocols);
    s.evidence.write(w, s.events, targets);
  }
}

}  // namespace

void shard_state::clear() noexcept {
  bins_.clear();
  keys_ = 0;
  shed_at_ = config_.max_keys;
  last_bin_ = nullptr;
  last_bin_start_ = INT64_MIN;
  watermark_ = INT64_MIN;
  if (sliding_) sliding_->clear();
  panes_.clear();
  if (sweep_) sweep_->clear();
}

void shard_state::serialize(std::string& out) const {
  binary_writer w(out);
  w.put(state_magic);
  w.put(sliding_ ? sliding_state_version : sweep_ ? state_version : state_version_3);
  w.put<std::int64_t>(config_.bin_width);
  w.put<std::int64_t>(watermark_);
  if (sliding_) {
    sliding_->serialize(w);
    return;
  }
  // A dictionary of the labels in use, so keys refer to them by index.
  std::unordered_map<label_id, std::uint32_t> dict;
  std::vector<label_id> order, ids;
  auto collect = [&](const auto& table) {
    for (std::size_t i = 0; i < table.size(); ++i) {
      table.at(i).state.labels.ids(ids);
      for (auto id : ids)
        if (dict.emplace(id, static_cast<std::uint32_t>(order.size())).second) order.push_back(id);
    }
  };
  for (const auto& [start, b] : bins_) {
    collect(b.v4);
    collect(b.v6);
  }
  w.put<std::uint32_t>(static_cast<std::uint32_t>(order.size()));
  for (auto id : order) w.put_string(labels_.view(id));
  w.put<std::uint64_t>(bins_.size());
  for (const auto& [start, b] : bins_) {
    w.put<std::int64_t>(start);
    w.put<std::uint8_t>(static_cast<std::uint8_t>((b.evaluated ? 1 : 0) | (b.reopened ? 2 : 0)));
    write_table(w, b.v4, dict,
                [](binary_writer& bw, std::uint32_t k) { bw.put<std::uint32_t>(k); });
    write_table(w, b.v6, dict,
                [](binary_writer& bw, const v6_key& k) { bw.put_bytes(k.data(), k.size()); });
  }
  if (sweep_) sweep_->serialize(w);
}

bool shard_state::deserialize(std::string_view in, label_table& labels) {
  clear();
  binary_reader r(in);
  std::uint32_t magic = 0, version = 0;
  std::int64_t bin_width = 0, watermark = 0;
  // A checkpoint of the other window kind is refused: the state does not translate.
  if (!r.get(magic) || magic != state_magic || !r.get(version)) return false;
  if (sliding_
          ? version != sliding_state_version
          : version != state_version && version != state_version_3 && version != state_version_1)
    return false;
  if (!r.get(bin_width) || bin_width != config_.bin_width || !r.get(watermark)) return false;
  if (sliding_) {
    if (!sliding_->deserialize(r, labels) || !r.done()) {
      clear();
      return false;
    }
    watermark_ = watermark;
    return true;
  }
  std::uint32_t dict_size = 0;
  if (!r.get(dict_size) || dict_size > (1u << 20)) return false;
  std::vector<label_id> dict;
  dict.reserve(dict_size);
  for (std::uint32_t i = 0; i < dict_size; ++i) {
    std::string s;
    if (!r.get_string(s, 4096)) return false;
    dict.push_back(labels.intern(s));
  }
  std::uint64_t nbins = 0;
  if (!r.get(nbins) || nbins > (1u << 20)) return false;
  std::vector<target_set::target> targets;
  auto read_table = [&](auto& table, auto read_key) -> bool {
    std::uint64_t n = 0;
    if (!r.get(n)) return false;
    for (std::uint64_t i = 0; i < n; ++i) {
      typename std::remove_reference_t<decltype(table)>::entry tmp;
      if (!read_key(tmp.key)) return false;
      bool inserted = false;
      auto& e = table.find_or_insert(tmp.key, inserted);
      if (!inserted) return false;  // a key twice: corrupt
      key_state& s = e.state;
      std::uint32_t nports = 0, first = 0, last = 0, events = 0;
      std::uint8_t nlabels = 0, flags = 0;
      if (!r.get(first) || !r.get(last) || !r.get(events) || !r.get(flags) || !r.get(nports) ||
          nports > 65536 || first > last || last >= config_.bin_width)
        return false;
      s.first_offset = first;  // packed fields: read into locals, then assign
      s.last_offset = last;
      s.events = events;
      s.flags = flags;
      for (std::uint32_t k = 0; k < nports; ++k) {
        std::uint16_t p = 0;
        if (!r.get(p)) return false;
        s.ports.insert(p);
      }
      if (!r.get(nlabels)) return false;
      for (std::uint8_t k = 0; k < nlabels; ++k) {
        std::uint32_t idx = 0;
        if (!r.get(idx) || idx >= dict.size()) return false;
        s.labels.insert(dict[idx], labels_);
      }
      if (version >= state_version_3) {
        std::uint8_t protocols = 0;
        if (!r.get(protocols) || !s.evidence.read(r, events, config_.max_targets, targets))
          return false;
        s.protocols = protocols;
      }
      ++keys_;
    }
    return true;
  };
  for (std::uint64_t i = 0; i < nbins; ++i) {
    std::int64_t start = 0;
    std::uint8_t flags = 0;
    if (!r.get(start) || !r.get(flags) || floor_to(start, config_.bin_width) != start ||
        bins_.count(start) != 0) {
      clear();
      return false;
    }
    bin& b = bins_[start];
    b.evaluated = flags & 1;
    b.reopened = flags & 2;
    const bool ok = read_table(b.v4, [&r](std::uint32_t& k) { return r.get(k); }) &&
                    read_table(b.v6, [&r](v6_key& k) { return r.get_bytes(k.data(), k.size()); });
    if (!ok) {
      clear();
      return false;
    }
  }
  if (version == state_version) {
    // The sweep keys: restored when the rule runs, read and dropped when it no longer does
    // (the bytes are still checked).
    sweep_state dropped(sweep_state::config{config_.bin_width}, labels_);
    if (!(sweep_ ? *sweep_ : dropped).deserialize(r, labels)) {
      clear();
      return false;
    }
  }
  if (!r.done()) {
    clear();
    return false;
  }
  watermark_ = watermark;
  return true;
}

}  // namespace portscand
