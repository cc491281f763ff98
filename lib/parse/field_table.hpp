#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace portscand {

// One entry of a field_table: a field name and the id a parser gives it.
template <typename Id>
struct field_name {
  std::string_view name;
  Id id;
};

// A fixed set of field names, each mapped to an id, for the parsers that match a record's keys
// against the fields they read. Built at compile time (make_field_table); a lookup goes to the
// names of the key's length (a bucket, in the order the table lists them) and compares the
// first and last character before the whole name, so a key outside the set usually costs an
// index and one or two byte compares: what a hand-written `switch (key.size())` did.
// Names are non-empty, unique and at most max_name_size characters long (a table breaking
// this does not compile); the empty key and keys longer than every name are misses.
template <typename Id, std::size_t N>
class field_table {
 public:
  static constexpr std::size_t max_name_size = 63;

  // The id of `key`, or `none` (the table's miss value) when no name equals it.
  constexpr Id find(std::string_view key) const noexcept {
    const std::size_t n = key.size();
    if (n > longest_) return none_;
    for (std::size_t i = start_[n]; i < start_[n + 1]; ++i) {
      const std::string_view name = names_[i];
      if (name[0] == key[0] && name[n - 1] == key[n - 1] && name == key) return ids_[i];
    }
    return none_;
  }
  constexpr Id operator()(std::string_view key) const noexcept { return find(key); }
  constexpr Id none() const noexcept { return none_; }

  template <typename I, std::size_t M>
  friend consteval field_table<I, M> make_field_table(I none, const field_name<I> (&fields)[M]);

 private:
  consteval field_table() = default;

  std::array<std::string_view, N> names_{};  // by length, then in the order given
  std::array<Id, N> ids_{};
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
      t.names_[at] = fields[i].name;
      t.ids_[at] = fields[i].id;
      ++at;
    }
  }
  t.start_[field_table<Id, N>::max_name_size + 1] = static_cast<std::uint16_t>(at);
  return t;
}

}  // namespace portscand
