#include "ingest/kafka_source.hpp"

#include <librdkafka/rdkafka.h>
#include <simdjson.h>
#include <spdlog/spdlog.h>

#include <charconv>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

#include "config/config.hpp"
#include "core/thread_guard.hpp"

namespace portscand {
namespace {

using namespace std::chrono_literals;

void set_conf(rd_kafka_conf_t* conf, const std::string& key, const std::string& value) {
  char err[512];
  if (rd_kafka_conf_set(conf, key.c_str(), value.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK)
    throw std::runtime_error("kafka property " + key + (is_secret_key(key) ? "" : "=" + value) +
                             ": " + err);
}

rd_kafka_topic_partition_list_t* to_list(const std::map<partition_key, std::int64_t>& offsets) {
  rd_kafka_topic_partition_list_t* list =
      rd_kafka_topic_partition_list_new(static_cast<int>(offsets.size()));
  for (const auto& [key, off] : offsets)
    rd_kafka_topic_partition_list_add(list, key.topic.c_str(), key.partition)->offset = off;
  return list;
}

// The first per-partition error of a list that librdkafka filled in, as text ("" if none).
std::string partition_errors(const rd_kafka_topic_partition_list_t* list) {
  for (int i = 0; i < list->cnt; ++i)
    if (list->elems[i].err != RD_KAFKA_RESP_ERR_NO_ERROR)
      return std::string(list->elems[i].topic) + "/" + std::to_string(list->elems[i].partition) +
             ": " + rd_kafka_err2str(list->elems[i].err);
  return {};
}

// What the configured assignors make the protocol: cooperative only when every one is
// cooperative-sticky (librdkafka's rule).
bool configured_cooperative(const kafka_input_config& cfg) {
  auto it = cfg.properties.find("partition.assignment.strategy");
  if (it == cfg.properties.end()) return false;
  std::string_view rest = it->second;
  bool any = false;
  while (!rest.empty()) {
    const std::size_t comma = rest.find(',');
    std::string_view name = rest.substr(0, comma);
    while (!name.empty() && name.front() == ' ') name.remove_prefix(1);
    while (!name.empty() && name.back() == ' ') name.remove_suffix(1);
    if (!name.empty()) {
      if (name != "cooperative-sticky") return false;
      any = true;
    }
    rest.remove_prefix(comma == std::string_view::npos ? rest.size() : comma + 1);
  }
  return any;
}

}  // namespace

std::string partition_name(const partition_key& k) {
  return k.topic + "/" + std::to_string(k.partition);
}

std::optional<partition_key> parse_partition_name(std::string_view name) {
  const auto slash = name.rfind('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 == name.size())
    return std::nullopt;
  std::int32_t p = 0;
  const char* first = name.data() + slash + 1;
  const char* last = name.data() + name.size();
  const auto [end, ec] = std::from_chars(first, last, p);
  if (ec != std::errc() || end != last || p < 0) return std::nullopt;
  return partition_key{std::string(name.substr(0, slash)), p};
}

fetch_health assess_consumer_stats(std::string_view stats_json,
                                   const std::set<partition_key>& assigned) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(stats_json.data(), stats_json.size()).get(doc) != simdjson::SUCCESS)
    return {false, "librdkafka statistics do not parse"};
  std::string_view group_state;
  if (doc["cgrp"]["state"].get(group_state) != simdjson::SUCCESS)
    return {false, "no consumer group in librdkafka's statistics"};
  if (group_state != "up")
    return {false, "the group coordinator is not reachable (group state " +
                       std::string(group_state) + ")"};
  std::map<std::int64_t, std::string_view> broker_state;
  simdjson::dom::object brokers;
  if (doc["brokers"].get(brokers) == simdjson::SUCCESS) {
    for (auto [name, b] : brokers) {
      std::int64_t id = -1;
      std::string_view state;
      if (b["nodeid"].get(id) == simdjson::SUCCESS && b["state"].get(state) == simdjson::SUCCESS &&
          id >= 0)
        broker_state[id] = state;
    }
  }
  for (const auto& key : assigned) {
    simdjson::dom::element p;
    // A partition assigned a moment ago may not be in these statistics yet.
    if (doc["topics"][key.topic]["partitions"][std::to_string(key.partition)].get(p) !=
        simdjson::SUCCESS)
      continue;
    std::int64_t leader = -1;
    if (p["leader"].get(leader) != simdjson::SUCCESS || leader < 0)
      return {false, "partition " + partition_name(key) + " has no leader"};
    const auto it = broker_state.find(leader);
    const std::string state = it == broker_state.end() ? "unknown" : std::string(it->second);
    if (state != "UP")
      return {false, "the leader of partition " + partition_name(key) + " (broker " +
                         std::to_string(leader) + ") is " + state};
  }
  return {true, {}};
}

std::optional<std::int64_t> start_offset_policy::on_assign(const partition_key& key,
                                                           std::int64_t own_next_offset) {
  if (auto it = checkpoint_.find(key); it != checkpoint_.end()) {
    const std::int64_t off = it->second;
    checkpoint_.erase(it);
    return off;
  }
  if (own_next_offset >= 0) return own_next_offset;
  return std::nullopt;
}

std::optional<std::int64_t> consumer_lag(const partition_progress& p) {
  if (!p.assigned || p.position < 0 || p.high_watermark < 0) return std::nullopt;
  return std::max<std::int64_t>(0, p.high_watermark - p.position);
}

// librdkafka's callbacks with the exact C signatures it declares (a call through a cast
// function pointer of another type is undefined behaviour).
struct kafka_source::callbacks {
  static void rebalance(rd_kafka_t*, rd_kafka_resp_err_t err,
                        rd_kafka_topic_partition_list_t* partitions, void* opaque) {
    static_cast<kafka_source*>(opaque)->on_rebalance(err, partitions);
  }
  static int stats(rd_kafka_t*, char* json, size_t len, void* opaque) {
    static_cast<kafka_source*>(opaque)->on_stats(std::string_view(json, len));
    return 0;  // librdkafka frees the buffer
  }
  static void error(rd_kafka_t*, int err, const char* reason, void* opaque) {
    static_cast<kafka_source*>(opaque)->on_error(err, reason);
  }
};

kafka_source::kafka_source(std::string name, const kafka_input_config& cfg,
                           std::unique_ptr<kafka_unit_sink> sink, metrics_registry& metrics,
                           const clock& clk)
    : name_(std::move(name)), cfg_(cfg), sink_(std::move(sink)), metrics_(metrics), clock_(clk) {
  const metric_labels l{{"input", name_}};
  messages_ =
      &metrics_.get_counter("portscand_kafka_messages_total", "Kafka messages consumed.", l);
  pauses_ = &metrics_.get_counter(
      "portscand_kafka_backpressure_pauses_total",
      "Times the consumer paused its partitions because the shards were behind.", l);
  up_ = &metrics_.get_gauge(
      "portscand_kafka_input_up",
      "1 while the consumer can fetch: group joined, leaders of its partitions connected.", l);
  catch_up_seconds_ = &metrics_.get_histogram(
      "portscand_kafka_catch_up_seconds",
      "Time from the assignment of a partition that starts at an offset the daemon chose (a "
      "checkpoint's, a by-source partition's resume point) until the consumer has handed over "
      "every message up to the end the partition had at the assignment.",
      {0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600}, l);
}

kafka_source::~kafka_source() {
  stop();
}

void kafka_source::set_start_offsets(std::map<partition_key, std::int64_t> offsets) {
  std::lock_guard lock(mu_);
  start_offsets_.set_checkpoint(std::move(offsets));
}

void kafka_source::count_error(const std::string& kind, const std::string& what) {
  metrics_
      .get_counter("portscand_kafka_consumer_errors_total",
                   "Kafka consumer errors, by the operation that failed.",
                   {{"input", name_}, {"kind", kind}})
      .inc();
  const auto now = std::chrono::steady_clock::now();
  std::lock_guard lock(mu_);
  auto [it, first] = last_error_log_.try_emplace(kind, now);
  if (first || now - it->second >= 10s) {
    it->second = now;
    spdlog::warn("input {}: {} error: {}", name_, kind, what);
  }
}

void kafka_source::on_error(int err, const char* reason) {
  const auto e = static_cast<rd_kafka_resp_err_t>(err);
  std::string kind = "broker";
  if (e == RD_KAFKA_RESP_ERR__FATAL)
    kind = "fatal";
  else if (e == RD_KAFKA_RESP_ERR__AUTHENTICATION ||
           e == RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED || e == RD_KAFKA_RESP_ERR__SSL)
    kind = "auth";
  count_error(kind, std::string(rd_kafka_err2name(e)) + ": " + (reason != nullptr ? reason : ""));
}

void kafka_source::on_stats(std::string_view json) {
  std::set<partition_key> assigned;
  {
    std::lock_guard lock(mu_);
    for (const auto& [key, p] : progress_)
      if (p.assigned) assigned.insert(key);
  }
  fetch_health h = assess_consumer_stats(json, assigned);
  if (h.fetching != healthy_.load(std::memory_order_relaxed)) {
    if (h.fetching)
      spdlog::info("input {}: the consumer is fetching", name_);
    else
      spdlog::warn("input {}: the consumer cannot fetch: {}", name_, h.reason);
  }
  up_->set(h.fetching ? 1 : 0);
  {
    std::lock_guard lock(mu_);
    health_reason_ = std::move(h.reason);
  }
  healthy_.store(h.fetching, std::memory_order_relaxed);
}

std::string kafka_source::health_reason() const {
  std::lock_guard lock(mu_);
  return health_reason_;
}

void kafka_source::on_rebalance(int err, void* parts) {
  auto* partitions = static_cast<rd_kafka_topic_partition_list_t*>(parts);
  // rd_kafka_rebalance_protocol() can block for ever when called from the callback that
  // rd_kafka_consumer_close() triggers (librdkafka 2.0.2, confluentinc/librdkafka#4041; seen
  // as a SIGTERM that never finished while the group rebalanced): it is asked only outside
  // close, and close uses the answer of the last rebalance (or the configured strategy).
  if (!closing_.load(std::memory_order_acquire))
    cooperative_ = std::strcmp(rd_kafka_rebalance_protocol(rk_), "COOPERATIVE") == 0;
  const bool cooperative = cooperative_.value_or(configured_cooperative(cfg_));
  rd_kafka_error_t* error = nullptr;
  rd_kafka_resp_err_t e = RD_KAFKA_RESP_ERR_NO_ERROR;
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    if (sink_->wants_committed()) {
      // The sink's state decides where each partition starts (see kafka_unit_sink).
      std::vector<assigned_partition> parts;
      parts.reserve(static_cast<std::size_t>(partitions->cnt));
      for (int i = 0; i < partitions->cnt; ++i)
        parts.push_back(
            {partition_key{partitions->elems[i].topic, partitions->elems[i].partition}});
      read_committed(parts);
      sink_->on_assigned(parts);
      for (int i = 0; i < partitions->cnt; ++i)
        if (parts[static_cast<std::size_t>(i)].start)
          partitions->elems[i].offset = *parts[static_cast<std::size_t>(i)].start;
    }
    {
      std::lock_guard lock(mu_);
      for (int i = 0; i < partitions->cnt; ++i) {
        auto& p = partitions->elems[i];
        const partition_key key{p.topic, p.partition};
        auto& pr = progress_[key];
        if (!sink_->wants_committed())
          if (auto off = start_offsets_.on_assign(key, pr.next_offset)) p.offset = *off;
        pr.assigned = true;
        pr.at_end = false;
        // What an earlier assignment left is not this one's lag: a partition handed back
        // with a re-read ahead must not read 0 until its first fetch.
        pr.position = p.offset >= 0 ? p.offset : -1;
        pr.high_watermark = -1;
        fetched_since_assign_.erase(key);
        catching_up_.erase(key);
      }
    }
    read_partition_ends(partitions);
    spdlog::info("input {}: assigned {} partition(s){}", name_, partitions->cnt,
                 cooperative ? " (incremental)" : "");
    if (cooperative)
      error = rd_kafka_incremental_assign(rk_, partitions);
    else
      e = rd_kafka_assign(rk_, partitions);
  } else {
    // Whatever was consumed from the revoked partitions is already in the shards; their
    // offsets are committed with the next checkpoint only if they are still ours then.
    sink_->on_burst_end();
    std::vector<partition_key> revoked;
    revoked.reserve(static_cast<std::size_t>(partitions->cnt));
    for (int i = 0; i < partitions->cnt; ++i)
      revoked.push_back({partitions->elems[i].topic, partitions->elems[i].partition});
    sink_->on_revoked(revoked);
    {
      std::lock_guard lock(mu_);
      for (const auto& key : revoked) {
        fetched_since_assign_.erase(key);
        catching_up_.erase(key);  // not caught up here: not counted
        if (auto it = progress_.find(key); it != progress_.end()) it->second.assigned = false;
      }
    }
    spdlog::info("input {}: {} {} partition(s)", name_,
                 rd_kafka_assignment_lost(rk_) ? "lost" : "revoked", partitions->cnt);
    if (cooperative)
      error = rd_kafka_incremental_unassign(rk_, partitions);
    else
      e = rd_kafka_assign(rk_, nullptr);
  }
  if (error != nullptr) {
    count_error("assign", rd_kafka_error_string(error));
    rd_kafka_error_destroy(error);
  } else if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
    count_error("assign", rd_kafka_err2str(e));
  }
}

