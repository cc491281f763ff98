#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
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
  // clang-tidy 14 takes the 0 of the comparison the compiler synthesizes for a literal.
  auto operator<=>(const partition_key&) const = default;  // NOLINT(modernize-use-nullptr)
};

// "topic/partition", as checkpoints and metrics name a partition.
std::string partition_name(const partition_key& k);
// The inverse; nullopt for a name that is not "topic/partition" with a partition number
// that fits (a damaged checkpoint must not throw).
std::optional<partition_key> parse_partition_name(std::string_view name);

// What the coordinator learns from a partition: the largest event time of the records that
// are already in the shard queues, and when it last delivered any (for idleness).
struct partition_progress {
  timestamp_us max_event = INT64_MIN;
  timestamp_us last_active = INT64_MIN;
  std::int64_t next_offset = -1;     // the offset after the last message handed to the sink
  std::int64_t high_watermark = -1;  // the broker's end of the partition, for the lag metric
  // The next offset to read since the latest assignment: the start chosen for it (a sink's
  // or a checkpoint's), then after each message or end of partition. -1: not known yet
  // (reading starts from the group's committed offset and nothing has been fetched).
  std::int64_t position = -1;
  bool assigned = false;
  bool at_end = false;  // reached the end of the partition since it was assigned
};

// Messages between the position and the partition end, for an assigned partition whose
// position and end are both known since its latest assignment; nullopt otherwise. A
// partition assigned with a start offset the daemon chose (a checkpoint's, a by-source
// partition's resume point) has its lag from the moment of the assignment: a re-read shows
// as lag before its first message arrives, never as 0.
std::optional<std::int64_t> consumer_lag(const partition_progress& p);

// Whether a consumer can fetch, judged from librdkafka's statistics (one JSON document every
// statistics.interval.ms): the group coordinator is joined and the leader broker of every
// assigned partition is connected. Error callbacks alone cannot tell: librdkafka reports a
// broker that refuses connections once and then retries silently, and an idle topic
// delivers no event that would say the consumer is fine again.
struct fetch_health {
  bool fetching = false;
  std::string reason;  // why not, for /readyz and the log; empty when fetching
};
fetch_health assess_consumer_stats(std::string_view stats_json,
                                   const std::set<partition_key>& assigned);

// Where a newly assigned partition starts. The checkpoint's offset is used once, on the
// partition's first assignment after start: re-applying it on every later rebalance re-read
// everything consumed since. A partition this process consumed before resumes after its
// last handed-over message (the shards hold those records). Otherwise nullopt: the group's
// committed offset, or auto.offset.reset.
class start_offset_policy {
 public:
  void set_checkpoint(std::map<partition_key, std::int64_t> offsets) {
    checkpoint_ = std::move(offsets);
  }
  std::optional<std::int64_t> on_assign(const partition_key& key, std::int64_t own_next_offset);

 private:
  std::map<partition_key, std::int64_t> checkpoint_;
};

// A Kafka consumer-group input: one consumer thread, which parses on its own thread (through
// its unit_sink) and feeds the shards. Offsets are never auto-committed: commit() commits
// what a checkpoint covers. Both rebalance protocols work: eager (range, roundrobin) and
// cooperative (cooperative-sticky, with incremental assign/unassign).
//
// The sink used here must support a non-blocking flush (kafka_unit_sink): when the shards'
// queues are full the consumer pauses its partitions, keeps serving the group protocol, and
// resumes once the batches are queued (backpressure without leaving the group).
//
// A sink whose partitions carry state (the scale-out stage 2) asks for wants_committed():
// on every assignment it then learns each partition's committed offset and the metadata
// committed with it, and says where the partition starts; and it hears of every revocation.
// Both are called on the consumer thread, inside the rebalance callback.
struct assigned_partition {
  partition_key key;
  bool committed_known = false;       // false: the committed offsets could not be read
  std::int64_t committed = -1;        // the group's committed offset; -1 when none
  std::string metadata;               // committed with it
  std::optional<std::int64_t> start;  // set by the sink; nullopt: committed or auto.offset.reset
};

class kafka_unit_sink : public unit_sink {
 public:
  virtual bool wants_committed() const { return false; }
  virtual void on_assigned(std::vector<assigned_partition>& /*parts*/) {}
  virtual void on_revoked(const std::vector<partition_key>& /*parts*/) {}
  // Pushes partial batches without waiting; false when a shard queue is full.
  virtual bool try_flush() = 0;
  // The largest event time of the records routed since the last call (INT64_MIN if none).
  virtual timestamp_us take_max_event_time() = 0;
};

