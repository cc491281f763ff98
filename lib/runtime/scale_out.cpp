#include "runtime/scale_out.hpp"

#include <librdkafka/rdkafka.h>
#include <simdjson.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <set>

#include "core/thread_guard.hpp"
#include "publish/kafka_properties.hpp"

namespace portscand {
namespace {

using namespace std::chrono_literals;

using conf_ptr = std::unique_ptr<rd_kafka_conf_t, decltype(&rd_kafka_conf_destroy)>;

timestamp_us wall_now() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string lower_err_name(rd_kafka_resp_err_t e) {
  std::string n = rd_kafka_err2name(e);
  std::transform(n.begin(), n.end(), n.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  while (!n.empty() && n.front() == '_') n.erase(n.begin());
  return n;
}

// The properties default to the first Kafka input's: a producer ignores the consumer's
// own ones, and librdkafka would warn at start about each.
bool consumer_only_property(const std::string& k) {
  for (const char* prefix :
       {"group.", "fetch.", "auto.", "enable.auto.", "queued.", "coordinator.", "consume."})
    if (k.rfind(prefix, 0) == 0) return true;
  for (const char* name :
       {"session.timeout.ms", "heartbeat.interval.ms", "max.poll.interval.ms",
        "partition.assignment.strategy", "isolation.level", "check.crcs", "enable.partition.eof",
        "offset.store.method", "allow.auto.create.topics"})
    if (k == name) return true;
  return false;
}

}  // namespace

struct by_source_producer::callbacks {
  static void delivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
    static_cast<by_source_producer*>(opaque)->on_delivery(m->err, m->len + m->key_len);
  }
  static int stats(rd_kafka_t*, char* json, size_t len, void* opaque) {
    static_cast<by_source_producer*>(opaque)->on_stats(std::string_view(json, len));
    return 0;  // librdkafka frees the JSON
  }
};

// The bytes librdkafka has sent to the brokers (compressed batches and request framing:
// what the topic costs on the wire), from its statistics.
void by_source_producer::on_stats(std::string_view json) {
  simdjson::ondemand::parser parser;
  simdjson::padded_string padded(json);
  std::uint64_t tx_bytes = 0;
  auto doc = parser.iterate(padded);
  if (doc.error() || doc["tx_bytes"].get(tx_bytes) != simdjson::SUCCESS) return;
  if (tx_bytes > wire_seen_) wire_bytes_->inc(tx_bytes - wire_seen_);
  wire_seen_ = tx_bytes;
}

by_source_producer::by_source_producer(const scale_out_config& cfg, metrics_registry& metrics)
    : cfg_(cfg),
      metrics_(metrics),
      records_(&metrics.get_counter("portscand_scale_out_records_produced_total",
                                    "Records forwarded to the by-source topic (stage 1).")),
      bytes_(&metrics.get_counter(
          "portscand_scale_out_bytes_delivered_total",
          "Key and value bytes of the messages delivered to the by-source topic, before the "
          "batch compression.")),
      ticks_(&metrics.get_counter("portscand_scale_out_ticks_total",
                                  "Ticks appended to owned partitions of the by-source topic.")),
      wire_bytes_(&metrics.get_counter(
          "portscand_scale_out_wire_bytes_total",
          "Bytes sent to the brokers of the by-source topic: compressed batches and request "
          "framing (librdkafka statistics, every 5 s).")),
      marks_(&metrics.get_counter(
          "portscand_scale_out_marks_total",
          "Marks (this instance's input watermark) appended to the by-source topic.")),
      notes_(&metrics.get_counter(
          "portscand_scale_out_notes_total",
          "Sliding-window decisions (a source's next allowed crossing) appended to owned "
          "partitions of the by-source topic.")),
      queue_full_(&metrics.get_counter(
          "portscand_scale_out_queue_full_total",
          "Times a forward found the producer's queue full (the input waited or dropped).")) {}

by_source_producer::~by_source_producer() {
  stop(0ms);
}

void by_source_producer::start() {
  conf_ptr conf(rd_kafka_conf_new(), &rd_kafka_conf_destroy);
  auto set = [&](const std::string& k, const std::string& v) {
    if (auto why = set_kafka_property(conf.get(), k, v))
      throw std::runtime_error("scale_out: librdkafka property '" + k + "': " + *why);
  };
  set("bootstrap.servers", cfg_.brokers);
  set("client.id", "portscand-by-source");
  // Java's default partitioner for keyed records (murmur2): an external producer writing
  // pre-keyed records lands on the same partitions.
  set("partitioner", "murmur2_random");
  // Idempotent: retries neither duplicate nor reorder a producer's records in a partition.
  set("enable.idempotence", "true");
  set("linger.ms", "20");
  set("compression.codec", "lz4");
  // Never give up on a record: a record that is not delivered is never committed as read,
  // and the input waits (backpressure) instead of losing it.
  set("message.timeout.ms", "0");
  for (const auto& [k, v] : cfg_.properties)
    if (!consumer_only_property(k)) set(k, v);
  if (cfg_.properties.count("statistics.interval.ms") == 0) set("statistics.interval.ms", "5000");
  rd_kafka_conf_set_dr_msg_cb(conf.get(), &callbacks::delivery);
  rd_kafka_conf_set_stats_cb(conf.get(), &callbacks::stats);
  rd_kafka_conf_set_opaque(conf.get(), this);
  char err[512];
  rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf.get(), err, sizeof err);
  if (rk_ == nullptr)
    throw std::runtime_error(std::string("scale_out: cannot create producer: ") + err);
  static_cast<void>(conf.release());  // rd_kafka_new took it
  ensure_topic();
  poller_ = std::thread(guarded("by-source-producer", [this] {
    while (!stop_.load(std::memory_order_acquire)) rd_kafka_poll(rk_, 100);
  }));
}

