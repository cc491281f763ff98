#include "core/assert.hpp"

#include <cstdio>
#include <cstdlib>

namespace portscand::detail {

void assert_fail(const char* expr, const char* msg, const char* file, int line) noexcept {
  std::fprintf(stderr, "<2>portscand: invariant broken at %s:%d: %s (%s)\n", file, line, msg, expr);
  std::fflush(stderr);
  std::abort();
}

}  // namespace portscand::detail