// The end of each newly assigned partition whose start is known, from the broker (one
// round trip per partition, inside the rebalance callback), so that its lag is known from
// the assignment on: a by-source partition's re-read after a handover shows at once. At most
// 2 s in all; a partition not answered for gets its end from its first fetch. A start below
// the partition's first offset (the log was trimmed) reads from there
// (auto.offset.reset: earliest).
void kafka_source::read_partition_ends(const void* list) {
  const auto* partitions = static_cast<const rd_kafka_topic_partition_list_t*>(list);
  const auto deadline = std::chrono::steady_clock::now() + 2s;
  for (int i = 0; i < partitions->cnt; ++i) {
    const auto& p = partitions->elems[i];
    if (p.offset < 0) continue;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left <= 0ms) break;
    std::int64_t low = -1, high = -1;
    const rd_kafka_resp_err_t e = rd_kafka_query_watermark_offsets(
        rk_, p.topic, p.partition, &low, &high, static_cast<int>(left.count()));
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
      count_error("watermarks", std::string(p.topic) + "/" + std::to_string(p.partition) + ": " +
                                    rd_kafka_err2str(e));
      continue;
    }
    std::lock_guard lock(mu_);
    auto& pr = progress_[partition_key{p.topic, p.partition}];
    // Unless a fetch of this assignment already told (it cannot have: the callback runs on
    // the consumer thread, before any fetch of the new assignment is handed over).
    if (pr.high_watermark < 0) {
      pr.high_watermark = high;
      pr.position = std::max(p.offset, low);
      catching_up_[partition_key{p.topic, p.partition}] = {high, std::chrono::steady_clock::now()};
    }
  }
}

