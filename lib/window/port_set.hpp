#pragma once

#include <cstdint>
#include <cstring>
#include <vector>

namespace portscand {

// The exact set of distinct destination ports of one (source, bin) key, in 12 bytes.
// Most keys see 1-3 ports and a scanner sees thousands, so the representation grows in
// three tiers, each chosen by the size alone (no tag byte):
//   size <= 4        four ports inline, sorted;
//   size <= 4096     a sorted heap array, capacity = next power of two >= size (min 8);
//   size >  4096     a 65,536-bit bitmap (8 KiB), which is smaller than the array from here on.
// Not thread-safe: owned by one shard. Packed to 4-byte alignment so that it costs 12 bytes
// inside key_state (the pointer member is read with unaligned loads, which x86-64 and
// AArch64 do at full speed).
class __attribute__((packed, aligned(4))) port_set {
 public:
  static constexpr std::uint32_t inline_capacity = 4;
  static constexpr std::uint32_t bitmap_threshold = 4096;

  port_set() noexcept { std::memset(u_.inline_ports, 0, sizeof u_.inline_ports); }
  ~port_set() { release(); }
  port_set(const port_set&) = delete;
  port_set& operator=(const port_set&) = delete;
  port_set(port_set&& o) noexcept : size_(o.size_) {
    std::memcpy(&u_, &o.u_, sizeof u_);
    o.size_ = 0;
  }
  port_set& operator=(port_set&& o) noexcept {
    if (this != &o) {
      release();
      std::memcpy(&u_, &o.u_, sizeof u_);
      size_ = o.size_;
      o.size_ = 0;
    }
    return *this;
  }

  // Returns true when the port was not in the set.
  bool insert(std::uint16_t port);
  bool contains(std::uint16_t port) const noexcept;
  std::uint32_t size() const noexcept { return size_; }

  // The first `limit` ports in ascending order.
  void first(std::uint32_t limit, std::vector<std::uint16_t>& out) const;

  // Heap bytes owned (for the state-size metric and the memory benchmark).
  std::size_t heap_bytes() const noexcept;

 private:
  static std::uint32_t array_capacity(std::uint32_t size) noexcept;
  void release() noexcept;

  union {
    std::uint16_t inline_ports[inline_capacity];
    std::uint16_t* array;
    std::uint64_t* bitmap;
  } u_;
  std::uint32_t size_ = 0;
};

}  // namespace portscand
