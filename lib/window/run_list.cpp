#include "window/run_list.hpp"

#include <algorithm>
#include <cstring>
#include <memory>

namespace portscand {

void run_labels::release() noexcept {
  if (word_ != 0 && !is_inline()) ::operator delete(heap());
  word_ = 0;
}

void run_labels::to_heap(timestamp_us run_first) {
  const bool had_inline = is_inline();
  const label_id id = inline_id();
  void* mem = ::operator new(block_bytes(2));
  auto* b = ::new (mem) block{0, 2};
  word_ = static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(b));
  if (had_inline) push({id, run_first});
}

void run_labels::push(seen x) {
  block* b = heap();
  if (b->size == b->cap) {
    const std::uint32_t cap = b->cap * 2;
    void* mem = ::operator new(block_bytes(cap));
    auto* grown = ::new (mem) block{b->size, cap};
    std::memcpy(grown->items(), b->items(), std::size_t{b->size} * sizeof(seen));
    ::operator delete(b);
    word_ = static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(grown));
    b = grown;
  }
  b->items()[b->size++] = x;
}

void run_labels::insert(label_id id, timestamp_us t, timestamp_us run_first) {
  if (word_ == 0) {
    // Inline when the label's time is (or becomes) the run's first.
    if (t <= run_first) {
      word_ = inline_word(id);
      return;
    }
    to_heap(run_first);
  } else if (is_inline()) {
    // The same label: its time stays the run's first, min(run_first, t).
    if (id == inline_id()) return;
    to_heap(run_first);
  }
  block* b = heap();
  seen* items = b->items();
  for (std::uint32_t i = 0; i < b->size; ++i)
    if (items[i].id == id) {
      items[i].first = std::min(items[i].first, t);
      return;
    }
  if (b->size < max_kept) push({id, t});
}

void run_labels::merge(run_labels& o, timestamp_us o_first, timestamp_us run_first) {
  // While this stays inline, every label taken is its own, and `first` tracks its time.
  timestamp_us first = run_first;
  o.for_each(o_first, [&](const seen& x) {
    insert(x.id, x.first, first);
    first = std::min(first, x.first);
  });
  // An inline label's time must be the merged run's first; when `o` started before the
  // label was first seen (a run read from a checkpoint may), it keeps its own time.
  if (is_inline() && first != std::min(run_first, o_first)) {
    const label_id id = inline_id();
    word_ = 0;
    to_heap(first);
    push({id, first});
  }
  o.release();
}

void run_labels::settle(timestamp_us run_first) {
  if (word_ == 0 || is_inline()) return;
  const block* b = heap();
  if (b->size != 1 || b->items()[0].first != run_first) return;
  const label_id id = b->items()[0].id;
  release();
  word_ = inline_word(id);
}

void run_list::push_back(port_run&& r) {
  if (size_ == 0) {
    first_ = std::move(r);
    size_ = 1;
    return;
  }
  if (size_ - 1 == cap_) reallocate(cap_ < 4 ? cap_ + 1 : cap_ + cap_ / 2);
  heap_[size_ - 1] = std::move(r);
  ++size_;
}

void run_list::reallocate(std::uint32_t cap) {
  port_run* fresh = nullptr;
  if (cap > 0) {
    fresh = static_cast<port_run*>(::operator new (std::size_t{cap} * sizeof(port_run)));
    std::uninitialized_default_construct_n(fresh, cap);
    const std::uint32_t used = size_ > 0 ? size_ - 1 : 0;
    std::move(heap_, heap_ + std::min(used, cap), fresh);
  }
  free_heap();
  heap_ = fresh;
  cap_ = cap;
}

void run_list::free_heap() noexcept {
  if (heap_ == nullptr) return;
  std::destroy_n(heap_, cap_);
  ::operator delete(heap_);
  heap_ = nullptr;
  cap_ = 0;
}

void run_list::clear() noexcept {
  free_heap();
  first_ = port_run{};
  size_ = 0;
}

}  // namespace portscand