// The group's committed offsets and metadata of these partitions (a broker round trip, at
// most 10 s). On failure every partition stays committed_known = false, counted.
void kafka_source::read_committed(std::vector<assigned_partition>& parts) {
  rd_kafka_topic_partition_list_t* list =
      rd_kafka_topic_partition_list_new(static_cast<int>(parts.size()));
  for (const auto& p : parts)
    rd_kafka_topic_partition_list_add(list, p.key.topic.c_str(), p.key.partition);
  const rd_kafka_resp_err_t e = rd_kafka_committed(rk_, list, 10000);
  if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
    count_error("committed", rd_kafka_err2str(e));
  } else {
    for (int i = 0; i < list->cnt; ++i) {
      const auto& el = list->elems[i];
      auto& p = parts[static_cast<std::size_t>(i)];
      if (el.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        count_error("committed", std::string(el.topic) + "/" + std::to_string(el.partition) + ": " +
                                     rd_kafka_err2str(el.err));
        continue;
      }
      p.committed_known = true;
      p.committed = el.offset >= 0 ? el.offset : -1;
      if (el.metadata != nullptr && el.metadata_size != 0)
        p.metadata.assign(static_cast<const char*>(el.metadata), el.metadata_size);
    }
  }
  rd_kafka_topic_partition_list_destroy(list);
}

