#pragma once

#include <atomic>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "config/config.hpp"
#include "core/clock.hpp"
#include "core/metrics.hpp"
#include "ingest/unit_sink.hpp"

struct rd_kafka_s;

namespace portscand {

// Identifies one Kafka partition of one input.
struct partition_key {
  std::string topic;
  std::int32_t partition = 0;
  auto operator<=>(const partition_key&) const = default;
};

// What the coordinator learns from a partition: the largest event time of the records that
// are already in the shard queues, and when it last delivered any (for idleness).
struct partition_progress {
  timestamp_us max_event = INT64_MIN;
  timestamp_us last_active = INT64_MIN;
  std::int64_t next_offset = -1;  // the offset after the last message handed to the sink
  std::int64_t high_watermark = -1;  // the broker's end of the partition, for the lag metric
  bool assigned = false;
  bool at_end = false;  // reached the end of the partition since it was assigned
};

// A Kafka consumer-group input: one consumer thread, which parses on its own thread (through
// its unit_sink) and feeds the shards. Offsets are never auto-committed: commit() commits
// what a checkpoint covers.
//
// The sink used here must support a non-blocking flush (kafka_unit_sink): when the shards'
// queues are full the consumer pauses its partitions, keeps serving the group protocol, and
// resumes once the batches are queued (backpressure without leaving the group).
class kafka_unit_sink : public unit_sink {
 public:
  // Pushes partial batches without waiting; false when a shard queue is full.
  virtual bool try_flush() = 0;
  // The largest event time of the records routed since the last call (INT64_MIN if none).
  virtual timestamp_us take_max_event_time() = 0;
};

class kafka_source {
 public:
  kafka_source(std::string name, const kafka_input_config& cfg, std::unique_ptr<kafka_unit_sink> sink,
               metrics_registry& metrics, const clock& clk);
  ~kafka_source();
  kafka_source(const kafka_source&) = delete;
  kafka_source& operator=(const kafka_source&) = delete;

  // Offsets to start from (a checkpoint's): used for these partitions when they are
  // assigned, instead of the group's committed offsets.
  void set_start_offsets(std::map<partition_key, std::int64_t> offsets);

  // Creates the consumer and starts its thread. Throws std::runtime_error with librdkafka's
  // message on a configuration problem (startup only).
  void start();
  // Stops consuming: joins the thread after it pushed what it holds to the shards. The
  // consumer stays open so that a final checkpoint can read and commit the offsets.
  void halt();
  // halt(), then closes the consumer (leaving the group).
  void stop();

  // Called by the coordinator: waits until the consumer thread has pushed everything it
  // consumed, then returns every assigned partition's next offset (what a checkpoint taken
  // now covers). Empty optional if the thread did not answer within timeout.
  std::optional<std::map<partition_key, std::int64_t>> snapshot_offsets(std::chrono::milliseconds timeout);
  // Commits these offsets to the group (asynchronously, on the consumer thread).
  void commit(std::map<partition_key, std::int64_t> offsets);

  std::map<partition_key, partition_progress> progress() const;
  const std::string& name() const noexcept { return name_; }
  bool healthy() const noexcept { return healthy_.load(std::memory_order_relaxed); }
  // True while the group has given this member no partition (joining, rebalancing, or the
  // coordinator is away).
  bool unassigned() const;

 private:
  void run();
  void flush_blocking_with_pause();
  void on_rebalance(int err, void* partitions);
  static void rebalance_cb(rd_kafka_s* rk, int err, void* partitions, void* opaque);

  std::string name_;
  kafka_input_config cfg_;
  std::unique_ptr<kafka_unit_sink> sink_;
  metrics_registry& metrics_;
  const clock& clock_;
  rd_kafka_s* rk_ = nullptr;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> healthy_{false};

  mutable std::mutex mu_;  // guards everything below
  std::map<partition_key, partition_progress> progress_;
  std::map<partition_key, std::int64_t> start_offsets_;
  std::vector<std::promise<std::map<partition_key, std::int64_t>>> snapshot_requests_;
  std::vector<std::map<partition_key, std::int64_t>> commit_requests_;

  // Consumer-thread only: max event time per partition since the last flush.
  std::map<partition_key, timestamp_us> pending_max_;
  counter* messages_ = nullptr;
  counter* errors_ = nullptr;
  counter* pauses_ = nullptr;
};

}  // namespace portscand
