#include "publish/kafka_output.hpp"

// rdkafka.h first: rdkafka_mock.h (used by the tests) relies on its declarations.
#include <librdkafka/rdkafka.h>
#include <simdjson.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <memory>
#include <stdexcept>
#include <thread>

#include "publish/kafka_properties.hpp"

namespace portscand {
namespace {

using conf_ptr = std::unique_ptr<rd_kafka_conf_t, decltype(&rd_kafka_conf_destroy)>;

[[noreturn]] void config_error(const std::string& output, const std::string& what) {
  throw std::runtime_error("output '" + output + "': " + what);
}

void set_property(rd_kafka_conf_t* conf, const std::string& output, const std::string& key,
                  const std::string& value) {
  if (auto why = set_kafka_property(conf, key, value))
    config_error(output, "librdkafka property '" + key + "': " + *why);
}

alert_schema to_alert_schema(output_schema s) {
  return s == output_schema::ocsf ? alert_schema::ocsf : alert_schema::native;
}

timestamp_us steady_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string suppressed_note(std::uint64_t n) {
  return n == 0 ? std::string() : " (" + std::to_string(n) + " similar lines suppressed)";
}

// The error kinds a producer's error callback reports in practice (connection, name
// resolution, authentication, TLS, the idempotence machinery, broker-side refusals), each a
// label value of portscand_alert_output_errors_total; everything else is "other".
constexpr std::array<std::string_view, 11> output_error_kinds = {"transport",
                                                                 "all_brokers_down",
                                                                 "resolve",
                                                                 "authentication",
                                                                 "ssl",
                                                                 "timed_out",
                                                                 "fatal",
                                                                 "unknown_topic_or_part",
                                                                 "topic_authorization_failed",
                                                                 "cluster_authorization_failed",
                                                                 "other"};

}  // namespace

std::optional<producer_stats> parse_producer_stats(std::string_view json) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(json.data(), json.size()).get(doc) != simdjson::SUCCESS) return std::nullopt;
  producer_stats out;
  if (doc["msg_cnt"].get(out.queued_messages) != simdjson::SUCCESS ||
      doc["txmsgs"].get(out.transmitted) != simdjson::SUCCESS)
    return std::nullopt;
  simdjson::dom::object brokers;
  if (doc["brokers"].get(brokers) == simdjson::SUCCESS) {
    for (auto [name, b] : brokers) {
      std::uint64_t retries = 0;
      if (b["txretries"].get(retries) == simdjson::SUCCESS)
        out.retries_by_broker.emplace(std::string(name), retries);
    }
  }
  return out;
}

std::string_view output_error_kind(int librdkafka_error_code) {
  std::string_view name =
      rd_kafka_err2name(static_cast<rd_kafka_resp_err_t>(librdkafka_error_code));
  if (!name.empty() && name.front() == '_') name.remove_prefix(1);
  for (std::string_view kind : output_error_kinds) {
    if (kind.size() != name.size()) continue;
    const bool same = std::equal(kind.begin(), kind.end(), name.begin(), [](char k, char n) {
      return k == std::tolower(static_cast<unsigned char>(n));
    });
    if (same) return kind;
  }
  return output_error_kinds.back();
}