void kafka_source::start() {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  try {
    set_conf(conf, "bootstrap.servers", cfg_.brokers);
    set_conf(conf, "group.id", cfg_.group);
    set_conf(conf, "enable.auto.commit", "false");
    set_conf(conf, "enable.auto.offset.store", "false");
    set_conf(conf, "auto.offset.reset", "earliest");
    // End-of-partition events mark a partition that has nothing left to fetch (it may not
    // hold the watermark back).
    set_conf(conf, "enable.partition.eof", "true");
    // Health comes from the statistics (see assess_consumer_stats); a user's own interval
    // below applies instead.
    set_conf(conf, "statistics.interval.ms", "1000");
    set_conf(conf, "client.id", "portscand-" + name_);
    for (const auto& [k, v] : cfg_.properties) set_conf(conf, k, v);
  } catch (...) {
    rd_kafka_conf_destroy(conf);
    throw;
  }
  rd_kafka_conf_set_rebalance_cb(conf, &callbacks::rebalance);
  rd_kafka_conf_set_stats_cb(conf, &callbacks::stats);
  rd_kafka_conf_set_error_cb(conf, &callbacks::error);
  rd_kafka_conf_set_opaque(conf, this);
  char err[512];
  rk_ = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
  if (rk_ == nullptr) {
    rd_kafka_conf_destroy(conf);
    throw std::runtime_error("input " + name_ + ": cannot create Kafka consumer: " + err);
  }
  rd_kafka_poll_set_consumer(rk_);
  rd_kafka_topic_partition_list_t* topics =
      rd_kafka_topic_partition_list_new(static_cast<int>(cfg_.topics.size()));
  for (const auto& t : cfg_.topics)
    rd_kafka_topic_partition_list_add(topics, t.c_str(), RD_KAFKA_PARTITION_UA);
  const rd_kafka_resp_err_t e = rd_kafka_subscribe(rk_, topics);
  rd_kafka_topic_partition_list_destroy(topics);
  if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
    rd_kafka_destroy(rk_);
    rk_ = nullptr;
    throw std::runtime_error("input " + name_ + ": subscribe failed: " + rd_kafka_err2str(e));
  }
  {
    std::lock_guard lock(mu_);
    running_ = true;
  }
  thread_ = std::thread(guarded("kafka-consumer", [this] { run(); }));
}

