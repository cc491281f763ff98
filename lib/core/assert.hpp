#pragma once

// Broken invariants (a bug in portscand, never bad input): checked in every build type,
// release included, and fatal with a message naming the place.
namespace portscand::detail {
[[noreturn]] void assert_fail(const char* expr, const char* msg, const char* file,
                              int line) noexcept;
}

#define PORTSCAND_ASSERT(cond, msg)                                       \
  do {                                                                    \
    if (!(cond)) [[unlikely]]                                             \
      ::portscand::detail::assert_fail(#cond, (msg), __FILE__, __LINE__); \
  } while (false)
