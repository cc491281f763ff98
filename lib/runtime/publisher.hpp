#pragma once

#include <atomic>
#include <chrono>
#include <deque>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "core/metrics.hpp"
#include "publish/alert_output.hpp"
#include "runtime/bounded_queue.hpp"
#include "runtime/engine.hpp"

namespace portscand {

// Takes the alerts of every shard and hands them to every output, on its own thread.
// Nothing is dropped: an output that refuses (its bounded pending queue is full, the broker
// is away) keeps its own backlog here, retried every poll, of at most `max_backlog_batches`
// batches; when a backlog and the queue are full, shard threads wait in publish()
// (backpressure up to the inputs) and the daemon says so in logs and metrics
// (portscand_output_backlog_full).
class publisher final : public alert_sink {
 public:
  publisher(std::vector<std::unique_ptr<alert_output>> outputs, metrics_registry& metrics,
            std::size_t max_backlog_batches = 1024);
  ~publisher() override;

  void start();
  // Shard threads: queues a batch (waits while the queue is full).
  void publish(std::vector<alert>&& alerts) override;
  // Waits until everything handed over so far is confirmed by every output. For checkpoints:
  // a key marked alerted in a checkpoint must have its alert delivered.
  bool drain(std::chrono::milliseconds timeout);
  // Alert batches handed over so far, and how many of them every output has confirmed (for
  // the checkpoint protocol, which must not wait).
  std::uint64_t batches_received() const noexcept {
    return received_.load(std::memory_order_acquire);
  }
  std::uint64_t batches_confirmed() const noexcept {
    return confirmed_.load(std::memory_order_acquire);
  }
  // True while a shard waits in publish() because the queue is full: the shards are
  // stalled by the outputs (the outside world), not stuck.
  bool producers_blocked() const noexcept { return blocked_.load(std::memory_order_acquire) != 0; }
  // Stops the thread after a bounded drain; what is still undelivered is logged.
  void stop(std::chrono::milliseconds drain_timeout);
  bool healthy() const;

 private:
  void run();
  void deliver(std::vector<alert>&& batch);

  struct output_state {
    std::unique_ptr<alert_output> out;
    std::deque<std::vector<alert>> backlog;  // batches it refused, bounded by backlog_limit_
    gauge* full;
  };
  std::vector<output_state> outputs_;
  bounded_queue<std::vector<alert>> queue_;
  std::size_t backlog_limit_;
  // Batches received from the shards, and the count of those that every output had
  // confirmed at the publisher thread's last look (outputs are only ever touched by the
  // publisher thread; other threads read these).
  std::atomic<std::uint64_t> received_{0}, confirmed_{0};
  std::atomic<int> blocked_{0};
  std::atomic<bool> healthy_{true};
  std::atomic<bool> stop_{false};
  std::thread thread_;
  gauge* backlog_gauge_;
  // Publisher thread only: when the oldest batch not yet confirmed by every output arrived
  // (confirmation is all or nothing, so that is the first one after the last time all were
  // confirmed). An outage shows at once, not when librdkafka gives up on a message.
  std::optional<std::chrono::steady_clock::time_point> unconfirmed_since_;
  gauge* unconfirmed_age_;
};

}  // namespace portscand
