#include "window/key_evidence.hpp"

namespace portscand {

namespace {

std::uint32_t* slot(outcome_counts& c, attempt_outcome o) noexcept {
  switch (o) {
    case attempt_outcome::allowed:
      return &c.allowed;
    case attempt_outcome::denied:
      return &c.denied;
    case attempt_outcome::dropped:
      return &c.dropped;
    case attempt_outcome::unknown:
      break;
  }
  return nullptr;
}

void count(outcome_counts& c, attempt_outcome o, std::uint32_t n) noexcept {
  if (std::uint32_t* s = slot(c, o)) *s = *s > UINT32_MAX - n ? UINT32_MAX : *s + n;
}

}  // namespace

void key_evidence::release() noexcept {
  if (kind_ & on_heap) delete u_.heap;
  kind_ = 0;
}

void key_evidence::add(const network_session& r, std::uint32_t prior, std::uint32_t max_targets) {
  const auto outcome = static_cast<std::uint8_t>(outcome_of(r.action));
  if (kind_ & on_heap) {
    count(u_.heap->counts, static_cast<attempt_outcome>(outcome), 1);
    if (r.has_dst) u_.heap->targets.add(r.dst, max_targets);
    return;
  }
  if (prior == 0) {  // the key's first record sets the inline form
    kind_ = outcome;
    if (max_targets == 0) {
      if (r.has_dst) kind_ |= dropped_targets;
      return;
    }
    if (!r.has_dst) {
      kind_ |= no_dst;
      return;
    }
    if (r.dst.is_v4()) {
      kind_ |= one_v4;
      u_.v4 = r.dst.v4();
      return;
    }
  } else {
    bool same = (kind_ & outcome_mask) == outcome;
    if (max_targets == 0) {
      if (r.has_dst) kind_ |= dropped_targets;
    } else if (kind_ & no_dst) {
      same = same && !r.has_dst;
    } else {
      same = same && (kind_ & one_v4) && r.has_dst && r.dst.is_v4() && r.dst.v4() == u_.v4;
    }
    if (same) return;
  }
  spill(prior, max_targets);
  count(u_.heap->counts, static_cast<attempt_outcome>(outcome), 1);
  if (r.has_dst) u_.heap->targets.add(r.dst, max_targets);
}

void key_evidence::spill(std::uint32_t prior, std::uint32_t max_targets) {
  auto* d = new detail{};
  if (prior != 0) {
    count(d->counts, static_cast<attempt_outcome>(kind_ & outcome_mask), prior);
    if (kind_ & one_v4) d->targets.restore(ip_address::from_v4(u_.v4).bytes(), prior, max_targets);
    if (kind_ & dropped_targets) d->targets.set_truncated();
  }
  u_.heap = d;
  kind_ = on_heap;
}

void key_evidence::restore(std::uint32_t events, const outcome_counts& counts,
                           const std::vector<target_set::target>& targets, bool truncated,
                           std::uint32_t max_targets) {
  release();
  // The inline form when it holds exactly this, else the heap block.
  std::uint8_t outcome = 0;
  const std::uint64_t known = std::uint64_t{counts.allowed} + counts.denied + counts.dropped;
  if (counts.allowed == events && events != 0) outcome = 1;
  if (counts.denied == events && events != 0) outcome = 2;
  if (counts.dropped == events && events != 0) outcome = 3;
  const bool uniform = events != 0 && (known == 0 || outcome != 0);
  if (uniform && max_targets != 0 && !truncated && targets.empty()) {
    kind_ = static_cast<std::uint8_t>(outcome | no_dst);
    return;
  }
  if (uniform && max_targets == 0 && targets.empty()) {
    kind_ = static_cast<std::uint8_t>(outcome | (truncated ? dropped_targets : 0));
    return;
  }
  if (uniform && max_targets != 0 && !truncated && targets.size() == 1 &&
      targets[0].count == events && ip_address::from_v6(targets[0].address).is_v4()) {
    u_.v4 = ip_address::from_v6(targets[0].address).v4();
    kind_ = static_cast<std::uint8_t>(outcome | one_v4);
    return;
  }
  auto* d = new detail{};
  d->counts = counts;
  for (const auto& t : targets) d->targets.restore(t.address, t.count, max_targets);
  if (truncated) d->targets.set_truncated();
  u_.heap = d;
  kind_ = on_heap;
}

outcome_counts key_evidence::outcomes(std::uint32_t events) const noexcept {
  if (kind_ & on_heap) return u_.heap->counts;
  outcome_counts c;
  count(c, static_cast<attempt_outcome>(kind_ & outcome_mask), events);
  return c;
}

void key_evidence::targets(std::uint32_t events, std::vector<target_set::target>& out) const {
  if (kind_ & on_heap) return u_.heap->targets.list(out);
  out.clear();
  if ((kind_ & one_v4) && events != 0)
    out.push_back(target_set::target{ip_address::from_v4(u_.v4).bytes(), events});
}

bool key_evidence::truncated() const noexcept {
  if (kind_ & on_heap) return u_.heap->targets.truncated();
  return (kind_ & dropped_targets) != 0;
}

std::size_t key_evidence::heap_bytes() const noexcept {
  return (kind_ & on_heap) ? sizeof(detail) + u_.heap->targets.heap_bytes() : 0;
}

void key_evidence::write(binary_writer& w, std::uint32_t events,
                         std::vector<target_set::target>& scratch) const {
  const outcome_counts counts = outcomes(events);
  w.put<std::uint32_t>(counts.allowed);
  w.put<std::uint32_t>(counts.denied);
  w.put<std::uint32_t>(counts.dropped);
  targets(events, scratch);
  w.put<std::uint8_t>(static_cast<std::uint8_t>(truncated() ? 1 : 0));
  w.put<std::uint8_t>(static_cast<std::uint8_t>(scratch.size()));
  for (const auto& t : scratch) {
    w.put_bytes(t.address.data(), t.address.size());
    w.put<std::uint32_t>(t.count);
  }
}

bool key_evidence::read(binary_reader& r, std::uint32_t events, std::uint32_t max_targets,
                        std::vector<target_set::target>& scratch) {
  std::uint8_t truncated = 0, ntargets = 0;
  outcome_counts counts;
  if (!r.get(counts.allowed) || !r.get(counts.denied) || !r.get(counts.dropped) ||
      !r.get(truncated) || truncated > 1 || !r.get(ntargets))
    return false;
  scratch.clear();
  for (std::uint8_t k = 0; k < ntargets; ++k) {
    target_set::target t{};
    // Ascending and distinct, as written.
    if (!r.get_bytes(t.address.data(), t.address.size()) || !r.get(t.count) ||
        (k != 0 && std::memcmp(scratch.back().address.data(), t.address.data(), 16) >= 0))
      return false;
    scratch.push_back(t);
  }
  restore(events, counts, scratch, truncated != 0, max_targets);
  return true;
}

}  // namespace portscand
