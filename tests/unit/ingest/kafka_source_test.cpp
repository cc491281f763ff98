#include "ingest/kafka_source.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "kafka_mock_cluster.hpp"

namespace portscand {
namespace {

using namespace std::chrono_literals;

constexpr const char* topic = "sessions";

// --- pure pieces -----------------------------------------------------------------------

TEST(partition_name, round_trips_and_keeps_slashes_in_the_topic) {
  EXPECT_EQ(partition_name({"t", 3}), "t/3");
  EXPECT_EQ(parse_partition_name("t/3"), (partition_key{"t", 3}));
  EXPECT_EQ(parse_partition_name("a/b/7"), (partition_key{"a/b", 7}));
}

TEST(partition_name, a_damaged_name_is_refused_instead_of_throwing) {
  for (const char* bad : {"t/x", "t/", "/3", "t/-1", "t/99999999999", "t3", "", "t/3 "})
    EXPECT_FALSE(parse_partition_name(bad).has_value()) << bad;
}

TEST(start_offset_policy, the_checkpoint_offset_applies_to_the_first_assignment_only) {
  start_offset_policy p;
  p.set_checkpoint({{{"t", 0}, 10}});
  EXPECT_EQ(p.on_assign({"t", 0}, -1), 10);
  // Revoked and assigned again after the process consumed up to 25: resume there, not at
  // the checkpoint's 10 (which re-read everything in between on every rebalance).
  EXPECT_EQ(p.on_assign({"t", 0}, 25), 25);
}

TEST(start_offset_policy, a_partition_never_consumed_and_not_checkpointed_uses_the_group_offset) {
  start_offset_policy p;
  p.set_checkpoint({{{"t", 0}, 10}});
  EXPECT_EQ(p.on_assign({"t", 1}, -1), std::nullopt);
}

// librdkafka statistics as its STATISTICS.md documents them, cut to the fields read.
std::string stats(const std::string& group_state, const std::string& broker1_state,
                  int leader_of_p0 = 1) {
  return R"({"name":"c#consumer-1","type":"consumer","brokers":{)"
         R"("127.0.0.1:9/bootstrap":{"name":"127.0.0.1:9/bootstrap","nodeid":-1,"state":"INIT"},)"
         R"("127.0.0.1:9/1":{"name":"127.0.0.1:9/1","nodeid":1,"state":")" +
         broker1_state +
         R"("}},"topics":{"sessions":{"topic":"sessions","partitions":{)"
         R"("0":{"partition":0,"leader":)" +
         std::to_string(leader_of_p0) +
         R"(,"fetch_state":"active"},"-1":{"partition":-1,"leader":-1}}}},)"
         R"("cgrp":{"state":")" +
         group_state + R"(","join_state":"steady","assignment_size":1}})";
}

TEST(assess_consumer_stats, a_joined_group_with_connected_leaders_is_fetching) {
  const auto h = assess_consumer_stats(stats("up", "UP"), {{topic, 0}});
  EXPECT_TRUE(h.fetching) << h.reason;
  EXPECT_EQ(h.reason, "");
}

TEST(assess_consumer_stats, a_group_without_its_coordinator_is_not_fetching) {
  const auto h = assess_consumer_stats(stats("query-coord", "DOWN"), {});
  EXPECT_FALSE(h.fetching);
  EXPECT_NE(h.reason.find("coordinator"), std::string::npos) << h.reason;
}

TEST(assess_consumer_stats, a_disconnected_leader_of_an_assigned_partition_stops_fetching) {
  const auto h = assess_consumer_stats(stats("up", "CONNECT"), {{topic, 0}});
  EXPECT_FALSE(h.fetching);
  EXPECT_NE(h.reason.find("sessions/0"), std::string::npos) << h.reason;
  EXPECT_NE(h.reason.find("CONNECT"), std::string::npos) << h.reason;
}

TEST(assess_consumer_stats, a_partition_without_leader_stops_fetching) {
  EXPECT_FALSE(assess_consumer_stats(stats("up", "UP", -1), {{topic, 0}}).fetching);
}

TEST(assess_consumer_stats, a_disconnected_broker_that_leads_nothing_of_ours_does_not_matter) {
  // Partition 0 is not assigned to this member; another member fetches it.
  EXPECT_TRUE(assess_consumer_stats(stats("up", "DOWN"), {}).fetching);
}