kafka_output::kafka_output(std::string name, output_schema schema, const kafka_output_config& cfg,
                           metrics_registry& metrics, kafka_output_options options)
    : name_(std::move(name)),
      schema_(to_alert_schema(schema)),
      topic_(cfg.topic),
      max_pending_(std::max<std::size_t>(cfg.max_pending_alerts, 1)),
      options_(options),
      metrics_(metrics),
      delivered_(metrics.get_counter("portscand_alerts_delivered_total",
                                     "Alerts confirmed written by an output.",
                                     {{"output", name_}})),
      restarts_(metrics.get_counter("portscand_kafka_producer_restarts_total",
                                    "Kafka producers recreated after a fatal librdkafka error.",
                                    {{"output", name_}})),
      pending_gauge_(metrics.get_gauge("portscand_alerts_pending",
                                       "Alerts handed to an output and not yet confirmed.",
                                       {{"output", name_}})),
      retries_(metrics.get_counter(
          "portscand_alert_output_retries_total",
          "Requests a Kafka output re-sent to its brokers (librdkafka statistics, txretries).",
          {{"output", name_}})),
      queued_gauge_(metrics.get_gauge(
          "portscand_alert_output_queued_messages",
          "Messages waiting in a Kafka output's producer for an acknowledgement (msg_cnt).",
          {{"output", name_}})) {
  // Every kind exists from the start, so that rate() sees the first error.
  for (std::string_view kind : output_error_kinds)
    error_counters_.emplace(
        kind, &metrics.get_counter("portscand_alert_output_errors_total",
                                   "Errors a Kafka output's client reported as they happened "
                                   "(connection, authentication, TLS, broker), by kind.",
                                   {{"output", name_}, {"kind", std::string(kind)}}));
  if (cfg.brokers.empty()) config_error(name_, "brokers is required");
  if (cfg.topic.empty()) config_error(name_, "topic is required");

  conf_ptr conf(rd_kafka_conf_new(), &rd_kafka_conf_destroy);
  set_property(conf.get(), name_, "bootstrap.servers", cfg.brokers);
  set_property(conf.get(), name_, "client.id", "portscand");
  set_property(conf.get(), name_, "enable.idempotence", "true");
  set_property(conf.get(), name_, "acks", "all");
  // One request in flight per broker: a broker that has no state for our producer id
  // (Kafka 2.5..4.4, KAFKA-15591) accepts any first sequence, so when the first request
  // fails retriably and a second one is written, librdkafka acks the first implicitly and
  // reports it delivered though it never was. Alert volume is small and batched by
  // linger.ms, so serializing requests costs nothing that matters.
  set_property(conf.get(), name_, "max.in.flight.requests.per.connection", "1");
  // Retries and the producer queue as they happen (on_stats); the output's properties may
  // set another interval (0 turns the two metrics off).
  set_property(conf.get(), name_, "statistics.interval.ms", "1000");
  for (const auto& [key, value] : cfg.properties) {
    if (auto why = refused_output_property(key, value)) config_error(name_, *why);
    if (is_secret_key(key)) secret_values_.push_back(value);
    set_property(conf.get(), name_, key, value);
  }
  rd_kafka_conf_set_opaque(conf.get(), this);
  rd_kafka_conf_set_dr_msg_cb(conf.get(), &kafka_output::on_delivery);
  rd_kafka_conf_set_error_cb(conf.get(), &kafka_output::on_error);
  rd_kafka_conf_set_stats_cb(conf.get(), &kafka_output::on_stats);
  rd_kafka_conf_set_log_cb(conf.get(), &kafka_output::on_log);
  conf_template_ = conf.release();

  try {
    rk_ = create_producer();
  } catch (...) {
    rd_kafka_conf_destroy(conf_template_);
    throw;
  }
  update_gauge();
}

kafka_output::~kafka_output() {
  if (!entries_.empty())
    spdlog::warn("output '{}': closing with {} alert(s) not confirmed by the broker", name_,
                 entries_.size());
  if (rk_ != nullptr) {
    // Nothing waits for acknowledgements here: flush() is the graceful path. Purging makes
    // rd_kafka_destroy() return promptly even with the brokers away.
    rd_kafka_purge(rk_, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_destroy(rk_);
  }
  rd_kafka_conf_destroy(conf_template_);
}

std::string kafka_output::redact(std::string text) const {
  for (const std::string& secret : secret_values_) {
    if (secret.empty()) continue;
    for (auto pos = text.find(secret); pos != std::string::npos; pos = text.find(secret, pos))
      text.replace(pos, secret.size(), "(redacted)");
  }
  return text;
}

rd_kafka_t* kafka_output::create_producer() {
  char errstr[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_dup(conf_template_);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
  if (rk == nullptr) {
    rd_kafka_conf_destroy(conf);  // rd_kafka_new() owns conf only on success
    config_error(name_, "cannot create the Kafka producer: " + redact(errstr));
  }
  ++generation_;
  retries_seen_.clear();
  resends_seen_ = 0;
  reports_ = 0;
  return rk;
}

bool kafka_output::publish(const std::vector<alert>& alerts) {
  if (alerts.empty()) return true;
  if (!entries_.empty() && entries_.size() + alerts.size() > max_pending_) return false;
  for (const alert& a : alerts) {
    const std::uint64_t seq = next_seq_++;
    entry& e = entries_[seq];
    e.alert_id = a.alert_id;
    e.rule_id = a.rule ? a.rule->id : std::string();
    e.key = a.source_text();
    e.value = render_alert(a, schema_);
    send(seq, e);
  }
  update_gauge();
  return true;
}

void kafka_output::send(std::uint64_t seq, entry& e) {
  if (rk_ == nullptr) {  // recreation after a fatal error failed; serve() tries again
    schedule_retry(seq, steady::now() + options_.retry_backoff_min);
    return;
  }
  // F_COPY: librdkafka keeps its own copy, so the entry stays free to be re-sent on another
  // producer after a fatal error without lifetime coupling to the old one.
  const rd_kafka_resp_err_t err = rd_kafka_producev(
      rk_, RD_KAFKA_V_TOPIC(topic_.c_str()),
      RD_KAFKA_V_KEY(const_cast<char*>(e.key.data()), e.key.size()),
      RD_KAFKA_V_VALUE(const_cast<char*>(e.value.data()), e.value.size()),
      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
      RD_KAFKA_V_HEADER("alert_id", e.alert_id.data(), static_cast<ssize_t>(e.alert_id.size())),
      RD_KAFKA_V_HEADER("rule_id", e.rule_id.data(), static_cast<ssize_t>(e.rule_id.size())),
      RD_KAFKA_V_OPAQUE(reinterpret_cast<void*>(static_cast<std::uintptr_t>(seq))), RD_KAFKA_V_END);
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    e.in_flight = true;
    return;
  }
  if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL || err == RD_KAFKA_RESP_ERR__FATAL) {
    // Local conditions, not delivery failures: librdkafka's queue drains by itself, and a
    // fatal error is handled (producer recreated) in the next serve().
    schedule_retry(seq, steady::now() + std::chrono::milliseconds(50));
    return;
  }
  // Refused before any broker saw it (e.g. MSG_SIZE_TOO_LARGE): same treatment as a failed
  // delivery report, so it is counted, logged and retried, never dropped.
  record_failure(seq, e, err, -1);
}