// A metadata request for every topic: one naming the topic would make a broker with
// auto.create.topics.enable create it with its default partition count.
std::int32_t by_source_producer::topic_partitions(const std::string& topic) {
  const rd_kafka_metadata_t* md = nullptr;
  std::int32_t n = 0;
  if (rd_kafka_metadata(rk_, 1, nullptr, &md, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
    for (int i = 0; i < md->topic_cnt; ++i)
      if (topic == md->topics[i].topic && md->topics[i].err == RD_KAFKA_RESP_ERR_NO_ERROR)
        n = md->topics[i].partition_cnt;
  }
  if (md != nullptr) rd_kafka_metadata_destroy(md);
  return n;
}

void by_source_producer::ensure_topic() {
  if ((partitions_ = topic_partitions(cfg_.topic)) > 0) {
    if (partitions_ != cfg_.partitions)
      spdlog::warn(
          "scale_out: topic {} exists with {} partitions (scale_out.partitions says {}); using "
          "it as it is",
          cfg_.topic, partitions_, cfg_.partitions);
    return;
  }
  rd_kafka_NewTopic_t* topic = nullptr;
  char err[512];
  topic = rd_kafka_NewTopic_new(cfg_.topic.c_str(), cfg_.partitions, cfg_.replication_factor, err,
                                sizeof err);
  if (topic == nullptr) throw std::runtime_error(std::string("scale_out: ") + err);
  rd_kafka_NewTopic_set_config(topic, "retention.ms",
                               std::to_string(cfg_.retention / 1000).c_str());
  rd_kafka_NewTopic_set_config(topic, "cleanup.policy", "delete");
  rd_kafka_queue_t* q = rd_kafka_queue_new(rk_);
  rd_kafka_AdminOptions_t* opt = rd_kafka_AdminOptions_new(rk_, RD_KAFKA_ADMIN_OP_CREATETOPICS);
  rd_kafka_AdminOptions_set_request_timeout(opt, 10000, err, sizeof err);
  rd_kafka_CreateTopics(rk_, &topic, 1, opt, q);
  rd_kafka_event_t* ev = rd_kafka_queue_poll(q, 15000);
  std::string problem;
  if (ev == nullptr) {
    problem = "no answer to CreateTopics within 15 s";
  } else if (rd_kafka_event_error(ev) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    problem = rd_kafka_event_error_string(ev);
  } else if (const auto* res = rd_kafka_event_CreateTopics_result(ev)) {
    std::size_t n = 0;
    const rd_kafka_topic_result_t** topics = rd_kafka_CreateTopics_result_topics(res, &n);
    for (std::size_t i = 0; i < n; ++i) {
      const rd_kafka_resp_err_t e = rd_kafka_topic_result_error(topics[i]);
      if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
        spdlog::info("scale_out: created topic {} with {} partitions", cfg_.topic, cfg_.partitions);
      else if (e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
        problem = std::string("creating topic ") + cfg_.topic + ": " +
                  (rd_kafka_topic_result_error_string(topics[i]) != nullptr
                       ? rd_kafka_topic_result_error_string(topics[i])
                       : rd_kafka_err2str(e));
    }
  }
  if (ev != nullptr) rd_kafka_event_destroy(ev);
  rd_kafka_AdminOptions_destroy(opt);
  rd_kafka_queue_destroy(q);
  rd_kafka_NewTopic_destroy(topic);
  // Whatever CreateTopics said (a user may not be allowed to create topics), the topic must
  // exist now: its partition count is what routes marks and ticks. A new topic's metadata
  // may take a moment to reach every broker.
  for (int i = 0; i < 20 && (partitions_ = topic_partitions(cfg_.topic)) <= 0; ++i)
    std::this_thread::sleep_for(250ms);
  if (partitions_ <= 0)
    throw std::runtime_error("scale_out: topic " + cfg_.topic + " is not available" +
                             (problem.empty() ? std::string() : " (" + problem + ")"));
  if (partitions_ != cfg_.partitions)
    spdlog::warn(
        "scale_out: topic {} exists with {} partitions (scale_out.partitions says {}); using "
        "it as it is",
        cfg_.topic, partitions_, cfg_.partitions);
}

bool by_source_producer::stop(std::chrono::milliseconds timeout) {
  if (rk_ == nullptr) return true;
  const rd_kafka_resp_err_t e = rd_kafka_flush(rk_, static_cast<int>(timeout.count()));
  stop_.store(true, std::memory_order_release);
  if (poller_.joinable()) poller_.join();
  const int left = rd_kafka_outq_len(rk_);
  rd_kafka_destroy(rk_);
  rk_ = nullptr;
  if (e != RD_KAFKA_RESP_ERR_NO_ERROR || left > 0) {
    spdlog::warn("scale_out: {} message(s) not delivered to {} at shutdown", left, cfg_.topic);
    return false;
  }
  return true;
}

void by_source_producer::on_delivery(int err, std::size_t bytes) {
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    bytes_->inc(bytes);
    delivered_.fetch_add(1, std::memory_order_acq_rel);
    return;
  }
  // With message.timeout.ms=0 librdkafka gives up only on errors it cannot retry (an
  // authorization failure, a fenced producer): the record is lost to the topic, so no
  // checkpoint may commit past it again; the daemon reports itself not ready.
  const auto e = static_cast<rd_kafka_resp_err_t>(err);
  metrics_
      .get_counter("portscand_scale_out_delivery_failures_total",
                   "Messages the by-source topic refused for good, by error.",
                   {{"kind", lower_err_name(e)}})
      .inc();
  failed_.store(true, std::memory_order_release);
  std::uint64_t suppressed = 0;
  std::lock_guard lock(log_mu_);
  if (log_.allow("delivery", wall_now(), suppressed))
    spdlog::error("scale_out: a message to {} failed for good: {}{}", cfg_.topic,
                  rd_kafka_err2str(e),
                  suppressed != 0 ? " (" + std::to_string(suppressed) + " more)" : std::string());
}

bool by_source_producer::produce(const std::string& key, const std::string& value,
                                 std::int32_t partition, bool block) {
  for (;;) {
    const rd_kafka_resp_err_t e = rd_kafka_producev(
        rk_, RD_KAFKA_V_TOPIC(cfg_.topic.c_str()), RD_KAFKA_V_PARTITION(partition),
        RD_KAFKA_V_KEY(key.empty() ? nullptr : key.data(), key.size()),
        RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR) {
      enqueued_.fetch_add(1, std::memory_order_acq_rel);
      return true;
    }
    if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL)
      throw std::runtime_error("scale_out: produce to " + cfg_.topic +
                               " failed: " + rd_kafka_err2str(e));
    queue_full_->inc();
    if (!block) return false;
    std::this_thread::sleep_for(1ms);
  }
}

