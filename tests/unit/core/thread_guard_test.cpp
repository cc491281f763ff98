#include "core/thread_guard.hpp"

#include <gtest/gtest.h>

#include <stdexcept>
#include <thread>

#include "core/log.hpp"

namespace portscand {
namespace {

// Before the guard, an exception escaping a thread called std::terminate: SIGABRT and no
// line in the log. Now: a line naming the thread and the error, and exit status 1 (which
// systemd restarts; 3 would mean an invalid configuration and stop the service for good).
TEST(thread_guard, an_exception_escaping_a_thread_is_logged_and_exits_with_status_1) {
  EXPECT_EXIT(
      {
        init_logging("info");
        std::thread t(guarded("shard", [] { throw std::runtime_error("state table corrupt"); }));
        t.join();
      },
      ::testing::ExitedWithCode(1), "thread shard failed: state table corrupt");
}

TEST(thread_guard, a_foreign_exception_is_named_too) {
  EXPECT_EXIT(
      {
        init_logging("info");
        std::thread t(guarded("publisher", [] { throw 42; }));
        t.join();
      },
      ::testing::ExitedWithCode(1),
      "thread publisher failed: an exception that is not a std::exception");
}

TEST(thread_guard, a_body_that_returns_normally_is_untouched) {
  int runs = 0;
  std::thread t(guarded("file-input", [&runs] { ++runs; }));
  t.join();
  EXPECT_EQ(runs, 1);
}

}  // namespace
}  // namespace portscand
