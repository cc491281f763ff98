#pragma once

#include <string>
#include <utility>
#include <variant>

#include "core/assert.hpp"

namespace portscand {

// What went wrong, for an operator: a message, and for bad input a short stable reason
// that becomes a metric label.
struct error {
  std::string message;
};

// A value or an error (std::expected is C++23; this is the subset the data path needs).
template <typename T>
class [[nodiscard]] result {
 public:
  result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
  result(error e) : v_(std::in_place_index<1>, std::move(e)) {}      // NOLINT: implicit by design

  bool ok() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }

  T& value() & {
    PORTSCAND_ASSERT(ok(), "result::value() on an error");
    return std::get<0>(v_);
  }
  T&& value() && {
    PORTSCAND_ASSERT(ok(), "result::value() on an error");
    return std::get<0>(std::move(v_));
  }
  const T& value() const& {
    PORTSCAND_ASSERT(ok(), "result::value() on an error");
    return std::get<0>(v_);
  }
  T* operator->() { return &value(); }
  T& operator*() & { return value(); }

  const error& err() const {
    PORTSCAND_ASSERT(!ok(), "result::err() on a value");
    return std::get<1>(v_);
  }

 private:
  std::variant<T, error> v_;
};

struct ok_t {};
using status = result<ok_t>;
inline status ok_status() {
  return ok_t{};
}

}  // namespace portscand