void kafka_output::schedule_retry(std::uint64_t seq, steady::time_point at) {
  retry_.emplace(at, seq);
}

void kafka_output::record_failure(std::uint64_t seq, entry& e, int err, int broker_id) {
  const auto code = static_cast<rd_kafka_resp_err_t>(err);
  ++e.failures;
  ++consecutive_failures_;
  failure_counter(rd_kafka_err2name(code)).inc();

  const std::uint32_t doublings = std::min<std::uint32_t>(e.failures - 1, 20);
  const auto backoff =
      std::min(options_.retry_backoff_min * (std::int64_t{1} << doublings),
               std::chrono::duration_cast<std::chrono::milliseconds>(options_.retry_backoff_max));
  schedule_retry(seq, steady::now() + backoff);

  std::uint64_t suppressed = 0;
  if (log_limit_.allow(rd_kafka_err2name(code), steady_us(), suppressed)) {
    spdlog::warn(
        "output '{}': alert {} not delivered to topic '{}': {} ({}{}); attempt {} failed, "
        "retrying in {} ms, {} alert(s) pending{}",
        name_, e.alert_id, topic_, rd_kafka_err2str(code), rd_kafka_err2name(code),
        broker_id >= 0 ? ", broker " + std::to_string(broker_id) : std::string(), e.failures,
        backoff.count(), entries_.size(), suppressed_note(suppressed));
  }
}

counter& kafka_output::failure_counter(const std::string& reason) {
  auto it = failure_counters_.find(reason);
  if (it != failure_counters_.end()) return *it->second;
  counter& c = delivery_failures(metrics_, name_, reason);
  failure_counters_.emplace(reason, &c);
  return c;
}

void kafka_output::on_delivery(rd_kafka_t* rk, const rd_kafka_message_t* msg, void* opaque) {
  auto* self = static_cast<kafka_output*>(opaque);
  // Reports of a producer already replaced carry nothing actionable: its unconfirmed
  // alerts have been re-sent.
  if (rk != self->rk_) return;
  ++self->reports_;
  const auto seq = static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(msg->_private));
  auto it = self->entries_.find(seq);
  if (it == self->entries_.end() || !it->second.in_flight) return;
  entry& e = it->second;
  e.in_flight = false;
  if (msg->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    if (self->consecutive_failures_ > 0 || self->fatal_unrecovered_)
      spdlog::info("output '{}': deliveries succeed again ({} alert(s) pending)", self->name_,
                   self->entries_.size() - 1);
    self->entries_.erase(it);
    self->delivered_.inc();
    self->consecutive_failures_ = 0;
    self->broker_unusable_ = false;
    self->fatal_unrecovered_ = false;
    return;
  }
  self->record_failure(seq, e, msg->err, rd_kafka_message_broker_id(msg));
}

