#include "window/label_set.hpp"

#include <algorithm>
#include <bit>

namespace portscand {

std::uint8_t label_set::capacity_for(std::uint8_t size) noexcept {
  return static_cast<std::uint8_t>(std::max<unsigned>(4, std::bit_ceil(unsigned{size})));
}

void label_set::release() noexcept {
  if (size_ > inline_capacity) delete[] heap();
  size_ = 0;
}

void label_set::insert(label_id id, const label_table& table) {
  if (size_ <= inline_capacity) {
    label_id ids[inline_capacity];
    std::memcpy(ids, storage_, sizeof ids);
    // The common case: the key already has this label (one device reports a source).
    for (std::uint8_t i = 0; i < size_; ++i)
      if (ids[i] == id) return;
    const std::string_view s = table.view(id);
    std::uint8_t pos = 0;
    while (pos < size_ && table.view(ids[pos]) < s) ++pos;
    if (size_ < inline_capacity) {
      std::memmove(ids + pos + 1, ids + pos, sizeof(label_id) * (size_ - pos));
      ids[pos] = id;
      std::memcpy(storage_, ids, sizeof ids);
      ++size_;
      return;
    }
    auto* grown = new label_id[capacity_for(size_ + 1)];
    std::copy(ids, ids + pos, grown);
    grown[pos] = id;
    std::copy(ids + pos, ids + size_, grown + pos + 1);
    set_heap(grown);
    ++size_;
    return;
  }
  label_id* ids = heap();
  for (std::uint8_t i = 0; i < size_; ++i)
    if (ids[i] == id) return;
  const std::string_view s = table.view(id);
  const auto pos = static_cast<std::uint8_t>(
      std::lower_bound(ids, ids + size_, s,
                       [&table](label_id a, std::string_view b) { return table.view(a) < b; }) -
      ids);
  if (size_ == max_kept) {
    if (pos == size_) return;  // larger than every kept label: not among the first max_kept
    --size_;                   // drop the largest to make room
  } else if (size_ == capacity_for(size_)) {
    auto* grown = new label_id[capacity_for(static_cast<std::uint8_t>(size_ + 1))];
    std::copy(ids, ids + size_, grown);
    delete[] ids;
    set_heap(grown);
    ids = grown;
  }
  std::memmove(ids + pos + 1, ids + pos, sizeof(label_id) * (size_ - pos));
  ids[pos] = id;
  ++size_;
}

void label_set::first(std::size_t limit, const label_table& table,
                      std::vector<std::string>& out) const {
  out.clear();
  label_id inline_ids[inline_capacity];
  const label_id* ids = inline_ids;
  if (size_ > inline_capacity)
    ids = heap();
  else
    std::memcpy(inline_ids, storage_, sizeof inline_ids);
  for (std::uint8_t i = 0; i < size_ && out.size() < limit; ++i)
    out.emplace_back(table.view(ids[i]));
}

void label_set::ids(std::vector<label_id>& out) const {
  out.clear();
  if (size_ > inline_capacity) {
    const label_id* h = heap();
    out.assign(h, h + size_);
    return;
  }
  label_id inline_ids[inline_capacity];
  std::memcpy(inline_ids, storage_, sizeof inline_ids);
  out.assign(inline_ids, inline_ids + size_);
}

std::size_t label_set::heap_bytes() const noexcept {
  return size_ > inline_capacity ? capacity_for(size_) * sizeof(label_id) : 0;
}

}  // namespace portscand
