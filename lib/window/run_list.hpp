#pragma once

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <memory>
#include <new>
#include <utility>

#include "core/time.hpp"
#include "event/label_table.hpp"

namespace portscand {

// The labels of one activity run (lib/window/sliding_state.hpp), each with the time it was
// first seen in the run, so that an alert takes exactly the labels seen up to its crossing,
// whatever arrived after it (and so every copy of the alert carries the same ReportedBy). At
// most max_kept (beyond that a new label is not kept).
//
// 8 bytes. Almost every run has one label, first seen at the run's own first time (its
// first record carried it, and so did every earlier one that arrived late): that label is
// held inline as its id alone, and its time *is* the run's `first`, which the run passes in.
// Anything else (a second label, or a lone label first seen after the run's first record)
// is a heap array of (id, time). The run's `first` may only move down through insert() or
// merge(), which keep the inline form exact (a label that would not follow the run's first
// goes to the heap first).
class run_labels {
 public:
  static constexpr std::size_t max_kept = 64;
  struct seen {
    label_id id;
    timestamp_us first;
  };

  run_labels() = default;
  run_labels(const run_labels&) = delete;
  run_labels& operator=(const run_labels&) = delete;
  run_labels(run_labels&& o) noexcept : word_(std::exchange(o.word_, 0)) {}
  run_labels& operator=(run_labels&& o) noexcept {
    if (this != &o) {
      release();
      word_ = std::exchange(o.word_, 0);
    }
    return *this;
  }
  ~run_labels() { release(); }

  // Adds label `id` seen at `t` to a run whose first time is `run_first` *before* t is
  // added; the run's first becomes min(run_first, t) afterwards.
  void insert(label_id id, timestamp_us t, timestamp_us run_first);
  // Takes the labels of `o` (a run whose first time is `o_first`) into this run (first time
  // `run_first`); the merged run's first is min(run_first, o_first). Empties `o`.
  void merge(run_labels& o, timestamp_us o_first, timestamp_us run_first);
  // Back to the inline form where it applies (one label, seen at `run_first`): for labels
  // read from a checkpoint, which go in one at a time in any order.
  void settle(timestamp_us run_first);

  template <typename Fn>
  void for_each(timestamp_us run_first, Fn fn) const {
    if (word_ == 0) return;
    if (is_inline()) return fn(seen{inline_id(), run_first});
    const block* b = heap();
    for (std::uint32_t i = 0; i < b->size; ++i) fn(b->items()[i]);
  }
  bool empty() const noexcept { return word_ == 0; }
  bool is_inline() const noexcept { return (word_ & 1) != 0; }
  std::size_t heap_bytes() const noexcept {
    return word_ != 0 && !is_inline() ? block_bytes(heap()->cap) : 0;
  }

 private:
  // The heap form: one allocation, this header and then `cap` entries, `size` in use, in
  // the order first seen (capacities 2, 4, 8, ... max_kept).
  struct block {
    std::uint32_t size;
    std::uint32_t cap;
    seen* items() noexcept { return reinterpret_cast<seen*>(this + 1); }
    const seen* items() const noexcept { return reinterpret_cast<const seen*>(this + 1); }
  };
  static_assert(sizeof(block) % alignof(seen) == 0);
  static std::size_t block_bytes(std::uint32_t cap) noexcept {
    return sizeof(block) + std::size_t{cap} * sizeof(seen);
  }

  // 0: no label; odd: (id << 1) | 1, inline; otherwise an owned block*.
  std::uint64_t word_ = 0;