void kafka_output::on_error(rd_kafka_t* rk, int err, const char* reason, void* opaque) {
  auto* self = static_cast<kafka_output*>(opaque);
  if (rk != self->rk_) return;
  self->error_counters_.at(output_error_kind(err))->inc();
  const auto code = static_cast<rd_kafka_resp_err_t>(err);
  if (code == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN || code == RD_KAFKA_RESP_ERR__AUTHENTICATION ||
      code == RD_KAFKA_RESP_ERR__SSL)
    self->broker_unusable_ = true;
  // Fatal errors are handled (and logged) by serve(); transport errors are already logged
  // by librdkafka itself through on_log.
  if (code == RD_KAFKA_RESP_ERR__FATAL || code == RD_KAFKA_RESP_ERR__TRANSPORT) return;
  std::uint64_t suppressed = 0;
  if (self->log_limit_.allow(std::string("error_cb:") + rd_kafka_err2name(code), steady_us(),
                             suppressed))
    spdlog::warn("output '{}': Kafka client error: {} ({}){}", self->name_, reason,
                 rd_kafka_err2name(code), suppressed_note(suppressed));
}

int kafka_output::on_stats(rd_kafka_t* rk, char* json, std::size_t json_len, void* opaque) {
  auto* self = static_cast<kafka_output*>(opaque);
  // Statistics of a producer already replaced would mix its counts into the new one's.
  if (rk == self->rk_) self->apply_stats(std::string_view(json, json_len));
  return 0;  // librdkafka frees the document
}

void kafka_output::apply_stats(std::string_view json) {
  const auto stats = parse_producer_stats(json);
  if (!stats) {
    std::uint64_t suppressed = 0;
    if (log_limit_.allow("stats", steady_us(), suppressed))
      spdlog::warn(
          "output '{}': librdkafka statistics do not parse; retries and queue "
          "metrics are not updated{}",
          name_, suppressed_note(suppressed));
    return;
  }
  queued_gauge_.set(static_cast<double>(stats->queued_messages));
  // Two kinds of retry. Request retries (txretries) are few for a producer: librdkafka
  // 2.0.2 re-sends the messages of a produce request that failed (disconnect, timeout,
  // NOT_ENOUGH_REPLICAS, ...) by queueing them again, which txretries does not count
  // (measured on the mock cluster: 98 re-sends, txretries 0). Those re-sends are the
  // transmissions beyond one per message: every message this producer took either got its
  // delivery report or is still in msg_cnt, so txmsgs - reports - msg_cnt counts them. A
  // message still queued and never sent makes that too small, never too large, and the
  // counter only moves up, so it catches up once the message goes out.
  std::uint64_t added = 0;
  const std::int64_t resends =
      static_cast<std::int64_t>(stats->transmitted) - reports_ - stats->queued_messages;
  if (resends > resends_seen_) {
    added += static_cast<std::uint64_t>(resends - resends_seen_);
    resends_seen_ = resends;
  }
  for (const auto& [broker, total] : stats->retries_by_broker) {
    const auto it = retries_seen_.try_emplace(broker, 0).first;
    // A broker entry's count only grows while the producer lives; a smaller one is a new
    // entry under an old name, counted from 0.
    added += total >= it->second ? total - it->second : total;
    it->second = total;
  }
  if (added == 0) return;
  retries_.inc(added);
  std::uint64_t suppressed = 0;
  if (log_limit_.allow("retries", steady_us(), suppressed))
    spdlog::warn(
        "output '{}': {} retried send(s) to the brokers in the last interval; {} "
        "message(s) waiting in the producer{}",
        name_, added, stats->queued_messages, suppressed_note(suppressed));
}

void kafka_output::on_log(const rd_kafka_t* rk, int level, const char* fac, const char* buf) {
  // librdkafka's own threads: only immutable state (name_) is read here.
  const auto* self = static_cast<const kafka_output*>(rd_kafka_opaque(rk));
  const std::string& name = self != nullptr ? self->name_ : std::string();
  spdlog::level::level_enum lvl = spdlog::level::debug;
  if (level <= 4)
    lvl = spdlog::level::warn;  // syslog levels: 0 emerg .. 4 warning
  else if (level <= 6)
    lvl = spdlog::level::info;
  spdlog::log(lvl, "output '{}': librdkafka {}: {}", name, fac, buf);
}

