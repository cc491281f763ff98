#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <vector>

#include "core/binary_io.hpp"
#include "event/network_session.hpp"
#include "window/target_set.hpp"

namespace portscand {

// The records of a key by outcome (attempt_outcome): allowed, denied, dropped.
struct outcome_counts {
  std::uint32_t allowed = 0;
  std::uint32_t denied = 0;
  std::uint32_t dropped = 0;
};

// What an alert tells a case beyond the rule's columns, for one (source, bin) key: the
// outcome counts and the destination addresses with their attempts (target_set), in 9
// bytes. Almost every key is a benign source that sent every record to one IPv4 address
// with one outcome (or to none), so that case is held inline: the address and the outcome,
// whose counts are then the key's event count. The first record that breaks it moves the
// evidence to a heap block (the counts and a target_set). A key's evidence is read with its
// event count (`events`), which the inline form needs.
// Not thread-safe: owned by one shard. Packed like port_set.
class __attribute__((packed)) key_evidence {
 public:
  key_evidence() noexcept { u_.heap = nullptr; }
  ~key_evidence() { release(); }
  key_evidence(const key_evidence&) = delete;
  key_evidence& operator=(const key_evidence&) = delete;
  key_evidence(key_evidence&& o) noexcept : kind_(o.kind_) {
    std::memcpy(&u_, &o.u_, sizeof u_);
    o.kind_ = 0;
  }
  key_evidence& operator=(key_evidence&& o) noexcept {
    if (this != &o) {
      release();
      std::memcpy(&u_, &o.u_, sizeof u_);
      kind_ = o.kind_;
      o.kind_ = 0;
    }
    return *this;
  }

  // Counts one record; `prior` is the key's event count before it. `max_targets`: the
  // addresses kept (target_set's limit).
  void add(const network_session& r, std::uint32_t prior, std::uint32_t max_targets);
  // Restores what serialize wrote (outcomes(), targets(), truncated()) for a key of
  // `events` events.
  void restore(std::uint32_t events, const outcome_counts& counts,
               const std::vector<target_set::target>& targets, bool truncated,
               std::uint32_t max_targets);

  // Checkpoint encoding of what restore() takes (lib/window/README.md): the outcome counts,
  // the truncated flag and the targets, ascending. `scratch` is reused between keys. read()
  // refuses targets out of order or repeated, and restores with `max_targets`.
  void write(binary_writer& w, std::uint32_t events,
             std::vector<target_set::target>& scratch) const;
  bool read(binary_reader& r, std::uint32_t events, std::uint32_t max_targets,
            std::vector<target_set::target>& scratch);

  outcome_counts outcomes(std::uint32_t events) const noexcept;
  // The kept targets, ascending by address.
  void targets(std::uint32_t events, std::vector<target_set::target>& out) const;
  bool truncated() const noexcept;
  std::size_t heap_bytes() const noexcept;

 private:
  struct detail {
    outcome_counts counts;
    target_set targets;
  };
  // kind_: bits 0-1 the outcome of every record (inline); then the flags below.
  static constexpr std::uint8_t outcome_mask = 3;
  static constexpr std::uint8_t one_v4 = 4;            // every record went to u_.v4
  static constexpr std::uint8_t no_dst = 8;            // no record had a destination
  static constexpr std::uint8_t dropped_targets = 16;  // max_targets 0: some had one
  static constexpr std::uint8_t on_heap = 32;

  void spill(std::uint32_t prior, std::uint32_t max_targets);
  void release() noexcept;

  union {
    std::uint32_t v4;  // host order, with one_v4
    detail* heap;      // with on_heap
  } u_;
  std::uint8_t kind_ = 0;
};

}  // namespace portscand