void kafka_source::halt() {
  stop_ = true;
  hold_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  // Whatever the coordinator asked for while the thread was leaving is answered from the
  // final progress.
  std::lock_guard lock(mu_);
  running_ = false;
  for (auto& p : snapshot_requests_) {
    std::map<partition_key, std::int64_t> offsets;
    for (const auto& [key, pr] : progress_)
      if (pr.assigned && pr.next_offset >= 0) offsets[key] = pr.next_offset;
    p.set_value(std::move(offsets));
  }
  snapshot_requests_.clear();
}

void kafka_source::stop() {
  if (rk_ == nullptr) return;
  halt();
  closing_.store(true, std::memory_order_release);
  leave_group();
  if (const rd_kafka_resp_err_t e = rd_kafka_consumer_close(rk_); e != RD_KAFKA_RESP_ERR_NO_ERROR)
    count_error("close", rd_kafka_err2str(e));
  rd_kafka_destroy(rk_);
  rk_ = nullptr;
}

// Gives the partitions up before close: unsubscribe, then serve the revocation through the
// ordinary poll path. The revocation that rd_kafka_consumer_close() triggers itself can hang
// for ever in the callback's rd_kafka_assign() when the group is rebalancing at that moment
// (librdkafka 2.0.2, confluentinc/librdkafka#4884 and #4527; seen as a scale-out instance
// that never exited after SIGTERM while the others stopped too); with nothing assigned left,
// close triggers no callback. Messages fetched meanwhile are dropped: the thread is halted
// and their offsets are not committed. Bounded: close follows after 10 s in any case.
void kafka_source::leave_group() {
  if (unassigned()) return;
  if (const rd_kafka_resp_err_t e = rd_kafka_unsubscribe(rk_); e != RD_KAFKA_RESP_ERR_NO_ERROR) {
    count_error("close", std::string("unsubscribe: ") + rd_kafka_err2str(e));
    return;
  }
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!unassigned() && std::chrono::steady_clock::now() < deadline)
    if (rd_kafka_message_t* m = rd_kafka_consumer_poll(rk_, 100)) rd_kafka_message_destroy(m);
  if (!unassigned())
    spdlog::warn("input {}: the group did not take the partitions back within 10 s; closing",
                 name_);
}

