#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <vector>

#include "core/ip_address.hpp"

namespace portscand {

// The destination addresses of one (source, bin) key with the records sent to each, in 12
// bytes. It keeps the `limit` smallest addresses (byte order of the 16-byte form, IPv4 as
// ::ffff:a.b.c.d) — a set that depends on the records alone, not on the order they came
// in, so that every copy of an alert (a restart, a re-read, a handover) names the same
// targets. An address that does not fit, or is pushed out by a smaller one, is never
// listed again (it is larger than every kept one from then on); `truncated()` says that
// some address is missing.
//   one IPv4 target   inline (address and count), no heap;
//   otherwise         a sorted heap array, capacity doubling up to the limit.
// Not thread-safe: owned by one shard. Packed like port_set (see there).
class __attribute__((packed, aligned(4))) target_set {
 public:
  static constexpr std::uint32_t max_limit = 255;

  struct target {
    std::array<std::uint8_t, 16> address;
    std::uint32_t count;
  };

  target_set() noexcept { std::memset(&u_, 0, sizeof u_); }
  ~target_set() { release(); }
  target_set(const target_set&) = delete;
  target_set& operator=(const target_set&) = delete;
  target_set(target_set&& o) noexcept
      : size_(o.size_), capacity_(o.capacity_), truncated_(o.truncated_) {
    std::memcpy(&u_, &o.u_, sizeof u_);
    o.size_ = o.capacity_ = 0;
  }
  target_set& operator=(target_set&& o) noexcept {
    if (this != &o) {
      release();
      std::memcpy(&u_, &o.u_, sizeof u_);
      size_ = o.size_;
      capacity_ = o.capacity_;
      truncated_ = o.truncated_;
      o.size_ = o.capacity_ = 0;
    }
    return *this;
  }

  // Counts one record to `dst` (saturating). `limit` (at most max_limit) is how many
  // addresses are kept; 0 keeps none.
  void add(const ip_address& dst, std::uint32_t limit);
  // Restores a target from a checkpoint (in any order; a repeated address adds up).
  void restore(const std::array<std::uint8_t, 16>& address, std::uint32_t count,
               std::uint32_t limit);
  void set_truncated() noexcept { truncated_ = 1; }

  std::uint32_t size() const noexcept { return size_; }
  bool truncated() const noexcept { return truncated_ != 0; }
  // The kept targets, ascending by address.
  void list(std::vector<target>& out) const;
  std::size_t heap_bytes() const noexcept { return capacity_ * sizeof(target); }

 private:
  void insert(const std::array<std::uint8_t, 16>& address, std::uint32_t count,
              std::uint32_t limit);
  void release() noexcept;

  union {
    struct __attribute__((packed)) {
      std::uint32_t v4;  // host order
      std::uint32_t count;
    } one;         // capacity_ == 0 && size_ == 1
    target* heap;  // capacity_ > 0
  } u_;
  std::uint8_t size_ = 0;
  std::uint8_t capacity_ = 0;
  std::uint8_t truncated_ = 0;
  std::uint8_t reserved_ = 0;
};

}  // namespace portscand
