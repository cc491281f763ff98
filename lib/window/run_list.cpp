#include "window/run_list.hpp"

#include <algorithm>
#include <memory>

namespace portscand {

void run_labels::release() noexcept {
  if (word_ != 0 && !is_inline()) delete heap();
  word_ = 0;
}

void run_labels::to_heap(timestamp_us run_first) {
  auto v = std::make_unique<std::vector<seen>>();
  if (is_inline()) v->push_back({inline_id(), run_first});
  word_ = static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(v.release()));
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
  std::vector<seen>& v = *heap();
  for (seen& x : v)
    if (x.id == id) {
      x.first = std::min(x.first, t);
      return;
    }
  if (v.size() < max_kept) v.push_back({id, t});
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
    heap()->push_back({id, first});
  }
  o.release();
}

void run_labels::settle(timestamp_us run_first) {
  if (word_ == 0 || is_inline()) return;
  const std::vector<seen>& v = *heap();
  if (v.size() != 1 || v.front().first != run_first) return;
  const label_id id = v.front().id;
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
