#include "ingest/kafka_source.hpp"

#include <librdkafka/rdkafka.h>
#include <spdlog/spdlog.h>

#include <stdexcept>

#include "config/config.hpp"

namespace portscand {
namespace {

void set_conf(rd_kafka_conf_t* conf, const std::string& key, const std::string& value) {
  char err[512];
  if (rd_kafka_conf_set(conf, key.c_str(), value.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK)
    throw std::runtime_error("kafka property " + key + (is_secret_key(key) ? "" : "=" + value) + ": " + err);
}

}  // namespace

kafka_source::kafka_source(std::string name, const kafka_input_config& cfg,
                           std::unique_ptr<kafka_unit_sink> sink, metrics_registry& metrics,
                           const clock& clk)
    : name_(std::move(name)), cfg_(cfg), sink_(std::move(sink)), metrics_(metrics), clock_(clk) {
  const metric_labels l{{"input", name_}};
  messages_ = &metrics_.get_counter("portscand_kafka_messages_total", "Kafka messages consumed.", l);
  errors_ = &metrics_.get_counter("portscand_kafka_consumer_errors_total", "Kafka consumer errors.", l);
  pauses_ = &metrics_.get_counter("portscand_kafka_backpressure_pauses_total",
                                  "Times the consumer paused its partitions because the shards were behind.", l);
}

kafka_source::~kafka_source() { stop(); }

void kafka_source::set_start_offsets(std::map<partition_key, std::int64_t> offsets) {
  std::lock_guard lock(mu_);
  start_offsets_ = std::move(offsets);
}

void kafka_source::rebalance_cb(rd_kafka_s* rk, int err, void* partitions, void* opaque) {
  (void)rk;
  static_cast<kafka_source*>(opaque)->on_rebalance(err, partitions);
}

void kafka_source::on_rebalance(int err, void* parts) {
  auto* partitions = static_cast<rd_kafka_topic_partition_list_t*>(parts);
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    {
      std::lock_guard lock(mu_);
      for (int i = 0; i < partitions->cnt; ++i) {
        auto& p = partitions->elems[i];
        const partition_key key{p.topic, p.partition};
        if (auto it = start_offsets_.find(key); it != start_offsets_.end()) p.offset = it->second;
        progress_[key].assigned = true;
        progress_[key].at_end = false;
      }
    }
    spdlog::info("input {}: assigned {} partition(s)", name_, partitions->cnt);
    rd_kafka_assign(rk_, partitions);
  } else {
    // Whatever was consumed from the revoked partitions is already in the shards; their
    // offsets are committed with the next checkpoint only if they are still ours then.
    sink_->on_burst_end();
    {
      std::lock_guard lock(mu_);
      for (int i = 0; i < partitions->cnt; ++i) {
        auto it = progress_.find(partition_key{partitions->elems[i].topic, partitions->elems[i].partition});
        if (it != progress_.end()) it->second.assigned = false;
      }
    }
    spdlog::info("input {}: revoked {} partition(s)", name_, partitions->cnt);
    rd_kafka_assign(rk_, nullptr);
  }
}

void kafka_source::start() {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  try {
    set_conf(conf, "bootstrap.servers", cfg_.brokers);
    set_conf(conf, "group.id", cfg_.group);
    set_conf(conf, "enable.auto.commit", "false");
    set_conf(conf, "enable.auto.offset.store", "false");
    set_conf(conf, "auto.offset.reset", "earliest");
    // End-of-partition events tell that the broker answered and nothing is left to fetch:
    // the consumer is healthy again after an error even when no new message comes.
    set_conf(conf, "enable.partition.eof", "true");
    set_conf(conf, "client.id", "portscand-" + name_);
    for (const auto& [k, v] : cfg_.properties) set_conf(conf, k, v);
  } catch (...) {
    rd_kafka_conf_destroy(conf);
    throw;
  }
  rd_kafka_conf_set_rebalance_cb(conf, reinterpret_cast<void (*)(rd_kafka_t*, rd_kafka_resp_err_t,
                                                                 rd_kafka_topic_partition_list_t*, void*)>(&rebalance_cb));
  rd_kafka_conf_set_opaque(conf, this);
  char err[512];
  rk_ = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
  if (rk_ == nullptr) {
    rd_kafka_conf_destroy(conf);
    throw std::runtime_error("input " + name_ + ": cannot create Kafka consumer: " + err);
  }
  rd_kafka_poll_set_consumer(rk_);
  rd_kafka_topic_partition_list_t* topics = rd_kafka_topic_partition_list_new(static_cast<int>(cfg_.topics.size()));
  for (const auto& t : cfg_.topics) rd_kafka_topic_partition_list_add(topics, t.c_str(), RD_KAFKA_PARTITION_UA);
  const rd_kafka_resp_err_t e = rd_kafka_subscribe(rk_, topics);
  rd_kafka_topic_partition_list_destroy(topics);
  if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
    rd_kafka_destroy(rk_);
    rk_ = nullptr;
    throw std::runtime_error("input " + name_ + ": subscribe failed: " + rd_kafka_err2str(e));
  }
  healthy_ = true;
  thread_ = std::thread([this] { run(); });
}