TEST(assess_consumer_stats, unparseable_statistics_are_not_taken_as_healthy) {
  EXPECT_FALSE(assess_consumer_stats("{\"cgrp\":", {}).fetching);
  EXPECT_FALSE(assess_consumer_stats("{}", {}).fetching);
}

// --- against librdkafka's mock cluster ---------------------------------------------------

// Records every payload handed over; try_flush() can be made to refuse (full shard queues).
class recording_sink final : public kafka_unit_sink {
 public:
  void on_unit(std::string_view unit, const unit_meta&) override {
    std::lock_guard lock(mu_);
    ++seen_[std::string(unit)];
    ++total_;
  }
  void on_burst_end() override {}
  bool try_flush() override { return accept.load(); }
  timestamp_us take_max_event_time() override { return INT64_MIN; }

  std::size_t total() const {
    std::lock_guard lock(mu_);
    return total_;
  }
  std::map<std::string, int> seen() const {
    std::lock_guard lock(mu_);
    return seen_;
  }
  std::atomic<bool> accept{true};

 private:
  mutable std::mutex mu_;
  std::map<std::string, int> seen_;
  std::size_t total_ = 0;
};

bool wait_for(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return pred();
}

// Produces `count` messages "p<partition>-<i>" to each partition and waits for the acks.
void produce(const test::mock_cluster& mc, int partitions, int count, int first = 0) {
  char errstr[256];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", mc.bootstraps().c_str(), errstr, sizeof errstr);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
  ASSERT_NE(rk, nullptr) << errstr;
  for (int p = 0; p < partitions; ++p) {
    for (int i = first; i < first + count; ++i) {
      const std::string v = "p" + std::to_string(p) + "-" + std::to_string(i);
      ASSERT_EQ(rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(p),
                                  RD_KAFKA_V_VALUE(const_cast<char*>(v.data()), v.size()),
                                  RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END),
                RD_KAFKA_RESP_ERR_NO_ERROR);
    }
  }
  ASSERT_EQ(rd_kafka_flush(rk, 10000), RD_KAFKA_RESP_ERR_NO_ERROR);
  rd_kafka_destroy(rk);
}

// A plain group member that polls in its own thread until destroyed (it only takes part in
// the group's rebalances; what it fetches is not looked at). It is destroyed only after it
// held an assignment: librdkafka 2.0.2 aborts in rd_kafka_sticky_assignor_state_destroy when
// a cooperative-sticky consumer is closed before its first assignment (fixed upstream in
// 2.3.0).
class other_member {
 public:
  other_member(const std::string& bootstraps, const std::string& group,
               const std::string& strategy) {
    char errstr[256];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", bootstraps.c_str(), errstr, sizeof errstr);
    rd_kafka_conf_set(conf, "group.id", group.c_str(), errstr, sizeof errstr);
    rd_kafka_conf_set(conf, "enable.auto.commit", "false", errstr, sizeof errstr);
    rd_kafka_conf_set(conf, "heartbeat.interval.ms", "100", errstr, sizeof errstr);
    rd_kafka_conf_set(conf, "session.timeout.ms", "6000", errstr, sizeof errstr);
    rd_kafka_conf_set(conf, "partition.assignment.strategy", strategy.c_str(), errstr,
                      sizeof errstr);
    rk_ = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    rd_kafka_poll_set_consumer(rk_);
    rd_kafka_topic_partition_list_t* topics = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(topics, topic, RD_KAFKA_PARTITION_UA);
    rd_kafka_subscribe(rk_, topics);
    rd_kafka_topic_partition_list_destroy(topics);
    thread_ = std::thread([this] {
      while (!stop_) {
        if (rd_kafka_message_t* m = rd_kafka_consumer_poll(rk_, 50)) rd_kafka_message_destroy(m);
        rd_kafka_topic_partition_list_t* assigned = nullptr;
        if (rd_kafka_assignment(rk_, &assigned) == RD_KAFKA_RESP_ERR_NO_ERROR) {
          if (assigned->cnt > 0) had_assignment_ = true;
          rd_kafka_topic_partition_list_destroy(assigned);
        }
      }
    });
  }
  ~other_member() {
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    while (!had_assignment_ && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(20ms);
    stop_ = true;
    thread_.join();
    rd_kafka_consumer_close(rk_);
    rd_kafka_destroy(rk_);
  }
  other_member(const other_member&) = delete;
  other_member& operator=(const other_member&) = delete;

 private:
  rd_kafka_t* rk_ = nullptr;
  std::atomic<bool> stop_{false}, had_assignment_{false};
  std::thread thread_;
};

kafka_input_config input_config(const std::string& bootstraps, const std::string& group) {
  kafka_input_config c;
  c.brokers = bootstraps;
  c.topics = {topic};
  c.group = group;
  c.properties = {{"heartbeat.interval.ms", "100"},
                  {"session.timeout.ms", "6000"},
                  {"topic.metadata.refresh.interval.ms", "1000"}};
  return c;
}

std::size_t assigned_count(const kafka_source& s) {
  std::size_t n = 0;
  for (const auto& [key, p] : s.progress()) n += p.assigned ? 1 : 0;
  return n;
}

std::uint64_t errors(const metrics_registry& m, const std::string& kind) {
  return m.counter_sum("portscand_kafka_consumer_errors_total", {{"kind", kind}});
}

// One kafka_source on a mock cluster of its own, with `count` messages per partition
// already produced, recording what it hands over. Tests adjust `cfg` (and the source) before
// start().
struct harness {
  harness(int partitions, int count, const std::string& group) : mc(1, topic, partitions) {
    produce(mc, partitions, count);
    cfg = input_config(mc.bootstraps(), group);
    auto owned = std::make_unique<recording_sink>();
    seen = owned.get();
    sink = std::move(owned);
  }
  kafka_source& start() {
    src = std::make_unique<kafka_source>("in", cfg, std::move(sink), metrics, clk);
    if (!start_offsets.empty()) src->set_start_offsets(start_offsets);
    src->start();
    return *src;
  }

