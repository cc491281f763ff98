#include "runtime/engine.hpp"

#include <spdlog/spdlog.h>

#include <chrono>
#include <random>

#include "core/thread_guard.hpp"

namespace portscand {
namespace {

constexpr const char* filtered_help =
    "Records dropped by the rule's source filter, the time checks or as reply flows, by reason.";

}  // namespace

engine::engine(engine_options opt, const std::shared_ptr<const rule_definition>& rule,
               const clock& clk, alert_sink& sink, metrics_registry& metrics)
    : engine(std::move(opt), std::make_shared<const rule_set>(rule_set{rule, nullptr}), clk, sink,
             metrics) {}

engine::engine(engine_options opt, const std::shared_ptr<const rule_set>& rules, const clock& clk,
               alert_sink& sink, metrics_registry& metrics)
    : opt_(std::move(opt)), clock_(clk), sink_(sink), metrics_(metrics) {
  PORTSCAND_ASSERT(opt_.shards >= 1, "an engine needs at least one shard");
  PORTSCAND_ASSERT(rules->vertical || rules->sweep, "an engine needs a rule");
  PORTSCAND_ASSERT(rules->lead().bin_width == opt_.window.bin_width,
                   "rule and window disagree on the bin width");
  late_counter_ = &metrics_.get_counter("portscand_records_late_total",
                                        "Records older than the retention horizon, dropped.");
  alerts_counter_ = &metrics_.get_counter("portscand_alerts_total", "Alerts emitted by the rule.");
  for (const auto& [i, kind] : {std::pair<std::size_t, const char*>{0, "vertical"}, {1, "sweep"}})
    rule_alerts_counters_[i] = &metrics_.get_counter(
        "portscand_rule_alerts_total",
        "Alerts emitted, by rule kind (vertical: the port-scan rule; sweep: the port-sweep rule).",
        {{"kind", kind}});
  alerts_excluded_counter_ = &metrics_.get_counter(
      "portscand_alerts_excluded_total",
      "Keys over the threshold not alerted because an exclusion added while their bin was open "
      "covers their source.");
  alerts_suppressed_counter_ = &metrics_.get_counter(
      "portscand_alerts_suppressed_total",
      "Keys over the threshold not alerted because their source alerted less than "
      "suppression.duration before or after.");
  {
    const char* help =
        "Early alerts (early_alerts.enabled) by outcome: sent, or not sent because an "
        "exclusion covers the source or suppression holds the bin's alert back.";
    early_sent_counter_ =
        &metrics_.get_counter("portscand_early_alerts_total", help, {{"outcome", "sent"}});
    early_excluded_counter_ =
        &metrics_.get_counter("portscand_early_alerts_total", help, {{"outcome", "excluded"}});
    early_suppressed_counter_ =
        &metrics_.get_counter("portscand_early_alerts_total", help, {{"outcome", "suppressed"}});
  }
  eval_seconds_ = &metrics_.get_histogram("portscand_evaluation_duration_seconds",
                                          "Time a shard spends evaluating closed bins.",
                                          {0.0001, 0.001, 0.01, 0.1, 1, 10});
  // The cap next to the gauge it bounds, so a dashboard or an alert can show how close a
  // shard is to shedding without knowing the configuration.
  metrics_
      .get_gauge("portscand_tracked_keys_limit",
                 "The per-shard key cap (limits.max_keys_per_shard).")
      .set(static_cast<double>(opt_.window.max_keys));
  // Shedding must know which keys will alert; the window learns the thresholds from here
  // (and from set_rules), as it may not depend on detect.
  opt_.window = window_for(*rules);
  for (unsigned i = 0; i < opt_.shards; ++i) {
    auto s = std::make_unique<shard>(i, opt_.window, opt_.queue_batches);
    set_shard_rules(*s, rules);
    watch_crossings(*s, s->state);
    s->eval.set_ipv6_prefix(opt_.ipv6_prefix);
    const metric_labels shard_label{{"shard", std::to_string(i)}};
    s->keys_gauge = &metrics_.get_gauge(
        "portscand_tracked_keys",
        "Tracked keys per shard: (source, bin), and (source, port, bin) of the sweep rule.",
        shard_label);
    s->bytes_gauge =
        &metrics_.get_gauge("portscand_state_bytes", "Window state bytes per shard.", shard_label);
    s->shed_counter = &metrics_.get_counter(
        "portscand_keys_shed_total",
        "Keys dropped by the per-shard key cap (limits.max_keys_per_shard).", shard_label);
    // A separate name, so the series of portscand_keys_shed_total that dashboards and alert
    // rules sum stay as they are; the bands add up to it.
    for (std::size_t band = 0; band < shed_distance_bands; ++band)
      s->shed_distance_counters[band] = &metrics_.get_counter(
          "portscand_keys_shed_by_distance_total",
          "Keys dropped by the per-shard key cap, by the distinct ports they still needed to "
          "alert.",
          {{"shard", std::to_string(i)}, {"distance", shed_distance_band_names[band]}});
    s->reopened_counter =
        &metrics_.get_counter("portscand_records_reopened_total",
                              "Late records that re-opened an already evaluated bin.", shard_label);
    shards_.push_back(std::move(s));
  }
  for (auto& s : shards_)
    s->thread = std::thread(guarded("shard", [this, sp = s.get()] { run_shard(*sp); }));
}

engine::~engine() {
  stop();
}

void engine::stop() {
  if (stopped_) return;
  stopped_ = true;
  for (auto& s : shards_) s->queue.close();
  for (auto& s : shards_)
    if (s->thread.joinable()) s->thread.join();
}

window_config engine::window_for(const rule_set& rules) const {
  window_config w = opt_.window;
  w.vertical = rules.vertical != nullptr;
  w.sweep = rules.sweep != nullptr;
  if (rules.vertical) w.threshold = rules.vertical->threshold;
  if (rules.sweep) {
    w.sweep_threshold = rules.sweep->threshold;
    w.sweep_max_targets = rules.sweep->max_targets;
  }
  w.early_alerts = rules.lead().early_alerts;
  return w;
}

void engine::set_shard_rules(shard& s, const std::shared_ptr<const rule_set>& rules) {
  publish_exclusions(s);
  s.rules = rules;
  const exclusion_set* sets[2] = {
      rules->vertical ? rules->vertical->exclusions.get() : nullptr,
      rules->sweep && (!rules->vertical || rules->sweep->exclusions != rules->vertical->exclusions)
          ? rules->sweep->exclusions.get()
          : nullptr};
  for (std::size_t k = 0; k < 2; ++k) {
    const std::size_t n = sets[k] != nullptr ? sets[k]->size() : 0;
    s.excluded_pending[k].assign(n, 0);
    s.excluded_counters[k].assign(n, nullptr);
    for (std::size_t i = 0; i < n; ++i)
      s.excluded_counters[k][i] = &metrics_.get_counter(
          "portscand_records_excluded_total",
          "Records not counted because an `exclusions:` entry matched them, by entry.",
          {{"exclusion", sets[k]->name(i)}});
  }
}

void engine::apply_ipv6_prefix(std::vector<network_session>& batch) const {
  if (opt_.ipv6_prefix >= 128) return;
  for (network_session& r : batch)
    if (!r.src.is_v4()) r.src = ip_address::from_v6(mask_bytes(r.src.bytes(), opt_.ipv6_prefix));
}

void engine::publish_exclusions(shard& s) {
  for (std::size_t k = 0; k < 2; ++k)
    for (std::size_t i = 0; i < s.excluded_pending[k].size(); ++i) {
      if (s.excluded_pending[k][i] != 0) s.excluded_counters[k][i]->inc(s.excluded_pending[k][i]);
      s.excluded_pending[k][i] = 0;
    }
}

void engine::apply_exclusions(shard& s, std::vector<network_session>& batch) {
  const rule_set& rules = *s.rules;
  const exclusion_set* v = rules.vertical ? rules.vertical->exclusions.get() : nullptr;
  // The sweep rule's own set, when it has one (a set both rules share is matched once).
  const exclusion_set* w =
      rules.sweep && (!rules.vertical || rules.sweep->exclusions != rules.vertical->exclusions)
          ? rules.sweep->exclusions.get()
          : nullptr;
  const bool v_empty = v == nullptr || v->empty(), w_empty = w == nullptr || w->empty();
  if (v_empty && w_empty) return;
  // The rules a record must be excluded from to leave the batch.
  const std::uint8_t all =
      static_cast<std::uint8_t>((rules.vertical ? network_session::vertical_rule : 0) |
                                (rules.sweep ? network_session::sweep_rule : 0));
  const bool shared = rules.vertical && rules.sweep && w == nullptr;
  std::size_t kept = 0;
  for (std::size_t i = 0; i < batch.size(); ++i) {
    network_session& r = batch[i];
    std::uint8_t from = 0;
    const std::size_t ev = v_empty ? exclusion_set::none : v->match(r);
    if (ev != exclusion_set::none) {
      ++s.excluded_pending[0][ev];
      from |= shared ? all : network_session::vertical_rule;
    }
    const std::size_t ew = w_empty ? exclusion_set::none : w->match(r);
    if (ew != exclusion_set::none) {
      // One count per record and entry: an entry of both sets counts where it matched first.
      if (ev == exclusion_set::none || v->name(ev) != w->name(ew)) ++s.excluded_pending[1][ew];
      from |= network_session::sweep_rule;
    }
    if ((from & all) == all) continue;
    r.excluded_from = from;
    if (kept != i) batch[kept] = r;
    ++kept;
  }
  batch.resize(kept);
}

std::optional<std::pair<std::int64_t, partition_resume>> partition_task::resume_point() const {
  if (next_offset < 0 || next_offset < replay_end) return std::nullopt;
  // A note not yet in the log before next_offset: a new owner starting there would decide
  // without it.
  if (notes_read_back < notes_written) return std::nullopt;
  partition_resume r;
  r.end = next_offset < 0 ? 0 : next_offset;
  std::int64_t from = r.end;
  for (const auto& [start, first] : state.held_bins()) {
    r.bins.push_back(start);
    from = std::min(from, first);
  }
  if (state.sliding()) {
    r.floor = state.decided_before();
    // The notes that still block a crossing the new owner may decide.
    for (const auto& [offset, next_allowed] : notes)
      if (next_allowed > r.floor) from = std::min(from, offset);
  }
  // The watermark in force at `from`: the one after the last tick before it.
  r.watermark = start_watermark;
  for (const auto& [offset, wm] : ticks) {
    if (offset >= from) break;
    r.watermark = wm;
  }
  return std::make_pair(from, std::move(r));
}

void partition_task::forget_ticks_before(std::int64_t offset) {
  while (!ticks.empty() && ticks.front().first < offset) {
    start_watermark = ticks.front().second;
    ticks.pop_front();
  }
  const timestamp_us decided = state.decided_before();
  std::erase_if(notes, [decided](const auto& n) { return n.second <= decided; });
}

void engine::evaluate(shard& s, shard_state& state, timestamp_us before,
                      std::vector<alert>& alerts) {
  const auto t0 = std::chrono::steady_clock::now();
  alerts.clear();
  const timestamp_us now = clock_.now();
  if (s.rules->vertical) s.eval.evaluate(state, *s.rules->vertical, before, now, alerts);
  const std::size_t vertical = alerts.size();
  if (s.rules->sweep) s.eval.evaluate(state, *s.rules->sweep, before, now, alerts);
  count_eval_stats(s);
  eval_seconds_->observe(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  if (!alerts.empty()) {
    alerts_counter_->inc(alerts.size());
    if (vertical != 0) rule_alerts_counters_[0]->inc(vertical);
    if (alerts.size() != vertical) rule_alerts_counters_[1]->inc(alerts.size() - vertical);
    s.alerts.fetch_add(alerts.size(), std::memory_order_relaxed);
    sink_.publish(std::move(alerts));
    alerts = {};
  }
}

void engine::count_eval_stats(shard& s) {
  const evaluator::counters& es = s.eval.stats();
  evaluator::counters& seen = s.eval_seen;
  const auto mirror = [](counter* c, std::uint64_t now, std::uint64_t before) {
    if (now > before) c->inc(now - before);
  };
  mirror(alerts_excluded_counter_, es.excluded, seen.excluded);
  mirror(alerts_suppressed_counter_, es.suppressed, seen.suppressed);
  mirror(early_sent_counter_, es.early_sent, seen.early_sent);
  mirror(early_excluded_counter_, es.early_excluded, seen.early_excluded);
  mirror(early_suppressed_counter_, es.early_suppressed, seen.early_suppressed);
  seen = es;
}

void engine::watch_crossings(shard& s, shard_state& state) {
  state.set_crossing_handler([this, &s](key_view k) {
    s.eval.early(*s.rules->vertical, k, clock_.now(), s.announce_crossings ? &s.early : nullptr);
  });
  state.set_sweep_crossing_handler([this, &s](sweep_view k) {
    s.eval.early(*s.rules->sweep, k, clock_.now(), s.announce_crossings ? &s.early : nullptr);
  });
}

void engine::publish_early(shard& s) {
  if (s.early.empty()) return;
  count_eval_stats(s);
  sink_.publish(std::move(s.early));
  s.early = {};
}

partition_task& engine::task(shard& s, std::int32_t partition) {
  auto& slot = s.tasks[partition];
  if (!slot) {
    slot = std::make_unique<partition_task>(window_for(*s.rules));
    watch_crossings(s, slot->state);
    if (auto* w = slot->state.sliding_window(); w != nullptr && opt_.write_note) {
      w->keep_notes(true);
      // Tells this task's notes from a previous owner's (or an earlier task's here).
      std::random_device rd;
      slot->writer = (std::uint64_t{rd()} << 32) | rd();
    }
  }
  return *slot;
}

void engine::absorb_stats(shard& s, partition_task& t) {
  const auto& st = t.state.stats();
  auto& acc = s.task_stats;
  acc.late_dropped += st.late_dropped - t.seen.late_dropped;
  acc.reopened += st.reopened - t.seen.reopened;
  acc.shed_keys += st.shed_keys - t.seen.shed_keys;
  acc.shed_passes += st.shed_passes - t.seen.shed_passes;
  for (std::size_t band = 0; band < shed_distance_bands; ++band)
    acc.shed_by_distance[band] += st.shed_by_distance[band] - t.seen.shed_by_distance[band];
  acc.freed_bins += st.freed_bins - t.seen.freed_bins;
  t.seen = st;
}

void engine::handle_task_op(shard& s, const task_op& op, std::vector<alert>& alerts) {
  switch (op.op) {
    case task_op::kind::open: {
      s.tasks.erase(op.partition);
      partition_task& t = task(s, op.partition);
      t.start_watermark = op.watermark;
      t.next_offset = op.offset;
      t.replay_end = op.end;
      if (op.watermark != INT64_MIN) t.state.advance_watermark(op.watermark);
      if (auto* w = t.state.sliding_window(); w != nullptr && op.floor != INT64_MIN)
        w->set_floor(op.floor);
      return;
    }
    case task_op::kind::note: {
      partition_task& t = task(s, op.partition);
      if (auto* w = t.state.sliding_window(); w != nullptr && op.note) {
        w->apply_note(op.note->source, op.note->next_allowed);
        t.notes.emplace_back(op.offset, op.note->next_allowed);
        if (op.note->writer == t.writer)
          t.notes_read_back = std::max(t.notes_read_back, op.note->seq);
      }
      t.next_offset = op.offset + 1;
      return;
    }
    case task_op::kind::close:
      if (auto it = s.tasks.find(op.partition); it != s.tasks.end()) {
        absorb_stats(s, *it->second);
        s.tasks.erase(it);
      }
      return;
    case task_op::kind::tick: {
      partition_task& t = task(s, op.partition);
      if (op.watermark != INT64_MIN) t.state.advance_watermark(op.watermark);
      if (op.evaluate_before) {
        // Below replay_end the previous owner decided, and its notes say what: a re-read
        // only marks its sources evaluated.
        sliding_state* w = t.state.sliding_window();
        if (w != nullptr) w->set_replaying(op.offset < t.replay_end);
        evaluate(s, t.state, *op.evaluate_before, alerts);
        if (w != nullptr) {
          w->set_replaying(false);
          for (const auto& [src, next_allowed] : w->take_notes()) {
            note_record n{t.writer, ++t.notes_written, src, next_allowed};
            opt_.write_note(op.partition, n);
          }
        }
        // As for advance(): the bins just evaluated may now be freed.
        if (op.watermark != INT64_MIN && op.watermark != INT64_MAX)
          t.state.advance_watermark(op.watermark + 1);
      }
      t.ticks.emplace_back(op.offset, t.state.watermark());
      t.next_offset = op.offset + 1;
      absorb_stats(s, t);
      return;
    }
  }
}

void engine::run_shard(shard& s) {
  std::vector<alert> alerts;
  while (auto msg = s.queue.pop()) {
    if (auto* batch = std::get_if<std::vector<network_session>>(&*msg)) {
      apply_exclusions(s, *batch);
      apply_ipv6_prefix(*batch);
      const std::size_t late = s.state.add_batch(batch->data(), batch->size());
      if (late != 0) late_counter_->inc(late);
      publish_early(s);
      continue;
    }
    if (auto* pb = std::get_if<partition_batch>(&*msg)) {
      partition_task& t = task(s, pb->partition);
      t.state.set_source_offset(pb->first_offset);
      apply_exclusions(s, pb->records);
      apply_ipv6_prefix(pb->records);
      // A re-read after a handover rebuilds state the previous owner had: its crossings were
      // announced there, so they are marked and not announced again.
      s.announce_crossings = pb->first_offset >= t.replay_end;
      const std::size_t late = t.state.add_batch(pb->records.data(), pb->records.size());
      if (late != 0) late_counter_->inc(late);
      t.next_offset = pb->next_offset;
      s.announce_crossings = true;
      publish_early(s);
      continue;
    }
    control& c = std::get<control>(*msg);
    if (c.rules) {
      set_shard_rules(s, c.rules);
      // Shedding protects the keys over the new thresholds.
      const window_config w = window_for(*c.rules);
      const auto apply = [&w](shard_state& st) {
        st.set_threshold(w.threshold);
        st.set_sweep_threshold(w.sweep_threshold);
        st.set_early_alerts(w.early_alerts);
      };
      apply(s.state);
      for (auto& [p, t] : s.tasks) apply(t->state);
    }
    if (c.task) handle_task_op(s, *c.task, alerts);
    if (c.visit) (*c.visit)(s.index, s.state);
    if (c.visit_eval) (*c.visit_eval)(s.index, s.eval);
    if (c.visit_tasks)
      for (auto& [p, t] : s.tasks) (*c.visit_tasks)(p, *t);
    if (c.watermark != INT64_MIN) s.state.advance_watermark(c.watermark);
    if (c.evaluate_before) {
      evaluate(s, s.state, *c.evaluate_before, alerts);
      // A watermark that moved during evaluation may now free the bins just evaluated.
      if (c.watermark != INT64_MIN && c.watermark != INT64_MAX)
        s.state.advance_watermark(c.watermark + 1);
    }
    publish_shard_stats(s);
    if (c.done) c.done->arrive();
  }
}

void engine::publish_shard_stats(shard& s) {
  publish_exclusions(s);
  count_eval_stats(s);  // early alerts not sent change them between evaluations
  shard_state::counters st = s.state.stats();
  std::size_t keys = s.state.keys(), bins = s.state.bins();
  if (opt_.partitioned) {
    for (auto& [p, t] : s.tasks) {
      absorb_stats(s, *t);
      keys += t->state.keys();
      bins += t->state.bins();
    }
    st = s.task_stats;
  }
  s.keys.store(keys, std::memory_order_relaxed);
  s.bins.store(bins, std::memory_order_relaxed);
  s.late.store(st.late_dropped, std::memory_order_relaxed);
  s.reopened.store(st.reopened, std::memory_order_relaxed);
  s.shed.store(st.shed_keys, std::memory_order_relaxed);
  if (st.shed_keys > s.shed_seen) s.shed_counter->inc(st.shed_keys - s.shed_seen);
  if (st.reopened > s.reopened_seen) s.reopened_counter->inc(st.reopened - s.reopened_seen);
  s.shed_seen = st.shed_keys;
  for (std::size_t band = 0; band < shed_distance_bands; ++band) {
    const std::uint64_t n = st.shed_by_distance[band];
    if (n > s.shed_distance_seen[band])
      s.shed_distance_counters[band]->inc(n - s.shed_distance_seen[band]);
    s.shed_distance_seen[band] = n;
  }
  s.reopened_seen = st.reopened;
  s.keys_gauge->set(static_cast<double>(keys));
  // The byte count walks every key: at most every 10 s.
  const timestamp_us now = clock_.now();
  if (s.last_bytes_walk == 0 || now - s.last_bytes_walk >= 10 * us_per_second) {
    std::size_t bytes = s.state.memory_bytes();
    for (const auto& [p, t] : s.tasks) bytes += t->state.memory_bytes();
    s.bytes_gauge->set(static_cast<double>(bytes));
    s.last_bytes_walk = now;
  }
}

bool engine::try_push_partition(partition_batch& batch) {
  PORTSCAND_ASSERT(opt_.partitioned, "partition batches need a partitioned engine");
  const std::size_t shard = shard_of_partition(batch.partition);
  message m(std::move(batch));
  if (shards_[shard]->queue.try_push(m)) return true;
  batch = std::move(std::get<partition_batch>(m));
  return false;
}

void engine::push_task_op(task_op op) {
  PORTSCAND_ASSERT(opt_.partitioned, "task operations need a partitioned engine");
  control c;
  const std::size_t shard = shard_of_partition(op.partition);
  c.task = std::move(op);
  shards_[shard]->queue.push_control(std::move(c));
}

std::future<void> engine::visit_tasks(std::function<void(std::int32_t, partition_task&)> fn) {
  auto done = std::make_shared<completion>(shards_.size());
  auto fut = done->promise.get_future();
  auto shared_fn =
      std::make_shared<std::function<void(std::int32_t, partition_task&)>>(std::move(fn));
  for (auto& s : shards_) {
    control c;
    c.visit_tasks = shared_fn;
    c.done = done;
    if (!s->queue.push_control(std::move(c))) done->arrive();
  }
  return fut;
}

std::future<void> engine::advance(timestamp_us watermark,
                                  std::optional<timestamp_us> evaluate_before) {
  auto done = std::make_shared<completion>(shards_.size());
  auto fut = done->promise.get_future();
  for (auto& s : shards_) {
    control c;
    c.watermark = watermark;
    c.evaluate_before = evaluate_before;
    c.done = done;
    if (!s->queue.push_control(std::move(c))) done->arrive();
  }
  return fut;
}

std::future<void> engine::visit_shards(std::function<void(std::size_t, shard_state&)> fn) {
  auto done = std::make_shared<completion>(shards_.size());
  auto fut = done->promise.get_future();
  auto shared_fn = std::make_shared<std::function<void(std::size_t, shard_state&)>>(std::move(fn));
  for (auto& s : shards_) {
    control c;
    c.visit = shared_fn;
    c.done = done;
    if (!s->queue.push_control(std::move(c))) done->arrive();
  }
  return fut;
}

std::future<void> engine::visit_evaluators(std::function<void(std::size_t, evaluator&)> fn) {
  auto done = std::make_shared<completion>(shards_.size());
  auto fut = done->promise.get_future();
  auto shared_fn = std::make_shared<std::function<void(std::size_t, evaluator&)>>(std::move(fn));
  for (auto& s : shards_) {
    control c;
    c.visit_eval = shared_fn;
    c.done = done;
    if (!s->queue.push_control(std::move(c))) done->arrive();
  }
  return fut;
}

void engine::set_rule(const std::shared_ptr<const rule_definition>& rule) {
  set_rules(std::make_shared<const rule_set>(rule_set{rule, nullptr}));
}

void engine::set_rules(const std::shared_ptr<const rule_set>& rules) {
  PORTSCAND_ASSERT(rules->lead().bin_width == opt_.window.bin_width,
                   "the bin width cannot change at run time");
  PORTSCAND_ASSERT((rules->vertical != nullptr) == opt_.window.vertical &&
                       (rules->sweep != nullptr) == opt_.window.sweep,
                   "the kinds of rules cannot change at run time");
  for (auto& s : shards_) {
    control c;
    c.rules = rules;
    s->queue.push_control(std::move(c));
  }
}

engine::totals engine::snapshot() const {
  totals t;
  for (const auto& s : shards_) {
    t.keys += s->keys.load(std::memory_order_relaxed);
    t.bins += s->bins.load(std::memory_order_relaxed);
    t.late += s->late.load(std::memory_order_relaxed);
    t.reopened += s->reopened.load(std::memory_order_relaxed);
    t.shed += s->shed.load(std::memory_order_relaxed);
    t.alerts += s->alerts.load(std::memory_order_relaxed);
  }
  return t;
}

std::unique_ptr<engine::dispatcher> engine::make_dispatcher(std::string input_name) {
  return std::make_unique<dispatcher>(*this, std::move(input_name));
}

engine::dispatcher::dispatcher(engine& e, std::string input_name)
    : engine_(e), input_(std::move(input_name)), pending_(e.shards()) {
  for (auto& p : pending_) p.reserve(batch_size);
  const source_class classes[] = {source_class::candidate, source_class::private_v4,
                                  source_class::loopback, source_class::private_v6,
                                  source_class::ipv6_sentinel};
  for (source_class c : classes) {
    if (c == source_class::candidate) continue;
    filtered_[static_cast<std::size_t>(c)] =
        &engine_.metrics_.get_counter("portscand_records_filtered_total", filtered_help,
                                      {{"input", input_}, {"reason", std::string(to_string(c))}});
  }
  future_ = &engine_.metrics_.get_counter("portscand_records_filtered_total", filtered_help,
                                          {{"input", input_}, {"reason", "future"}});
  if (engine_.opt_.skip_reply_flows)
    reply_flow_ = &engine_.metrics_.get_counter("portscand_records_filtered_total", filtered_help,
                                                {{"input", input_}, {"reason", "reply_flow"}});
}

std::string_view engine::dispatcher::format_name() const noexcept {
  if (decoder_ == nullptr || decoder_->last_format().empty()) return "unknown";
  return decoder_->last_format();
}

counter& engine::dispatcher::count(std::unordered_map<reason_key, counter*, reason_hash>& cache,
                                   const char* metric, const char* help, std::string_view reason) {
  reason_key key{std::string(format_name()), std::string(reason)};
  auto it = cache.find(key);
  if (it != cache.end()) return *it->second;
  metric_labels labels{{"input", input_}, {"format", key.format}};
  if (!reason.empty()) labels.emplace_back("reason", key.reason);
  counter* c = &engine_.metrics_.get_counter(metric, help, labels);
  cache.emplace(std::move(key), c);
  return *c;
}

void engine::dispatcher::log_reject(std::string_view what, std::string_view reason) {
  std::uint64_t suppressed = 0;
  std::string key = std::string(format_name()) + "/" + std::string(reason);
  if (!log_.allow(key, engine_.clock_.now(), suppressed)) return;
  spdlog::warn(
      "input {}: {} record (format {}): {}{}", input_, what, format_name(), reason,
      suppressed != 0 ? fmt::format(" ({} more since the last line)", suppressed) : std::string());
}

void engine::dispatcher::skipped(std::string_view reason) {
  count(skipped_, "portscand_records_skipped_total",
        "Well-formed records that are not network sessions (not_a_session), by reason.", reason)
      .inc();
}

void engine::dispatcher::rejected(std::string_view reason) {
  count(rejected_, "portscand_records_rejected_total",
        "Malformed records, by input, format and reason.", reason)
      .inc();
  log_reject("rejected", reason);
}

void engine::dispatcher::ignored_field(std::string_view reason) {
  count(ignored_, "portscand_record_fields_ignored_total",
        "Optional fields that could not be read and were passed over in records that were kept, "
        "by input, format and reason.",
        reason)
      .inc();
  log_reject("kept a", reason);
}

void engine::dispatcher::record(const network_session& in) {
  const std::string_view format = format_name();
  if (format.data() != last_format_) {
    publish_counts();
    last_parsed_ = &count(parsed_, "portscand_records_parsed_total",
                          "Network-session records parsed, by input and format.", {});
    last_format_ = format.data();
  }
  ++parsed_pending_;
  // The answering side of a connection probed nothing: its "destination port" is the
  // initiator's source port (README "Reply flows"). Parsers only say which side a record
  // is; this is the one place that decides.
  if (in.side == flow_side::reply && engine_.opt_.skip_reply_flows) {
    ++reply_flow_pending_;
    return;
  }
  network_session r = in;
  // The decoder's normalize() set the time (README "Normalization"); a record that did not
  // come through a decoder with a receive time takes the dispatcher's.
  if (!r.has_time) {
    r.time = now_;
    r.has_time = true;
  }
  const source_class c = classify_source(r.src, engine_.opt_.mode);
  if (c != source_class::candidate) {
    ++filtered_pending_[static_cast<std::size_t>(c)];
    return;
  }
  if (r.time > now_ + engine_.opt_.max_future_skew) {
    future_->inc();
    log_reject("dropped future-dated", "time ahead of the wall clock by more than max_future_skew");
    return;
  }
  max_event_ = std::max(max_event_, r.time);
  // With IPv6 prefixes the prefix is the key: its shard is the prefix's. The record keeps
  // its whole address until the shard has applied the exclusions (apply_ipv6_prefix).
  const std::size_t shard = engine_.opt_.forward != nullptr ? 0
                            : engine_.opt_.ipv6_prefix < 128 && !r.src.is_v4()
                                ? engine_.shard_of(ip_address::from_v6(
                                      mask_bytes(r.src.bytes(), engine_.opt_.ipv6_prefix)))
                                : engine_.shard_of(r.src);
  auto& batch = pending_[shard];
  batch.push_back(r);
  if (batch.size() >= batch_size) push_batch(shard);
}

void engine::dispatcher::publish_counts() noexcept {
  if (parsed_pending_ != 0) last_parsed_->inc(parsed_pending_);
  parsed_pending_ = 0;
  if (reply_flow_pending_ != 0) reply_flow_->inc(reply_flow_pending_);
  reply_flow_pending_ = 0;
  for (std::size_t i = 0; i < filtered_pending_.size(); ++i) {
    if (filtered_pending_[i] != 0) filtered_[i]->inc(filtered_pending_[i]);
    filtered_pending_[i] = 0;
  }
}

void engine::dispatcher::push_batch(std::size_t shard) {
  publish_counts();
  if (record_forwarder* f = engine_.opt_.forward) {
    auto& batch = pending_[shard];
    if (!f->forward(batch, !drop_when_full_)) {
      count_dropped(batch.size(), "scale-out producer queue full");
      batch.clear();
    }
    return;
  }
  std::vector<network_session> out;
  out.reserve(batch_size);
  out.swap(pending_[shard]);
  if (!drop_when_full_) {
    engine_.shards_[shard]->queue.push(std::move(out));
    return;
  }
  const std::size_t n = out.size();
  message m(std::move(out));
  if (!engine_.shards_[shard]->queue.try_push(m)) count_dropped(n, "shard queue full");
}

void engine::dispatcher::count_dropped(std::size_t n, std::string_view why) {
  if (dropped_ == nullptr)
    dropped_ = &engine_.metrics_.get_counter(
        "portscand_records_dropped_total",
        "Records of lossy inputs dropped because the shards were behind.",
        {{"input", input_}, {"reason", "queue_full"}});
  dropped_->inc(n);
  log_reject("dropped", why);
}

void engine::dispatcher::flush() {
  publish_counts();
  for (std::size_t i = 0; i < pending_.size(); ++i)
    if (!pending_[i].empty()) push_batch(i);
}

bool engine::dispatcher::try_flush() {
  publish_counts();
  if (record_forwarder* f = engine_.opt_.forward)
    return pending_[0].empty() || f->forward(pending_[0], false);
  bool all = true;
  for (std::size_t i = 0; i < pending_.size(); ++i) {
    if (pending_[i].empty()) continue;
    message m(std::move(pending_[i]));
    if (engine_.shards_[i]->queue.try_push(m)) {
      pending_[i] = {};
      pending_[i].reserve(batch_size);
    } else {
      pending_[i] = std::move(std::get<std::vector<network_session>>(m));  // not queued: keep it
      all = false;
    }
  }
  return all;
}

}  // namespace portscand