class kafka_source {
 public:
  kafka_source(std::string name, const kafka_input_config& cfg,
               std::unique_ptr<kafka_unit_sink> sink, metrics_registry& metrics, const clock& clk);
  ~kafka_source();
  kafka_source(const kafka_source&) = delete;
  kafka_source& operator=(const kafka_source&) = delete;

  // Offsets to start from (a checkpoint's): used for these partitions on their first
  // assignment, instead of the group's committed offsets. Call before start().
  void set_start_offsets(std::map<partition_key, std::int64_t> offsets);

  // Creates the consumer and starts its thread. Throws std::runtime_error with librdkafka's
  // message on a configuration problem (startup only).
  void start();
  // Stops consuming: joins the thread after it pushed what it holds to the shards. The
  // consumer stays open so that a final checkpoint can read and commit the offsets.
  void halt();
  // halt(), then leaves the group (see leave_group) and closes the consumer.
  void stop();

  // Called by the coordinator: asks the consumer thread to push everything it consumed and
  // answer with every owned partition's next offset. Never blocks: the future is ready once
  // the thread has answered (at once when the thread is halted). After answering, the
  // thread consumes nothing more until release_offsets_hold() (or 5 s), so that a snapshot
  // barrier queued before the release covers exactly the records below the offsets.
  std::future<std::map<partition_key, std::int64_t>> request_offsets();
  void release_offsets_hold();
  // Commits these offsets to the group (asynchronously, on the consumer thread; at once
  // when halted), each with its metadata string if it has one.
  void commit(std::map<partition_key, std::int64_t> offsets,
              std::map<partition_key, std::string> metadata = {});

  std::map<partition_key, partition_progress> progress() const;
  const std::string& name() const noexcept { return name_; }
  // True while librdkafka's latest statistics say the consumer can fetch (see
  // assess_consumer_stats); false until the first statistics arrive.
  bool healthy() const noexcept { return healthy_.load(std::memory_order_relaxed); }
  // Why the consumer cannot fetch (empty when healthy).
  std::string health_reason() const;
  // True while the group has given this member no partition (joining, rebalancing, or the
  // coordinator is away).
  bool unassigned() const;

 private:
  struct callbacks;  // librdkafka's C callbacks, with their exact signatures
  void run();
  void flush_blocking_with_pause();
  void leave_group();
  void on_rebalance(int err, void* partitions);
  void on_stats(std::string_view json);
  void on_error(int err, const char* reason);
  struct pending_commit {
    std::map<partition_key, std::int64_t> offsets;
    std::map<partition_key, std::string> metadata;
  };
  void commit_now(const pending_commit& c, bool async);
  void read_committed(std::vector<assigned_partition>& parts);
  // Takes an rd_kafka_topic_partition_list_t (librdkafka's type stays out of this header).
  void read_partition_ends(const void* list);
  // Counts a failed librdkafka call by kind and logs it (rate-limited per kind).
  void count_error(const std::string& kind, const std::string& what);

  std::string name_;
  kafka_input_config cfg_;
  std::unique_ptr<kafka_unit_sink> sink_;
  metrics_registry& metrics_;
  const clock& clock_;
  rd_kafka_s* rk_ = nullptr;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> healthy_{false};
  std::atomic<bool> closing_{false};
  std::optional<bool> cooperative_;  // the protocol, as the last rebalance outside close said

  mutable std::mutex mu_;  // guards everything below
  bool running_ = false;   // the consumer thread serves requests (between start and halt)
  std::map<partition_key, partition_progress> progress_;
  start_offset_policy start_offsets_;
  std::string health_reason_ = "no statistics from the consumer yet";
  std::vector<std::promise<std::map<partition_key, std::int64_t>>> snapshot_requests_;
  std::uint64_t hold_requested_ = 0, hold_released_ = 0;
  std::condition_variable hold_cv_;
  std::vector<pending_commit> commit_requests_;
  std::map<std::string, std::chrono::steady_clock::time_point> last_error_log_;

  // Consumer-thread only: max event time per partition since the last flush.
  std::map<partition_key, timestamp_us> pending_max_;
  // Consumer-thread only: the position of each partition fetched from since its latest
  // assignment (its cached end of partition is from a fetch of this assignment).
  std::map<partition_key, std::int64_t> fetched_since_assign_;
  // Consumer-thread only: partitions assigned at a chosen offset that have not yet read up
  // to the end they had at the assignment, with that end and the time of the assignment.
  struct catch_up {
    std::int64_t end = 0;
    std::chrono::steady_clock::time_point since;
  };
  std::map<partition_key, catch_up> catching_up_;
  histogram* catch_up_seconds_ = nullptr;
  counter* messages_ = nullptr;
  counter* pauses_ = nullptr;
  gauge* up_ = nullptr;
};

}  // namespace portscand