bool by_source_producer::forward(std::vector<network_session>& batch, bool block) {
  thread_local std::string key, value;
  const label_table& labels = label_table::global();
  std::size_t taken = 0;
  for (; taken < batch.size(); ++taken) {
    const network_session& s = batch[taken];
    key = session_record_key(s.src);
    value.clear();
    encode_session_record(s, labels.view(s.reported_by), labels.view(s.device), value);
    if (!produce(key, value, RD_KAFKA_PARTITION_UA, block)) break;
  }
  records_->inc(taken);
  batch.erase(batch.begin(), batch.begin() + static_cast<std::ptrdiff_t>(taken));
  return batch.empty();
}

bool by_source_producer::produce_tick(std::int32_t partition, const tick_record& tick) {
  if (!produce({}, encode_tick_record(tick), partition, false)) return false;
  ticks_->inc();
  return true;
}

void by_source_producer::produce_note(std::int32_t partition, const note_record& note) {
  produce({}, encode_note_record(note), partition, true);
  notes_->inc();
}

bool by_source_producer::produce_mark(const mark_record& mark) {
  const std::string value = encode_mark_record(mark);
  bool all = true;
  for (std::int32_t p = 0; p < partitions_; ++p) all = produce({}, value, p, false) && all;
  if (all) marks_->inc();
  return all;
}

