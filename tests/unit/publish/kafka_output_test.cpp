#include "publish/kafka_output.hpp"

// rdkafka.h first: rdkafka_mock.h does not include it.
#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdlib>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>
#include <thread>

#include "kafka_mock_cluster.hpp"
#include "ocsf_schema.hpp"
#include "publish/publish_test_util.hpp"
#include "test_names.hpp"

namespace portscand {
namespace {

using namespace std::chrono_literals;
using test::test_alerts;

constexpr const char* topic = "portscan-alerts";
constexpr std::int16_t produce_api = 0;  // Kafka protocol ApiKey of ProduceRequest

// One cluster per test with the alert topic.
struct mock_cluster : test::mock_cluster {
  explicit mock_cluster(int brokers, int partitions = 1)
      : test::mock_cluster(brokers, topic, partitions) {}
};

struct consumed_message {
  std::int32_t partition = -1;
  std::string key, value, alert_id_header, rule_id_header;
};

std::string header(rd_kafka_headers_t* hdrs, const char* name) {
  const void* v = nullptr;
  std::size_t size = 0;
  if (hdrs == nullptr ||
      rd_kafka_header_get_last(hdrs, name, &v, &size) != RD_KAFKA_RESP_ERR_NO_ERROR)
    return "(missing)";
  return std::string(static_cast<const char*>(v), size);
}

// Reads the topic back from the beginning with a plain consumer until `expected` messages
// arrived (and a short grace period passed, so duplicates would show) or the timeout.
std::vector<consumed_message> consume(const std::string& bootstraps, int partitions,
                                      std::size_t expected,
                                      std::chrono::milliseconds timeout = 10s) {
  char errstr[256];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", bootstraps.c_str(), errstr, sizeof errstr);
  rd_kafka_conf_set(conf, "group.id", "publish-test", errstr, sizeof errstr);
  rd_kafka_conf_set(conf, "enable.auto.commit", "false", errstr, sizeof errstr);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
  EXPECT_NE(rk, nullptr) << errstr;
  if (rk == nullptr) return {};
  rd_kafka_topic_partition_list_t* parts = rd_kafka_topic_partition_list_new(partitions);
  for (int p = 0; p < partitions; ++p)
    rd_kafka_topic_partition_list_add(parts, topic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
  rd_kafka_assign(rk, parts);
  rd_kafka_topic_partition_list_destroy(parts);

  std::vector<consumed_message> out;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  auto grace_end = std::chrono::steady_clock::time_point::max();
  while (std::chrono::steady_clock::now() < std::min(deadline, grace_end)) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 50);
    if (m == nullptr) continue;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      consumed_message c;
      c.partition = m->partition;
      c.key.assign(static_cast<const char*>(m->key), m->key_len);
      c.value.assign(static_cast<const char*>(m->payload), m->len);
      rd_kafka_headers_t* hdrs = nullptr;
      rd_kafka_message_headers(m, &hdrs);
      c.alert_id_header = header(hdrs, "alert_id");
      c.rule_id_header = header(hdrs, "rule_id");
      out.push_back(std::move(c));
      if (out.size() >= expected && grace_end == std::chrono::steady_clock::time_point::max())
        grace_end = std::chrono::steady_clock::now() + 300ms;
    }
    rd_kafka_message_destroy(m);
  }
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  return out;
}

std::set<std::string> alert_ids(const std::vector<alert>& alerts) {
  std::set<std::string> ids;
  for (const auto& a : alerts) ids.insert(a.alert_id);
  return ids;
}

std::set<std::string> alert_ids(const std::vector<consumed_message>& msgs) {
  std::set<std::string> ids;
  for (const auto& m : msgs) ids.insert(m.alert_id_header);
  return ids;
}

// Short timeouts so that failure paths run in a test's time, not production's.
kafka_output_config fast_config(const mock_cluster& mc, std::size_t max_pending = 1000) {
  kafka_output_config cfg;
  cfg.brokers = mc.bootstraps();
  cfg.topic = topic;
  cfg.max_pending_alerts = max_pending;
  cfg.properties = {{"message.timeout.ms", "1000"},
                    {"socket.timeout.ms", "500"},
                    {"retry.backoff.ms", "10"},
                    {"reconnect.backoff.ms", "10"},
                    {"reconnect.backoff.max.ms", "100"},
                    {"linger.ms", "1"},
                    {"topic.metadata.refresh.interval.ms", "500"}};
  // PORTSCAND_KAFKA_DEBUG=eos,msg,protocol ... turns on librdkafka's debug contexts.
  if (const char* debug = std::getenv("PORTSCAND_KAFKA_DEBUG")) {
    cfg.properties["debug"] = debug;
    spdlog::set_level(spdlog::level::debug);
  }
  return cfg;
}