  test::mock_cluster mc;
  metrics_registry metrics;
  system_clock clk;
  kafka_input_config cfg;
  std::map<partition_key, std::int64_t> start_offsets;
  std::unique_ptr<kafka_unit_sink> sink;
  recording_sink* seen = nullptr;
  std::unique_ptr<kafka_source> src;
};

TEST(kafka_source,
     checkpoint_offsets_are_not_applied_again_when_a_rebalance_gives_a_partition_back) {
  harness h(2, 20, "g-rebalance");
  h.start_offsets = {{{topic, 0}, 10}, {{topic, 1}, 10}};
  kafka_source& src = h.start();
  recording_sink& seen = *h.seen;
  test::mock_cluster& mc = h.mc;
  metrics_registry& metrics = h.metrics;
  ASSERT_TRUE(wait_for([&] { return seen.total() >= 20; }, 20s)) << seen.total();
  {
    // A second member joins: the eager protocol revokes everything and assigns one
    // partition back to the source.
    other_member other(mc.bootstraps(), "g-rebalance", "range");
    ASSERT_TRUE(wait_for([&] { return assigned_count(src) == 1; }, 30s));
    std::this_thread::sleep_for(1s);
  }
  // The other member left: both partitions come back to the source.
  ASSERT_TRUE(wait_for([&] { return assigned_count(src) == 2; }, 30s));
  std::this_thread::sleep_for(1500ms);
  EXPECT_EQ(seen.total(), 20u) << "records re-read after a rebalance";
  for (const auto& [payload, n] : seen.seen()) EXPECT_EQ(n, 1) << payload;
  EXPECT_EQ(errors(metrics, "assign"), 0u);
  src.stop();
}

TEST(kafka_source, cooperative_sticky_assignment_consumes_and_rebalances_incrementally) {
  harness h(2, 10, "g-coop");
  h.cfg.properties["partition.assignment.strategy"] = "cooperative-sticky";
  kafka_source& src = h.start();
  recording_sink& seen = *h.seen;
  test::mock_cluster& mc = h.mc;
  metrics_registry& metrics = h.metrics;
  ASSERT_TRUE(wait_for([&] { return seen.total() >= 20; }, 20s)) << seen.total() << " consumed";
  EXPECT_TRUE(wait_for([&] { return src.healthy(); }, 5s)) << src.health_reason();
  {
    other_member other(mc.bootstraps(), "g-coop", "cooperative-sticky");
    // Incremental: one partition moves, the other stays assigned throughout.
    ASSERT_TRUE(wait_for([&] { return assigned_count(src) == 1; }, 30s));
  }
  ASSERT_TRUE(wait_for([&] { return assigned_count(src) == 2; }, 30s));
  produce(mc, 2, 5, 10);
  EXPECT_TRUE(wait_for([&] { return seen.total() >= 30; }, 20s)) << seen.total();
  EXPECT_EQ(errors(metrics, "assign"), 0u);
  src.stop();
}

TEST(kafka_source, unreachable_brokers_make_the_input_unhealthy_counted_and_explained) {
  metrics_registry metrics;
  system_clock clk;
  kafka_input_config cfg;
  cfg.brokers = "127.0.0.1:1";
  cfg.topics = {topic};
  cfg.group = "g-down";
  kafka_source src("in", cfg, std::make_unique<recording_sink>(), metrics, clk);
  src.start();
  // Long enough for several statistics intervals and connection attempts.
  std::this_thread::sleep_for(3s);
  EXPECT_FALSE(src.healthy());
  EXPECT_NE(src.health_reason().find("coordinator"), std::string::npos) << src.health_reason();
  EXPECT_GT(errors(metrics, "broker"), 0u);
  EXPECT_NE(metrics.render().find("portscand_kafka_input_up{input=\"in\"} 0"), std::string::npos);
  src.stop();
}

TEST(kafka_source, a_broker_outage_on_an_idle_topic_is_seen_and_so_is_the_recovery) {
  harness h(1, 5, "g-outage");
  kafka_source& src = h.start();
  recording_sink& seen = *h.seen;
  test::mock_cluster& mc = h.mc;
  // The mock cluster's first group join takes seconds, and many more on a loaded machine
  // (it once took over 20 s while the integration tests ran beside it).
  ASSERT_TRUE(wait_for([&] { return seen.total() == 5 && src.healthy(); }, 60s))
      << src.health_reason();
  ASSERT_EQ(rd_kafka_mock_broker_set_down(mc.get(), 1), RD_KAFKA_RESP_ERR_NO_ERROR);
  EXPECT_TRUE(wait_for([&] { return !src.healthy(); }, 15s)) << "an outage not reported";
  ASSERT_EQ(rd_kafka_mock_broker_set_up(mc.get(), 1), RD_KAFKA_RESP_ERR_NO_ERROR);
  // No message arrives after the recovery: only the statistics can say so.
  EXPECT_TRUE(wait_for([&] { return src.healthy(); }, 20s)) << src.health_reason();
  src.stop();
}

TEST(kafka_source, backpressure_pauses_and_then_hands_over_every_message_exactly_once) {
  harness h(2, 1500, "g-pause");
  recording_sink& seen = *h.seen;
  seen.accept = false;  // the shards are full
  kafka_source& src = h.start();
  metrics_registry& metrics = h.metrics;
  ASSERT_TRUE(wait_for(
      [&] { return metrics.counter_sum("portscand_kafka_backpressure_pauses_total") > 0; }, 20s));
  std::this_thread::sleep_for(500ms);
  const std::size_t while_paused = seen.total();
  EXPECT_LE(while_paused, 1000u)
      << "the consumer kept handing over messages while paused (one burst is at most 1,000)";
  seen.accept = true;
  ASSERT_TRUE(wait_for([&] { return seen.total() >= 3000; }, 20s)) << seen.total();
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(seen.total(), 3000u);
  for (const auto& [payload, n] : seen.seen()) EXPECT_EQ(n, 1) << payload;
  EXPECT_EQ(errors(metrics, "seek") + errors(metrics, "pause") + errors(metrics, "resume"), 0u);
  src.stop();
}

TEST(kafka_source, offsets_requested_for_a_checkpoint_are_the_next_offsets_of_owned_partitions) {
  harness h(2, 7, "g-offsets");
  kafka_source& src = h.start();
  recording_sink& seen = *h.seen;
  ASSERT_TRUE(wait_for([&] { return seen.total() == 14; }, 20s));
  auto f = src.request_offsets();
  ASSERT_EQ(f.wait_for(5s), std::future_status::ready);
  const auto offsets = f.get();
  EXPECT_EQ(offsets, (std::map<partition_key, std::int64_t>{{{topic, 0}, 7}, {{topic, 1}, 7}}));
  src.halt();
  // Halted: answered at once from the final progress.
  auto g = src.request_offsets();
  ASSERT_EQ(g.wait_for(0s), std::future_status::ready);
  EXPECT_EQ(g.get(), offsets);
  src.stop();
}

// A sink whose partitions carry state (the scale-out stage 2): it learns each assigned
// partition's committed offset and metadata, chooses where reading starts, and hears of
// revocations; the message's partition and offset reach it with every unit.
class stateful_sink final : public kafka_unit_sink {
 public:
  bool wants_committed() const override { return true; }
  void on_assigned(std::vector<assigned_partition>& parts) override {
    std::lock_guard lock(mu);
    for (auto& p : parts) {
      assigned.push_back(p);
      if (p.key.partition == 1) p.start = 5;  // the sink's own choice for partition 1
    }
  }
  void on_revoked(const std::vector<partition_key>& parts) override {
    std::lock_guard lock(mu);
    revoked += parts.size();
  }
  void on_unit(std::string_view unit, const unit_meta& meta) override {
    std::lock_guard lock(mu);
    units.emplace_back(std::string(unit), meta.partition, meta.offset);
  }
  void on_burst_end() override {}
  bool try_flush() override { return true; }
  timestamp_us take_max_event_time() override { return INT64_MIN; }