// ---- stage 2 ----

by_source_sink::by_source_sink(engine& eng, timestamp_us bin_width, metrics_registry& metrics)
    : engine_(eng),
      bin_width_(bin_width),
      metrics_(metrics),
      queued_(eng.shards()),
      received_(&metrics.get_counter(
          "portscand_records_received_total",
          "Units received by an input before parsing (a line, a Kafka message, a syslog message).",
          {{"input", "scale_out"}})),
      replay_skipped_(&metrics.get_counter(
          "portscand_scale_out_replay_skipped_total",
          "Records read again after a partition moved that belong to bins its previous owner had "
          "already finished.")),
      opened_(&metrics.get_counter(
          "portscand_scale_out_partitions_opened_total",
          "By-source partitions whose state was rebuilt from the log after an assignment.")),
      resumed_(&metrics.get_counter(
          "portscand_scale_out_partitions_resumed_total",
          "By-source partitions assigned back to this instance with their state kept.")),
      no_metadata_(&metrics.get_counter(
          "portscand_scale_out_resume_metadata_missing_total",
          "Assignments whose committed offset came without usable resume metadata.")) {}

void by_source_sink::on_assigned(std::vector<assigned_partition>& parts) {
  for (auto& a : parts) {
    auto& p = partitions_[a.key.partition];
    if (!p.owned && p.next_offset >= 0) {
      // Revoked and handed straight back (an eager rebalance): the task is intact and
      // resumes after what it has; whatever another owner did meanwhile is in the log
      // after that offset and is read again here, in the same order.
      p.owned = true;
      a.start = p.next_offset;
      resumed_->inc();
      std::lock_guard lock(marks_mu_);
      marks_[a.key.partition].clear();
      continue;
    }
    p = partition{};
    p.owned = true;
    task_op open;
    open.op = task_op::kind::open;
    open.partition = a.key.partition;
    std::optional<partition_resume> resume;
    if (a.committed_known && a.committed >= 0) {
      resume = decode_partition_resume(a.metadata);
      if (!resume) {
        no_metadata_->inc();
        spdlog::warn(
            "scale_out: partition {} was committed at {} without resume metadata: its state is "
            "rebuilt from there only",
            a.key.partition, a.committed);
      }
      a.start = a.committed;
      open.offset = a.committed;
      p.next_offset = a.committed;
    } else if (!a.committed_known) {
      no_metadata_->inc();
      spdlog::error(
          "scale_out: the committed offset of partition {} could not be read: it is read from "
          "the group's committed offset without its resume metadata",
          a.key.partition);
    }
    if (resume) {
      open.watermark = resume->watermark;
      open.end = resume->end;
      open.floor = resume->floor;
      if (resume->end > a.committed) p.replay = filter{resume->end, resume->bins};
    }
    opened_->inc();
    queue_op(open);
    std::lock_guard lock(marks_mu_);
    marks_[a.key.partition].clear();
  }
  // Revoked and not handed back: another member owns them now.
  for (auto it = partitions_.begin(); it != partitions_.end();) {
    if (it->second.owned) {
      ++it;
      continue;
    }
    task_op close;
    close.op = task_op::kind::close;
    close.partition = it->first;
    queue_op(close);
    {
      std::lock_guard lock(marks_mu_);
      marks_.erase(it->first);
    }
    it = partitions_.erase(it);
  }
}