kafka_output_options fast_options() {
  kafka_output_options o;
  o.retry_backoff_min = 20ms;
  o.retry_backoff_max = 200ms;
  o.fatal_drain_timeout = 500ms;
  return o;
}

std::uint64_t failures(metrics_registry& m, const std::string& reason = "") {
  metric_labels match = {{"output", "kafka-test"}};
  if (!reason.empty()) match.emplace_back("reason", reason);
  return m.counter_sum("portscand_alert_delivery_failures_total", match);
}

// Polls the output until `done` holds or the timeout passes.
template <typename Pred>
bool poll_until(kafka_output& out, Pred done, std::chrono::milliseconds timeout = 10s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    out.poll();
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

TEST(KafkaOutput, DeliversKeyHeadersAndOneLineNativeJson) {
  mock_cluster mc(1);
  metrics_registry m;
  kafka_output out("kafka-test", output_schema::native, fast_config(mc), m, fast_options());
  const auto alerts = test_alerts(0, 3);
  ASSERT_TRUE(out.publish(alerts));
  EXPECT_EQ(out.pending(), 3u);
  ASSERT_TRUE(out.flush(10s));
  EXPECT_EQ(out.pending(), 0u);
  EXPECT_TRUE(out.healthy());
  EXPECT_EQ(m.counter_sum("portscand_alerts_delivered_total", {{"output", "kafka-test"}}), 3u);
  EXPECT_EQ(failures(m), 0u);

  const auto msgs = consume(mc.bootstraps(), 1, 3);
  ASSERT_EQ(msgs.size(), 3u);
  std::map<std::string, const alert*> by_id;
  for (const auto& a : alerts) by_id[a.alert_id] = &a;
  for (const auto& msg : msgs) {
    ASSERT_TRUE(by_id.count(msg.alert_id_header)) << msg.alert_id_header;
    const alert& a = *by_id[msg.alert_id_header];
    EXPECT_EQ(msg.key, a.src.to_string());
    EXPECT_EQ(msg.rule_id_header, a.rule->id);
    EXPECT_EQ(msg.value.find('\n'), std::string::npos) << "the value is one line";
    EXPECT_EQ(msg.value, render_alert(a, alert_schema::native));
    const auto j = nlohmann::json::parse(msg.value);
    EXPECT_EQ(j["schema"], "portscand.alert.v1");
    EXPECT_EQ(j["alert_id"], a.alert_id);
    EXPECT_EQ(j["SrcIpAddr"], msg.key);
  }
}

TEST(KafkaOutput, OcsfSchemaCarriesTheAlertIdAsFindingUid) {
  mock_cluster mc(1);
  metrics_registry m;
  kafka_output out("kafka-test", output_schema::ocsf, fast_config(mc), m, fast_options());
  const auto alerts = test_alerts(10, 1);
  ASSERT_TRUE(out.publish(alerts));
  ASSERT_TRUE(out.flush(10s));
  const auto msgs = consume(mc.bootstraps(), 1, 1);
  ASSERT_EQ(msgs.size(), 1u);
  const auto j = nlohmann::json::parse(msgs[0].value);
  EXPECT_EQ(j["class_uid"], 2004);
  EXPECT_EQ(j["finding_info"]["uid"], alerts[0].alert_id);
  EXPECT_EQ(test::detection_finding_problems(j), "");
  EXPECT_EQ(msgs[0].alert_id_header, alerts[0].alert_id);
  EXPECT_EQ(msgs[0].key, "203.0.113.10");
}

TEST(KafkaOutput, SameSourceGoesToTheSamePartition) {
  // The key is the source IP, so a SOAR consuming one partition sees all of a source's
  // alerts in order.
  mock_cluster mc(1, 4);
  metrics_registry m;
  kafka_output out("kafka-test", output_schema::native, fast_config(mc), m, fast_options());
  std::vector<alert> alerts;
  for (int bin = 0; bin < 3; ++bin)
    for (int src = 0; src < 5; ++src) alerts.push_back(test::test_alert(bin * 250 + src));
  ASSERT_TRUE(out.publish(alerts));
  ASSERT_TRUE(out.flush(10s));
  const auto msgs = consume(mc.bootstraps(), 4, alerts.size());
  ASSERT_EQ(msgs.size(), alerts.size());
  std::map<std::string, std::set<std::int32_t>> partitions_of;
  for (const auto& msg : msgs) partitions_of[msg.key].insert(msg.partition);
  EXPECT_EQ(partitions_of.size(), 5u);
  for (const auto& [key, parts] : partitions_of) EXPECT_EQ(parts.size(), 1u) << key;
}

TEST(KafkaOutput, BrokerDownDelaysAlertsButLosesNone) {
  mock_cluster mc(1);
  metrics_registry m;
  kafka_output out("kafka-test", output_schema::native, fast_config(mc), m, fast_options());
  const auto before = test_alerts(0, 2);
  ASSERT_TRUE(out.publish(before));
  ASSERT_TRUE(out.flush(10s));  // connected, producer id acquired

  ASSERT_EQ(rd_kafka_mock_broker_set_down(mc.get(), 1), RD_KAFKA_RESP_ERR_NO_ERROR);
  const auto during = test_alerts(2, 5);
  ASSERT_TRUE(out.publish(during));
  // message.timeout.ms is 1 s: the reports fail with a timeout while the broker is away,
  // the alerts are re-queued, counted and kept.
  ASSERT_TRUE(poll_until(out, [&] { return failures(m) > 0; })) << "no failure counted";
  EXPECT_EQ(out.pending(), 5u);
  EXPECT_FALSE(out.healthy());
  EXPECT_EQ(m.counter_sum("portscand_alerts_delivered_total", {{"output", "kafka-test"}}), 2u);

  ASSERT_EQ(rd_kafka_mock_broker_set_up(mc.get(), 1), RD_KAFKA_RESP_ERR_NO_ERROR);
  ASSERT_TRUE(out.flush(20s)) << out.pending() << " still pending";
  EXPECT_EQ(out.pending(), 0u);
  EXPECT_TRUE(out.healthy());

  auto expected = alert_ids(before);
  for (const auto& id : alert_ids(during)) expected.insert(id);
  const auto msgs = consume(mc.bootstraps(), 1, expected.size());
  EXPECT_EQ(alert_ids(msgs), expected);  // duplicates allowed (at-least-once), losses not
}

TEST(KafkaOutput, RetriableProduceErrorsAreRetriedToDelivery) {
  mock_cluster mc(1);
  rd_kafka_mock_push_request_errors(
      mc.get(), produce_api, 4, RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
      RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT, RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
      RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE);
  metrics_registry m;
  kafka_output out("kafka-test", output_schema::native, fast_config(mc), m, fast_options());
  const auto alerts = test_alerts(0, 3);
  ASSERT_TRUE(out.publish(alerts));
  ASSERT_TRUE(out.flush(20s));
  EXPECT_TRUE(out.healthy());
  EXPECT_EQ(alert_ids(consume(mc.bootstraps(), 1, 3)), alert_ids(alerts));
}

TEST(KafkaOutput, FirstRequestFailingRetriablyIsNotLostToALaterOne) {
  // A broker with no state for the producer accepts any first sequence (Kafka 2.5 to 4.4,
  // KAFKA-15591, and librdkafka's mock). With two requests in flight, the first failing
  // retriably (not written) and the second succeeding, librdkafka "implicitly acks" the
  // first: a successful delivery report for an alert that is not in the topic. Hence
  // max.in.flight=1. Here the first ProduceRequest fails after 1 s while the second alert
  // is published 100 ms after the first (under socket and message timeouts that let the
  // failure, not a timeout, answer it).
  mock_cluster mc(1);
  rd_kafka_mock_broker_push_request_error_rtts(mc.get(), 1, produce_api, 1,
                                               RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION, 1000);
  metrics_registry m;
  auto cfg = fast_config(mc);
  cfg.properties["socket.timeout.ms"] = "10000";
  cfg.properties["message.timeout.ms"] = "20000";
  kafka_output out("kafka-test", output_schema::native, cfg, m, fast_options());
  ASSERT_TRUE(out.publish(test_alerts(0, 1)));
  const auto until = std::chrono::steady_clock::now() + 100ms;
  while (std::chrono::steady_clock::now() < until) {
    out.poll();
    std::this_thread::sleep_for(5ms);
  }
  // The case is exercised only if the first request is still unanswered now: a slow
  // machine that missed the window must fail here, not pass without testing anything.
  ASSERT_EQ(out.pending(), 1u) << "the first alert was answered before the second was published";
  ASSERT_EQ(failures(m), 0u);
  ASSERT_TRUE(out.publish(test_alerts(1, 1)));
  ASSERT_TRUE(out.flush(20s));
  // librdkafka retries NOT_LEADER_FOR_PARTITION itself (no delivery report, so no failure of
  // ours counts it): the mock's error stack shows the failing answer was given.
  std::size_t unanswered = 1;
  ASSERT_EQ(rd_kafka_mock_broker_error_stack_cnt(mc.get(), 1, produce_api, &unanswered),
            RD_KAFKA_RESP_ERR_NO_ERROR);
  EXPECT_EQ(unanswered, 0u) << "the injected failure was not hit";
  EXPECT_EQ(alert_ids(consume(mc.bootstraps(), 1, 2)), alert_ids(test_alerts(0, 2)));
}

TEST(KafkaOutput, TopicAuthorizationFailureIsCountedRetriedAndDeliveredOnceCleared) {
  mock_cluster mc(1);
  // More errors than the test will consume: the failure lasts until it is cleared.
  std::vector<rd_kafka_resp_err_t> errs(1000, RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);
  rd_kafka_mock_push_request_errors_array(mc.get(), produce_api, errs.size(), errs.data());
  metrics_registry m;
  kafka_output out("kafka-test", output_schema::native, fast_config(mc), m, fast_options());
  const auto alerts = test_alerts(0, 2);
  ASSERT_TRUE(out.publish(alerts));

  // Counted under the broker's reason, and retried (more than one failed attempt).
  ASSERT_TRUE(poll_until(out, [&] { return failures(m, "TOPIC_AUTHORIZATION_FAILED") >= 4; }))
      << failures(m) << " failures";
  EXPECT_EQ(out.pending(), 2u) << "a permanent error must not drop the alert";
  EXPECT_FALSE(out.healthy());
  EXPECT_EQ(m.counter_sum("portscand_alerts_delivered_total", {{"output", "kafka-test"}}), 0u);

  rd_kafka_mock_clear_request_errors(mc.get(), produce_api);
  ASSERT_TRUE(out.flush(20s)) << out.pending() << " still pending";
  EXPECT_TRUE(out.healthy());
  EXPECT_EQ(m.counter_sum("portscand_alerts_delivered_total", {{"output", "kafka-test"}}), 2u);
  const auto msgs = consume(mc.bootstraps(), 1, 2);
  EXPECT_EQ(alert_ids(msgs), alert_ids(alerts));
  EXPECT_EQ(msgs.size(), 2u) << "refused requests were not written, so no duplicates";
}

TEST(KafkaOutput, MessageTooLargeIsKeptCountedAndRetriedNotDropped) {
  // librdkafka refuses it in producev() already; it is still an alert we owe the SOAR.
  mock_cluster mc(1);
  metrics_registry m;
  auto cfg = fast_config(mc);
  cfg.properties["message.max.bytes"] = "1000";  // an alert is ~1.2 kB
  kafka_output out("kafka-test", output_schema::native, cfg, m, fast_options());
  ASSERT_TRUE(out.publish(test_alerts(0, 1)));
  EXPECT_EQ(failures(m, "MSG_SIZE_TOO_LARGE"), 1u);
  ASSERT_TRUE(poll_until(out, [&] { return failures(m, "MSG_SIZE_TOO_LARGE") >= 3; }));
  EXPECT_EQ(out.pending(), 1u);
  EXPECT_FALSE(out.healthy());
  EXPECT_FALSE(out.flush(50ms));
}

TEST(KafkaOutput, BoundedQueueRefusesWholeBatchesBeyondMaxPending) {
  mock_cluster mc(1);
  rd_kafka_mock_broker_set_down(mc.get(), 1);  // nothing gets confirmed
  metrics_registry m;
  kafka_output out("kafka-test", output_schema::native, fast_config(mc, 5), m, fast_options());
  EXPECT_TRUE(out.publish(test_alerts(0, 3)));
  EXPECT_FALSE(out.publish(test_alerts(3, 3))) << "3 + 3 > 5: refused as a whole";
  EXPECT_EQ(out.pending(), 3u);
  EXPECT_TRUE(out.publish(test_alerts(3, 2)));
  EXPECT_EQ(out.pending(), 5u);
  EXPECT_FALSE(out.publish(test_alerts(5, 1)));
  out.poll();
  EXPECT_EQ(out.pending(), 5u);
  EXPECT_EQ(m.get_gauge("portscand_alerts_pending", "", {{"output", "kafka-test"}}).value(), 5.0);

  rd_kafka_mock_broker_set_up(mc.get(), 1);
  ASSERT_TRUE(out.flush(20s));
  EXPECT_TRUE(out.publish(test_alerts(5, 1))) << "room again once confirmed";
  ASSERT_TRUE(out.flush(10s));
  EXPECT_EQ(alert_ids(consume(mc.bootstraps(), 1, 6)), alert_ids(test_alerts(0, 6)));
}

TEST(KafkaOutput, BatchLargerThanTheBoundIsAcceptedIntoAnEmptyQueue) {
  // Otherwise such a batch would be refused forever and the publisher would stall.
  mock_cluster mc(1);
  metrics_registry m;
  kafka_output out("kafka-test", output_schema::native, fast_config(mc, 2), m, fast_options());
  EXPECT_TRUE(out.publish(test_alerts(0, 3)));
  EXPECT_FALSE(out.publish(test_alerts(3, 1)));
  ASSERT_TRUE(out.flush(10s));
}

TEST(KafkaOutput, FatalErrorFromTheBrokerRecreatesTheProducerAndResends) {
  // OUT_OF_ORDER_SEQUENCE_NUMBER on the head-of-line request is, for librdkafka's
  // idempotent producer, an unrecoverable desynchronization: a fatal error after which
  // every produce call fails. We must replace the producer, not stop publishing.
  mock_cluster mc(1);
  metrics_registry m;
  kafka_output out("kafka-test", output_schema::native, fast_config(mc), m, fast_options());
  ASSERT_TRUE(out.publish(test_alerts(0, 1)));
  ASSERT_TRUE(out.flush(10s));
  rd_kafka_mock_push_request_errors(mc.get(), produce_api, 1,
                                    RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
  ASSERT_TRUE(out.publish(test_alerts(1, 3)));
  ASSERT_TRUE(out.flush(20s)) << out.pending() << " still pending";
  EXPECT_EQ(out.producer_generation(), 2u);
  EXPECT_EQ(m.counter_sum("portscand_kafka_producer_restarts_total", {{"output", "kafka-test"}}),
            1u);
  EXPECT_TRUE(out.healthy());
  EXPECT_EQ(alert_ids(consume(mc.bootstraps(), 1, 4)), alert_ids(test_alerts(0, 4)));
}

TEST(KafkaOutput, InjectedFatalErrorWithAlertsInFlightLosesNone) {
  mock_cluster mc(1);
  rd_kafka_mock_broker_set_rtt(mc.get(), 1, 300);  // keep them in flight for a while
  metrics_registry m;
  kafka_output out("kafka-test", output_schema::native, fast_config(mc), m, fast_options());
  ASSERT_TRUE(out.publish(test_alerts(0, 5)));
  out.poll();
  ASSERT_TRUE(out.inject_fatal_error_for_test(RD_KAFKA_RESP_ERR_PRODUCER_FENCED));
  ASSERT_TRUE(out.publish(test_alerts(5, 2))) << "publish keeps accepting after a fatal error";
  ASSERT_TRUE(out.flush(20s)) << out.pending() << " still pending";
  EXPECT_GE(out.producer_generation(), 2u);
  EXPECT_EQ(alert_ids(consume(mc.bootstraps(), 1, 7)), alert_ids(test_alerts(0, 7)));
}

// ---- Visibility during an outage (issue 11) ------------------------------------------------
// alert_delivery_failures_total stayed 0 through a 43-70 s outage: it moves only when a
// delivery report fails, i.e. when message.timeout.ms (5 min by default) runs out. Errors
// and retries must show while they happen.

// A delivery timeout far beyond the tests: no alert fails for good while they run.
kafka_output_config patient_config(const mock_cluster& mc) {
  kafka_output_config cfg = fast_config(mc);
  cfg.properties["message.timeout.ms"] = "300000";
  cfg.properties["statistics.interval.ms"] = "200";
  return cfg;
}

std::uint64_t output_errors(metrics_registry& m, const std::string& kind = "") {
  metric_labels match = {{"output", "kafka-test"}};
  if (!kind.empty()) match.emplace_back("kind", kind);
  return m.counter_sum("portscand_alert_output_errors_total", match);
}

std::uint64_t output_retries(metrics_registry& m) {
  return m.counter_sum("portscand_alert_output_retries_total", {{"output", "kafka-test"}});
}

double queued_messages(metrics_registry& m) {
  return m.get_gauge("portscand_alert_output_queued_messages", "", {{"output", "kafka-test"}})
      .value();
}

TEST(KafkaOutput, BrokerErrorsAreCountedWhileTheBrokersAreDownNotWhenTheyGiveUp) {
  mock_cluster mc(1);
  metrics_registry m;
  kafka_output out("kafka-test", output_schema::native, patient_config(mc), m, fast_options());
  ASSERT_TRUE(out.publish(test_alerts(0, 1)));
  ASSERT_TRUE(out.flush(10s));  // connected
  EXPECT_EQ(output_errors(m), 0u);

  ASSERT_EQ(rd_kafka_mock_broker_set_down(mc.get(), 1), RD_KAFKA_RESP_ERR_NO_ERROR);
  ASSERT_TRUE(out.publish(test_alerts(1, 3)));
  ASSERT_TRUE(poll_until(out, [&] { return output_errors(m) > 0; }))
      << "no error counted with the broker down";
  EXPECT_GT(output_errors(m, "transport") + output_errors(m, "all_brokers_down"), 0u);
  ASSERT_TRUE(poll_until(out, [&] { return queued_messages(m) >= 3.0; }))
      << "queued: " << queued_messages(m);
  EXPECT_EQ(failures(m), 0u) << "nothing has failed for good yet: the test is about before that";
  EXPECT_EQ(out.pending(), 3u);

  ASSERT_EQ(rd_kafka_mock_broker_set_up(mc.get(), 1), RD_KAFKA_RESP_ERR_NO_ERROR);
  ASSERT_TRUE(out.flush(20s)) << out.pending() << " still pending";
  EXPECT_TRUE(poll_until(out, [&] { return queued_messages(m) == 0.0; }));
  EXPECT_EQ(output_errors(m, "other"), 0u) << "connection errors have their own kinds";
}

TEST(KafkaOutput, ProduceRetriesAreCountedAsTheyHappen) {
  mock_cluster mc(1);
  // Retriable refusals, more than the test will consume: librdkafka retries on its own.
  std::vector<rd_kafka_resp_err_t> errs(1000, RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS);
  rd_kafka_mock_push_request_errors_array(mc.get(), produce_api, errs.size(), errs.data());
  metrics_registry m;
  kafka_output out("kafka-test", output_schema::native, patient_config(mc), m, fast_options());
  const auto alerts = test_alerts(0, 2);
  ASSERT_TRUE(out.publish(alerts));
  ASSERT_TRUE(poll_until(out, [&] { return output_retries(m) >= 3; }))
      << output_retries(m) << " retries counted";
  EXPECT_EQ(failures(m), 0u) << "nothing has failed for good yet";
  EXPECT_EQ(out.pending(), 2u);
  EXPECT_GE(queued_messages(m), 2.0);

  rd_kafka_mock_clear_request_errors(mc.get(), produce_api);
  ASSERT_TRUE(out.flush(20s)) << out.pending() << " still pending";
  EXPECT_EQ(alert_ids(consume(mc.bootstraps(), 1, 2)), alert_ids(alerts));
}

struct stats_case {
  std::string why;
  std::string json;
  bool parses;
  std::int64_t queued = 0;
  std::uint64_t transmitted = 0;
  std::map<std::string, std::uint64_t> retries;
};

class producer_stats_table : public ::testing::TestWithParam<stats_case> {};

TEST_P(producer_stats_table, reads_the_queue_and_the_retries_per_broker) {
  const stats_case& c = GetParam();
  const auto s = parse_producer_stats(c.json);
  ASSERT_EQ(s.has_value(), c.parses);
  if (!s) return;
  EXPECT_EQ(s->queued_messages, c.queued);
  EXPECT_EQ(s->transmitted, c.transmitted);
  const std::map<std::string, std::uint64_t> retries(s->retries_by_broker.begin(),
                                                     s->retries_by_broker.end());
  EXPECT_EQ(retries, c.retries);
}

INSTANTIATE_TEST_SUITE_P(
    parse_producer_stats, producer_stats_table,
    ::testing::Values(
        stats_case{
            "retries of every broker entry, bootstrap ones included",
            R"({"msg_cnt": 7, "txmsgs": 9, "brokers": {"b:9092/bootstrap": {"txretries": 2},)"
            R"( "b:9092/1": {"txretries": 5, "state": "UP"}}})",
            true,
            7,
            9,
            {{"b:9092/bootstrap", 2}, {"b:9092/1", 5}}},
        stats_case{"no brokers yet", R"({"msg_cnt": 0, "txmsgs": 0})", true, 0, 0, {}},
        stats_case{"a broker without txretries is left out",
                   R"({"msg_cnt": 1, "txmsgs": 4, "brokers": {"x": {"state": "INIT"}}})",
                   true,
                   1,
                   4,
                   {}},
        stats_case{"no msg_cnt is not producer statistics", R"({"txmsgs": 1, "brokers": {}})",
                   false},
        stats_case{"no txmsgs is not producer statistics", R"({"msg_cnt": 1})", false},
        stats_case{"truncated JSON", R"({"msg_cnt": 3, "brok)", false},
        stats_case{"not JSON at all", "statistics", false}),
    test::why_name{});

TEST(KafkaOutput, ErrorKindsAreLowerCasedNamesFromABoundedSet) {
  EXPECT_EQ(output_error_kind(RD_KAFKA_RESP_ERR__TRANSPORT), "transport");
  EXPECT_EQ(output_error_kind(RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN), "all_brokers_down");
  EXPECT_EQ(output_error_kind(RD_KAFKA_RESP_ERR__AUTHENTICATION), "authentication");
  EXPECT_EQ(output_error_kind(RD_KAFKA_RESP_ERR__SSL), "ssl");
  EXPECT_EQ(output_error_kind(RD_KAFKA_RESP_ERR__FATAL), "fatal");
  EXPECT_EQ(output_error_kind(RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED),
            "topic_authorization_failed");
  EXPECT_EQ(output_error_kind(RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS), "other");
  EXPECT_EQ(output_error_kind(-12345), "other") << "a code librdkafka does not know";
  EXPECT_EQ(output_error_kind(99999), "other");
}

TEST(KafkaOutput, RefusesPropertiesThatWeakenTheDeliveryContract) {
  mock_cluster mc(1);
  metrics_registry m;
  auto with = [&](std::string key, std::string value) {
    auto cfg = fast_config(mc);
    cfg.properties[key] = value;
    return cfg;
  };
  EXPECT_THROW(kafka_output("k", output_schema::native, with("acks", "1"), m), std::runtime_error);
  EXPECT_THROW(kafka_output("k", output_schema::native, with("enable.idempotence", "false"), m),
               std::runtime_error);
  EXPECT_THROW(kafka_output("k", output_schema::native, with("bootstrap.servers", "x:1"), m),
               std::runtime_error);
  EXPECT_THROW(kafka_output("k", output_schema::native,
                            with("max.in.flight.requests.per.connection", "5"), m),
               std::runtime_error);
  EXPECT_NO_THROW(kafka_output("k", output_schema::native, with("acks", "all"), m));
  try {
    kafka_output("k", output_schema::native, with("no.such.property", "1"), m);
    FAIL() << "an unknown librdkafka property must be refused";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("no.such.property"), std::string::npos) << e.what();
  }
}

TEST(KafkaOutput, SecretValuesNeverAppearInErrors) {
  // An unusable private key makes rd_kafka_new() fail; whatever librdkafka says about it,
  // the key material must not reach the message (it goes to the log and the console).
  mock_cluster mc(1);
  metrics_registry m;
  auto cfg = fast_config(mc);
  cfg.properties["security.protocol"] = "SSL";
  cfg.properties["ssl.key.pem"] = "hunter2-not-a-pem-key";
  cfg.properties["ssl.key.password"] = "hunter2-password";
  try {
    kafka_output("k", output_schema::native, cfg, m);
    FAIL() << "an unusable key must be refused at construction";
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()).find("hunter2"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace portscand
