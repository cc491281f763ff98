#include "detect/evaluator.hpp"

#include <algorithm>
#include <string_view>

#include "core/binary_io.hpp"
#include "core/time.hpp"

namespace portscand {

std::string make_sliding_alert_id(std::string_view rule_id, std::string_view source,
                                  timestamp_us interval_start) {
  // Not make_alert_id's name: a sliding interval may start on a bin edge, and a tumbling
  // alert of that bin (other evidence) must never share its id.
  std::string name;
  name.append(rule_id).append("|").append(source).append("|");
  name.append(format_iso8601(interval_start)).append("|sliding");
  return uuid_v5(alert_id_namespace, name);
}

std::size_t evaluator::evaluate_sliding(shard_state& state, const rule_definition& rule,
                                        timestamp_us close_before, timestamp_us now,
                                        std::vector<alert>& out) {
  return state.evaluate_sliding(close_before, rule.threshold, [&](const sliding_crossing& c) {
    // As in a tumbling bin: a source excluded (by a reload) since its records were counted
    // does not alert; an IPv6 source is its prefix.
    const unsigned key_bits = c.src.is_v4() ? 128 : ipv6_prefix_;
    if (rule.exclusions &&
        rule.exclusions->covers_source(c.src, key_bits, c.start) != exclusion_set::none) {
      ++stats_.excluded;
      return;
    }
    alert a;
    a.src = c.src;
    a.src_prefix = static_cast<std::uint8_t>(key_bits);
    a.bin_start = c.start;
    a.bin_end = c.end;
    a.ports_count = static_cast<std::uint32_t>(c.ports.size());
    a.ports.assign(c.ports.begin(),
                   c.ports.begin() + static_cast<std::ptrdiff_t>(
                                         std::min<std::size_t>(rule.max_ports, c.ports.size())));
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
    out.push_back(std::move(a));
  });
}

std::size_t evaluator::evaluate(shard_state& state, const rule_definition& rule,
                                timestamp_us close_before, timestamp_us now,
                                std::vector<alert>& out) {
  PORTSCAND_ASSERT(rule.bin_width == state.config().bin_width,
                   "the rule's bin width differs from the window's");
  if (state.sliding()) return evaluate_sliding(state, rule, close_before, now, out);
  const std::size_t bins = state.evaluate_closed(close_before, [&](key_view k) {
    key_state& s = k.state;
    if (s.flags & key_state::alerted) return;
    if (s.ports.size() <= rule.threshold) return;
    const unsigned key_bits = k.src.is_v4() ? 128 : ipv6_prefix_;
    if (rule.exclusions &&
        rule.exclusions->covers_source(k.src, key_bits, k.bin_start) != exclusion_set::none) {
      ++stats_.excluded;
      return;
    }
    if (rule.suppression > 0) {
      // Event time: compared with the bin of the source's latest alert, either way (a
      // re-opened older bin too), so a replay decides as the live run did.
      auto [it, fresh] = last_alert_.try_emplace(k.src, k.bin_start);
      if (!fresh) {
        const timestamp_us gap =
            k.bin_start >= it->second ? k.bin_start - it->second : it->second - k.bin_start;
        if (gap < rule.suppression) {
          s.flags |= key_state::alerted;  // handled: a later evaluation must not alert it
          ++stats_.suppressed;
          return;
        }
        it->second = std::max(it->second, k.bin_start);
      }
    }
    s.flags |= key_state::alerted;
    alert a;
    a.src = k.src;
    a.src_prefix = static_cast<std::uint8_t>(key_bits);
    a.bin_start = k.bin_start;
    a.bin_end = k.bin_start + rule.bin_width;
    a.ports_count = s.ports.size();
    s.ports.first(rule.max_ports, a.ports);
    s.labels.first(rule.max_labels, labels_, a.reported_by);
    a.first_seen = k.bin_start + s.first_offset;
    a.last_seen = k.bin_start + s.last_offset;
    a.event_count = s.events;
    a.detected_at = now;
    a.rule = rule.metadata;
    a.alert_id = make_alert_id(rule.metadata->id, a.source_text(), a.bin_start);
    out.push_back(std::move(a));
  });
  // A suppression entry matters while a bin it suppresses can still be evaluated: bins
  // start no earlier than the retention horizon (a late record re-opens nothing older).
  if (!last_alert_.empty()) {
    const timestamp_us horizon =
        state.watermark() == INT64_MIN
            ? INT64_MIN
            : state.watermark() - state.config().retention - rule.bin_width;
    const timestamp_us d = rule.suppression;
    std::erase_if(last_alert_, [&](const auto& e) {
      return d == 0 || (horizon != INT64_MIN && e.second <= horizon - d);
    });
  }
  return bins;
}

namespace {
constexpr std::uint32_t suppression_magic = 0x31505553;  // "SUP1"
}  // namespace

void evaluator::serialize_suppression(std::string& out) const {
  out.clear();
  binary_writer w(out);
  w.put<std::uint32_t>(suppression_magic);
  w.put<std::uint64_t>(last_alert_.size());
  for (const auto& [src, bin] : last_alert_) {
    w.put_bytes(src.bytes().data(), 16);
    w.put<std::int64_t>(bin);
  }
}

bool evaluator::deserialize_suppression(std::string_view in) {
  last_alert_.clear();
  if (in.empty()) return true;  // a checkpoint written without suppression state
  binary_reader r(in);
  std::uint32_t magic = 0;
  std::uint64_t n = 0;
  if (!r.get(magic) || magic != suppression_magic || !r.get(n) || n > in.size() / 24) return false;
  for (std::uint64_t i = 0; i < n; ++i) {
    std::array<std::uint8_t, 16> b{};
    std::int64_t bin = 0;
    if (!r.get_bytes(b.data(), 16) || !r.get(bin)) {
      last_alert_.clear();
      return false;
    }
    last_alert_[ip_address::from_v6(b)] = bin;
  }
  if (!r.done()) {
    last_alert_.clear();
    return false;
  }
  return true;
}

}  // namespace portscand