  label_id inline_id() const noexcept { return static_cast<label_id>(word_ >> 1); }
  static std::uint64_t inline_word(label_id id) noexcept { return std::uint64_t{id} << 1 | 1; }
  block* heap() const noexcept {
    return reinterpret_cast<block*>(static_cast<std::uintptr_t>(word_));
  }
  void to_heap(timestamp_us run_first);  // the inline label (or none) becomes a heap array
  void push(seen x);                     // appends to the heap array (below max_kept)
  void release() noexcept;
};

// One activity run of a port: a maximal set of the port's records whose consecutive times are
// at most the width apart. 32 bytes.
struct port_run {
  timestamp_us first = 0;
  timestamp_us last = 0;
  std::uint32_t events = 0;  // saturating; 0 marks a run merged into another (dead)
  std::uint16_t port = 0;
  run_labels labels;  // the vendor/product labels of the run's records (times: see run_labels)
};
static_assert(sizeof(port_run) == 32);

// The runs of one source: a small vector whose first run lives inline (in the source's table
// entry) and whose others live in one heap array, grown one run at a time up to 4 (benign
// sources have 1-3 ports; doubling would leave a third of the slots empty) and by half
// beyond. A source with one run allocates nothing. Not contiguous: index it, or iterate.
class run_list {
 public:
  run_list() = default;
  run_list(const run_list&) = delete;
  run_list& operator=(const run_list&) = delete;
  run_list(run_list&& o) noexcept
      : first_(std::move(o.first_)),
        heap_(std::exchange(o.heap_, nullptr)),
        size_(std::exchange(o.size_, 0)),
        cap_(std::exchange(o.cap_, 0)) {}
  run_list& operator=(run_list&& o) noexcept {
    if (this != &o) {
      free_heap();
      first_ = std::move(o.first_);
      heap_ = std::exchange(o.heap_, nullptr);
      size_ = std::exchange(o.size_, 0);
      cap_ = std::exchange(o.cap_, 0);
    }
    return *this;
  }
  ~run_list() { free_heap(); }

  std::uint32_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }
  // Heap slots, in runs (the inline one not counted).
  std::uint32_t heap_capacity() const noexcept { return cap_; }
  std::size_t heap_bytes() const noexcept { return std::size_t{cap_} * sizeof(port_run); }

  port_run& operator[](std::uint32_t i) noexcept { return i == 0 ? first_ : heap_[i - 1]; }
  const port_run& operator[](std::uint32_t i) const noexcept {
    return i == 0 ? first_ : heap_[i - 1];
  }

  void push_back(port_run&& r);
  // Keeps the runs for which keep(run) is true, in order; calls keep once per run, in
  // order. Gives back heap space that is more than twice what is left (plus 4 runs).
  template <typename Keep>
  void retain_if(Keep keep) {
    std::uint32_t out = 0;
    for (std::uint32_t i = 0; i < size_; ++i) {
      port_run& r = (*this)[i];
      if (!keep(static_cast<const port_run&>(r))) continue;
      if (out != i) (*this)[out] = std::move(r);
      ++out;
    }
    for (std::uint32_t i = out; i < size_; ++i) (*this)[i] = port_run{};
    size_ = out;
    const std::uint32_t on_heap = size_ > 0 ? size_ - 1 : 0;
    if (cap_ > 2 * on_heap + 4) reallocate(on_heap);
  }
  void clear() noexcept;

  template <bool Const>
  class basic_iterator {
   public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = port_run;
    using difference_type = std::ptrdiff_t;
    using reference = std::conditional_t<Const, const port_run&, port_run&>;
    using pointer = std::conditional_t<Const, const port_run*, port_run*>;
    using list_type = std::conditional_t<Const, const run_list, run_list>;

    basic_iterator() = default;
    basic_iterator(list_type* list, std::uint32_t i) : list_(list), i_(i) {}
    reference operator*() const { return (*list_)[i_]; }
    pointer operator->() const { return &(*list_)[i_]; }
    basic_iterator& operator++() {
      ++i_;
      return *this;
    }
    basic_iterator operator++(int) {
      basic_iterator old = *this;
      ++i_;
      return old;
    }
    bool operator==(const basic_iterator& o) const { return i_ == o.i_; }

   private:
    list_type* list_ = nullptr;
    std::uint32_t i_ = 0;
  };
  using iterator = basic_iterator<false>;
  using const_iterator = basic_iterator<true>;
  iterator begin() noexcept { return {this, 0}; }
  iterator end() noexcept { return {this, size_}; }
  const_iterator begin() const noexcept { return {this, 0}; }
  const_iterator end() const noexcept { return {this, size_}; }

 private:
  port_run first_;
  port_run* heap_ = nullptr;  // cap_ slots, all constructed; the first size_ - 1 in use
  std::uint32_t size_ = 0;
  std::uint32_t cap_ = 0;

  void reallocate(std::uint32_t cap);
  void free_heap() noexcept;
};

}  // namespace portscand
