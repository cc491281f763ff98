#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/log.hpp"
#include "publish/alert_output.hpp"

// librdkafka's C types, forward-declared so that users of this header do not need rdkafka.h.
struct rd_kafka_s;
struct rd_kafka_conf_s;
struct rd_kafka_message_s;

namespace portscand {

// Timings of our own retry loop around librdkafka. The defaults are for production; tests
// shorten them.
struct kafka_output_options {
  // Backoff before re-sending an alert whose delivery failed: min * 2^(failures-1), capped.
  std::chrono::milliseconds retry_backoff_min{500};
  std::chrono::milliseconds retry_backoff_max{30'000};
  // After a fatal (idempotence) error: how long to wait for in-flight acknowledgements from
  // the broken producer before it is destroyed. Acks that arrive in this time spare
  // duplicates; everything else is re-sent on the new producer.
  std::chrono::milliseconds fatal_drain_timeout{2'000};
};

// What an alert output reads from one librdkafka statistics document (statistics.interval.ms).
struct producer_stats {
  std::int64_t queued_messages = 0;  // top-level msg_cnt: in the producer, not yet acknowledged
  std::uint64_t transmitted = 0;     // top-level txmsgs: message transmissions, re-sends included
  // brokers.<name>.txretries: requests re-sent, cumulative over the producer's life, per
  // broker entry (bootstrap and learned brokers each have one).
  std::map<std::string, std::uint64_t, std::less<>> retries_by_broker;
};
// nullopt when the document does not parse or has no msg_cnt or txmsgs; a broker without
// txretries is left out. Pure, any thread.
std::optional<producer_stats> parse_producer_stats(std::string_view json);

// The `kind` label of portscand_alert_output_errors_total for a librdkafka error code:
// rd_kafka_err2name() lower-cased without its leading '_' ("transport", "all_brokers_down"),
// one of a fixed set; any other code is "other", so the label set stays bounded.
std::string_view output_error_kind(int librdkafka_error_code);

// Publishes alerts to one Kafka topic with an idempotent producer (acks=all). Message key =
// SrcIpAddr, headers alert_id and rule_id, value = the alert JSON in the output's schema.
//
// Visibility while the brokers are away (issue 11: the failure counter stayed 0 through a
// 70 s outage, because a delivery report fails only when message.timeout.ms runs out):
// every error librdkafka reports through its error callback is counted at once by kind in
// portscand_alert_output_errors_total, and its statistics (every second unless the output's
// properties set statistics.interval.ms) give the request retries
// (portscand_alert_output_retries_total) and the messages waiting in the producer
// (portscand_alert_output_queued_messages).
//
// Delivery: every alert stays in `entries_` from publish() until its delivery report says
// it was written. A failed report (any error, retriable or permanent: topic authorization,
// message too large, message timeout, purge after a fatal error) puts the alert back in
// the retry queue with an exponential backoff; the failure is counted by reason and logged,
// rate limited, with the broker's error. Nothing is ever dropped. A fatal producer error
// (idempotence desynchronization) destroys the producer and re-sends everything pending on
// a new one (the alert ids make the duplicates recognizable).
//
// Threads: every member function is for the publisher thread only. librdkafka's own threads
// do the network I/O; delivery reports and error callbacks are served inside poll() and
// flush() on the calling thread, so no state here is shared. (librdkafka's log callback
// runs on its threads; it only touches the immutable name_ and spdlog, which is
// thread-safe.)
class kafka_output final : public alert_output {
 public:
  // Throws std::runtime_error on a configuration librdkafka refuses (unknown property, bad
  // value, conflicting acks/enable.idempotence). Secret property values never appear in
  // the message.
  kafka_output(std::string name, output_schema schema, const kafka_output_config& cfg,
               metrics_registry& metrics, kafka_output_options options = {});
  ~kafka_output() override;
  kafka_output(const kafka_output&) = delete;
  kafka_output& operator=(const kafka_output&) = delete;

  const std::string& name() const override { return name_; }
  // Accepts the whole batch or none of it: false when pending() + alerts.size() would exceed
  // max_pending_alerts. A batch larger than the whole bound is accepted into an empty queue,
  // so that it cannot be refused forever (the bound is then exceeded by that batch alone).
  bool publish(const std::vector<alert>& alerts) override;
  void poll() override;
  std::size_t pending() const override { return entries_.size(); }
  bool flush(std::chrono::milliseconds timeout) override;
  // False while deliveries fail (no delivery succeeded since the last failure); with
  // alerts waiting, also after a fatal producer error or a report of all brokers down or
  // of an authentication/TLS failure, until a delivery succeeds. An idle output cannot
  // tell and reports true.
  bool healthy() const override;

  // How many producers were created (1 + restarts after fatal errors). For tests/metrics.
  std::uint64_t producer_generation() const noexcept { return generation_; }
  // Test hook: raises a fabricated fatal error on the current producer
  // (rd_kafka_test_fatal_error), as a real idempotence desynchronization would.
  bool inject_fatal_error_for_test(int librdkafka_error_code);

 private:
  using steady = std::chrono::steady_clock;

  struct entry {
    std::string alert_id;
    std::string rule_id;
    std::string key;    // SrcIpAddr
    std::string value;  // rendered alert, one line
    std::uint32_t failures = 0;
    bool in_flight = false;  // handed to the current producer, delivery report outstanding
  };

  rd_kafka_s* create_producer();
  std::string redact(std::string text) const;  // librdkafka text, secret values removed
  void send(std::uint64_t seq, entry& e);
  void schedule_retry(std::uint64_t seq, steady::time_point at);
  void record_failure(std::uint64_t seq, entry& e, int err, int broker_id);
  void serve(int timeout_ms);
  void resend_due();
  void recover_from_fatal();
  void update_gauge();
  counter& failure_counter(const std::string& reason);

  static void on_delivery(rd_kafka_s* rk, const rd_kafka_message_s* msg, void* opaque);
  static void on_error(rd_kafka_s* rk, int err, const char* reason, void* opaque);
  static int on_stats(rd_kafka_s* rk, char* json, std::size_t json_len, void* opaque);
  void apply_stats(std::string_view json);
  static void on_log(const rd_kafka_s* rk, int level, const char* fac, const char* buf);

  const std::string name_;
  const alert_schema schema_;
  const std::string topic_;
  const std::size_t max_pending_;
  const kafka_output_options options_;
  metrics_registry& metrics_;
  counter& delivered_;
  counter& restarts_;
  gauge& pending_gauge_;
  std::unordered_map<std::string, counter*> failure_counters_;
  std::unordered_map<std::string_view, counter*> error_counters_;  // by output_error_kind()
  counter& retries_;
  gauge& queued_gauge_;
  // Of the current producer (reset when one is created, its counts start at 0): txretries
  // per broker entry as last seen, the message re-sends counted so far (see apply_stats) and
  // the delivery reports served. The retries counter grows by the differences.
  std::map<std::string, std::uint64_t, std::less<>> retries_seen_;
  std::int64_t resends_seen_ = 0;
  std::int64_t reports_ = 0;

  std::vector<std::string> secret_values_;    // values of is_secret_key() properties
  rd_kafka_conf_s* conf_template_ = nullptr;  // duplicated for every (re)created producer
  rd_kafka_s* rk_ = nullptr;
  std::uint64_t generation_ = 0;

  std::uint64_t next_seq_ = 1;
  std::map<std::uint64_t, entry> entries_;                  // publish order
  std::multimap<steady::time_point, std::uint64_t> retry_;  // entries not in flight

  std::uint64_t consecutive_failures_ = 0;
  bool broker_unusable_ = false;  // all brokers down, authentication or TLS failure
  bool fatal_unrecovered_ = false;
  rate_limited_log log_limit_;
};

}  // namespace portscand
