#include "runtime/daemon.hpp"

#include <signal.h>
#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "detect/rule_loader.hpp"
#include "ingest/file_source.hpp"
#include "ingest/kafka_source.hpp"
#include "ingest/syslog_listener.hpp"
#include "parse/registry.hpp"
#include "portscand/version.hpp"
#include "runtime/checkpoint.hpp"
#include "runtime/checkpoint_protocol.hpp"
#include "runtime/engine.hpp"
#include "runtime/input_sink.hpp"
#include "runtime/metrics_server.hpp"
#include "runtime/publisher.hpp"
#include "runtime/scale_out.hpp"
#include "schedule/schedule.hpp"
#include "schedule/watermark.hpp"

namespace portscand {
namespace {

using namespace std::chrono_literals;

// Names this instance in its marks: host, process and a random part (a restarted process is
// a new instance; the old one's marks expire).
std::string make_instance_id() {
  char host[64] = {};
  if (gethostname(host, sizeof host - 1) != 0) std::strcpy(host, "host");
  std::random_device rd;
  return fmt::format("{}-{}-{:08x}", host, getpid(), rd());
}

constexpr const char* checkpoint_failures_help =
    "Checkpoints abandoned or not written, by the step that failed.";

// The Kafka inputs' part of a checkpoint: ask every consumer for its offsets (it holds
// still after answering), collect them, release the consumers, commit.
class input_offsets_step {
 public:
  explicit input_offsets_step(std::vector<std::unique_ptr<kafka_source>>& kafka) : kafka_(kafka) {}
  void begin() {
    pending_.clear();
    for (auto& k : kafka_) pending_.push_back(k->request_offsets());
  }
  std::optional<input_offsets> poll() {
    for (auto& f : pending_)
      if (f.wait_for(0s) != std::future_status::ready) return std::nullopt;
    input_offsets out;
    for (std::size_t i = 0; i < kafka_.size(); ++i) {
      auto& named = out[kafka_[i]->name()];
      for (const auto& [key, off] : pending_[i].get()) named[partition_name(key)] = off;
    }
    pending_.clear();
    return out;
  }
  void release() {
    for (auto& k : kafka_) k->release_offsets_hold();
  }
  void commit(const input_offsets& offsets) {
    for (auto& k : kafka_) {
      auto it = offsets.find(k->name());
      if (it == offsets.end()) continue;
      std::map<partition_key, std::int64_t> keyed;
      for (const auto& [name, off] : it->second)
        if (auto key = parse_partition_name(name)) keyed[*key] = off;
      k->commit(std::move(keyed));
    }
  }

 private:
  std::vector<std::unique_ptr<kafka_source>>& kafka_;
  std::vector<std::future<std::map<partition_key, std::int64_t>>> pending_;
};

// The checkpoint protocol's participants: the Kafka inputs, the shards, the publisher and the
// store of this process.
class daemon_participants final : public checkpoint_participants {
 public:
  daemon_participants(std::vector<std::unique_ptr<kafka_source>>& kafka, engine& eng,
                      publisher& pub, checkpoint_store& store)
      : inputs_(kafka), engine_(eng), publisher_(pub), store_(store) {}

  void begin_offsets() override { inputs_.begin(); }
  std::optional<input_offsets> poll_offsets() override { return inputs_.poll(); }
  void begin_snapshot() override {
    shards_ = std::make_shared<std::vector<std::string>>(engine_.shards());
    snapshot_ = engine_.visit_shards(
        [shards = shards_](std::size_t i, shard_state& s) { s.serialize((*shards)[i]); });
    suppression_ = std::make_shared<std::vector<std::string>>(engine_.shards());
    suppression_snapshot_ =
        engine_.visit_evaluators([out = suppression_](std::size_t i, evaluator& e) {
          if (e.history_entries() != 0) e.serialize_history((*out)[i]);
        });
    // The barrier is queued behind every record below the offsets: the inputs may go on.
    inputs_.release();
  }
  std::optional<std::vector<std::string>> poll_snapshot() override {
    if (!snapshot_.valid() || snapshot_.wait_for(0s) != std::future_status::ready ||
        !suppression_snapshot_.valid() ||
        suppression_snapshot_.wait_for(0s) != std::future_status::ready)
      return std::nullopt;
    snapshot_.get();
    suppression_snapshot_.get();
    return std::move(*shards_);
  }
  std::vector<std::string> take_suppression() override { return std::move(*suppression_); }
  void begin_drain() override { drain_target_ = publisher_.batches_received(); }
  bool drained() const override { return publisher_.batches_confirmed() >= drain_target_; }
  result<input_offsets> write(const checkpoint_data& data) override { return store_.write(data); }
  void abandoned() override { inputs_.release(); }
  void commit(const input_offsets& offsets) override { inputs_.commit(offsets); }

 private:
  input_offsets_step inputs_;
  engine& engine_;
  publisher& publisher_;
  checkpoint_store& store_;
  // Shared with the shard threads: an abandoned snapshot may still be written into.
  std::shared_ptr<std::vector<std::string>> shards_;
  std::future<void> snapshot_;
  std::shared_ptr<std::vector<std::string>> suppression_;
  std::future<void> suppression_snapshot_;
  std::uint64_t drain_target_ = 0;
};

// With scale-out there is no local state to write: each by-source partition's state is
// rebuilt from the topic by whoever owns it next. A checkpoint commits (a) the inputs'
// offsets once every record read below them was delivered to the by-source topic, and
// (b) each owned by-source partition's resume point, once every alert the tasks emitted
// before it was confirmed by the outputs.
class scale_out_participants final : public checkpoint_participants {
 public:
  scale_out_participants(std::vector<std::unique_ptr<kafka_source>>& inputs,
                         kafka_source& by_source, std::string topic, engine& eng, publisher& pub,
                         by_source_producer& producer)
      : topic_(std::move(topic)),
        inputs_(inputs),
        by_source_(by_source),
        engine_(eng),
        publisher_(pub),
        producer_(producer) {}

