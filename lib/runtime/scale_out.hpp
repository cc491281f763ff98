#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "config/config.hpp"
#include "core/log.hpp"
#include "core/metrics.hpp"
#include "ingest/kafka_source.hpp"
#include "runtime/engine.hpp"

struct rd_kafka_s;

namespace portscand {

// Scale-out through Kafka (README "Scale-out", lib/runtime/README.md): stage 1 on every
// instance forwards the records its inputs parsed to the by-source topic; stage 2 consumes
// that topic as a group member into a partitioned engine. The pieces:
// - by_source_producer: the stage-1 forwarder (and the writer of ticks);
// - by_source_sink: the stage-2 consumer's sink (records and ticks to partition tasks);
// - scale_out_participants (in daemon.cpp's terms, a checkpoint_participants): commits.

// The producer of the by-source topic. Thread-safe: ingest threads forward records, the
// coordinator appends ticks; one thread serves librdkafka's delivery reports.
class by_source_producer final : public record_forwarder {
 public:
  by_source_producer(const scale_out_config& cfg, metrics_registry& metrics);
  ~by_source_producer() override;
  by_source_producer(const by_source_producer&) = delete;
  by_source_producer& operator=(const by_source_producer&) = delete;

  // Creates the producer and its thread, and the topic with the configured partitions if
  // it does not exist (Admin API; at most 30 s). Throws std::runtime_error on a
  // configuration problem or when the topic can neither be found nor created.
  void start();
  // Waits up to `timeout` for every message to be delivered, then stops the thread and
  // destroys the producer. Returns false when some were not delivered in time.
  bool stop(std::chrono::milliseconds timeout);

  bool forward(std::vector<network_session>& batch, bool block) override;
  // Appends a tick to one partition. Never blocks; false when it could not be queued.
  bool produce_tick(std::int32_t partition, const tick_record& tick);
  // Appends a sliding-window note to one partition; waits while the queue is full (a lost
  // note would hold every later resume point of the partition).
  void produce_note(std::int32_t partition, const note_record& note);
  // Appends this instance's mark to every partition (behind every record forwarded before
  // it). Never blocks; false when it could not be queued everywhere.
  bool produce_mark(const mark_record& mark);

  // Messages queued so far, and delivered so far (both only grow). A checkpoint commits
  // the inputs' offsets once everything queued before it has been delivered.
  std::uint64_t enqueued() const noexcept { return enqueued_.load(std::memory_order_acquire); }
  std::uint64_t delivered() const noexcept { return delivered_.load(std::memory_order_acquire); }
  // False once a message failed for good (it is lost to the topic: no commit may claim it).
  bool healthy() const noexcept { return !failed_.load(std::memory_order_acquire); }
  std::int32_t partitions() const noexcept { return partitions_; }
  // The partition count of any topic of these brokers (metadata of all topics, which
  // creates none); 0 when it does not exist or the brokers do not answer in 10 s.
  std::int32_t topic_partitions(const std::string& topic);

 private:
  struct callbacks;
  void on_delivery(int err, std::size_t bytes);
  void on_stats(std::string_view json);
  void ensure_topic();

  bool produce(const std::string& key, const std::string& value, std::int32_t partition,
               bool block);

  scale_out_config cfg_;
  metrics_registry& metrics_;
  rd_kafka_s* rk_ = nullptr;
  std::thread poller_;
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> enqueued_{0}, delivered_{0};
  std::atomic<bool> failed_{false};
  std::int32_t partitions_ = 0;
  counter* records_;
  counter* bytes_;
  counter* ticks_;
  counter* wire_bytes_;
  std::uint64_t wire_seen_ = 0;  // librdkafka's thread only
  counter* marks_;
  counter* notes_;
  counter* queue_full_;
  std::mutex log_mu_;
  rate_limited_log log_;
};

// The stage-2 consumer's sink: decodes session records into partition batches and ticks into
// task operations, in log order per partition, and keeps each task's life in step with the
// group's assignment. Consumer thread only, except as noted.
class by_source_sink final : public kafka_unit_sink {
 public:
  by_source_sink(engine& eng, timestamp_us bin_width, metrics_registry& metrics);

  bool wants_committed() const override { return true; }
  void on_assigned(std::vector<assigned_partition>& parts) override;
  void on_revoked(const std::vector<partition_key>& parts) override;
  void on_unit(std::string_view unit, const unit_meta& meta) override;
  void on_burst_end() override;
  bool try_flush() override;
  timestamp_us take_max_event_time() override;

  // Any thread. How far stage 1 has read, as the owned partitions' marks say: per partition
  // the smallest watermark of the live instances (last mark there not final, read less
  // than `expiry` ago); over partitions the smallest. nullopt (hold) while some owned
  // partition has no live instance, or its live instances together do not cover all
  // `input_partitions` Kafka input partitions (one nobody reads yet may hold the oldest
  // records of all).
  std::optional<timestamp_us> upstream_watermark(timestamp_us now, timestamp_us expiry,
                                                 std::size_t input_partitions) const;

 private:
  struct mark_state {
    timestamp_us watermark = INT64_MIN;
    bool final = false;
    timestamp_us read_at = 0;
    std::vector<std::string> covered;
  };
  struct filter {  // records below `end` count only for `bins` (see partition_resume)
    std::int64_t end = 0;
    std::vector<timestamp_us> bins;
  };
  struct partition {
    std::optional<filter> replay;
    std::int64_t next_offset = -1;  // after the last message handed on
    bool owned = false;             // assigned now (false: revoked, state kept for a return)
  };
  using item = std::variant<partition_batch, task_op>;

  void append(std::int32_t p, const network_session& s, std::int64_t offset);
  void queue_op(task_op op);
  void reject(std::string_view reason);

  engine& engine_;
  timestamp_us bin_width_;
  metrics_registry& metrics_;
  label_cache labels_;
  std::map<std::int32_t, partition> partitions_;
  mutable std::mutex marks_mu_;
  // Guarded. One entry per owned partition (empty until its first mark is read).
  std::map<std::int32_t, std::map<std::string, mark_state>> marks_;
  std::map<std::int32_t, partition_batch> open_batches_;
  std::vector<std::deque<item>> queued_;  // per shard, in order
  timestamp_us max_event_ = INT64_MIN;
  counter* received_;
  counter* replay_skipped_;
  counter* opened_;
  counter* resumed_;
  counter* no_metadata_;
  rate_limited_log log_;
};

}  // namespace portscand
