#include "window/target_set.hpp"

#include <algorithm>

namespace portscand {

namespace {

bool less(const std::array<std::uint8_t, 16>& a, const std::array<std::uint8_t, 16>& b) noexcept {
  return std::memcmp(a.data(), b.data(), 16) < 0;
}

std::uint32_t saturating_add(std::uint32_t a, std::uint32_t b) noexcept {
  return a > UINT32_MAX - b ? UINT32_MAX : a + b;
}

}  // namespace

void target_set::release() noexcept {
  if (capacity_ != 0) delete[] u_.heap;
  size_ = capacity_ = 0;
}

void target_set::add(const ip_address& dst, std::uint32_t limit) {
  // The common cases first: the key's one IPv4 target again, or its first.
  if (capacity_ == 0 && dst.is_v4() && limit != 0) {
    if (size_ == 1 && u_.one.v4 == dst.v4()) {
      if (u_.one.count != UINT32_MAX) ++u_.one.count;
      return;
    }
    if (size_ == 0) {
      u_.one.v4 = dst.v4();
      u_.one.count = 1;
      size_ = 1;
      return;
    }
  }
  insert(dst.bytes(), 1, limit);
}

void target_set::restore(const std::array<std::uint8_t, 16>& address, std::uint32_t count,
                         std::uint32_t limit) {
  if (capacity_ == 0 && size_ == 0 && limit != 0 && ip_address::from_v6(address).is_v4()) {
    u_.one.v4 = ip_address::from_v6(address).v4();
    u_.one.count = count;
    size_ = 1;
    return;
  }
  insert(address, count, limit);
}

void target_set::insert(const std::array<std::uint8_t, 16>& address, std::uint32_t count,
                        std::uint32_t limit) {
  limit = std::min(limit, max_limit);
  if (capacity_ == 0 && size_ == 1) {
    // Leave the inline form: the one target moves to the heap.
    const target first{ip_address::from_v4(u_.one.v4).bytes(), u_.one.count};
    if (first.address == address) {
      u_.one.count = saturating_add(u_.one.count, count);
      return;
    }
    auto* heap = new target[2];
    heap[0] = first;
    u_.heap = heap;
    capacity_ = 2;
  }
  target* begin = capacity_ != 0 ? u_.heap : nullptr;
  target* end = begin + size_;
  target* pos = std::lower_bound(begin, end, address,
                                 [](const target& t, const auto& a) { return less(t.address, a); });
  if (pos != end && pos->address == address) {
    pos->count = saturating_add(pos->count, count);
    return;
  }
  if (size_ >= limit) {
    // Full: a larger address is left out; a smaller one pushes out the largest.
    truncated_ = 1;
    if (pos == end || size_ == 0) return;
    std::move_backward(pos, end - 1, end);
    *pos = target{address, count};
    return;
  }
  if (size_ == capacity_) {
    const auto grown = static_cast<std::uint8_t>(
        std::min<std::uint32_t>(limit, capacity_ == 0 ? 2 : 2u * capacity_));
    auto* heap = new target[grown];
    const auto offset = pos - begin;
    std::copy(begin, end, heap);
    if (capacity_ != 0) delete[] u_.heap;
    u_.heap = heap;
    capacity_ = grown;
    begin = heap;
    end = begin + size_;
    pos = begin + offset;
  }
  std::move_backward(pos, end, end + 1);
  *pos = target{address, count};
  ++size_;
}

void target_set::list(std::vector<target>& out) const {
  out.clear();
  if (capacity_ == 0) {
    if (size_ == 1) out.push_back(target{ip_address::from_v4(u_.one.v4).bytes(), u_.one.count});
    return;
  }
  out.assign(u_.heap, u_.heap + size_);
}

}  // namespace portscand