void by_source_sink::on_revoked(const std::vector<partition_key>& parts) {
  for (const auto& k : parts) {
    auto it = partitions_.find(k.partition);
    if (it == partitions_.end()) continue;
    it->second.owned = false;
    std::lock_guard lock(marks_mu_);
    marks_.erase(k.partition);
    // The task stays until the next assignment says whether it came back (eager protocol:
    // every revocation is followed by one); on_assigned closes it otherwise.
  }
  try_flush();
}

void by_source_sink::queue_op(task_op op) {
  // Behind the records of the partition read before it.
  if (auto it = open_batches_.find(op.partition); it != open_batches_.end()) {
    queued_[engine_.shard_of_partition(op.partition)].emplace_back(std::move(it->second));
    open_batches_.erase(it);
  }
  queued_[engine_.shard_of_partition(op.partition)].emplace_back(std::move(op));
}

void by_source_sink::reject(std::string_view reason) {
  metrics_
      .get_counter(
          "portscand_records_rejected_total", "Malformed records, by input, format and reason.",
          {{"input", "scale_out"}, {"format", "portscand_v1"}, {"reason", std::string(reason)}})
      .inc();
  std::uint64_t suppressed = 0;
  if (log_.allow(reason, wall_now(), suppressed))
    spdlog::warn("scale_out: rejected record: {}{}", reason,
                 suppressed != 0 ? " (" + std::to_string(suppressed) + " more)" : std::string());
}