  std::mutex mu;
  std::vector<assigned_partition> assigned;
  std::size_t revoked = 0;
  std::vector<std::tuple<std::string, std::int32_t, std::int64_t>> units;
};

// A consumer that never joins the group (no subscription): reads and writes the group's
// committed offsets directly, with their metadata.
struct group_offsets {
  group_offsets(const std::string& bootstraps, const std::string& group) {
    char errstr[256];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", bootstraps.c_str(), errstr, sizeof errstr);
    rd_kafka_conf_set(conf, "group.id", group.c_str(), errstr, sizeof errstr);
    rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
  }
  ~group_offsets() { rd_kafka_destroy(rk); }
  void commit(std::int32_t partition, std::int64_t offset, const std::string& metadata) {
    rd_kafka_topic_partition_list_t* l = rd_kafka_topic_partition_list_new(1);
    auto* e = rd_kafka_topic_partition_list_add(l, topic, partition);
    e->offset = offset;
    e->metadata = std::malloc(metadata.size());
    std::memcpy(e->metadata, metadata.data(), metadata.size());
    e->metadata_size = metadata.size();
    EXPECT_EQ(rd_kafka_commit(rk, l, 0), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_topic_partition_list_destroy(l);
  }
  std::pair<std::int64_t, std::string> committed(std::int32_t partition) {
    rd_kafka_topic_partition_list_t* l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, topic, partition);
    EXPECT_EQ(rd_kafka_committed(rk, l, 10000), RD_KAFKA_RESP_ERR_NO_ERROR);
    const auto& e = l->elems[0];
    std::pair<std::int64_t, std::string> out{
        e.offset, e.metadata ? std::string(static_cast<const char*>(e.metadata), e.metadata_size)
                             : std::string()};
    rd_kafka_topic_partition_list_destroy(l);
    return out;
  }
  rd_kafka_t* rk = nullptr;
};

TEST(kafka_source, a_commit_carries_each_partitions_metadata) {
  harness h(2, 10, "g-meta");
  kafka_source& src = h.start();
  ASSERT_TRUE(wait_for([&] { return h.seen->total() == 20; }, 20s));
  src.halt();
  src.commit({{{topic, 0}, 4}, {{topic, 1}, 6}}, {{{topic, 0}, "psd1 wm=7 end=9 bins=1,2"}});
  src.stop();
  group_offsets g(h.mc.bootstraps(), "g-meta");
  EXPECT_EQ(g.committed(0), (std::pair<std::int64_t, std::string>{4, "psd1 wm=7 end=9 bins=1,2"}));
  EXPECT_EQ(g.committed(1), (std::pair<std::int64_t, std::string>{6, ""}));
}

TEST(kafka_source, a_stateful_sink_learns_the_committed_metadata_and_chooses_where_reading_starts) {
  test::mock_cluster mc(1, topic, 2);
  produce(mc, 2, 10);
  {
    group_offsets g(mc.bootstraps(), "g-stateful");
    g.commit(0, 4, "psd1 wm=7 end=9 bins=1,2");
    g.commit(1, 6, "six");
  }
  metrics_registry metrics;
  system_clock clk;
  auto owned = std::make_unique<stateful_sink>();
  stateful_sink& sink = *owned;
  kafka_source src("in", input_config(mc.bootstraps(), "g-stateful"), std::move(owned), metrics,
                   clk);
  src.start();
  ASSERT_TRUE(wait_for(
      [&] {
        std::lock_guard lock(sink.mu);
        return sink.units.size() >= 11;
      },
      30s));
  std::this_thread::sleep_for(500ms);
  {
    std::lock_guard lock(sink.mu);
    ASSERT_EQ(sink.assigned.size(), 2u);
    for (const auto& a : sink.assigned) {
      EXPECT_TRUE(a.committed_known);
      EXPECT_EQ(a.committed, a.key.partition == 0 ? 4 : 6);
      EXPECT_EQ(a.metadata, a.key.partition == 0 ? "psd1 wm=7 end=9 bins=1,2" : "six");
    }
    // Partition 0 from its committed offset (4..9), partition 1 from the sink's choice (5..9).
    std::map<std::int32_t, std::vector<std::int64_t>> offsets;
    for (const auto& [unit, partition, offset] : sink.units) {
      offsets[partition].push_back(offset);
      EXPECT_EQ(unit, fmt::format("p{}-{}", partition, offset));
    }
    EXPECT_EQ(offsets[0], (std::vector<std::int64_t>{4, 5, 6, 7, 8, 9}));
    EXPECT_EQ(offsets[1], (std::vector<std::int64_t>{5, 6, 7, 8, 9}));
  }
  EXPECT_EQ(errors(metrics, "committed"), 0u);
  src.stop();
  std::lock_guard lock(sink.mu);
  EXPECT_EQ(sink.revoked, 2u) << "leaving the group revokes what the sink holds";
}

TEST(consumer_lag, is_known_only_for_an_assigned_partition_with_a_position_and_an_end) {
  partition_progress p;
  p.assigned = true;
  p.position = 4;
  p.high_watermark = 10;
  EXPECT_EQ(consumer_lag(p), 6);
  p.position = 12;  // an end from before the last message: never negative
  EXPECT_EQ(consumer_lag(p), 0);
  p.position = -1;
  EXPECT_EQ(consumer_lag(p), std::nullopt);
  p.position = 4;
  p.high_watermark = -1;
  EXPECT_EQ(consumer_lag(p), std::nullopt);
  p.high_watermark = 10;
  p.assigned = false;
  EXPECT_EQ(consumer_lag(p), std::nullopt);
}

// A stateful sink that starts partition 0 at offset 3 and holds the consumer thread on the
// first message until released: what the lag says while a re-read has not delivered yet.
class gated_sink final : public kafka_unit_sink {
 public:
  bool wants_committed() const override { return true; }
  void on_assigned(std::vector<assigned_partition>& parts) override {
    for (auto& p : parts) p.start = 3;
  }
  void on_unit(std::string_view, const unit_meta&) override {
    std::unique_lock lock(mu);
    ++units;
    cv.wait(lock, [&] { return open; });
  }
  void on_burst_end() override {}
  bool try_flush() override { return true; }
  timestamp_us take_max_event_time() override { return INT64_MIN; }
  void release() {
    {
      std::lock_guard lock(mu);
      open = true;
    }
    cv.notify_all();
  }
  std::size_t count() {
    std::lock_guard lock(mu);
    return units;
  }

