#pragma once

#include <exception>
#include <utility>

namespace portscand {

// Ends the process after a thread failed: one critical log line naming the thread and the
// error, the log flushed, exit status 1. Callable from any thread.
[[noreturn]] void thread_failed(const char* thread, const char* what) noexcept;

// Every thread of portscand runs its body through guarded(). An exception escaping a
// thread is a bug or an environment fault nobody handled; std::terminate would end the
// process without a line in the log. Exit status 1 (never 3, which means an invalid
// configuration) makes systemd restart the service (Restart=on-failure), and it resumes from
// its last checkpoint: offsets are committed only as far as checkpoints reach, so nothing
// accepted from Kafka is lost. The process does not try a graceful stop: a dead shard or
// publisher would never answer it.
template <typename F>
auto guarded(const char* thread, F&& fn) {
  return [thread, fn = std::forward<F>(fn)]() mutable noexcept {
    try {
      fn();
    } catch (const std::exception& e) {
      thread_failed(thread, e.what());
    } catch (...) {
      thread_failed(thread, "an exception that is not a std::exception");
    }
  };
}

}  // namespace portscand