  void begin_offsets() override { inputs_.begin(); }
  std::optional<input_offsets> poll_offsets() override { return inputs_.poll(); }
  void begin_snapshot() override {
    // The inputs pushed every record below their offsets into the producer before
    // answering: these are the messages that must be delivered first.
    produced_target_ = producer_.enqueued();
    resumes_ = std::make_shared<resume_points>();
    // Every shard thread runs this at the same time: the map is theirs to share.
    snapshot_ = engine_.visit_tasks([resumes = resumes_](std::int32_t p, partition_task& t) {
      if (auto rp = t.resume_point()) {
        t.forget_ticks_before(rp->first);
        std::lock_guard lock(resumes->mu);
        resumes->by_partition[p] = std::move(*rp);
      }
    });
    inputs_.release();
  }
  std::optional<std::vector<std::string>> poll_snapshot() override {
    if (!snapshot_.valid() || snapshot_.wait_for(0s) != std::future_status::ready)
      return std::nullopt;
    snapshot_.get();
    return std::vector<std::string>{};
  }
  void begin_drain() override { alerts_target_ = publisher_.batches_received(); }
  bool drained() const override {
    return publisher_.batches_confirmed() >= alerts_target_ &&
           producer_.delivered() >= produced_target_ && producer_.healthy();
  }
  result<input_offsets> write(const checkpoint_data& data) override { return data.offsets; }
  void abandoned() override { inputs_.release(); }
  void commit(const input_offsets& offsets) override {
    inputs_.commit(offsets);
    std::map<partition_key, std::int64_t> positions;
    std::map<partition_key, std::string> metadata;
    std::lock_guard lock(resumes_->mu);
    for (const auto& [p, rp] : resumes_->by_partition) {
      const partition_key key{topic_, p};
      positions[key] = rp.first;
      metadata[key] = encode_partition_resume(rp.second);
    }
    by_source_.commit(std::move(positions), std::move(metadata));
  }

 private:
  std::string topic_;
  input_offsets_step inputs_;
  kafka_source& by_source_;
  engine& engine_;
  publisher& publisher_;
  by_source_producer& producer_;
  // The owned partitions' resume points of the checkpoint under way, filled by the shards.
  struct resume_points {
    std::mutex mu;
    std::map<std::int32_t, std::pair<std::int64_t, partition_resume>> by_partition;
  };
  std::shared_ptr<resume_points> resumes_ = std::make_shared<resume_points>();
  std::future<void> snapshot_;
  std::uint64_t produced_target_ = 0, alerts_target_ = 0;
};

class coordinator {
 public:
  coordinator(std::string config_path, config cfg, rule_set rules, const clock& clk)
      : config_path_(std::move(config_path)),
        cfg_(std::move(cfg)),
        rules_(std::make_shared<const rule_set>(std::move(rules))),
        clock_(clk),
        store_(cfg_.state_dir),
        tracker_({cfg_.evaluation.idle_timeout, true}),
        schedule_(cfg_.evaluation.schedule, rules_->lead().query_frequency,
                  cfg_.evaluation.allowed_lateness) {}

  int run();

 private:
  void build();
  void restore();
  void feed_watermark(timestamp_us now);
  void step_checkpoint(timestamp_us now, bool force);
  bool final_checkpoint();
  void check_liveness();
  void reload();
  void notify(const std::string& state);

  std::string config_path_;
  config cfg_;
  std::shared_ptr<const rule_set> rules_;
  const clock& clock_;
  metrics_registry metrics_;
  checkpoint_store store_;
  watermark_tracker tracker_;
  evaluation_schedule schedule_;
  std::string not_ready() const;

