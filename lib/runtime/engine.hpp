#pragma once

#include <array>
#include <atomic>
#include <deque>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <variant>
#include <vector>

#include "config/config.hpp"
#include "core/clock.hpp"
#include "core/log.hpp"
#include "core/metrics.hpp"
#include "detect/evaluator.hpp"
#include "detect/rule.hpp"
#include "event/alert.hpp"
#include "event/session_record.hpp"
#include "parse/decoder.hpp"
#include "runtime/bounded_queue.hpp"
#include "window/shard_state.hpp"

namespace portscand {

// Receives the alerts of every shard. Called from shard threads: must be thread-safe.
class alert_sink {
 public:
  virtual ~alert_sink() = default;
  virtual void publish(std::vector<alert>&& alerts) = 0;
};

// Scale-out (engine_options::partitioned): every assigned partition of the by-source topic
// is a task with its own window state, owned by shard `partition % shards`. Its state is a
// function of the partition's log alone (records, and the ticks its owner appended), so a
// new owner that reads the log again from resume_point() rebuilds it exactly.
struct partition_task {
  explicit partition_task(const window_config& c) : state(c) {}
  shard_state state;
  std::int64_t next_offset = -1;  // after the last record or tick handled
  // Below it the log is read again under the previous owner's filter: no resume point
  // until the task has passed it.
  std::int64_t replay_end = -1;
  timestamp_us start_watermark = INT64_MIN;  // in force before the first tick in `ticks`
  std::deque<std::pair<std::int64_t, timestamp_us>> ticks;  // (offset, watermark after it)
  shard_state::counters seen;                               // the state's stats already counted
  // Sliding windows (lib/runtime/README.md, "Sliding windows"): the notes read, (offset,
  // next_allowed), while a new owner may still need them; this task's own notes (`writer`,
  // random) written and read back. A resume point waits until every note written is in the
  // log before it.
  std::deque<std::pair<std::int64_t, timestamp_us>> notes;
  std::uint64_t writer = 0;
  std::uint64_t notes_written = 0;
  std::uint64_t notes_read_back = 0;

  // Where a new owner must start reading (the smallest offset of the bins held; the next
  // offset when none is held) and what it must know there. Nothing while the task is still
  // re-reading below replay_end, or has read nothing at all.
  std::optional<std::pair<std::int64_t, partition_resume>> resume_point() const;
  // Ticks before `offset` are no longer needed to name the watermark at a resume point.
  void forget_ticks_before(std::int64_t offset);
};

// Records of one partition, in log order, for its task.
struct partition_batch {
  std::int32_t partition = 0;
  std::int64_t first_offset = 0;  // of the first record
  std::int64_t next_offset = 0;   // after the last
  std::vector<network_session> records;
};

// The life of a task and the ticks read from its partition, in log order with its records.
struct task_op {
  enum class kind : std::uint8_t { open, tick, note, close };
  kind op = kind::tick;
  std::int32_t partition = 0;
  std::int64_t offset = -1;            // tick: its offset; open: where reading starts
  timestamp_us watermark = INT64_MIN;  // tick: the owner's; open: the resume point's
  std::int64_t end = -1;               // open: the resume point's end (see partition_resume)
  std::optional<timestamp_us> evaluate_before;  // tick only
  timestamp_us floor = INT64_MIN;               // open: the resume point's (sliding)
  std::optional<note_record> note;              // note only
};

// Scale-out with sliding windows: appends an owner's note to its partition (the by-source
// producer). Called on shard threads: must be thread-safe; may wait for room, never drops.
using note_writer = std::function<void(std::int32_t partition, const note_record& note)>;

// Scale-out stage 1: where dispatchers send the records that passed the filters instead of
// the shards (the by-source topic). Called from ingest threads: must be thread-safe.
class record_forwarder {
 public:
  virtual ~record_forwarder() = default;
  // Takes records from the front of `batch` (erasing what it took). With `block` it takes
  // them all, waiting while its buffers are full; without, it may stop early and returns
  // false when it could not take every record.
  virtual bool forward(std::vector<network_session>& batch, bool block) = 0;
};

struct engine_options {
  bool partitioned = false;             // scale-out stage 2: state per partition task (see above)
  record_forwarder* forward = nullptr;  // scale-out stage 1: dispatchers forward, not route
  note_writer write_note;               // scale-out stage 2, sliding windows
  unsigned shards = 2;
  window_config window;
  detection_mode mode = detection_mode::standard;
  // IPv6 sources are keyed by their prefix of this length (README "IPv6 prefixes").
  unsigned ipv6_prefix = 128;
  // Records a parser marked flow_side::reply are not counted (README "Reply flows").
  bool skip_reply_flows = false;
  timestamp_us max_future_skew = 5 * us_per_minute;
  std::size_t queue_batches = 256;
};

// The sharded detection engine: N shard threads, each the only owner of its window state,
// fed through bounded queues. Ingest threads talk to it through a dispatcher; the
// coordinator (replay driver or daemon) through control messages.
class engine {
 public:
  static constexpr std::size_t batch_size = 1024;

