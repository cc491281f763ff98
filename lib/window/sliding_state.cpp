#include "window/sliding_state.hpp"

#include <algorithm>
#include <array>
#include <tuple>
#include <unordered_map>

#include "window/shard_state.hpp"

namespace portscand {
namespace {

constexpr std::uint32_t none = UINT32_MAX;

std::size_t port_hash(std::uint16_t port) noexcept {
  return static_cast<std::size_t>((std::uint32_t{port} * 0x9e3779b1u) >> 7);
}

// The slot of `port` in the source's index: the one naming a run of that port, or the empty
// slot where it would go.
std::size_t index_slot(const sliding_source& s, std::uint16_t port) noexcept {
  const auto& index = s.index->slots;
  const std::size_t mask = index.size() - 1;
  std::size_t slot = port_hash(port) & mask;
  while (index[slot] != 0 && s.runs[index[slot] - 1].port != port) slot = (slot + 1) & mask;
  return slot;
}

// Rebuilds the run chains and (for sources beyond linear_runs runs) the index, with room to
// grow: at most half the slots in use.
void rebuild_index(sliding_source& s) {
  if (s.runs.size() <= sliding_source::linear_runs) {
    s.index.reset();
    return;
  }
  std::size_t slots = 16;
  while (slots < std::size_t{s.runs.size()} * 4) slots *= 2;
  if (!s.index) s.index = std::make_unique<run_index>();
  s.index->slots.assign(slots, 0);
  s.index->next.assign(s.runs.size(), none);
  for (std::uint32_t i = 0; i < s.runs.size(); ++i) {
    const std::size_t slot = index_slot(s, s.runs[i].port);
    auto& v = s.index->slots[slot];
    s.index->next[i] = v == 0 ? none : v - 1;
    v = i + 1;
  }
}

// Calls fn(index) for each live run of `port`.
template <typename Fn>
void for_each_run(const sliding_source& s, std::uint16_t port, Fn fn) {
  if (!s.index) {
    for (std::uint32_t i = 0; i < s.runs.size(); ++i)
      if (s.runs[i].port == port && s.runs[i].events != 0) fn(i);
    return;
  }
  const std::uint32_t head = s.index->slots[index_slot(s, port)];
  for (std::uint32_t i = head == 0 ? none : head - 1; i != none; i = s.index->next[i])
    if (s.runs[i].events != 0) fn(i);
}

void merge_into(port_run& into, port_run& from) {
  // Labels first: their inline form reads both runs' first times as they were.
  into.labels.merge(from.labels, from.first, into.first);
  into.first = std::min(into.first, from.first);
  into.last = std::max(into.last, from.last);
  const std::uint64_t events = std::uint64_t{into.events} + from.events;
  into.events = static_cast<std::uint32_t>(std::min<std::uint64_t>(events, UINT32_MAX));
  from.events = 0;
}

constexpr std::uint32_t sliding_magic = 0x534c4453;  // "SDLS"

}  // namespace

bool sliding_state::add(const network_session& r) {
  if (!r.has_port()) return false;
  bool inserted = false;
  sliding_source& s = r.src.is_v4() ? v4_.find_or_insert(r.src.v4(), inserted).state
                                    : v6_.find_or_insert(r.src.bytes(), inserted).state;
  insert(s, static_cast<std::uint16_t>(r.dst_port), r.time, r.reported_by);
  s.flags |= sliding_source::dirty;
  return r.time < evaluated_to_;
}

void sliding_state::insert(sliding_source& s, std::uint16_t port, timestamp_us t, label_id label) {
  // A run the record joins: t within width of it (the runs of one port are more than width
  // apart, so a record can join at most two, and then it bridges them into one).
  std::uint32_t joined = none;
  for_each_run(s, port, [&](std::uint32_t i) {
    const port_run& run = s.runs[i];
    if (t < run.first - width_ || t > run.last + width_) return;
    if (joined == none) {
      joined = i;
    } else {
      merge_into(s.runs[joined], s.runs[i]);
      --s.live;
    }
  });
  if (joined != none) {
    port_run& run = s.runs[joined];
    run.labels.insert(label, t, run.first);  // before `first` moves (run_labels)
    run.first = std::min(run.first, t);
    run.last = std::max(run.last, t);
    if (run.events != UINT32_MAX) ++run.events;
    return;
  }
  port_run run;
  run.first = run.last = t;
  run.events = 1;
  run.port = port;
  run.labels.insert(label, t, t);
  s.runs.push_back(std::move(run));
  ++s.live;
  const auto i = static_cast<std::uint32_t>(s.runs.size() - 1);
  if (!s.index) {
    if (s.runs.size() > sliding_source::linear_runs) rebuild_index(s);
    return;
  }
  if (std::size_t{s.runs.size()} * 2 > s.index->slots.size()) {
    rebuild_index(s);
    return;
  }
  auto& slot = s.index->slots[index_slot(s, port)];
  s.index->next.push_back(slot == 0 ? none : slot - 1);
  slot = i + 1;
}

void sliding_state::compact(sliding_source& s) const {
  s.runs.retain_if([](const port_run& run) { return run.events != 0; });
  s.live = s.runs.size();
  rebuild_index(s);
}

void sliding_state::scan(const ip_address& src, sliding_source& s, timestamp_us close_before,
                         std::uint32_t threshold,
                         const std::function<void(const sliding_crossing&)>& fn) {
  // A sweep over the runs' coverage [first, last + width]: +1 at first, -1 just after
  // last + width. Ends sort before starts at the same time (coverage is closed), and a
  // crossing is checked once every edge of a time is applied, at times where a run starts.
  edges_.clear();
  for (std::uint32_t i = 0; i < s.runs.size(); ++i) {
    const port_run& run = s.runs[i];
    if (run.events == 0) continue;
    edges_.push_back({run.first, +1, i});
    edges_.push_back({run.last + width_ + 1, -1, i});
  }
  std::sort(edges_.begin(), edges_.end(), [](const edge& a, const edge& b) {
    return std::tie(a.time, a.delta, a.run) < std::tie(b.time, b.delta, b.run);
  });
  std::int64_t count = 0;
  for (std::size_t k = 0; k < edges_.size();) {
    const timestamp_us t = edges_[k].time;
    if (t >= close_before) break;
    bool starts = false;
    for (; k < edges_.size() && edges_[k].time == t; ++k) {
      count += edges_[k].delta;
      starts |= edges_[k].delta > 0;
    }
    if (!starts || t < s.next_allowed || t < floor_ ||
        count <= static_cast<std::int64_t>(threshold))
      continue;
    sliding_crossing c;
    c.src = src;
    c.start = t - width_;
    c.end = t;
    c.first_seen = t;
    for (const port_run& run : s.runs) {
      if (run.events == 0 || run.first > t || run.last + width_ < t) continue;
      c.ports.push_back(run.port);
      c.first_seen = std::min(c.first_seen, std::max(run.first, c.start));
      c.events += run.events;
      run.labels.for_each(run.first, [&](const run_labels::seen& x) {
        if (x.first <= t) c.labels.push_back(x.id);
      });
    }
    std::sort(c.ports.begin(), c.ports.end());
    std::sort(c.labels.begin(), c.labels.end());
    c.labels.erase(std::unique(c.labels.begin(), c.labels.end()), c.labels.end());
    s.next_allowed = t + width_ + 1;
    if (keep_notes_) notes_.emplace_back(src, s.next_allowed);
    fn(c);
  }
}

void sliding_state::apply_note(const ip_address& src, timestamp_us next_allowed) {
  bool inserted = false;
  sliding_source& s = src.is_v4() ? v4_.find_or_insert(src.v4(), inserted).state
                                  : v6_.find_or_insert(src.bytes(), inserted).state;
  s.next_allowed = std::max(s.next_allowed, next_allowed);
}

std::size_t sliding_state::evaluate(timestamp_us close_before, std::uint32_t threshold,
                                    const std::function<void(const sliding_crossing&)>& fn) {
  std::size_t scanned = 0;
  auto visit = [&](auto& table, auto to_ip) {
    for (std::size_t i = 0; i < table.size(); ++i) {
      auto& e = table.at(i);
      sliding_source& s = e.state;
      const bool dirty = (s.flags & sliding_source::dirty) != 0;
      // Written only when set: a walk over 100k+ clean sources then dirties no cache line.
      if (dirty) s.flags = static_cast<std::uint8_t>(s.flags & ~sliding_source::dirty);
      // At most `live` ports at any time: a benign source is settled here.
      if (s.live <= threshold) continue;
      timestamp_us newest = INT64_MIN;
      for (const port_run& run : s.runs)
        if (run.events != 0) newest = std::max(newest, run.last);
      // Nothing new and every run start was already behind the previous close: settled.
      if (replaying_ || (!dirty && newest < evaluated_to_)) continue;
      ++scanned;
      scan(to_ip(e.key), s, close_before, threshold, fn);
    }
  };
  visit(v4_, [](std::uint32_t k) { return ip_address::from_v4(k); });
  visit(v6_, [](const v6_key& k) { return ip_address::from_v6(k); });
  evaluated_to_ = std::max(evaluated_to_, close_before);
  return scanned;
}

void sliding_state::prune(timestamp_us horizon) {
  // Never drop what the rule has not seen: a run may still cover an unevaluated crossing.
  horizon = std::min(horizon, evaluated_to_);
  if (horizon == INT64_MIN) return;
  if (pruned_at_ != INT64_MIN && horizon - pruned_at_ < width_) return;
  pruned_at_ = horizon;
  auto keep = [&](auto& e) {
    sliding_source& s = e.state;
    bool dropped = false;
    for (port_run& run : s.runs) {
      if (run.events == 0) {
        dropped = true;
      } else if (run.last + width_ < horizon) {
        run.events = 0;
        run.labels = run_labels{};  // compact() below drops the run
        --s.live;
        dropped = true;
      }
    }
    if (dropped) compact(s);
    // A crossing from here on is at or after the horizon: a next_allowed not after it
    // blocks nothing any more.
    if (s.live == 0) return s.next_allowed > horizon;
    return true;
  };
  v4_.retain_if(keep);
  v6_.retain_if(keep);
}

std::size_t sliding_state::shed(std::size_t need, std::uint32_t threshold,
                                std::array<std::uint64_t, 3>& by_distance) {
  if (need == 0) return 0;
  // (ports, last seen, position): fewest ports first, then least recently seen.
  using rank = std::tuple<std::uint32_t, timestamp_us, std::size_t>;
  std::vector<rank> ranks;
  auto collect = [&](const auto& table, std::size_t base) {
    for (std::size_t i = 0; i < table.size(); ++i) {
      const sliding_source& s = table.at(i).state;
      if (s.next_allowed != INT64_MIN || s.live > threshold) continue;
      timestamp_us newest = INT64_MIN;
      for (const port_run& run : s.runs)
        if (run.events != 0) newest = std::max(newest, run.last);
      ranks.emplace_back(s.live, newest, base + i);
    }
  };
  collect(v4_, 0);
  collect(v6_, v4_.size());
  if (ranks.size() > need) {
    std::nth_element(ranks.begin(), ranks.begin() + static_cast<std::ptrdiff_t>(need - 1),
                     ranks.end());
    ranks.resize(need);
  }
  std::vector<bool> drop(v4_.size() + v6_.size());
  for (const auto& [ports, newest, pos] : ranks) {
    drop[pos] = true;
    by_distance[shed_distance_band(std::uint64_t{threshold} + 1 - ports)] += 1;
  }
  std::size_t pos = 0;
  auto keep = [&](const auto&) { return !drop[pos++]; };
  std::size_t removed = v4_.retain_if(keep);
  removed += v6_.retain_if(keep);
  return removed;
}

std::size_t sliding_state::memory_bytes() const noexcept {
  std::size_t total = v4_.memory_bytes() + v6_.memory_bytes();
  auto add = [&](const auto& table) {
    for (std::size_t i = 0; i < table.size(); ++i) {
      const sliding_source& s = table.at(i).state;
      total += s.runs.heap_bytes();
      for (const port_run& run : s.runs) total += run.labels.heap_bytes();
      if (s.index)
        total += sizeof(run_index) +
                 (s.index->slots.capacity() + s.index->next.capacity()) * sizeof(std::uint32_t);
    }
  };
  add(v4_);
  add(v6_);
  return total;
}

void sliding_state::clear() noexcept {
  v4_ = v4_table{};
  v6_ = v6_table{};
  evaluated_to_ = INT64_MIN;
  pruned_at_ = INT64_MIN;
}

void sliding_state::serialize(binary_writer& w) const {
  w.put(sliding_magic);
  w.put<std::int64_t>(evaluated_to_);
  std::unordered_map<label_id, std::uint32_t> dict;
  std::vector<label_id> order;
  auto collect = [&](const auto& table) {
    for (std::size_t i = 0; i < table.size(); ++i)
      for (const port_run& run : table.at(i).state.runs)
        run.labels.for_each(run.first, [&](const run_labels::seen& x) {
          if (dict.emplace(x.id, static_cast<std::uint32_t>(order.size())).second)
            order.push_back(x.id);
        });
  };
  collect(v4_);
  collect(v6_);
  w.put<std::uint32_t>(static_cast<std::uint32_t>(order.size()));
  for (auto id : order) w.put_string(labels_.view(id));
  auto write = [&](const auto& table, auto write_key) {
    w.put<std::uint64_t>(table.size());
    for (std::size_t i = 0; i < table.size(); ++i) {
      const auto& e = table.at(i);
      write_key(e.key);
      w.put<std::int64_t>(e.state.next_allowed);
      w.put<std::uint8_t>(e.state.flags);
      w.put<std::uint32_t>(e.state.live);
      for (const port_run& run : e.state.runs) {
        if (run.events == 0) continue;
        w.put<std::int64_t>(run.first);
        w.put<std::int64_t>(run.last);
        w.put<std::uint32_t>(run.events);
        w.put<std::uint16_t>(run.port);
        std::uint8_t n = 0;
        run.labels.for_each(run.first, [&n](const run_labels::seen&) { ++n; });
        w.put<std::uint8_t>(n);
        run.labels.for_each(run.first, [&](const run_labels::seen& x) {
          w.put<std::uint32_t>(dict.at(x.id));
          w.put<std::int64_t>(x.first);
        });
      }
    }
  };
  write(v4_, [&w](std::uint32_t k) { w.put<std::uint32_t>(k); });
  write(v6_, [&w](const v6_key& k) { w.put_bytes(k.data(), k.size()); });
}

bool sliding_state::deserialize(binary_reader& r, label_table& labels) {
  clear();
  std::uint32_t magic = 0, dict_size = 0;
  std::int64_t evaluated_to = 0;
  if (!r.get(magic) || magic != sliding_magic || !r.get(evaluated_to) || !r.get(dict_size) ||
      dict_size > (1u << 20))
    return false;
  std::vector<label_id> dict;
  dict.reserve(dict_size);
  for (std::uint32_t i = 0; i < dict_size; ++i) {
    std::string s;
    if (!r.get_string(s, 4096)) return false;
    dict.push_back(labels.intern(s));
  }
  auto read = [&](auto& table, auto read_key) -> bool {
    std::uint64_t n = 0;
    if (!r.get(n)) return false;
    for (std::uint64_t i = 0; i < n; ++i) {
      typename std::remove_reference_t<decltype(table)>::entry tmp;
      if (!read_key(tmp.key)) return false;
      bool inserted = false;
      sliding_source& s = table.find_or_insert(tmp.key, inserted).state;
      std::int64_t next_allowed = 0;
      std::uint8_t flags = 0;
      std::uint32_t nruns = 0;
      // A source without runs is kept only for its next_allowed (prune, apply_note).
      if (!inserted || !r.get(next_allowed) || !r.get(flags) || !r.get(nruns) ||
          (nruns == 0 && next_allowed == INT64_MIN) || nruns > (1u << 24))
        return false;
      if (next_allowed != INT64_MIN &&
          (next_allowed < -(timestamp_us{1} << 62) || next_allowed > (timestamp_us{1} << 62)))
        return false;
      s.next_allowed = next_allowed;
      s.flags = flags & sliding_source::dirty;
      for (std::uint32_t k = 0; k < nruns; ++k) {
        port_run run;
        std::uint8_t nlabels = 0;
        // Times beyond +-2^61 us (73,000 years) are corrupt, and would overflow `last + width`.
        constexpr timestamp_us bound = timestamp_us{1} << 61;
        if (!r.get(run.first) || !r.get(run.last) || !r.get(run.events) || !r.get(run.port) ||
            run.first > run.last || run.first < -bound || run.last > bound || run.events == 0 ||
            !r.get(nlabels))
          return false;
        if (nlabels == 0 || nlabels > run_labels::max_kept) return false;
        for (std::uint8_t m = 0; m < nlabels; ++m) {
          std::uint32_t idx = 0;
          timestamp_us seen = 0;
          if (!r.get(idx) || idx >= dict.size() || !r.get(seen) || seen < run.first ||
              seen > run.last)
            return false;
          run.labels.insert(dict[idx], seen, run.first);
        }
        run.labels.settle(run.first);
        s.runs.push_back(std::move(run));
      }
      // Runs of one port must be more than width apart (else they would be one run and
      // the port would count twice).
      std::vector<std::pair<std::uint16_t, std::uint32_t>> order;
      order.reserve(s.runs.size());
      for (std::uint32_t k = 0; k < s.runs.size(); ++k) order.emplace_back(s.runs[k].port, k);
      std::sort(order.begin(), order.end(), [&](const auto& a, const auto& b) {
        return std::tie(a.first, s.runs[a.second].first) <
               std::tie(b.first, s.runs[b.second].first);
      });
      for (std::size_t k = 1; k < order.size(); ++k)
        if (order[k].first == order[k - 1].first &&
            s.runs[order[k].second].first - width_ <= s.runs[order[k - 1].second].last)
          return false;
      s.live = nruns;
      rebuild_index(s);
    }
    return true;
  };
  if (!read(v4_, [&r](std::uint32_t& k) { return r.get(k); }) ||
      !read(v6_, [&r](v6_key& k) { return r.get_bytes(k.data(), k.size()); })) {
    clear();
    return false;
  }
  evaluated_to_ = evaluated_to;
  return true;
}

}  // namespace portscand
