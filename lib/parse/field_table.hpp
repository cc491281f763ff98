#pragma once

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <type_traits>

namespace portscand {

// One entry of a field_table: a field name and the id a parser gives it.
template <typename Id>
struct field_name {
  std::string_view name;
  Id id;
};

// A fixed set of field names, each mapped to an id, for the parsers that match a record's keys
// against the fields they read. Built at compile time (make_field_table). A lookup goes to the
// names of the key's length (a bucket, in the order the table lists them) and compares the
// key's first and last word (8, 4 or for 1 to 3 characters the first, middle and last one)
// with each name's, kept in the table beside it: two loads of the key, then one compare per
// name (two for names of 8 characters or more), as the hand-written `switch (key.size())` of
// compares with constants did. Only names longer than 16 characters compare their middle too.
// Names are non-empty, unique and at most max_name_size characters long (a table breaking
// this does not compile); the empty key and keys longer than every name are misses.
template <typename Id, std::size_t N>
class field_table {
 public:
  static constexpr std::size_t max_name_size = 63;

  // The id of `key`, or `none` (the table's miss value) when no name equals it.
  constexpr Id find(std::string_view key) const noexcept {
    const std::size_t n = key.size();
    if (n > longest_ || n == 0) return none_;
    const words w = words_of(key.data(), n);
    for (std::size_t i = start_[n]; i < start_[n + 1]; ++i) {
      const entry& e = entries_[i];
      if (e.w.head == w.head &&
          (n < 8 ||
           (e.w.tail == w.tail && (n <= 16 || e.name.substr(8, n - 16) == key.substr(8, n - 16)))))
        return e.id;
    }
    return none_;
  }
  constexpr Id operator()(std::string_view key) const noexcept { return find(key); }
  constexpr Id none() const noexcept { return none_; }

  template <typename I, std::size_t M>
  friend consteval field_table<I, M> make_field_table(I none, const field_name<I> (&fields)[M]);

 private:
  struct words {
    std::uint64_t head = 0, tail = 0;
  };
  struct entry {
    words w;
    std::string_view name;
    Id id{};
  };

  consteval field_table() = default;

  // The bytes at p as a Word, as memcpy gives them (native byte order), at compile time too.
  template <typename Word>
  static constexpr Word load(const char* p) noexcept {
    if (std::is_constant_evaluated()) {
      Word w = 0;
      for (std::size_t i = 0; i < sizeof(Word); ++i) {
        const auto byte = static_cast<Word>(static_cast<unsigned char>(p[i]));
        w |= std::endian::native == std::endian::little ? byte << (8 * i)
                                                        : byte << (8 * (sizeof(Word) - 1 - i));
      }
      return w;
    }
    Word w;
    std::memcpy(&w, p, sizeof(Word));
    return w;
  }

  // The first and last word of p[0, n), n >= 1, overlapping when n < 16; below 8 characters
  // both fit the head (two 4-byte words, or the first, middle and last character), so a name
  // that short is one compare.
  static constexpr words words_of(const char* p, std::size_t n) noexcept {
    if (n >= 8) return {load<std::uint64_t>(p), load<std::uint64_t>(p + n - 8)};
    if (n >= 4)
      return {load<std::uint32_t>(p) | static_cast<std::uint64_t>(load<std::uint32_t>(p + n - 4))
                                           << 32,
              0};
    const auto byte = [p](std::size_t i) { return static_cast<unsigned char>(p[i]); };
    return {static_cast<std::uint64_t>(byte(0)) | static_cast<std::uint64_t>(byte(n / 2)) << 8 |
                static_cast<std::uint64_t>(byte(n - 1)) << 16,
            0};
  }

  std::array<entry, N> entries_{};  // by length, then in the order given
  // The names of length L are [start_[L], start_[L + 1]).
  std::array<std::uint16_t, max_name_size + 2> start_{};
  std::size_t longest_ = 0;
  Id none_{};
};

// The table of `fields`, whose misses are `none`. Fails to compile (a consteval function
// that throws) for an empty, over-long or duplicate name, or a name mapped to `none`.
template <typename Id, std::size_t N>
consteval field_table<Id, N> make_field_table(Id none, const field_name<Id> (&fields)[N]) {
  static_assert(N < 65536, "field_table: too many names");
  field_table<Id, N> t;
  t.none_ = none;
  for (std::size_t i = 0; i < N; ++i) {
    const std::string_view name = fields[i].name;
    if (name.empty()) throw "field_table: empty name";
    if (name.size() > field_table<Id, N>::max_name_size) throw "field_table: name too long";
    if (fields[i].id == none) throw "field_table: a name mapped to the miss value";
    for (std::size_t j = 0; j < i; ++j)
      if (fields[j].name == name) throw "field_table: duplicate name";
    if (name.size() > t.longest_) t.longest_ = name.size();
  }
  std::size_t at = 0;
  for (std::size_t len = 0; len <= field_table<Id, N>::max_name_size; ++len) {
    t.start_[len] = static_cast<std::uint16_t>(at);
    for (std::size_t i = 0; i < N; ++i) {
      if (fields[i].name.size() != len) continue;
      t.entries_[at].w = field_table<Id, N>::words_of(fields[i].name.data(), len);
      t.entries_[at].name = fields[i].name;
      t.entries_[at].id = fields[i].id;
      ++at;
    }
  }
  t.start_[field_table<Id, N>::max_name_size + 1] = static_cast<std::uint16_t>(at);
  return t;
}

}  // namespace portscand