 private:
  std::mutex mu;
  std::condition_variable cv;
  bool open = false;
  std::size_t units = 0;
};

// The by-source re-read after a handover: the new owner seeks back to a resume point. Its lag
// must show the records ahead from the assignment on; before, it was unknown until the first
// fetch had been handed over, and a gauge left at 0 by an earlier assignment said "done"
// while the re-read had not begun.
TEST(kafka_source, the_lag_of_a_partition_assigned_at_a_chosen_offset_is_known_before_any_message) {
  test::mock_cluster mc(1, topic, 1);
  produce(mc, 1, 10);
  metrics_registry metrics;
  system_clock clk;
  auto owned = std::make_unique<gated_sink>();
  gated_sink& sink = *owned;
  kafka_source src("in", input_config(mc.bootstraps(), "g-lag"), std::move(owned), metrics, clk);
  src.start();
  // Released however the test ends: a consumer thread held for ever would never join.
  struct releaser {
    gated_sink& sink;
    explicit releaser(gated_sink& s) : sink(s) {}
    releaser(const releaser&) = delete;
    releaser& operator=(const releaser&) = delete;
    ~releaser() { sink.release(); }
  } guard(sink);
  ASSERT_TRUE(wait_for([&] { return sink.count() == 1; }, 30s));
  // The consumer thread holds the first message (offset 3): nothing has been handed over.
  const partition_progress held = src.progress().at({topic, 0});
  EXPECT_EQ(held.next_offset, -1);
  EXPECT_EQ(held.position, 3);
  EXPECT_EQ(held.high_watermark, 10);
  EXPECT_EQ(consumer_lag(held), 7);
  // Caught up only once every message up to the end at the assignment is handed over: not
  // before the release, which comes at least 300 ms after the assignment.
  std::this_thread::sleep_for(300ms);
  const std::string before = metrics.render();
  EXPECT_NE(before.find("portscand_kafka_catch_up_seconds_count{input=\"in\"} 0\n"),
            std::string::npos)
      << before;
  sink.release();
  ASSERT_TRUE(wait_for([&] { return consumer_lag(src.progress().at({topic, 0})) == 0; }, 20s));
  EXPECT_EQ(sink.count(), 7u);
  EXPECT_EQ(src.progress().at({topic, 0}).position, 10);
  const std::string after = metrics.render();
  EXPECT_NE(after.find("portscand_kafka_catch_up_seconds_count{input=\"in\"} 1\n"),
            std::string::npos)
      << after;
  EXPECT_NE(after.find("portscand_kafka_catch_up_seconds_bucket{input=\"in\",le=\"0.25\"} 0\n"),
            std::string::npos)
      << after;
  EXPECT_EQ(errors(metrics, "watermarks"), 0u);
  src.stop();
}

// Members of a group stop one after the other, as the instances of a deployment do: each
// stop finds the group rebalancing after the previous one left, before the heartbeat told
// this member. The revocation that rd_kafka_consumer_close() triggers itself could hang for
// ever in the callback's rd_kafka_assign() then (librdkafka 2.0.2): seen about once in 40
// scale-out runs as an instance that never exited after SIGTERM. The race is too narrow to
// hit on demand here; this checks that leaving through the poll path (stop() unsubscribes
// first) returns and assigns cleanly in that situation.
TEST(kafka_source, members_stopped_while_their_group_rebalances_always_return) {
  constexpr int partitions = 8;
  test::mock_cluster mc(1, topic, partitions);
  produce(mc, partitions, 5);
  for (int round = 0; round < 2; ++round) {
    const std::string group = "g-leave-" + std::to_string(round);
    metrics_registry metrics;
    system_clock clk;
    std::vector<std::unique_ptr<kafka_source>> members;
    for (int i = 0; i < 3; ++i) {
      kafka_input_config cfg = input_config(mc.bootstraps(), group);
      cfg.properties["heartbeat.interval.ms"] = "500";
      members.push_back(std::make_unique<kafka_source>(
          "in" + std::to_string(i), cfg, std::make_unique<recording_sink>(), metrics, clk));
      members.back()->start();
    }
    ASSERT_TRUE(wait_for(
        [&] {
          std::size_t n = 0;
          for (const auto& m : members) n += assigned_count(*m);
          return n == partitions;
        },
        60s))
        << "round " << round << ": the group never settled";
    for (auto& m : members) {
      auto stopped = std::async(std::launch::async, [&m] { m->stop(); });
      if (stopped.wait_for(40s) != std::future_status::ready) {
        ADD_FAILURE() << "round " << round << ": a member's stop() never returned";
        std::fflush(stdout);
        std::_Exit(1);  // the hung thread cannot be joined
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(150 * round));
    }
    EXPECT_EQ(errors(metrics, "assign"), 0u) << "round " << round;
  }
}

}  // namespace
}  // namespace portscand
