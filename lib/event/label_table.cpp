#include "event/label_table.hpp"

#include <algorithm>

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

label_id label_cache::get(std::string_view s) {
  for (const auto& e : entries_)
    if (e.key.size() == s.size() && e.key == s && (e.id != 0 || s.empty())) return e.id;
  const label_id id = table_.intern(s);
  entry& e = entries_[next_];
  next_ = (next_ + 1) % slots;
  e.key.assign(s);
  e.id = id;
  return id;
}

label_id label_cache::reported_by(std::string_view vendor, std::string_view product) {
  scratch_.clear();
  scratch_.append(vendor);
  scratch_.push_back('/');
  scratch_.append(product);
  return get(scratch_);
}

}  // namespace portscand