void kafka_source::flush_blocking_with_pause() {
  if (sink_->try_flush()) return;
  // The shards are behind: stop fetching instead of growing memory, but keep polling so
  // the group protocol (heartbeats, rebalances) is served.
  pauses_->inc();
  rd_kafka_topic_partition_list_t* assigned = nullptr;
  if (const rd_kafka_resp_err_t e = rd_kafka_assignment(rk_, &assigned);
      e != RD_KAFKA_RESP_ERR_NO_ERROR) {
    count_error("pause", std::string("reading the assignment: ") + rd_kafka_err2str(e));
    assigned = nullptr;
  } else if (const rd_kafka_resp_err_t pe = rd_kafka_pause_partitions(rk_, assigned);
             pe != RD_KAFKA_RESP_ERR_NO_ERROR) {
    count_error("pause", rd_kafka_err2str(pe));
  } else if (const std::string perr = partition_errors(assigned); !perr.empty()) {
    count_error("pause", perr);
  }
  // Messages fetched before the pause took effect are handed back by seeking each
  // partition to the first one dropped; librdkafka discards the rest of the old fetch.
  std::map<partition_key, std::int64_t> rewound;
  while (!sink_->try_flush()) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk_, 10);
    if (m == nullptr) continue;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      const partition_key key{rd_kafka_topic_name(m->rkt), m->partition};
      auto [it, first] = rewound.try_emplace(key, m->offset);
      if (first || m->offset < it->second) {
        it->second = m->offset;
        rd_kafka_topic_partition_list_t* seek = to_list({{key, m->offset}});
        if (rd_kafka_error_t* error = rd_kafka_seek_partitions(rk_, seek, 1000); error != nullptr) {
          count_error("seek", rd_kafka_error_string(error));
          rd_kafka_error_destroy(error);
        } else if (const std::string serr = partition_errors(seek); !serr.empty()) {
          count_error("seek", serr);
        }
        rd_kafka_topic_partition_list_destroy(seek);
      }
    }
    rd_kafka_message_destroy(m);
  }
  if (assigned != nullptr) {
    if (const rd_kafka_resp_err_t re = rd_kafka_resume_partitions(rk_, assigned);
        re != RD_KAFKA_RESP_ERR_NO_ERROR)
      count_error("resume", rd_kafka_err2str(re));
    else if (const std::string rerr = partition_errors(assigned); !rerr.empty())
      count_error("resume", rerr);
    rd_kafka_topic_partition_list_destroy(assigned);
  }
}