void by_source_sink::on_unit(std::string_view unit, const unit_meta& meta) {
  received_->inc();
  const std::int32_t pid = meta.partition;
  auto pit = partitions_.find(pid);
  if (pid < 0 || pit == partitions_.end()) {
    reject("unassigned_partition");
    return;
  }
  partition& p = pit->second;
  p.next_offset = meta.offset + 1;
  if (!unit.empty() && static_cast<std::uint8_t>(unit[0]) == mark_record_v1) {
    auto m = decode_mark_record(unit);
    if (!m) {
      reject("bad_mark");
      return;
    }
    std::lock_guard lock(marks_mu_);
    if (auto it = marks_.find(pid); it != marks_.end())
      it->second[m->producer] =
          mark_state{m->watermark, m->final, wall_now(), std::move(m->covered)};
    return;
  }
  if (!unit.empty() && static_cast<std::uint8_t>(unit[0]) == tick_record_v1) {
    const auto t = decode_tick_record(unit);
    if (!t) {
      reject("bad_tick");
      return;
    }
    task_op op{task_op::kind::tick, pid, meta.offset, t->watermark};
    op.evaluate_before = t->evaluate_before;
    queue_op(op);
    return;
  }
  if (!unit.empty() && static_cast<std::uint8_t>(unit[0]) == note_record_v1) {
    auto n = decode_note_record(unit);
    if (!n) {
      reject("bad_note");
      return;
    }
    task_op op{task_op::kind::note, pid, meta.offset};
    op.note = std::move(n);
    queue_op(op);
    return;
  }
  std::string_view why;
  auto d = decode_session_record(meta.key, unit, &why);
  if (!d) {
    reject(why);
    return;
  }
  if (p.replay) {
    if (meta.offset >= p.replay->end) {
      p.replay.reset();
    } else if (!std::binary_search(p.replay->bins.begin(), p.replay->bins.end(),
                                   floor_to(d->session.time, bin_width_))) {
      replay_skipped_->inc();
      return;
    }
  }
  d->session.reported_by = labels_.get(d->reported_by);
  if (!d->device.empty()) d->session.device = labels_.get(d->device);
  max_event_ = std::max(max_event_, d->session.time);
  append(pid, d->session, meta.offset);
}

void by_source_sink::append(std::int32_t pid, const network_session& s, std::int64_t offset) {
  auto [it, fresh] = open_batches_.try_emplace(pid);
  partition_batch& b = it->second;
  if (fresh || b.records.empty()) {
    b.partition = pid;
    b.first_offset = offset;
    b.records.reserve(engine::batch_size);
  }
  b.records.push_back(s);
  b.next_offset = offset + 1;
  if (b.records.size() >= engine::batch_size) {
    queued_[engine_.shard_of_partition(pid)].emplace_back(std::move(b));
    open_batches_.erase(it);
  }
}

bool by_source_sink::try_flush() {
  for (auto& [pid, b] : open_batches_)
    queued_[engine_.shard_of_partition(pid)].emplace_back(std::move(b));
  open_batches_.clear();
  bool all = true;
  for (auto& q : queued_) {
    while (!q.empty()) {
      if (auto* b = std::get_if<partition_batch>(&q.front())) {
        if (!engine_.try_push_partition(*b)) {
          all = false;
          break;
        }
      } else {
        engine_.push_task_op(std::get<task_op>(q.front()));
      }
      q.pop_front();
    }
  }
  return all;
}

void by_source_sink::on_burst_end() {
  while (!try_flush()) std::this_thread::sleep_for(1ms);
}

std::optional<timestamp_us> by_source_sink::upstream_watermark(timestamp_us now,
                                                               timestamp_us expiry,
                                                               std::size_t input_partitions) const {
  std::optional<timestamp_us> low;
  std::set<std::string_view> covered;
  std::lock_guard lock(marks_mu_);
  for (const auto& [pid, producers] : marks_) {
    bool live = false;
    covered.clear();
    for (const auto& [name, m] : producers) {
      if (m.final || now - m.read_at > expiry) continue;
      live = true;
      low = std::min(low.value_or(INT64_MAX), m.watermark);
      covered.insert(m.covered.begin(), m.covered.end());
    }
    if (!live || covered.size() < input_partitions) return std::nullopt;
  }
  return low;
}

timestamp_us by_source_sink::take_max_event_time() {
  const timestamp_us t = max_event_;
  max_event_ = INT64_MIN;
  return t;
}

}  // namespace portscand
