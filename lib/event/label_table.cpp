#include "event/label_table.hpp"

#include <algorithm>
#include <cstring>

#include "core/assert.hpp"

namespace portscand {

label_table::label_table(std::size_t capacity)
    : capacity_(std::clamp<std::size_t>(capacity, 2, chunk_size * max_chunks)) {
  intern("");
  intern("(other)");
}

label_table::~label_table() {
  for (auto& c : chunks_) delete c.load(std::memory_order_relaxed);
}

label_table& label_table::global() {
  static label_table table;
  return table;
}

label_id label_table::intern(std::string_view s) {
  std::lock_guard lock(mu_);
  if (auto it = index_.find(std::string(s)); it != index_.end()) return it->second;
  const std::size_t n = size_.load(std::memory_order_relaxed);
  if (n >= capacity_) {
    overflows_.fetch_add(1, std::memory_order_relaxed);
    return overflow_id;
  }
  const std::size_t ci = n >> chunk_bits;
  chunk* c = chunks_[ci].load(std::memory_order_relaxed);
  if (c == nullptr) {
    c = new chunk();
    chunks_[ci].store(c, std::memory_order_release);
  }
  c->strings[n & (chunk_size - 1)] = std::string(s);
  const auto id = static_cast<label_id>(n);
  index_.emplace(std::string(s), id);
  size_.store(n + 1, std::memory_order_release);
  return id;
}

std::string_view label_table::view(label_id id) const noexcept {
  PORTSCAND_ASSERT(id < size_.load(std::memory_order_acquire), "label id never interned");
  const chunk* c = chunks_[id >> chunk_bits].load(std::memory_order_acquire);
  return c->strings[id & (chunk_size - 1)];
}

label_id label_cache::fill(entry& e, std::string_view key) {
  e.id = table_.intern(key);
  e.key.assign(key);
  e.used = true;
  return e.id;
}

namespace {
// A cache slot's hash: the length and up to 8 bytes from each end. Labels that differ only
// in the middle share a slot (a miss, never a wrong answer); hashing every byte of every
// label of every record cost more than those misses.
std::uint64_t quick_hash(std::string_view s) noexcept {
  std::uint64_t head = 0, tail = 0;
  const std::size_t n = s.size();
  if (n >= 8) {  // fixed-size loads: the first and the last 8 bytes (they overlap below 16)
    std::memcpy(&head, s.data(), 8);
    std::memcpy(&tail, s.data() + n - 8, 8);
  } else {
    for (std::size_t i = 0; i < n; ++i) head = head << 8 | static_cast<unsigned char>(s[i]);
  }
  const std::uint64_t h = (head * 0x9e3779b97f4a7c15ull) ^ (tail * 0xc2b2ae3d27d4eb4full) ^ n;
  return h ^ (h >> 29);
}
}  // namespace

label_id label_cache::get(std::string_view s) {
  entry& e = entries_[quick_hash(s) % slots];
  if (e.used && e.key == s) return e.id;
  return fill(e, s);
}

label_id label_cache::reported_by(std::string_view vendor, std::string_view product) {
  // Compared piecewise against the joined key: no string is built on a hit. The slot mixes
  // both hashes (another split of the same joined text may sit in another slot: harmless).
  const std::uint64_t h = quick_hash(vendor) * 31 + quick_hash(product);
  entry& e = entries_[(h ^ (h >> 17)) % slots];
  const std::string_view k = e.key;
  if (e.used && k.size() == vendor.size() + 1 + product.size() &&
      k.substr(0, vendor.size()) == vendor && k[vendor.size()] == '/' &&
      k.substr(vendor.size() + 1) == product)
    return e.id;
  scratch_.assign(vendor);
  scratch_.push_back('/');
  scratch_.append(product);
  return fill(e, scratch_);
}

}  // namespace portscand