void kafka_source::commit_now(const pending_commit& c, bool async) {
  if (c.offsets.empty()) return;
  rd_kafka_topic_partition_list_t* list = to_list(c.offsets);
  for (int i = 0; i < list->cnt; ++i) {
    auto& e = list->elems[i];
    auto it = c.metadata.find(partition_key{e.topic, e.partition});
    if (it == c.metadata.end() || it->second.empty()) continue;
    // The list owns it and frees it with the list (librdkafka's rd_free is free()).
    e.metadata = std::malloc(it->second.size());
    if (e.metadata == nullptr) throw std::bad_alloc();
    std::memcpy(e.metadata, it->second.data(), it->second.size());
    e.metadata_size = it->second.size();
  }
  const rd_kafka_resp_err_t e = rd_kafka_commit(rk_, list, async ? 1 : 0);
  if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
    count_error("commit", rd_kafka_err2str(e));
  else if (const std::string perr = partition_errors(list); !async && !perr.empty())
    count_error("commit", perr);
  rd_kafka_topic_partition_list_destroy(list);
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
    for (const auto& [key, off] : next_offsets) progress_[key].next_offset = off;
    // The cached end of the partition (from the last fetch response: no broker round trip),
    // only once this assignment fetched from it: before that the cache may be a previous
    // assignment's, below the records a re-read has ahead.
    const auto steady_now = std::chrono::steady_clock::now();
    for (const auto& [key, pos] : fetched_since_assign_) {
      auto& p = progress_[key];
      p.position = pos;
      if (auto c = catching_up_.find(key); c != catching_up_.end() && pos >= c->second.end) {
        catch_up_seconds_->observe(
            std::chrono::duration<double>(steady_now - c->second.since).count());
        catching_up_.erase(c);
      }
      std::int64_t low = -1, high = -1;
      if (rd_kafka_get_watermark_offsets(rk_, key.topic.c_str(), key.partition, &low, &high) ==
              RD_KAFKA_RESP_ERR_NO_ERROR &&
          high >= 0)
        p.high_watermark = high;
    }
  };
  while (!stop_.load(std::memory_order_relaxed)) {
    // Serve the coordinator first: a checkpoint must see everything consumed so far.
    std::vector<std::promise<std::map<partition_key, std::int64_t>>> snaps;
    std::vector<pending_commit> commits;
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
          if (auto it = progress_.find(key); it != progress_.end() && it->second.assigned)
            owned[key] = off;
      }
      for (auto& p : snaps) p.set_value(owned);
      // Hold still until the coordinator has queued the snapshot barrier behind what was
      // just pushed: the shard state then covers exactly the records below these offsets
      // (consuming on meanwhile made a restart count those records twice).
      std::unique_lock lock(mu_);
      const std::uint64_t gen = hold_requested_;
      if (!hold_cv_.wait_for(lock, 5s, [&] { return hold_released_ >= gen || stop_.load(); }))
        spdlog::warn(
            "input {}: the checkpoint did not release the consumer within 5 s; consuming on",
            name_);
    }
    for (auto c : commits) {
      {
        std::lock_guard lock(mu_);
        std::erase_if(c.offsets, [this](const auto& kv) {
          auto it = progress_.find(kv.first);
          return it == progress_.end() || !it->second.assigned;
        });
      }
      commit_now(c, true);
    }

    // One burst: up to 1,000 messages or 100 ms.
    bool any = false;
    for (int i = 0; i < 1000; ++i) {
      rd_kafka_message_t* m = rd_kafka_consumer_poll(rk_, i == 0 ? 100 : 0);
      if (m == nullptr) break;
      if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
          if (m->rkt != nullptr) {
            const partition_key key{rd_kafka_topic_name(m->rkt), m->partition};
            // The offset of an end-of-partition event is the end: the position now.
            fetched_since_assign_[key] = m->offset;
            std::lock_guard lock(mu_);
            progress_[key].at_end = true;
          }
          any = true;
        } else {
          count_error("fetch", rd_kafka_message_errstr(m));
        }
        rd_kafka_message_destroy(m);
        continue;
      }
      any = true;
      messages_->inc();
      const partition_key key{rd_kafka_topic_name(m->rkt), m->partition};
      unit_meta meta;
      meta.receive_time = clock_.now();
      if (m->key != nullptr)
        meta.key = std::string_view(static_cast<const char*>(m->key), m->key_len);
      meta.partition = m->partition;
      meta.offset = m->offset;
      sink_->on_unit(
          std::string_view(static_cast<const char*>(m->payload), m->payload ? m->len : 0), meta);
      const timestamp_us t = sink_->take_max_event_time();
      if (t != INT64_MIN) {
        auto [it, inserted] = pending_max_.try_emplace(key, t);
        if (!inserted) it->second = std::max(it->second, t);
      }
      next_offsets[key] = m->offset + 1;
      fetched_since_assign_[key] = m->offset + 1;
      rd_kafka_message_destroy(m);
    }
    if (any) publish_progress();
  }
  publish_progress();
}

std::future<std::map<partition_key, std::int64_t>> kafka_source::request_offsets() {
  std::lock_guard lock(mu_);
  if (!running_) {  // halted: the final progress is the answer
    std::promise<std::map<partition_key, std::int64_t>> p;
    std::map<partition_key, std::int64_t> offsets;
    for (const auto& [key, pr] : progress_)
      if (pr.assigned && pr.next_offset >= 0) offsets[key] = pr.next_offset;
    p.set_value(std::move(offsets));
    return p.get_future();
  }
  ++hold_requested_;
  snapshot_requests_.emplace_back();
  return snapshot_requests_.back().get_future();
}

void kafka_source::release_offsets_hold() {
  {
    std::lock_guard lock(mu_);
    hold_released_ = hold_requested_;
  }
  hold_cv_.notify_all();
}

void kafka_source::commit(std::map<partition_key, std::int64_t> offsets,
                          std::map<partition_key, std::string> metadata) {
  pending_commit c{std::move(offsets), std::move(metadata)};
  {
    std::lock_guard lock(mu_);
    if (running_) {
      commit_requests_.push_back(std::move(c));
      return;
    }
  }
  // Halted (shutdown): commit synchronously, before the consumer is closed.
  if (rk_ != nullptr) commit_now(c, false);
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