  std::unique_ptr<publisher> publisher_;
  std::unique_ptr<metrics_server> http_;
  std::vector<gauge*> queue_depth_;
  std::unique_ptr<engine> engine_;
  std::vector<std::unique_ptr<kafka_source>> kafka_;
  std::vector<std::unique_ptr<file_source>> files_;
  std::vector<std::unique_ptr<syslog_listener>> syslog_;
  std::vector<std::pair<std::string, std::unique_ptr<input_progress>>>
      progress_;  // non-Kafka inputs
  std::map<std::string, watermark_tracker::input_id> tracker_ids_;
  // A restored checkpoint's watermark, until feed_watermark applies it; and the wall time by
  // which it applies whatever the inputs do.
  timestamp_us pending_seed_ = INT64_MIN;
  timestamp_us seed_deadline_ = INT64_MIN;
  // Scale-out (cfg_.scale_out.enabled): the stage-1 producer and the stage-2 consumer.
  std::unique_ptr<by_source_producer> producer_;
  std::unique_ptr<kafka_source> by_source_;
  by_source_sink* by_source_sink_ = nullptr;  // owned by by_source_
  std::string instance_id_;                   // names this instance's marks
  timestamp_us last_mark_wm_ = INT64_MIN, last_mark_at_ = 0;
  bool marking_ = false;              // this instance's marks count (it has input to read)
  std::size_t input_partitions_ = 0;  // of every Kafka input's topics (from metadata at start)
  timestamp_us owned_watermark_ = INT64_MIN;
  void emit_marks(timestamp_us wm, timestamp_us now, bool hold);
  void stage_two(timestamp_us now);
  void export_lag(const kafka_source& k);
  timestamp_us last_tick_wm_ = INT64_MIN, last_tick_at_ = 0;
  std::optional<timestamp_us> pending_due_;
  void emit_ticks(timestamp_us wm, std::optional<timestamp_us> due, timestamp_us now);
  std::unique_ptr<checkpoint_participants> participants_;
  std::unique_ptr<checkpoint_protocol> checkpoints_;
  std::uint64_t restored_epoch_ = 0;
  timestamp_us last_watermark_ = INT64_MIN;
  std::future<void> last_advance_;
  // Liveness: a no-op control message posted to every shard; when all have handled it the
  // shard threads are alive. Read by the HTTP thread (readiness) too.
  std::future<void> heartbeat_;
  std::atomic<std::chrono::steady_clock::rep> last_alive_{
      std::chrono::steady_clock::now().time_since_epoch().count()};
  std::chrono::steady_clock::time_point last_alive() const {
    return std::chrono::steady_clock::time_point(
        std::chrono::steady_clock::duration(last_alive_.load()));
  }
  bool shards_alive(std::chrono::steady_clock::duration limit) const {
    // Shards waiting for the outputs (a full alert queue) are stalled by the outside world,
    // not stuck: restarting the daemon would not help and would lose state.
    return std::chrono::steady_clock::now() - last_alive() < limit ||
           publisher_->producers_blocked();
  }
  gauge* watermark_lag_ = nullptr;
  gauge* ready_ = nullptr;
  gauge* checkpoint_age_ = nullptr;
  histogram* checkpoint_seconds_ = nullptr;
  timestamp_us last_checkpoint_ = 0;
};

void coordinator::notify(const std::string& state) {
  sd_notify(0, state.c_str());
}

void coordinator::build() {
  if (auto s = store_.prepare(); !s) throw std::runtime_error(s.err().message);
  std::vector<std::unique_ptr<alert_output>> outputs;
  for (const auto& o : cfg_.outputs) outputs.push_back(make_output(o, metrics_));
  if (outputs.empty()) throw std::runtime_error("no outputs configured: alerts would go nowhere");
  publisher_ = std::make_unique<publisher>(std::move(outputs), metrics_);
  engine_options eo;
  eo.shards = cfg_.shards;
  eo.window.bin_width = rules_->lead().bin_width;
  eo.window.retention = rules_->lead().query_period + cfg_.evaluation.allowed_lateness;
  eo.window.max_keys = cfg_.limits.max_keys_per_shard;
  eo.window.max_targets = cfg_.max_targets;
  eo.window.sliding = cfg_.evaluation.window == window_kind::sliding;
  eo.mode = cfg_.mode;
  eo.ipv6_prefix = cfg_.ipv6_prefix;
  eo.skip_reply_flows = skips_reply_flows(cfg_.reply_flows, cfg_.mode);
  eo.max_future_skew = cfg_.evaluation.max_future_skew;
  eo.queue_batches = cfg_.limits.queue_batches;
  const bool scale_out = cfg_.scale_out.enabled;
  if (scale_out) {
    producer_ = std::make_unique<by_source_producer>(cfg_.scale_out, metrics_);
    eo.partitioned = true;
    eo.forward = producer_.get();
    eo.write_note = [p = producer_.get()](std::int32_t partition, const note_record& n) {
      p->produce_note(partition, n);
    };
  }
  engine_ = std::make_unique<engine>(eo, rules_, clock_, *publisher_, metrics_);
  watermark_lag_ = &metrics_.get_gauge("portscand_watermark_lag_seconds",
                                       "Wall clock minus the event-time watermark.");
  checkpoint_age_ = &metrics_.get_gauge("portscand_checkpoint_age_seconds",
                                        "Time since the last written checkpoint.");
  checkpoint_seconds_ = &metrics_.get_histogram(
      "portscand_checkpoint_duration_seconds", "Time from the start of a checkpoint to its commit.",
      {0.01, 0.1, 1, 10, 60});
  // Every step's series exists from the start, so that increase() sees the first failure.
  for (const char* step : {"offsets", "snapshot", "drain", "write"})
    metrics_.get_counter("portscand_checkpoint_failures_total", checkpoint_failures_help,
                         {{"step", step}});
  // /readyz as a metric: Prometheus scrapes /metrics only, and an alert on "not ready" needs
  // the answer in a series (the HTTP endpoint stays for Kubernetes probes and load balancers).
  ready_ = &metrics_.get_gauge("portscand_ready",
                               "1 when /readyz answers 200 (inputs, outputs and shards healthy).");
  metrics_
      .get_gauge("portscand_build_info", "Always 1; the labels name the running build.",
                 {{"version", version_string}})
      .set(1);
  metrics_
      .get_gauge("portscand_start_time_seconds",
                 "Start time of the process, seconds since the Unix epoch.")
      .set(static_cast<double>(clock_.now()) / 1e6);
  for (unsigned i = 0; i < cfg_.shards; ++i)
    queue_depth_.push_back(&metrics_.get_gauge("portscand_shard_queue_batches",
                                               "Record batches queued for a shard.",
                                               {{"shard", std::to_string(i)}}));
  for (const auto& in : cfg_.inputs) {
    if (const auto* k = std::get_if<kafka_input_config>(&in.transport)) {
      auto sink = std::make_unique<input_sink>(*engine_, in.name, in.format, in.time_source,
                                               nullptr, false, in.zone, in.envelope);
      kafka_.push_back(
          std::make_unique<kafka_source>(in.name, *k, std::move(sink), metrics_, clock_));
    } else if (const auto* f = std::get_if<file_input_config>(&in.transport)) {
      input_progress* progress =
          progress_.emplace_back(in.name, std::make_unique<input_progress>()).second.get();
      tracker_ids_[in.name] = tracker_.add_input(in.name);
      auto sink = std::make_unique<input_sink>(*engine_, in.name, in.format, in.time_source,
                                               progress, false, in.zone, in.envelope);
      sink->set_padded(true);  // a file input's units are views of padded chunks
      files_.push_back(
          std::make_unique<file_source>(in.name, *f, std::move(sink), metrics_, clock_));
    } else if (const auto* sl = std::get_if<syslog_input_config>(&in.transport)) {
      input_progress* progress =
          progress_.emplace_back(in.name, std::make_unique<input_progress>()).second.get();
      tracker_ids_[in.name] = tracker_.add_input(in.name);
      // UDP is lossy by nature: when the shards are behind its records are dropped and
      // counted; TCP and TLS block instead, which stops reading (backpressure to the peer).
      const bool lossy = sl->listen.rfind("udp://", 0) == 0;
      engine* eng = engine_.get();
      const input_config spec = in;
      syslog_.push_back(std::make_unique<syslog_listener>(
          in.name, *sl,
          [eng, spec, progress, lossy] {
            return std::make_unique<input_sink>(*eng, spec.name, spec.format, spec.time_source,
                                                progress, lossy, spec.zone, spec.envelope);
          },
          metrics_, clock_));
    }
  }
  if (scale_out) {
    kafka_input_config k;
    k.brokers = cfg_.scale_out.brokers;
    k.topics = {cfg_.scale_out.topic};
    k.group = cfg_.scale_out.group;
    k.properties = cfg_.scale_out.properties;
    auto sink = std::make_unique<by_source_sink>(*engine_, rules_->lead().bin_width, metrics_);
    by_source_sink_ = sink.get();
    by_source_ = std::make_unique<kafka_source>("scale_out", k, std::move(sink), metrics_, clock_);
    instance_id_ = make_instance_id();
  }
}

// Restores every shard from the newest checkpoint generation whose file for that shard is
// intact and decodes, and reads the input again from the smallest offsets of the generations
// used: one damaged file costs the records since an older generation (read again), not the
// shard's state.
void coordinator::restore() {
  std::vector<std::string> problems;
  auto generations = store_.load_all(&problems);
  for (const auto& p : problems) spdlog::error("{}", p);
  // What the restore found, for the operator (rule PortscandCheckpointDamaged): set once at
  // start, so they describe this process's state.
  std::size_t problem_count = problems.size();
  std::size_t newest = 0, older = 0, none = 0;
  auto report = [&] {
    metrics_
        .get_gauge("portscand_checkpoint_restore_problems",
                   "Damaged, missing or unmappable checkpoint files found when the state was "
                   "restored at start.")
        .set(static_cast<double>(problem_count));
    const std::string help =
        "Shards restored at start, by the checkpoint generation their state came from "
        "(newest, older: read again from its offsets, none: started empty although "
        "checkpoints existed).";
    metrics_.get_gauge("portscand_checkpoint_restored_shards", help, {{"from", "newest"}})
        .set(static_cast<double>(newest));
    metrics_.get_gauge("portscand_checkpoint_restored_shards", help, {{"from", "older"}})
        .set(static_cast<double>(older));
    metrics_.get_gauge("portscand_checkpoint_restored_shards", help, {{"from", "none"}})
        .set(static_cast<double>(none));
  };
  if (generations.empty()) {
    if (!problems.empty()) none = engine_->shards();
    report();
    if (problems.empty())
      spdlog::info(
          "no checkpoint in {}: starting empty, Kafka inputs resume from the group's "
          "committed offsets",
          store_.dir());
    else
      spdlog::error(
          "no usable checkpoint in {}: starting empty, Kafka inputs resume from the "
          "group's committed offsets",
          store_.dir());
    return;
  }
  restored_epoch_ = generations.front().data.epoch;
  std::vector<const checkpoint_generation*> usable;
  for (const auto& g : generations) {
    for (const auto& p : g.problems) spdlog::error("{}", p);
    problem_count += g.problems.size();
    if (g.data.shards.size() != engine_->shards() || g.data.bin_width != rules_->lead().bin_width) {
      ++problem_count;
      spdlog::error(
          "checkpoint epoch {} was written with {} shards and bin {} (now {} and {}); it "
          "cannot be mapped",
          g.data.epoch, g.data.shards.size(), format_duration(g.data.bin_width), engine_->shards(),
          format_duration(rules_->lead().bin_width));
      continue;
    }
    usable.push_back(&g);
  }
  std::vector<int> chosen(engine_->shards(), -1);
  std::vector<timestamp_us> watermarks(engine_->shards(), INT64_MIN);
  engine_
      ->visit_shards([&usable, &chosen, &watermarks](std::size_t i, shard_state& s) {
        for (std::size_t g = 0; g < usable.size(); ++g) {
          if (!usable[g]->intact[i]) continue;
          if (s.deserialize(usable[g]->data.shards[i], label_table::global())) {
            chosen[i] = static_cast<int>(g);
            break;
          }
          s.deserialize({}, label_table::global());  // back to empty after a partial decode
        }
        watermarks[i] = s.watermark();
      })
      .wait();
  // Each shard's suppression state from the generation its window state came from.
  std::size_t suppression_lost = 0;
  engine_
      ->visit_evaluators([&usable, &chosen, &suppression_lost](std::size_t i, evaluator& e) {
        if (chosen[i] < 0) return;
        const auto& g = *usable[static_cast<std::size_t>(chosen[i])];
        const bool intact = i < g.suppression_intact.size() && g.suppression_intact[i];
        if (!intact || i >= g.data.suppression.size() ||
            !e.deserialize_history(g.data.suppression[i]))
          ++suppression_lost;
      })
      .wait();
  if (suppression_lost != 0) {
    problem_count += suppression_lost;
    spdlog::error(
        "{} shard(s): the alert history could not be restored; their sources may alert "
        "again within suppression.duration, and open new incidents",
        suppression_lost);
  }
  std::vector<const input_offsets*> used;
  bool complete = true;
  for (std::size_t i = 0; i < chosen.size(); ++i) {
    if (chosen[i] < 0) {
      complete = false;
      ++none;
      spdlog::error(
          "shard {}: no checkpoint generation holds an intact state for it; its open "
          "bins restart empty",
          i);
      continue;
    }
    const auto* g = usable[static_cast<std::size_t>(chosen[i])];
    const bool from_newest = g == &generations.front();
    ++(from_newest ? newest : older);
    if (!from_newest)
      spdlog::warn(
          "shard {}: restored from the older checkpoint epoch {}; the input is read again "
          "from that checkpoint's offsets",
          i, g->data.epoch);
    if (std::find(used.begin(), used.end(), &g->data.offsets) == used.end())
      used.push_back(&g->data.offsets);
  }
  report();
  if (used.empty()) {
    spdlog::error(
        "no shard state could be restored: starting empty, Kafka inputs resume from the "
        "group's committed offsets");
    return;
  }
  // A shard without state needs its records from before every generation: the group's
  // committed offsets (which reach only as far as the oldest generation kept) come closest.
  if (complete) {
    const input_offsets offsets = merge_offsets(used);
    for (auto& k : kafka_) {
      std::map<partition_key, std::int64_t> start;
      if (auto it = offsets.find(k->name()); it != offsets.end()) {
        for (const auto& [name, off] : it->second) {
          if (auto key = parse_partition_name(name))
            start[*key] = off;
          else
            spdlog::warn(
                "checkpoint: input {}: ignoring the offset of \"{}\", not a topic/partition",
                k->name(), name);
        }
      }
      k->set_start_offsets(std::move(start));
    }
  }
  // Bins the checkpoint left open must still close when no new record comes.
  // Not at once: an input read again from its start (a file) brings the rest of those bins'
  // records, and a seeded watermark would close them on the restored state alone. The seed
  // waits until every file and syslog input has reached its end once, or idle_timeout.
  pending_seed_ = *std::max_element(watermarks.begin(), watermarks.end());
  last_watermark_ = INT64_MIN;
  spdlog::info("restored checkpoint epoch {} written {}", usable.front()->data.epoch,
               format_iso8601(usable.front()->data.created));
}

void coordinator::feed_watermark(timestamp_us now) {
  if (pending_seed_ != INT64_MIN) {
    if (seed_deadline_ == INT64_MIN) seed_deadline_ = now + cfg_.evaluation.idle_timeout;
    bool caught_up = true;
    for (auto& [name, p] : progress_)
      caught_up = caught_up && p->reached_end.load(std::memory_order_acquire);
    if (caught_up || now >= seed_deadline_) {
      tracker_.seed(pending_seed_);
      pending_seed_ = INT64_MIN;
    }
  }
  bool hold = false;
  // An assigned partition that has delivered nothing yet and is not known to be empty may
  // hold the oldest data of all: nothing may close before it has spoken (otherwise the
  // first partition to arrive closes bins the others still have records for).
  bool waiting = false;
  for (auto& k : kafka_) {
    hold = hold || !k->healthy() || k->unassigned();
    for (const auto& [key, p] : k->progress()) {
      if (p.assigned && !p.at_end && p.max_event == INT64_MIN && p.next_offset < 0) waiting = true;
      const std::string id_name = k->name() + ":" + partition_name(key);
      auto it = tracker_ids_.find(id_name);
      if (it == tracker_ids_.end())
        it = tracker_ids_.emplace(id_name, tracker_.add_input(id_name)).first;
      // A revoked partition just goes idle (it may come back after the rebalance). An
      // assigned one with a backlog is never idle: its data exists, it is only not here yet.
      const bool backlog = p.assigned && p.high_watermark >= 0 && p.next_offset >= 0 &&
                           p.high_watermark > p.next_offset;
      hold = hold || backlog;
      if (p.max_event != INT64_MIN)
        tracker_.observe(it->second, p.max_event, backlog ? now : p.last_active);
    }
    export_lag(*k);
  }
  for (std::size_t i = 0; i < queue_depth_.size(); ++i)
    queue_depth_[i]->set(static_cast<double>(engine_->queue_depth(i)));
  // Files and syslog listeners: one waiting for room in full shard queues is not idle.
  for (auto& [name, p] : progress_)
    hold = observe_progress(tracker_, tracker_ids_[name], *p, now) || hold;
  tracker_.hold_wall_clock(hold);
  if (waiting) {
    if (producer_) {
      // An assigned partition not heard from yet may hold the oldest records: the owners
      // must wait for it as this instance's own evaluation would.
      emit_marks(INT64_MIN, now, true);
      stage_two(now);
    }
    return;
  }
  const timestamp_us wm = tracker_.current(now);
  if (producer_) {
    emit_marks(wm, now, false);
    stage_two(now);
    return;
  }
  const auto due = schedule_.due(wm, now);
  if (wm != last_watermark_ || due) {
    last_watermark_ = wm;
    if (last_advance_.valid() && last_advance_.wait_for(0s) != std::future_status::ready) {
      // The shards have not finished the previous step; do not pile up control messages.
      if (!due) return;
    }
    last_advance_ = engine_->advance(wm, due);
  }
  if (wm != INT64_MIN) watermark_lag_->set(static_cast<double>(now - wm) / 1e6);
}

// portscand_kafka_consumer_lag_messages of each partition the consumer has had: a partition
// revoked since reads 0 (this instance has nothing left to read of it; its new owner
// exports its lag); an assigned one whose lag is not known yet (its first fetch of this
// assignment is still to come, and reading starts from the group's committed offset) keeps
// its last value. portscand_kafka_partition_assigned says which are this member's now.
void coordinator::export_lag(const kafka_source& k) {
  for (const auto& [key, p] : k.progress()) {
    const metric_labels labels{
        {"input", k.name()}, {"topic", key.topic}, {"partition", std::to_string(key.partition)}};
    metrics_
        .get_gauge("portscand_kafka_partition_assigned",
                   "1 while this member of the group is assigned the partition, else 0.", labels)
        .set(p.assigned ? 1.0 : 0.0);
    const auto lag = consumer_lag(p);
    if (!lag && p.assigned) continue;
    metrics_
        .get_gauge("portscand_kafka_consumer_lag_messages",
                   "Messages between the consumer's position and the partition end.", labels)
        .set(lag ? static_cast<double>(*lag) : 0.0);
  }
}

// Scale-out, stage 1: this instance's input watermark goes to every by-source partition,
// behind the records read below it, about once a second, with the Kafka input partitions
// it reads. `hold`: an assigned partition has not delivered yet, so the mark says "nothing
// may close" (INT64_MIN). Only while the instance has input to read: one without (its Kafka
// partitions all moved elsewhere) says so with a final mark, so that owners do not wait for
// a watermark that cannot move.
void coordinator::emit_marks(timestamp_us wm, timestamp_us now, bool hold) {
  bool reading = !files_.empty() || !syslog_.empty();
  for (auto& k : kafka_) reading = reading || !k->unassigned();
  if (!reading) {
    if (marking_ && producer_->produce_mark({instance_id_, last_mark_wm_, true})) marking_ = false;
    return;
  }
  if (marking_ && now - last_mark_at_ < us_per_second) return;
  // Nothing read at all (partitions at their end, a syslog input without a message): this
  // instance holds nobody back, as an input without data does not hold a single instance's
  // watermark; but it must still say which partitions it covers.
  const timestamp_us mark = hold ? INT64_MIN : (wm == INT64_MIN ? INT64_MAX : wm);
  // What this instance reads now: the owners wait until every input partition is covered.
  std::vector<std::string> covered;
  for (auto& k : kafka_)
    for (const auto& [key, p] : k->progress())
      if (p.assigned) covered.push_back(partition_name(key));
  if (!producer_->produce_mark({instance_id_, mark, false, std::move(covered)})) return;
  marking_ = true;
  last_mark_wm_ = mark;
  last_mark_at_ = now;
}

// Scale-out, stage 2: the owned partitions' watermark is the smallest of the live
// instances' marks read from them (each instance's own idleness rules already moved its
// mark with the wall clock while its inputs were idle). An instance silent for
// idle_timeout is taken for gone.
void coordinator::stage_two(timestamp_us now) {
  // INT64_MAX: no live instance has read anything at all, which says nothing yet.
  const auto up =
      by_source_sink_->upstream_watermark(now, cfg_.evaluation.idle_timeout, input_partitions_);
  if (up && *up != INT64_MAX) owned_watermark_ = std::max(owned_watermark_, *up);
  const auto due = schedule_.due(owned_watermark_, now);
  emit_ticks(owned_watermark_, due, now);
  export_lag(*by_source_);
  if (owned_watermark_ != INT64_MIN)
    watermark_lag_->set(static_cast<double>(now - owned_watermark_) / 1e6);
}

// Scale-out: the watermark and the evaluations are decided here but take effect where they
// are read back, as ticks in each owned partition's log, so that whoever rebuilds a
// partition from its log makes the same decisions at the same places. A tick goes out on
// every evaluation and otherwise at most once a second while the watermark moves; one that
// could not be queued is sent again on the next step (a repeated tick changes nothing).
void coordinator::emit_ticks(timestamp_us wm, std::optional<timestamp_us> due, timestamp_us now) {
  if (due) pending_due_ = std::max(pending_due_.value_or(INT64_MIN), *due);
  if (wm == INT64_MIN) return;
  if (!pending_due_ && (wm == last_tick_wm_ || now - last_tick_at_ < us_per_second)) return;
  const tick_record tick{wm, pending_due_};
  bool queued = true;
  for (const auto& [key, p] : by_source_->progress())
    if (p.assigned) queued = producer_->produce_tick(key.partition, tick) && queued;
  if (!queued) return;
  pending_due_.reset();
  last_tick_wm_ = last_watermark_ = wm;
  last_tick_at_ = now;
}

void coordinator::step_checkpoint(timestamp_us now, bool force) {
  const auto o = checkpoints_->tick(now, force);
  if (o == checkpoint_protocol::outcome::written) {
    last_checkpoint_ = now;
    checkpoint_seconds_->observe(static_cast<double>(checkpoints_->last_duration()) / 1e6);
    spdlog::debug("checkpoint epoch {} written", checkpoints_->epoch());
  } else if (o == checkpoint_protocol::outcome::abandoned ||
             o == checkpoint_protocol::outcome::write_failed) {
    metrics_
        .get_counter("portscand_checkpoint_failures_total", checkpoint_failures_help,
                     {{"step", checkpoints_->last_problem_step()}})
        .inc();
    if (o == checkpoint_protocol::outcome::write_failed)
      spdlog::error("checkpoint failed: {}", checkpoints_->last_problem());
    else
      spdlog::warn("checkpoint skipped at step {}: {}; retrying later",
                   checkpoints_->last_problem_step(), checkpoints_->last_problem());
  }
}

// At shutdown the protocol may wait, but only as long as its step timeouts allow. A
// checkpoint still in progress predates the final advance: a fresh one replaces it.
bool coordinator::final_checkpoint() {
  checkpoints_->cancel();
  const std::uint64_t before = checkpoints_->epoch();
  step_checkpoint(clock_.now(), true);
  while (checkpoints_->current_stage() != checkpoint_protocol::stage::idle) {
    std::this_thread::sleep_for(10ms);
    step_checkpoint(clock_.now(), false);
  }
  return checkpoints_->epoch() != before;
}

void coordinator::check_liveness() {
  if (heartbeat_.valid() && heartbeat_.wait_for(0s) == std::future_status::ready) {
    heartbeat_ = {};
    last_alive_ = std::chrono::steady_clock::now().time_since_epoch().count();
  }
  if (!heartbeat_.valid()) heartbeat_ = engine_->visit_shards([](std::size_t, shard_state&) {});
}

std::string coordinator::not_ready() const {
  for (const auto& k : kafka_)
    if (!k->healthy())
      return "input " + k->name() + ": the consumer cannot fetch: " + k->health_reason();
  if (by_source_ && !by_source_->healthy())
    return "the scale-out consumer cannot fetch: " + by_source_->health_reason();
  if (producer_ && !producer_->healthy())
    return "a record was refused for good by the scale-out topic " + cfg_.scale_out.topic;
  if (!publisher_->healthy()) return "an output is not accepting alerts";
  if (!shards_alive(60s)) return "the shards have not answered for 60 s";
  return {};
}

void coordinator::reload() {
  spdlog::info("SIGHUP: reloading the rule parameters from {}", config_path_);
  auto loaded = load_config_file(config_path_, builtin_formats().names());
  if (!loaded.problems.empty()) {
    for (const auto& p : loaded.problems) spdlog::error("reload: {}: {}", p.path, p.message);
    spdlog::error("reload refused: the running configuration stays in force");
    return;
  }
  auto r = load_rules(loaded.cfg);
  if (!r.problems.empty()) {
    for (const auto& p : r.problems) spdlog::error("reload: {}: {}", p.path, p.message);
    spdlog::error("reload refused: the running rules stay in force");
    return;
  }
  if (r.rules.lead().bin_width != rules_->lead().bin_width) {
    spdlog::error("reload refused: the bin width cannot change while running (restart instead)");
    return;
  }
  if ((r.rules.vertical != nullptr) != (rules_->vertical != nullptr) ||
      (r.rules.sweep != nullptr) != (rules_->sweep != nullptr)) {
    spdlog::error(
        "reload refused: the kinds of rules in force cannot change while running (restart "
        "instead; the window holds state for the running ones)");
    return;
  }
  if (const auto p = check_exclusion_rules(loaded.cfg, r.rules); !p.empty()) {
    for (const auto& x : p) spdlog::error("reload: {}: {}", x.path, x.message);
    spdlog::error("reload refused: the running rules stay in force");
    return;
  }
  apply_rule_window(loaded.cfg, r.rules.lead());  // scale_out cannot change on reload either
  if (loaded.cfg.evaluation.window != cfg_.evaluation.window) {
    spdlog::error(
        "reload refused: evaluation.window cannot change while running (restart instead; the "
        "window state of the other kind does not carry over)");
    return;
  }
  if (loaded.cfg.reply_flows != cfg_.reply_flows)
    spdlog::warn("reload: reply_flows needs a restart; the running setting stays in force");
  if (loaded.cfg.max_targets != cfg_.max_targets)
    spdlog::warn("reload: evidence.max_targets {} needs a restart; {} stays in force",
                 loaded.cfg.max_targets, cfg_.max_targets);
  if (loaded.cfg.ipv6_prefix != cfg_.ipv6_prefix)
    spdlog::warn("reload: ipv6_prefix {} needs a restart; /{} stays in force",
                 loaded.cfg.ipv6_prefix, cfg_.ipv6_prefix);
  if (rules_->sweep && r.rules.sweep->max_targets != rules_->sweep->max_targets)
    spdlog::warn("reload: the sweep rule's max_targets needs a restart; {} stays in force",
                 rules_->sweep->max_targets);
  rules_ = std::make_shared<const rule_set>(with_options(r.rules, loaded.cfg));
  engine_->set_rules(rules_);
  const rule_definition& lead = rules_->lead();
  schedule_.reconfigure(loaded.cfg.evaluation.schedule, lead.query_frequency,
                        loaded.cfg.evaluation.allowed_lateness);
  spdlog::info(
      "reloaded: threshold {}, caps {}/{}, schedule {}, {} exclusions{}; inputs, outputs, "
      "shards and limits need a restart",
      lead.threshold, lead.max_ports, lead.max_labels,
      loaded.cfg.evaluation.schedule == schedule_kind::hourly ? "hourly" : "on_close",
      loaded.cfg.exclusions.size(),
      rules_->vertical && rules_->sweep
          ? fmt::format(", sweep threshold {}", rules_->sweep->threshold)
          : std::string());
}

int coordinator::run() {
  // Signals are taken synchronously by this thread; every other thread inherits the mask.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);

  spdlog::info("portscand {} starting: {}", version_string, describe_config(cfg_));
  build();
  if (producer_) {
    producer_->start();
    for (const auto& in : cfg_.inputs)
      if (const auto* k = std::get_if<kafka_input_config>(&in.transport))
        for (const auto& t : k->topics) {
          const std::int32_t n = producer_->topic_partitions(t);
          if (n <= 0)
            throw std::runtime_error("input " + in.name + ": topic " + t +
                                     " not found in the brokers' metadata (scale_out needs "
                                     "its partition count)");
          input_partitions_ += static_cast<std::size_t>(n);
        }
    participants_ = std::make_unique<scale_out_participants>(
        kafka_, *by_source_, cfg_.scale_out.topic, *engine_, *publisher_, *producer_);
    spdlog::info(
        "scale_out: records go to topic {} ({} partitions); window state comes from it "
        "(group {}), not from {}",
        cfg_.scale_out.topic, producer_->partitions(), cfg_.scale_out.group, store_.dir());
  } else {
    restore();
    participants_ = std::make_unique<daemon_participants>(kafka_, *engine_, *publisher_, store_);
  }
  checkpoint_timing timing;
  timing.interval = cfg_.checkpoint_interval;
  checkpoints_ = std::make_unique<checkpoint_protocol>(
      *participants_, timing, rules_->lead().metadata->id, rules_->lead().bin_width);
  checkpoints_->restored(restored_epoch_, clock_.now());
  publisher_->start();
  if (!cfg_.metrics.listen.empty()) {
    http_ = std::make_unique<metrics_server>(cfg_.metrics.listen, metrics_,
                                             [this] { return not_ready(); });
    spdlog::info("metrics on http://{}/metrics (port {})", cfg_.metrics.listen, http_->port());
  }
  for (auto& l : syslog_) {
    if (auto st = l->start(); !st) throw std::runtime_error(st.err().message);
    spdlog::info("syslog listener on port {}{}", l->bound_port(),
                 l->socket_activated() ? " (socket activation)" : "");
  }
  if (by_source_) by_source_->start();
  for (auto& k : kafka_) k->start();
  for (auto& f : files_) f->start();
  notify("READY=1\nSTATUS=running");
  spdlog::info("running: {} shard(s), {} input(s), {} output(s)", cfg_.shards, cfg_.inputs.size(),
               cfg_.outputs.size());

  std::uint64_t watchdog_usec = 0;
  const bool watchdog = sd_watchdog_enabled(0, &watchdog_usec) > 0;
  auto last_ping = std::chrono::steady_clock::now();
  last_checkpoint_ = clock_.now();
  bool stopping = false;
  while (!stopping) {
    // While the checkpoint holds the consumers still, come back at once.
    const bool holding = checkpoints_->current_stage() == checkpoint_protocol::stage::offsets;
    timespec ts{0, holding ? 2'000'000 : 100'000'000};
    const int sig = sigtimedwait(&set, nullptr, &ts);
    if (sig == SIGTERM || sig == SIGINT) {
      spdlog::info("signal {}: stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
      stopping = true;
      break;
    }
    if (sig == SIGHUP) {
      notify("RELOADING=1");
      reload();
      notify("READY=1");
    }
    const timestamp_us now = clock_.now();
    feed_watermark(now);
    check_liveness();
    step_checkpoint(now, false);
    checkpoint_age_->set(static_cast<double>(now - last_checkpoint_) / 1e6);
    ready_->set(not_ready().empty() ? 1 : 0);
    // The watchdog is pinged while this loop and the shard threads make progress: a stuck
    // shard stops the pings and systemd restarts the service. Nothing here waits on a broker,
    // a disk or an output.
    if (watchdog && std::chrono::steady_clock::now() - last_ping >=
                        std::chrono::microseconds(watchdog_usec / 2)) {
      if (shards_alive(std::chrono::microseconds(watchdog_usec))) {
        notify("WATCHDOG=1");
        last_ping = std::chrono::steady_clock::now();
      }
    }
  }

  notify("STOPPING=1\nSTATUS=stopping: draining inputs and writing the last checkpoint");
  for (auto& l : syslog_) l->stop();
  for (auto& f : files_) f->stop();
  for (auto& k : kafka_) k->halt();  // pushes what it consumed; the consumer stays open
  if (by_source_) {
    // What the inputs read is on its way to the by-source topic, where the partitions'
    // next owners find it; the final checkpoint commits the inputs once it is delivered.
    // The owners stop waiting for this instance's marks.
    if (marking_) producer_->produce_mark({instance_id_, last_mark_wm_, true});
    by_source_->halt();
  } else {
    feed_watermark(clock_.now());
    engine_->advance(last_watermark_, std::nullopt).wait();
  }
  const bool saved = final_checkpoint();
  for (auto& k : kafka_) k->stop();  // leaves the group after the final commit
  if (by_source_) by_source_->stop();
  engine_->stop();
  if (producer_) producer_->stop(10s);
  publisher_->stop(10s);
  if (http_) http_->stop();
  spdlog::info("stopped{}",
               saved ? " (checkpoint written)" : " (the last checkpoint could not be written)");
  return 0;
}

}  // namespace

int run_daemon(const std::string& config_path, config cfg, rule_set rules, const clock& clk) {
  coordinator c(config_path, std::move(cfg), std::move(rules), clk);
  return c.run();
}

}  // namespace portscand