  // The rules in force (README "Several rules"): every record feeds each of them.
  engine(engine_options opt, const std::shared_ptr<const rule_set>& rules, const clock& clk,
         alert_sink& sink, metrics_registry& metrics);
  // The vertical rule alone.
  engine(engine_options opt, const std::shared_ptr<const rule_definition>& rule, const clock& clk,
         alert_sink& sink, metrics_registry& metrics);
  ~engine();
  engine(const engine&) = delete;
  engine& operator=(const engine&) = delete;

  // One per ingest thread: the parse_sink that filters records by the rule's source filter
  // and routes them to the owning shard in batches. Not thread-safe.
  class dispatcher final : public parse_sink {
   public:
    dispatcher(engine& e, std::string input_name);
    ~dispatcher() override { publish_counts(); }
    dispatcher(const dispatcher&) = delete;
    dispatcher& operator=(const dispatcher&) = delete;

    // Call before decoding a unit: the decoder names the format for the counts, the receive
    // time is the "now" of the future-skew check.
    void begin_unit(const parse_context& ctx, const unit_decoder* decoder) noexcept {
      decoder_ = decoder;
      // Inputs stamp units with their receive time; reading the clock per record costs more
      // than the check it serves (future skew is a matter of minutes).
      now_ = ctx.receive_time != 0 ? ctx.receive_time : engine_.clock_.now();
    }
    void record(const network_session& s) override;
    void skipped(std::string_view reason) override;
    void rejected(std::string_view reason) override;
    void ignored_field(std::string_view reason) override;

    // Pushes every partial batch to its shard (blocking while a queue is full).
    void flush();
    // Pushes partial batches without waiting; false when some shard queue is full (what
    // could not be queued stays pending for the next call).
    bool try_flush();
    // For lossy inputs (UDP): a batch that finds its queue full is dropped and counted
    // instead of waiting.
    void set_drop_when_full(bool drop) noexcept { drop_when_full_ = drop; }
    // Largest event time of the records routed since the last call (INT64_MIN if none).
    timestamp_us take_max_event_time() noexcept {
      const timestamp_us t = max_event_;
      max_event_ = INT64_MIN;
      return t;
    }

   private:
    struct reason_key {
      std::string format, reason;
      bool operator==(const reason_key&) const = default;
    };
    struct reason_hash {
      std::size_t operator()(const reason_key& k) const noexcept {
        return std::hash<std::string>{}(k.format) * 31 + std::hash<std::string>{}(k.reason);
      }
    };
    counter& count(std::unordered_map<reason_key, counter*, reason_hash>& cache, const char* metric,
                   const char* help, std::string_view reason);
    std::string_view format_name() const noexcept;
    void log_reject(std::string_view what, std::string_view reason);

    engine& engine_;
    std::string input_;
    const unit_decoder* decoder_ = nullptr;
    timestamp_us now_ = 0;
    // Adds the counts kept below to the shared counters.
    void publish_counts() noexcept;

