#pragma once

// The pieces of an HTTP output's requests that need no network: the URL, the per-alert body
// element of each preset, the body of a batch, the Retry-After header and the retry backoff.
// Pure functions, any thread.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "event/alert.hpp"

namespace portscand {

struct http_url {
  bool tls = false;
  std::string host;    // without brackets for IPv6
  std::string port;    // "80"/"443" when the URL has none
  std::string target;  // path and query, "/" when the URL has none
  // The Host header: host, [v6] host, plus ":port" when the URL named a port.
  std::string host_header;
};
// nullopt unless http_url_problem() accepts the URL.
std::optional<http_url> parse_http_url(const std::string& url);

// What one alert contributes to a request body, per preset: webhook = render_alert() in the
// output's schema; splunk_hec = the HEC event envelope around it; thehive = a TheHive 5
// alert. One line of JSON. `host` is the Splunk host field when the config leaves it empty.
std::string render_http_element(const alert& a, const http_output_config& cfg, output_schema schema,
                                const std::string& host);

// The body of a request carrying `elements`: with batch one, the single element; array:
// "[e1,e2]"; ndjson: "e1\ne2\n". Splunk HEC's batch is its events one per line (ndjson).
std::string http_body(http_batch batch, const std::vector<std::string_view>& elements);
std::string_view http_content_type(http_preset preset, http_batch batch);

// The Idempotency-Key of a request: the alert id for one alert; for a batch a UUIDv5 (our
// alert id namespace) of "batch|" and the alert ids joined by '|', so a retried batch has the
// same key.
std::string http_idempotency_key(const std::vector<std::string_view>& alert_ids);

// Retry-After (RFC 9110 §10.2.3): delay-seconds, or an HTTP-date (IMF-fixdate, the obsolete
// RFC 850 and asctime forms) taken relative to `now` (a date in the past is 0). nullopt when
// the value is neither.
std::optional<std::chrono::seconds> parse_retry_after(std::string_view value,
                                                      std::chrono::system_clock::time_point now);

// Exponential backoff with full jitter: uniform in [0, min(max, base * 2^(attempt-1))],
// `random` a uniformly distributed 64-bit value. attempt >= 1.
std::chrono::milliseconds full_jitter_backoff(std::chrono::milliseconds base,
                                              std::chrono::milliseconds max, std::uint32_t attempt,
                                              std::uint64_t random);

// Whether an HTTP status is worth retrying: 429, 5xx, and 401/403/408 (credentials or a
// request timeout are the receiver's or the operator's to fix, not the alert's).
bool http_status_retriable(unsigned status);

}  // namespace portscand