void kafka_output::serve(int timeout_ms) {
  if (rk_ == nullptr) {
    try {
      rk_ = create_producer();
      spdlog::info("output '{}': Kafka producer recreated", name_);
    } catch (const std::exception& ex) {
      std::uint64_t suppressed = 0;
      if (log_limit_.allow("create_producer", steady_us(), suppressed))
        spdlog::error("{}{}", ex.what(), suppressed_note(suppressed));
    }
  }
  if (rk_ == nullptr && timeout_ms > 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(timeout_ms));  // no busy flush()
  } else if (rk_ != nullptr) {
    rd_kafka_poll(rk_, timeout_ms);
    char errstr[512];
    if (rd_kafka_fatal_error(rk_, errstr, sizeof errstr) != RD_KAFKA_RESP_ERR_NO_ERROR)
      recover_from_fatal();
  }
  resend_due();
  update_gauge();
}

void kafka_output::recover_from_fatal() {
  char errstr[512] = "";
  const rd_kafka_resp_err_t err = rd_kafka_fatal_error(rk_, errstr, sizeof errstr);
  spdlog::error(
      "output '{}': fatal Kafka producer error: {} ({}); recreating the producer and "
      "re-sending {} unconfirmed alert(s) (duplicates carry the same alert_id)",
      name_, errstr, rd_kafka_err2name(err), entries_.size());
  restarts_.inc();
  failure_counter(rd_kafka_err2name(err)).inc();
  fatal_unrecovered_ = true;

  // The documented way out of a fatal error: wait for the in-flight requests' acks
  // (each ack spares a duplicate), then purge what is left. Both serve delivery reports
  // through on_delivery while rk_ still names this producer; failures are scheduled for
  // re-sending there.
  rd_kafka_flush(rk_, static_cast<int>(options_.fatal_drain_timeout.count()));
  rd_kafka_purge(rk_, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
  rd_kafka_poll(rk_, 0);
  rd_kafka_destroy(rk_);
  rk_ = nullptr;

  const auto now = steady::now();
  for (auto& [seq, e] : entries_)
    if (e.in_flight) {  // no report came: unknown outcome, send again
      e.in_flight = false;
      schedule_retry(seq, now);
    }
  try {
    rk_ = create_producer();
  } catch (const std::exception& ex) {
    spdlog::error("{}", ex.what());  // retried by the next serve()
  }
}

void kafka_output::resend_due() {
  const auto now = steady::now();
  while (!retry_.empty() && retry_.begin()->first <= now) {
    const std::uint64_t seq = retry_.begin()->second;
    retry_.erase(retry_.begin());
    auto it = entries_.find(seq);
    if (it == entries_.end() || it->second.in_flight) continue;
    send(seq, it->second);
    if (rk_ == nullptr) break;  // everything else waits for a producer
  }
}

void kafka_output::poll() {
  serve(0);
}

bool kafka_output::flush(std::chrono::milliseconds timeout) {
  const auto deadline = steady::now() + timeout;
  serve(0);
  while (!entries_.empty()) {
    const auto now = steady::now();
    if (now >= deadline) return false;
    auto wait = std::min(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now),
                         std::chrono::milliseconds(50));
    if (!retry_.empty())
      wait = std::min(wait, std::chrono::duration_cast<std::chrono::milliseconds>(
                                std::max(retry_.begin()->first - now, steady::duration::zero())));
    serve(static_cast<int>(std::max<std::int64_t>(wait.count(), 1)));
  }
  return true;
}

bool kafka_output::healthy() const {
  // consecutive_failures_ > 0 implies alerts pending: a failed alert stays until delivered,
  // and its delivery resets the count.
  if (consecutive_failures_ > 0) return false;
  return entries_.empty() || !(fatal_unrecovered_ || broker_unusable_);
}

bool kafka_output::inject_fatal_error_for_test(int librdkafka_error_code) {
  if (rk_ == nullptr) return false;
  return rd_kafka_test_fatal_error(rk_, static_cast<rd_kafka_resp_err_t>(librdkafka_error_code),
                                   "injected by a portscand test") == RD_KAFKA_RESP_ERR_NO_ERROR;
}

void kafka_output::update_gauge() {
  pending_gauge_.set(static_cast<double>(entries_.size()));
}

}  // namespace portscand