    // The parsed-records counter of the last format seen (names are stable registry strings).
    const char* last_format_ = nullptr;
    counter* last_parsed_ = nullptr;
    // Counted here and published with each batch and flush: an atomic add per record on a
    // counter that every parsing thread of the input shares would bounce its cache line.
    std::uint64_t parsed_pending_ = 0;
    std::array<std::uint64_t, 5> filtered_pending_{};
    std::vector<std::vector<network_session>> pending_;  // per shard
    timestamp_us max_event_ = INT64_MIN;
    std::unordered_map<reason_key, counter*, reason_hash> rejected_, skipped_, parsed_, ignored_;
    std::array<counter*, 5> filtered_{};
    bool drop_when_full_ = false;
    counter* dropped_ = nullptr;
    void push_batch(std::size_t shard);
    void count_dropped(std::size_t n, std::string_view why);
    counter* future_ = nullptr;
    counter* reply_flow_ = nullptr;
    std::uint64_t reply_flow_pending_ = 0;
    rate_limited_log log_;
  };

  std::unique_ptr<dispatcher> make_dispatcher(std::string input_name);

  // The registry the engine counts into, for the stages that feed it (input sinks). Any thread.
  metrics_registry& metrics() noexcept { return metrics_; }

  // Tells every shard the watermark; with evaluate_before, each evaluates the bins closed
  // before it and publishes their alerts. Returns a future that is ready when every shard
  // has done so (the coordinator may ignore it).
  std::future<void> advance(timestamp_us watermark, std::optional<timestamp_us> evaluate_before);

  // Runs fn(shard index, state) on every shard's own thread, in queue order (after every
  // record queued before the call). For checkpoints and restores.
  std::future<void> visit_shards(std::function<void(std::size_t, shard_state&)> fn);
  // The same for each shard's evaluator (its suppression state), for checkpoints and restores.
  std::future<void> visit_evaluators(std::function<void(std::size_t, evaluator&)> fn);

  // Scale-out (partitioned engines only). A batch goes to its partition's shard; false
  // when that queue is full (the batch is left as it was). Task operations are control
  // messages: never refused, and queued in order behind the batches pushed before them.
  bool try_push_partition(partition_batch& batch);
  void push_task_op(task_op op);
  std::size_t shard_of_partition(std::int32_t partition) const noexcept {
    return static_cast<std::size_t>(partition) % shards_.size();
  }
  // Runs fn on every task, on its shard's thread in queue order.
  std::future<void> visit_tasks(std::function<void(std::int32_t, partition_task&)> fn);

  // Swaps the rules (SIGHUP): thresholds, caps and metadata apply from the next evaluation;
  // window state is kept. The bin width and the kinds of rules in force cannot change at
  // run time (the caller refuses it).
  void set_rules(const std::shared_ptr<const rule_set>& rules);
  void set_rule(const std::shared_ptr<const rule_definition>& rule);

  // Closes the queues and joins the shard threads after they drained.
  void stop();

  unsigned shards() const noexcept { return static_cast<unsigned>(shards_.size()); }
  // The configured detection mode; inputs hand it to the parsers (parse_context::mode).
  detection_mode mode() const noexcept { return opt_.mode; }
  std::size_t shard_of(const ip_address& ip) const noexcept { return ip.hash() % shards_.size(); }
  std::size_t queue_depth(std::size_t shard) const { return shards_[shard]->queue.size(); }

  // Totals over shards, as of the last control message each processed.
  struct totals {
    std::uint64_t keys = 0, bins = 0, late = 0, reopened = 0, shed = 0, alerts = 0;
  };
  totals snapshot() const;

 private:
  // Completes a future once every shard has handled one control message.
  struct completion {
    explicit completion(std::size_t n) : remaining(n) {}
    std::atomic<std::size_t> remaining;
    std::promise<void> promise;
    void arrive() {
      if (remaining.fetch_sub(1, std::memory_order_acq_rel) == 1) promise.set_value();
    }
  };
  struct control {
    timestamp_us watermark = INT64_MIN;
    std::optional<timestamp_us> evaluate_before;
    std::shared_ptr<const rule_set> rules;  // non-null: switch to them first
    std::shared_ptr<completion> done;
    std::shared_ptr<std::function<void(std::size_t, shard_state&)>> visit;
    std::shared_ptr<std::function<void(std::int32_t, partition_task&)>> visit_tasks;
    std::shared_ptr<std::function<void(std::size_t, evaluator&)>> visit_eval;
    std::optional<task_op> task;
  };
  using message = std::variant<std::vector<network_session>, control, partition_batch>;