void kafka_source::halt() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  // Whatever the coordinator asked for while the thread was leaving is answered from the
  // final progress.
  std::lock_guard lock(mu_);
  for (auto& p : snapshot_requests_) {
    std::map<partition_key, std::int64_t> offsets;
    for (const auto& [key, pr] : progress_)
      if (pr.next_offset >= 0) offsets[key] = pr.next_offset;
    p.set_value(std::move(offsets));
  }
  snapshot_requests_.clear();
}

void kafka_source::stop() {
  if (rk_ == nullptr) return;
  halt();
  rd_kafka_consumer_close(rk_);
  rd_kafka_destroy(rk_);
  rk_ = nullptr;
}

void kafka_source::flush_blocking_with_pause() {
  if (sink_->try_flush()) return;
  // The shards are behind: stop fetching instead of growing memory, but keep polling so
  // the group protocol (heartbeats, rebalances) is served.
  pauses_->inc();
  rd_kafka_topic_partition_list_t* assigned = nullptr;
  if (rd_kafka_assignment(rk_, &assigned) == RD_KAFKA_RESP_ERR_NO_ERROR) rd_kafka_pause_partitions(rk_, assigned);
  while (!sink_->try_flush()) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk_, 10);
    if (m != nullptr) {
      // Fetched before the pause took effect: rewind so it is consumed again after resume.
      if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        rd_kafka_topic_partition_list_t* seek = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(seek, rd_kafka_topic_name(m->rkt), m->partition)->offset = m->offset;
        rd_kafka_seek_partitions(rk_, seek, 1000);
        rd_kafka_topic_partition_list_destroy(seek);
      }
      rd_kafka_message_destroy(m);
    }
  }
  if (assigned != nullptr) {
    rd_kafka_resume_partitions(rk_, assigned);
    rd_kafka_topic_partition_list_destroy(assigned);
  }
}

