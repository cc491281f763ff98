#include "window/port_set.hpp"

#include <algorithm>
#include <bit>

namespace portscand {

std::uint32_t port_set::array_capacity(std::uint32_t size) noexcept {
  return std::max<std::uint32_t>(8, std::bit_ceil(size));
}

void port_set::release() noexcept {
  if (size_ > bitmap_threshold)
    delete[] u_.bitmap;
  else if (size_ > inline_capacity)
    delete[] u_.array;
  size_ = 0;
}

bool port_set::contains(std::uint16_t port) const noexcept {
  if (size_ > bitmap_threshold) return (u_.bitmap[port >> 6] >> (port & 63)) & 1u;
  const std::uint16_t* begin = size_ > inline_capacity ? u_.array : u_.inline_ports;
  return std::binary_search(begin, begin + size_, port);
}

bool port_set::insert(std::uint16_t port) {
  if (size_ > bitmap_threshold) {
    std::uint64_t& word = u_.bitmap[port >> 6];
    const std::uint64_t bit = std::uint64_t{1} << (port & 63);
    if (word & bit) return false;
    word |= bit;
    ++size_;
    return true;
  }
  if (size_ < inline_capacity) {
    std::uint16_t* p = u_.inline_ports;
    std::uint16_t* pos = std::lower_bound(p, p + size_, port);
    if (pos != p + size_ && *pos == port) return false;
    std::memmove(pos + 1, pos, static_cast<std::size_t>(p + size_ - pos) * sizeof(std::uint16_t));
    *pos = port;
    ++size_;
    return true;
  }
  if (size_ == inline_capacity) {
    std::uint16_t* p = u_.inline_ports;
    if (std::binary_search(p, p + size_, port)) return false;
    auto* array = new std::uint16_t[array_capacity(size_ + 1)];
    std::memcpy(array, p, size_ * sizeof(std::uint16_t));
    u_.array = array;
    // fall through to the array tier with size_ == inline_capacity
  }
  std::uint16_t* a = u_.array;
  std::uint16_t* pos = std::lower_bound(a, a + size_, port);
  if (pos != a + size_ && *pos == port) return false;
  if (size_ == bitmap_threshold) {
    auto* bitmap = new std::uint64_t[1024]();
    for (std::uint32_t i = 0; i < size_; ++i) bitmap[a[i] >> 6] |= std::uint64_t{1} << (a[i] & 63);
    bitmap[port >> 6] |= std::uint64_t{1} << (port & 63);
    delete[] a;
    u_.bitmap = bitmap;
    ++size_;
    return true;
  }
  if (size_ > inline_capacity && size_ == array_capacity(size_)) {
    auto* grown = new std::uint16_t[array_capacity(size_ + 1)];
    const auto offset = pos - a;
    std::memcpy(grown, a, size_ * sizeof(std::uint16_t));
    delete[] a;
    a = u_.array = grown;
    pos = a + offset;
  }
  std::memmove(pos + 1, pos, static_cast<std::size_t>(a + size_ - pos) * sizeof(std::uint16_t));
  *pos = port;
  ++size_;
  return true;
}

void port_set::first(std::uint32_t limit, std::vector<std::uint16_t>& out) const {
  out.clear();
  if (size_ > bitmap_threshold) {
    for (std::uint32_t w = 0; w < 1024 && out.size() < limit; ++w) {
      std::uint64_t bits = u_.bitmap[w];
      while (bits != 0 && out.size() < limit) {
        out.push_back(
            static_cast<std::uint16_t>(w * 64 + static_cast<unsigned>(std::countr_zero(bits))));
        bits &= bits - 1;
      }
    }
    return;
  }
  const std::uint16_t* begin = size_ > inline_capacity ? u_.array : u_.inline_ports;
  out.assign(begin, begin + std::min(size_, limit));
}

std::size_t port_set::heap_bytes() const noexcept {
  if (size_ > bitmap_threshold) return 8192;
  if (size_ > inline_capacity) return array_capacity(size_) * sizeof(std::uint16_t);
  return 0;
}

}  // namespace portscand