  struct shard {
    shard(std::size_t index, const window_config& cfg, std::size_t queue_batches)
        : index(index), state(cfg), queue(queue_batches) {}
    std::size_t index;
    shard_state state;
    evaluator eval;
    bounded_queue<message> queue;
    std::shared_ptr<const rule_set> rules;
    std::thread thread;
    // Published by the shard thread after each control message, read by snapshot().
    std::atomic<std::uint64_t> keys{0}, bins{0}, late{0}, reopened{0}, shed{0}, alerts{0};
    gauge* keys_gauge = nullptr;
    gauge* bytes_gauge = nullptr;
    // The window's cumulative stats, mirrored into counters by their increase since the
    // last control message (guarded, so a stats reset could never make a counter go back).
    counter* shed_counter = nullptr;
    counter* reopened_counter = nullptr;
    std::uint64_t shed_seen = 0, reopened_seen = 0;
    std::array<counter*, shed_distance_bands> shed_distance_counters{};
    std::array<std::uint64_t, shed_distance_bands> shed_distance_seen{};
    timestamp_us last_bytes_walk = 0;  // the walk is due at the first control message
    // Partitioned engines: the tasks this shard owns, and their stats counted so far.
    std::map<std::int32_t, std::unique_ptr<partition_task>> tasks;
    shard_state::counters task_stats;
    // Records the rules' exclusions took, per entry of each rule's set (vertical, sweep;
    // counted here, added to the counters at each control message), and the evaluator's
    // stats counted.
    std::array<std::vector<std::uint64_t>, 2> excluded_pending;
    std::array<std::vector<counter*>, 2> excluded_counters;
    evaluator::counters eval_seen;
    std::vector<alert> early;  // early alerts of the batch being added (published after it)
    // False while a partition's re-read is added: its crossings are marked, not announced.
    bool announce_crossings = true;
  };

  void run_shard(shard& s);
  // Removes from `batch` the records every rule's exclusions match, marks those only some
  // rules' match (network_session::excluded_from), counting each record once per entry.
  static void apply_exclusions(shard& s, std::vector<network_session>& batch);
  // Publishes the pending exclusion counts, then takes the counters of the rules' entries.
  void set_shard_rules(shard& s, const std::shared_ptr<const rule_set>& rules);
  // The window of a shard or task for the rules in force.
  window_config window_for(const rule_set& rules) const;
  void publish_exclusions(shard& s);
  // IPv6 prefixes: replaces each IPv6 source by its prefix's network address (after the
  // exclusions, which see whole addresses).
  void apply_ipv6_prefix(std::vector<network_session>& batch) const;
  void evaluate(shard& s, shard_state& state, timestamp_us before, std::vector<alert>& alerts);
  // Early alerts: hands the crossings of `state` to the shard's evaluator, and publishes what
  // a batch collected.
  void watch_crossings(shard& s, shard_state& state);
  void publish_early(shard& s);
  // Mirrors the evaluator's stats into the counters by their increase.
  void count_eval_stats(shard& s);
  void handle_task_op(shard& s, const task_op& op, std::vector<alert>& alerts);
  partition_task& task(shard& s, std::int32_t partition);
  void absorb_stats(shard& s, partition_task& t);
  void publish_shard_stats(shard& s);

  engine_options opt_;
  const clock& clock_;
  alert_sink& sink_;
  metrics_registry& metrics_;
  std::vector<std::unique_ptr<shard>> shards_;
  counter* late_counter_;
  counter* alerts_counter_;
  std::array<counter*, 2> rule_alerts_counters_{};  // by rule kind: vertical, sweep
  counter* alerts_excluded_counter_;
  counter* alerts_suppressed_counter_;
  counter* early_sent_counter_;
  counter* early_excluded_counter_;
  counter* early_suppressed_counter_;
  histogram* eval_seconds_;
  bool stopped_ = false;
};

}  // namespace portscand