void kafka_source::run() {
  std::map<partition_key, std::int64_t> next_offsets;  // consumer thread's view
  auto publish_progress = [&] {
    flush_blocking_with_pause();
    const timestamp_us now = clock_.now();
    std::lock_guard lock(mu_);
    for (auto& [key, t] : pending_max_) {
      auto& p = progress_[key];
      p.max_event = std::max(p.max_event, t);
      p.last_active = now;
    }
    pending_max_.clear();
    for (const auto& [key, off] : next_offsets) {
      auto& p = progress_[key];
      p.next_offset = off;
      // The cached end of the partition (from the last fetch response): no broker round trip.
      std::int64_t low = -1, high = -1;
      if (rd_kafka_get_watermark_offsets(rk_, key.topic.c_str(), key.partition, &low, &high) == RD_KAFKA_RESP_ERR_NO_ERROR)
        p.high_watermark = high;
    }
  };
  while (!stop_.load(std::memory_order_relaxed)) {
    // Serve the coordinator first: a checkpoint must see everything consumed so far.
    std::vector<std::promise<std::map<partition_key, std::int64_t>>> snaps;
    std::vector<std::map<partition_key, std::int64_t>> commits;
    {
      std::lock_guard lock(mu_);
      snaps.swap(snapshot_requests_);
      commits.swap(commit_requests_);
    }
    if (!snaps.empty()) {
      publish_progress();
      // Only partitions this member owns: committing a revoked one fails ("unknown member")
      // and would claim progress for another member's partition.
      std::map<partition_key, std::int64_t> owned;
      {
        std::lock_guard lock(mu_);
        for (const auto& [key, off] : next_offsets)
          if (auto it = progress_.find(key); it != progress_.end() && it->second.assigned) owned[key] = off;
      }
      for (auto& p : snaps) p.set_value(owned);
    }
    for (auto c : commits) {
      {
        std::lock_guard lock(mu_);
        std::erase_if(c, [this](const auto& kv) {
          auto it = progress_.find(kv.first);
          return it == progress_.end() || !it->second.assigned;
        });
      }
      if (c.empty()) continue;
      rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(static_cast<int>(c.size()));
      for (const auto& [key, off] : c) rd_kafka_topic_partition_list_add(list, key.topic.c_str(), key.partition)->offset = off;
      const rd_kafka_resp_err_t e = rd_kafka_commit(rk_, list, 1);
      if (e != RD_KAFKA_RESP_ERR_NO_ERROR) spdlog::warn("input {}: offset commit failed: {}", name_, rd_kafka_err2str(e));
      rd_kafka_topic_partition_list_destroy(list);
    }

    // One burst: up to 1,000 messages or 100 ms.
    bool any = false;
    for (int i = 0; i < 1000; ++i) {
      rd_kafka_message_t* m = rd_kafka_consumer_poll(rk_, i == 0 ? 100 : 0);
      if (m == nullptr) break;
      if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
          healthy_ = true;
          if (m->rkt != nullptr) {
            std::lock_guard lock(mu_);
            progress_[partition_key{rd_kafka_topic_name(m->rkt), m->partition}].at_end = true;
          }
        } else {
          errors_->inc();
          healthy_ = false;
          spdlog::warn("input {}: consumer error: {}", name_, rd_kafka_message_errstr(m));
        }
        rd_kafka_message_destroy(m);
        continue;
      }
      healthy_ = true;
      any = true;
      messages_->inc();
      const partition_key key{rd_kafka_topic_name(m->rkt), m->partition};
      unit_meta meta;
      meta.receive_time = clock_.now();
      sink_->on_unit(std::string_view(static_cast<const char*>(m->payload), m->payload ? m->len : 0), meta);
      const timestamp_us t = sink_->take_max_event_time();
      if (t != INT64_MIN) {
        auto [it, inserted] = pending_max_.try_emplace(key, t);
        if (!inserted) it->second = std::max(it->second, t);
      }
      next_offsets[key] = m->offset + 1;
      rd_kafka_message_destroy(m);
    }
    if (any) publish_progress();
  }
  publish_progress();
}

std::optional<std::map<partition_key, std::int64_t>> kafka_source::snapshot_offsets(std::chrono::milliseconds timeout) {
  std::future<std::map<partition_key, std::int64_t>> f;
  {
    std::lock_guard lock(mu_);
    if (!thread_.joinable()) {  // halted: the final progress is the answer
      std::map<partition_key, std::int64_t> offsets;
      for (const auto& [key, pr] : progress_)
        if (pr.next_offset >= 0) offsets[key] = pr.next_offset;
      return offsets;
    }
    snapshot_requests_.emplace_back();
    f = snapshot_requests_.back().get_future();
  }
  if (f.wait_for(timeout) != std::future_status::ready) return std::nullopt;
  return f.get();
}

void kafka_source::commit(std::map<partition_key, std::int64_t> offsets) {
  {
    std::lock_guard lock(mu_);
    if (thread_.joinable()) {
      commit_requests_.push_back(std::move(offsets));
      return;
    }
  }
  // Halted (shutdown): commit synchronously, before the consumer is closed.
  if (rk_ == nullptr || offsets.empty()) return;
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(static_cast<int>(offsets.size()));
  for (const auto& [key, off] : offsets) rd_kafka_topic_partition_list_add(list, key.topic.c_str(), key.partition)->offset = off;
  const rd_kafka_resp_err_t e = rd_kafka_commit(rk_, list, 0);
  if (e != RD_KAFKA_RESP_ERR_NO_ERROR) spdlog::warn("input {}: final offset commit failed: {}", name_, rd_kafka_err2str(e));
  rd_kafka_topic_partition_list_destroy(list);
}

bool kafka_source::unassigned() const {
  std::lock_guard lock(mu_);
  for (const auto& [key, p] : progress_)
    if (p.assigned) return false;
  return true;
}

std::map<partition_key, partition_progress> kafka_source::progress() const {
  std::lock_guard lock(mu_);
  return progress_;
}

}  // namespace portscand
