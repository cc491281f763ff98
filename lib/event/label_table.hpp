#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace portscand {

// Small interned strings: the "vendor/product" labels of ReportedBy and device names.
// Records carry a 4-byte id instead of a string, so records move between threads without
// allocating and window state stores a label in 4 bytes.
using label_id = std::uint32_t;

// Append-only, bounded interning table shared by all threads.
// - intern(): any thread (parsers); takes a mutex, so parsers cache recent ids (label_cache).
// - view(): any thread, lock-free; valid for every id that intern() returned, forever
//   (storage is never moved or freed). An id reaches a shard through its input queue, whose
//   synchronization publishes the string before the id.
// When `capacity` distinct strings exist, intern() returns overflow_id ("(other)") and counts it:
// a flood of random vendor names must not grow memory without bound.
class label_table {
 public:
  static constexpr label_id empty_id = 0;     // ""
  static constexpr label_id overflow_id = 1;  // "(other)"
  static constexpr std::size_t default_capacity = 1u << 16;

  explicit label_table(std::size_t capacity = default_capacity);
  ~label_table();
  label_table(const label_table&) = delete;
  label_table& operator=(const label_table&) = delete;

  label_id intern(std::string_view s);
  std::string_view view(label_id id) const noexcept;
  std::size_t size() const noexcept { return size_.load(std::memory_order_acquire); }
  std::uint64_t overflows() const noexcept { return overflows_.load(std::memory_order_relaxed); }

  // The process-wide table used by parsers and shards.
  static label_table& global();

 private:
  static constexpr std::size_t chunk_bits = 10;
  static constexpr std::size_t chunk_size = 1u << chunk_bits;
  static constexpr std::size_t max_chunks = 1u << 10;  // 1M labels at most, whatever capacity says

  struct chunk {
    std::array<std::string, chunk_size> strings;
  };

  std::size_t capacity_;
  std::mutex mu_;
  std::unordered_map<std::string, label_id> index_;  // guarded by mu_
  std::array<std::atomic<chunk*>, max_chunks> chunks_{};
  std::atomic<std::size_t> size_{0};
  std::atomic<std::uint64_t> overflows_{0};
};

// A per-thread memo in front of label_table::intern for the common case of a stream whose
// records repeat a few hundred labels: a direct-mapped cache keyed by the text's hash, so a
// hit costs one hash and one compare. Not thread-safe: one per parser instance.
class label_cache {
 public:
  explicit label_cache(label_table& table = label_table::global()) : table_(table) {}

  // Interns vendor + "/" + product (the ReportedBy label of SPEC §1).
  label_id reported_by(std::string_view vendor, std::string_view product);
  label_id get(std::string_view s);

 private:
  static constexpr std::size_t slots = 256;
  struct entry {
    std::string key;
    label_id id = 0;
    bool used = false;
  };
  label_id fill(entry& e, std::string_view key);

  label_table& table_;
  std::array<entry, slots> entries_{};
  std::string scratch_;
};

}  // namespace portscand
