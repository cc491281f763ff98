#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "config/listen_address.hpp"
#include "core/ip_address.hpp"
#include "core/ip_network.hpp"
#include "core/time.hpp"
#include "core/time_zone.hpp"

namespace portscand {

// Plain structs with the documented defaults. yaml-cpp is used only in this module.

enum class schedule_kind : std::uint8_t { hourly, on_close };
// tumbling: ports per aligned 5-minute bin (the rule's bin(TimeGenerated, 5m)); sliding: ports
// within any 5-minute interval of event time (README "Sliding windows").
enum class window_kind : std::uint8_t { tumbling, sliding };

struct evaluation_config {
  schedule_kind schedule = schedule_kind::hourly;
  timestamp_us allowed_lateness = 10 * us_per_minute;
  timestamp_us idle_timeout = 1 * us_per_minute;
  timestamp_us max_future_skew = 5 * us_per_minute;
  window_kind window = window_kind::tumbling;
  bool window_set = false;  // the file names evaluation.window (it then wins over a rule file's)
};

struct kafka_input_config {
  std::string brokers;
  std::vector<std::string> topics;
  std::string group = "portscand";
  std::map<std::string, std::string> properties;  // librdkafka passthrough (secrets resolved)
};

struct syslog_input_config {
  std::string listen;  // udp://host:port, tcp://host:port, tls://host:port
  std::size_t max_message_bytes = 64 * 1024;
  std::size_t max_connections = 1024;  // at the limit a new connection evicts the least useful
  std::size_t max_connections_per_peer = 64;  // per source address; 0 = unlimited
  timestamp_us connection_idle_timeout = 5 * us_per_minute;
  // A message (or TLS handshake) that has begun must be complete this long after its first
  // byte, so a peer dripping bytes under the idle timeout cannot hold a connection forever.
  timestamp_us frame_timeout = 30 * us_per_second;
  std::size_t receive_buffer_bytes = 8u << 20;
  std::vector<std::string> allow;  // peer CIDRs; empty = everyone
  std::string tls_certificate, tls_key, tls_ca;
  bool tls_verify_client = false;
};

struct file_input_config {
  std::string path;  // NDJSON / lines; "-" = stdin
};

// `envelope:` of an input: how JSON units that are a shipper's envelope around the device's
// line are read (lib/parse/envelope.hpp). Custom paths are dotted ("log.line").
struct envelope_config {
  enum class kind : std::uint8_t { automatic, none, custom };
  kind mode = kind::automatic;
  std::string message, time, host;  // custom only; message required
};

struct input_config {
  std::string path;  // its YAML path ("inputs[2]"), for problems found after reading
  std::string name;  // for metrics labels; defaults to "<type>-<index>"
  std::string format = "auto";
  event_time_source time_source = event_time_source::record;
  // `timezone:` (default UTC): the zone of the device's zone-less times, resolved at load.
  local_zone zone;
  envelope_config envelope;
  std::variant<kafka_input_config, syslog_input_config, file_input_config> transport;
};

enum class output_schema : std::uint8_t { native, ocsf };

struct kafka_output_config {
  std::string brokers;
  std::string topic;
  std::map<std::string, std::string> properties;
  std::size_t max_pending_alerts = 100'000;  // bounded wait queue while the broker is away
};

struct file_output_config {
  std::string path;  // "-" = stdout
  bool fsync = true;
};

// How an HTTP output shapes its requests (README "Outputs", lib/publish/README.md).
enum class http_preset : std::uint8_t { webhook, thehive, splunk_hec };
// One alert per request, a JSON array of alerts, or newline-delimited JSON.
enum class http_batch : std::uint8_t { one, array, ndjson };

struct http_output_config {
  std::string url;  // http://host[:port]/path or https://...
  http_preset preset = http_preset::webhook;
  http_batch batch = http_batch::one;
  std::size_t max_batch = 100;  // alerts per request with batch array/ndjson
  // Extra request headers, secret references resolved by the configuration reader.
  std::map<std::string, std::string> headers;
  // thehive: "Authorization: Bearer <token>"; splunk_hec: "Authorization: Splunk <token>".
  std::string token;
  // TLS (https only): verification against the system CAs, or ca_file, is always on unless
  // tls_verify is false; client_cert/client_key for mutual TLS; server_name overrides SNI and
  // the name the certificate must carry (default: the URL's host).
  bool tls_verify = true;
  std::string ca_file, client_cert, client_key, server_name;
  timestamp_us connect_timeout = 10 * us_per_second;  // TCP connect plus TLS handshake
  timestamp_us request_timeout = 30 * us_per_second;  // writing the request, reading the answer
  timestamp_us retry_backoff_min = 500'000;           // first retry waits up to this (jitter)
  timestamp_us retry_backoff_max = 60 * us_per_second;
  timestamp_us retry_after_max = 10 * us_per_minute;  // a longer Retry-After is capped
  std::size_t max_pending_alerts = 100'000;
  std::size_t spool_max_bytes = 256u << 20;
  std::string spool_path;  // <state_dir>/http-<name>.spool, set by the reader
  // Preset fields: TheHive alert type/source, Splunk HEC source/sourcetype/index/host
  // ("" = the preset's default; host "" = this machine's host name).
  std::string thehive_type = "port-scan", thehive_source = "portscand";
  std::string splunk_source = "portscand", splunk_sourcetype, splunk_index, splunk_host;
};

// What a syslog output puts after the RFC 5424 header (README "Syslog / CEF output").
enum class syslog_body : std::uint8_t { cef, json };

struct syslog_output_config {
  std::string address;  // udp://host:port, tcp://host:port, tls://host:port (as written)
  syslog_transport transport = syslog_transport::tcp;
  std::string host;  // name or address, without brackets
  std::uint16_t port = 0;
  syslog_body format = syslog_body::cef;
  int facility = 16;  // local0
  int severity = -1;  // 0-7; -1 = from the rule's severity
  std::string app_name = "portscand";
  std::string hostname;  // "" = this machine's host name
  // TLS (tls:// only), as for the http output: verification on unless tls_verify is false.
  bool tls_verify = true;
  std::string ca_file, client_cert, client_key, server_name;
  timestamp_us connect_timeout = 10 * us_per_second;  // TCP connect plus TLS handshake
  timestamp_us send_timeout = 30 * us_per_second;     // writing one batch of messages
  timestamp_us retry_backoff_min = 500'000;
  timestamp_us retry_backoff_max = 60 * us_per_second;
  std::size_t max_pending_alerts = 100'000;
};

struct output_config {
  std::string path;  // its YAML path ("outputs[1]"), for problems found after reading
  std::string name;
  output_schema schema = output_schema::native;
  std::variant<kafka_output_config, file_output_config, http_output_config, syslog_output_config>
      sink;
};

struct metrics_config {
  std::string listen = "127.0.0.1:9108";  // "" disables the HTTP endpoint
};

struct limits_config {
  std::size_t max_keys_per_shard = 4'000'000;
  std::size_t queue_batches = 256;  // per shard, batches of up to 1024 records
};

// Scale-out through Kafka (README "Scale-out"): every instance parses what it reads and
// produces normalized records keyed by source to `topic`; the window engine consumes that
// topic in `group`, so each source has one owner.
struct scale_out_config {
  bool enabled = false;  // the `scale_out:` section is present
  std::string topic = "portscand.by-source";
  std::int32_t partitions = 8;           // when the topic is created
  std::int32_t replication_factor = -1;  // when the topic is created; -1: the broker's default
  timestamp_us retention = 24 * 60 * us_per_minute;  // retention.ms of a created topic
  std::string group = "portscand.by-source";
  std::string brokers;                            // default: the first Kafka input's
  std::map<std::string, std::string> properties;  // default: the first Kafka input's
  bool properties_set = false;                    // `properties` given in the section
};

// One `exclusions:` entry (README "Exclusions"): records it matches do not count. A record
// matches when every dimension the entry gives matches it (one of the source blocks, one of
// the destination blocks, one of the port ranges); an entry gives at least one.
struct exclusion_config {
  std::string path;    // its YAML path ("exclusions[2]")
  std::string name;    // the metrics label; default: the entry's index ("2")
  std::string reason;  // required: why nobody should be paged
  std::vector<ip_network> sources, destinations;
  std::vector<std::pair<std::uint16_t, std::uint16_t>> ports;  // inclusive ranges
  // Event time from which the entry no longer applies (records at or after it count).
  std::optional<timestamp_us> expires;
  // Rule ids it applies to (README "Several rules"); empty = every rule.
  std::vector<std::string> rules;
};

// `reply_flows:` (README "Reply flows"): whether records a parser marked as the answering
// side of a connection (flow_side::reply) are left out of the count.
enum class reply_flows_policy : std::uint8_t {
  by_mode,  // absent: skip in `default` mode, count in `sentinel` mode (the rule's behaviour)
  skip,
  count
};
inline bool skips_reply_flows(reply_flows_policy p, detection_mode m) noexcept {
  return p == reply_flows_policy::skip ||
         (p == reply_flows_policy::by_mode && m == detection_mode::standard);
}

struct config {
  std::string rule_path;  // "" = the built-in rule
  // `rules:` (README "Several rules"): rule files or builtin:port-scan / builtin:port-sweep;
  // empty = `rule:` alone.
  std::vector<std::string> rule_paths;
  detection_mode mode = detection_mode::standard;
  evaluation_config evaluation;
  unsigned shards = 0;  // 0 = number of cores
  std::string state_dir = "/var/lib/portscand";
  timestamp_us checkpoint_interval = 30 * us_per_second;
  std::vector<input_config> inputs;
  std::vector<output_config> outputs;
  metrics_config metrics;
  limits_config limits;
  scale_out_config scale_out;
  std::string log_level = "info";
  // Rule-level options (README "Exclusions", "Suppression"); they reload with SIGHUP.
  std::vector<exclusion_config> exclusions;
  timestamp_us suppression = 0;  // `suppression.duration`; 0 = off
  // `early_alerts.enabled` (README "Early alerts"): an alert as soon as a key crosses the
  // threshold, before its bin closes. Reloads.
  bool early_alerts = false;
  // `incidents.grouping` (README "Incidents"): alerts of a source within this of its
  // incident's first share the incident id; 0 = one incident per alert. Reloads.
  timestamp_us incident_grouping = 24 * 60 * us_per_minute;
  // `evidence.max_targets`: destination addresses each key keeps for its alert; restart.
  unsigned max_targets = 10;
  // IPv6 sources are counted per prefix of this length (README "IPv6 prefixes"); restart.
  unsigned ipv6_prefix = 128;
  reply_flows_policy reply_flows = reply_flows_policy::by_mode;  // restart
};

// One problem found in a configuration, with the YAML path it concerns ("inputs[1].listen").
struct config_problem {
  std::string path;
  std::string message;
};

struct config_load_result {
  config cfg;
  std::vector<config_problem> problems;  // empty = valid
  // The file was read and is a YAML document: cfg holds what it says (whatever the
  // problems), so checks of the environment it names are meaningful.
  bool read = false;
};

// Reads and validates a YAML configuration file. Every problem is reported, not only the
// first. known_formats are the valid `format:` names besides "auto".
config_load_result load_config_file(const std::string& path,
                                    const std::vector<std::string>& known_formats);
config_load_result load_config_text(const std::string& yaml,
                                    const std::vector<std::string>& known_formats);

// Resolves "${env:NAME}" and "${file:/path}" references (for secrets in properties).
std::optional<std::string> resolve_secret_reference(const std::string& value, std::string& error);

// Why a Kafka output may not be given this librdkafka property (value already resolved),
// or nullopt. Alerts are delivered by an idempotent producer with acks=all and one request
// in flight; the passthrough must not weaken that. The configuration reader and the output
// itself both ask here, so check-config and run refuse the same values.
std::optional<std::string> refused_output_property(const std::string& key,
                                                   const std::string& value);

// A syslog facility (RFC 5424 §6.2.1) by name ("local0", "authpriv") or number 0-23, and a
// severity by name ("warning") or number 0-7; nullopt for anything else.
std::optional<int> syslog_facility_code(const std::string& text);
std::optional<int> syslog_severity_code(const std::string& text);

// Why `url` cannot be an HTTP output's URL (scheme http/https, a host, port 1-65535, no
// credentials or fragment), or nullopt.
std::optional<std::string> http_url_problem(const std::string& url);
// Why a configured request header cannot be sent (not an RFC 9110 token name, CR/LF/NUL in
// the value, or a header portscand sets itself), or nullopt.
std::optional<std::string> http_header_problem(const std::string& name, const std::string& value);

// True for property names whose values must never be logged.
bool is_secret_key(const std::string& key);

// The effective configuration as YAML-ish text with secrets redacted (startup banner).
std::string describe_config(const config& cfg);

}  // namespace portscand
