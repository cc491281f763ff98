#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "event/label_table.hpp"

namespace portscand {

// The ReportedBy labels of one key: distinct label ids kept in ascending byte order of
// their strings, at most max_kept. Only the smallest labels are kept, which is exact for
// ReportedBy (the first N in ascending order) as long as N <= max_kept. 8 bytes + 1:
// two labels inline (almost every key), a growing heap array beyond.
// Not thread-safe: owned by one shard; reads strings from the shared label_table.
// Packed (9 bytes) for the same reason as port_set.
class __attribute__((packed)) label_set {
 public:
  static constexpr std::uint8_t inline_capacity = 2;
  static constexpr std::uint8_t max_kept = 64;

  label_set() noexcept { std::memset(storage_, 0, sizeof storage_); }
  ~label_set() { release(); }
  label_set(const label_set&) = delete;
  label_set& operator=(const label_set&) = delete;
  label_set(label_set&& o) noexcept : size_(o.size_) {
    std::memcpy(storage_, o.storage_, sizeof storage_);
    o.size_ = 0;
  }
  label_set& operator=(label_set&& o) noexcept {
    if (this != &o) {
      release();
      std::memcpy(storage_, o.storage_, sizeof storage_);
      size_ = o.size_;
      o.size_ = 0;
    }
    return *this;
  }

  void insert(label_id id, const label_table& table);
  std::uint8_t size() const noexcept { return size_; }
  void first(std::size_t limit, const label_table& table, std::vector<std::string>& out) const;
  std::size_t heap_bytes() const noexcept;
  void ids(std::vector<label_id>& out) const;

 private:
  static std::uint8_t capacity_for(std::uint8_t size) noexcept;
  // The storage is unaligned (this class is packed), so ids and the pointer are only ever
  // read and written with memcpy.
  label_id* heap() const noexcept {
    label_id* p;
    std::memcpy(&p, storage_, sizeof p);
    return p;
  }
  void set_heap(label_id* p) noexcept { std::memcpy(storage_, &p, sizeof p); }
  void release() noexcept;

  unsigned char storage_[8];  // two inline label ids, or a label_id* to the heap array
  std::uint8_t size_ = 0;
};

}  // namespace portscand
