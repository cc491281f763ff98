#include "detect/evaluator.hpp"

#include <algorithm>
#include <string_view>

#include "core/binary_io.hpp"
#include "core/time.hpp"

namespace portscand {

namespace {
// UUIDv5 over rule_id|source|start_iso|kind: never make_alert_id's name, so an alert of
// another kind for the same start (a sliding interval on a bin edge, an early alert) never
// shares a final alert's id.
std::string kind_alert_id(std::string_view rule_id, std::string_view source, timestamp_us start,
                          std::string_view kind) {
  std::string name;
  name.append(rule_id).append("|").append(source).append("|");
  name.append(format_iso8601(start)).append("|").append(kind);
  return uuid_v5(alert_id_namespace, name);
}
}  // namespace

std::string make_sliding_alert_id(std::string_view rule_id, std::string_view source,
                                  timestamp_us interval_start) {
  return kind_alert_id(rule_id, source, interval_start, "sliding");
}

std::string make_early_alert_id(std::string_view rule_id, std::string_view source,
                                timestamp_us bin_start) {
  return kind_alert_id(rule_id, source, bin_start, "early");
}

std::size_t evaluator::evaluate_sliding(shard_state& state, const rule_definition& rule,
                                        timestamp_us close_before, timestamp_us now,
                                        std::vector<alert>& out) {
  const std::size_t n =
      state.evaluate_sliding(close_before, rule.threshold, [&](const sliding_crossing& c) {
        // As in a tumbling bin: a source excluded (by a reload) since its records were counted
        // does not alert; an IPv6 source is its prefix.
        if (excluded(rule, c.src, c.start, &stats_.excluded)) return;
        alert a;
        a.src = c.src;
        a.src_prefix = static_cast<std::uint8_t>(key_bits(c.src));
        a.bin_start = c.start;
        a.bin_end = c.end;
        a.ports_count = static_cast<std::uint32_t>(c.ports.size());
        a.ports.assign(c.ports.begin(),
                       c.ports.begin() + static_cast<std::ptrdiff_t>(std::min<std::size_t>(
                                             rule.max_ports, c.ports.size())));
        std::vector<std::string_view> names;
        names.reserve(c.labels.size());
        for (auto id : c.labels) names.push_back(labels_.view(id));
        std::sort(names.begin(), names.end());
        for (std::size_t i = 0; i < names.size() && i < rule.max_labels; ++i)
          a.reported_by.emplace_back(names[i]);
        a.first_seen = c.first_seen;
        a.last_seen = c.end;
        a.event_count = c.events;
        a.detected_at = now;
        a.rule = rule.metadata;
        a.alert_id = make_sliding_alert_id(rule.metadata->id, a.source_text(), a.bin_start);
        assign_incident(rule, a);
        out.push_back(std::move(a));
      });
  prune(state, rule);
  return n;
}

namespace {
// The fields every key's alert takes from its state alike (key_state, sweep_key_state).
template <typename State>
void from_key(alert& a, const ip_address& src, timestamp_us bin_start, unsigned key_bits,
              timestamp_us now, const State& s, const rule_definition& rule,
              const label_table& labels, std::vector<target_set::target>& scratch) {
  a.src = src;
  a.src_prefix = static_cast<std::uint8_t>(key_bits);
  a.bin_start = bin_start;
  a.bin_end = bin_start + rule.bin_width;
  a.detected_at = now;
  s.labels.first(rule.max_labels, labels, a.reported_by);
  a.first_seen = a.bin_start + s.first_offset;
  a.last_seen = a.bin_start + s.last_offset;
  a.event_count = s.events;
  a.rule = rule.metadata;
  a.has_targets = true;
  s.evidence.targets(s.events, scratch);
  a.targets.reserve(scratch.size());
  for (const auto& t : scratch)
    a.targets.push_back(alert_target{ip_address::from_v6(t.address), t.count});
  a.targets_truncated = s.evidence.truncated();
  a.protocols = s.protocols;
  const outcome_counts outcomes = s.evidence.outcomes(s.events);
  a.outcomes = alert_outcomes{outcomes.allowed, outcomes.denied, outcomes.dropped};
}
}  // namespace

alert evaluator::key_alert(const rule_definition& rule, key_view k, unsigned key_bits,
                           timestamp_us now) {
  alert a;
  a.ports_count = k.state.ports.size();
  k.state.ports.first(rule.max_ports, a.ports);
  from_key(a, k.src, k.bin_start, key_bits, now, k.state, rule, labels_, targets_);
  a.alert_id = make_alert_id(rule.metadata->id, a.source_text(), a.bin_start);
  return a;
}

alert evaluator::sweep_alert(const rule_definition& rule, sweep_view k, unsigned key_bits,
                             timestamp_us now) {
  alert a;
  a.swept_port = k.port;
  a.target_count = k.state.destinations.size();
  a.ports_count = 1;
  a.ports = {k.port};
  from_key(a, k.src, k.bin_start, key_bits, now, k.state, rule, labels_, targets_);
  a.alert_id = make_sweep_alert_id(rule.metadata->id, a.source_text(), a.bin_start, k.port);
  return a;
}

bool evaluator::excluded(const rule_definition& rule, const ip_address& src, timestamp_us bin_start,
                         std::uint64_t* counter) const {
  if (!rule.exclusions ||
      rule.exclusions->covers_source(src, key_bits(src), bin_start) == exclusion_set::none)
    return false;
  if (counter != nullptr) ++*counter;
  return true;
}

bool evaluator::suppress(const rule_definition& rule, const ip_address& src,
                         timestamp_us bin_start) {
  if (rule.suppression <= 0) return false;
  // Event time: compared with the bin of the source's latest alert, either way (a re-opened
  // older bin too), so a replay decides as the live run did.
  auto [it, fresh] = history_of(rule).last_alert.try_emplace(src, bin_start);
  if (fresh) return false;
  const timestamp_us gap =
      bin_start >= it->second ? bin_start - it->second : it->second - bin_start;
  if (gap < rule.suppression) {
    ++stats_.suppressed;
    return true;
  }
  it->second = std::max(it->second, bin_start);
  return false;
}

bool evaluator::suppress_early(const rule_definition& rule, const ip_address& src,
                               timestamp_us bin_start) {
  if (rule.suppression <= 0) return false;
  history& h = history_of(rule);
  // Suppressed when the bin's final alert would be: near a final alert already sent, or
  // near an early alert whose final alert is still to come (then suppression decides
  // against this bin's final alert too).
  const auto near = [&](const std::unordered_map<ip_address, timestamp_us>& m) {
    auto it = m.find(src);
    if (it == m.end()) return false;
    const timestamp_us gap =
        bin_start >= it->second ? bin_start - it->second : it->second - bin_start;
    return gap < rule.suppression;
  };
  if (near(h.last_alert) || near(h.last_early)) return true;
  auto [it, fresh] = h.last_early.try_emplace(src, bin_start);
  if (!fresh) it->second = std::max(it->second, bin_start);
  return false;
}

void evaluator::finish_early(const rule_definition& rule, alert& a, std::string early_id) {
  a.early = true;
  a.final_alert_id = std::move(a.alert_id);
  a.alert_id = std::move(early_id);
  a.incident_id = make_incident_id(rule.metadata->id, a.source_text(),
                                   note_early_incident(rule, a.src, a.bin_start));
  ++stats_.early_sent;
}

bool evaluator::announce_early(const rule_definition& rule, const ip_address& src,
                               timestamp_us bin_start, bool send) {
  if (excluded(rule, src, bin_start, send ? &stats_.early_excluded : nullptr)) return false;
  if (suppress_early(rule, src, bin_start)) {
    if (send) ++stats_.early_suppressed;
    return false;
  }
  if (!send) {  // announced before: only the history that depends on it
    note_early_incident(rule, src, bin_start);
    return false;
  }
  return true;
}

bool evaluator::early(const rule_definition& rule, key_view k, timestamp_us now,
                      std::vector<alert>* out) {
  if (!announce_early(rule, k.src, k.bin_start, out != nullptr)) return false;
  alert a = key_alert(rule, k, key_bits(k.src), now);
  finish_early(rule, a, make_early_alert_id(rule.metadata->id, a.source_text(), a.bin_start));
  out->push_back(std::move(a));
  return true;
}

bool evaluator::early(const rule_definition& rule, sweep_view k, timestamp_us now,
                      std::vector<alert>* out) {
  if (!announce_early(rule, k.src, k.bin_start, out != nullptr)) return false;
  alert a = sweep_alert(rule, k, key_bits(k.src), now);
  finish_early(rule, a,
               kind_alert_id(rule.metadata->id, a.source_text(), a.bin_start,
                             std::to_string(k.port) + "|early"));
  out->push_back(std::move(a));
  return true;
}

timestamp_us evaluator::note_early_incident(const rule_definition& rule, const ip_address& src,
                                            timestamp_us bin_start) {
  // The incident the final alert will join: the current one is the latest opened, by a
  // final alert (incidents) or by an early alert whose final alert is still to come.
  if (rule.incident_grouping <= 0) return bin_start;
  history& h = history_of(rule);
  timestamp_us current = INT64_MIN;
  if (auto it = h.incidents.find(src); it != h.incidents.end()) current = it->second;
  if (auto it = h.early_incidents.find(src); it != h.early_incidents.end())
    current = std::max(current, it->second);
  const timestamp_us start =
      current != INT64_MIN && bin_start < current + rule.incident_grouping ? current : bin_start;
  h.early_incidents[src] = start;
  return start;
}

std::size_t evaluator::evaluate(shard_state& state, const rule_definition& rule,
                                timestamp_us close_before, timestamp_us now,
                                std::vector<alert>& out) {
  PORTSCAND_ASSERT(rule.bin_width == state.config().bin_width,
                   "the rule's bin width differs from the window's");
  if (rule.kind == rule_kind::sweep) return evaluate_sweeps(state, rule, close_before, now, out);
  if (state.sliding()) return evaluate_sliding(state, rule, close_before, now, out);
  const std::size_t bins = state.evaluate_closed(close_before, [&](key_view k) {
    key_state& s = k.state;
    if (s.flags & key_state::alerted) return;
    if (s.ports.size() <= rule.threshold) return;
    if (excluded(rule, k.src, k.bin_start, &stats_.excluded)) return;
    s.flags |= key_state::alerted;  // handled: a later evaluation must not alert it
    if (suppress(rule, k.src, k.bin_start)) return;
    alert a = key_alert(rule, k, key_bits(k.src), now);
    assign_incident(rule, a);
    out.push_back(std::move(a));
  });
  prune(state, rule);
  return bins;
}

std::size_t evaluator::evaluate_sweeps(shard_state& state, const rule_definition& rule,
                                       timestamp_us close_before, timestamp_us now,
                                       std::vector<alert>& out) {
  // The keys over the threshold, decided in (bin, source, port) order: suppression between
  // two ports of one source in one bin must not depend on the order the keys were created.
  struct candidate {
    ip_address src;
    std::uint16_t port;
    timestamp_us bin_start;
    sweep_key_state* state;
  };
  std::vector<candidate> over;
  const std::size_t bins = state.evaluate_sweeps(close_before, [&](sweep_view k) {
    const sweep_key_state& s = k.state;
    if (s.flags & key_state::alerted) return;
    if (s.destinations.size() <= rule.threshold) return;
    over.push_back({k.src, k.port, k.bin_start, &k.state});
  });
  std::sort(over.begin(), over.end(), [](const candidate& a, const candidate& b) {
    if (a.bin_start != b.bin_start) return a.bin_start < b.bin_start;
    if (a.src != b.src) return a.src.bytes() < b.src.bytes();
    return a.port < b.port;
  });
  for (const candidate& c : over) {
    if (excluded(rule, c.src, c.bin_start, &stats_.excluded)) continue;
    c.state->flags |= key_state::alerted;
    if (suppress(rule, c.src, c.bin_start)) continue;
    alert a =
        sweep_alert(rule, sweep_view{c.src, c.port, c.bin_start, *c.state}, key_bits(c.src), now);
    assign_incident(rule, a);
    out.push_back(std::move(a));
  }
  prune(state, rule);
  return bins;
}

void evaluator::assign_incident(const rule_definition& rule, alert& a) {
  const std::string source = a.source_text();
  timestamp_us start = a.bin_start;
  if (rule.incident_grouping > 0) {
    auto [it, fresh] = history_of(rule).incidents.try_emplace(a.src, a.bin_start);
    // A later alert within the grouping of the incident's first joins it, so does an older
    // bin evaluated late; one past the grouping starts the next incident.
    if (!fresh && a.bin_start >= it->second + rule.incident_grouping) it->second = a.bin_start;
    start = it->second;
  }
  a.incident_id = make_incident_id(rule.metadata->id, source, start);
}

void evaluator::prune(const shard_state& state, const rule_definition& rule) {
  history& h = history_of(rule);
  if (h.empty()) return;
  // An entry matters while a bin it decides for can still be evaluated: bins start no
  // earlier than the retention horizon (a late record re-opens nothing older).
  const timestamp_us horizon = state.watermark() == INT64_MIN
                                   ? INT64_MIN
                                   : state.watermark() - state.config().retention - rule.bin_width;
  const timestamp_us d = rule.suppression;
  const auto stale = [&](const auto& e) {
    return d == 0 || (horizon != INT64_MIN && e.second <= horizon - d);
  };
  std::erase_if(h.last_alert, stale);
  std::erase_if(h.last_early, stale);
  const timestamp_us g = rule.incident_grouping;
  const auto stale_incident = [&](const auto& e) {
    return g <= 0 || (horizon != INT64_MIN && e.second <= horizon - g);
  };
  std::erase_if(h.incidents, stale_incident);
  std::erase_if(h.early_incidents, stale_incident);
}

namespace {
// "SUP1": the suppression map alone. "SUP2": the suppression map, then the incidents map
// (same entry layout: 16-byte source, i64 bin start). "SUP3": SUP2's two maps of the
// vertical rule, then the same two of the port-sweep rule.
constexpr std::uint32_t history_magic_v1 = 0x31505553;
constexpr std::uint32_t history_magic_v2 = 0x32505553;
constexpr std::uint32_t history_magic_v3 = 0x33505553;

void write_map(binary_writer& w, const std::unordered_map<ip_address, timestamp_us>& m) {
  w.put<std::uint64_t>(m.size());
  for (const auto& [src, bin] : m) {
    w.put_bytes(src.bytes().data(), 16);
    w.put<std::int64_t>(bin);
  }
}

bool read_map(binary_reader& r, std::size_t bytes,
              std::unordered_map<ip_address, timestamp_us>& m) {
  std::uint64_t n = 0;
  if (!r.get(n) || n > bytes / 24) return false;
  for (std::uint64_t i = 0; i < n; ++i) {
    std::array<std::uint8_t, 16> b{};
    std::int64_t bin = 0;
    if (!r.get_bytes(b.data(), 16) || !r.get(bin)) return false;
    m[ip_address::from_v6(b)] = bin;
  }
  return true;
}
}  // namespace

void evaluator::serialize_history(std::string& out) const {
  out.clear();
  binary_writer w(out);
  w.put<std::uint32_t>(history_magic_v3);
  for (const history& h : histories_) {
    write_map(w, h.last_alert);
    write_map(w, h.incidents);
  }
}

bool evaluator::deserialize_history(std::string_view in) {
  const auto clear = [this] {
    for (history& h : histories_) {
      h.last_alert.clear();
      h.incidents.clear();
    }
  };
  clear();
  if (in.empty()) return true;  // a checkpoint written without alert history
  binary_reader r(in);
  std::uint32_t magic = 0;
  if (!r.get(magic) ||
      (magic != history_magic_v1 && magic != history_magic_v2 && magic != history_magic_v3)) {
    return false;
  }
  history& v = histories_[0];
  bool ok = read_map(r, in.size(), v.last_alert) &&
            (magic == history_magic_v1 || read_map(r, in.size(), v.incidents));
  if (ok && magic == history_magic_v3)
    ok = read_map(r, in.size(), histories_[1].last_alert) &&
         read_map(r, in.size(), histories_[1].incidents);
  if (!ok || !r.done()) {
    clear();
    return false;
  }
  return true;
}

}  // namespace portscand
