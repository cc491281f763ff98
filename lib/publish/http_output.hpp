#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/log.hpp"
#include "publish/alert_output.hpp"
#include "publish/http_request.hpp"
#include "publish/http_spool.hpp"

namespace portscand {

// POSTs alerts to an HTTP(S) endpoint (a SOAR's webhook, TheHive, Splunk HEC), one alert per
// request or in batches, with the output's retry and spool rules (lib/publish/README.md "HTTP
// output").
//
// publish() renders each alert into its body element, appends the elements to the spool
// (fsynced) and hands them to the output's I/O thread; it refuses the batch (false) when the
// pending count or the spool's size bound would be exceeded. The I/O thread sends one
// request at a time over a kept-alive connection and retries connection errors, timeouts,
// TLS failures, 429 (after Retry-After), 5xx, 401, 403 and 408 with exponential backoff and
// full jitter, for as long as the process runs. Any other status >= 400 is final: the alert
// is dropped as undeliverable, counted and logged (retrying a request the receiver refuses
// would hold every later alert, and the checkpoints, forever). poll() collects the outcomes:
// an alert stops being pending once delivered or dropped, and its spool record is marked done.
//
// Threads: every member function is for the publisher thread only. The I/O thread (owned
// here, joined by the destructor) shares only the hand-over queues below, under one mutex,
// and atomics; it never touches the spool or the pending map.
class http_output final : public alert_output {
 public:
  // Opens the spool (and queues what a previous process left in it, first), loads the TLS
  // files and starts the I/O thread. Throws std::runtime_error naming the problem (bad URL,
  // unreadable CA file or client key, spool not writable).
  http_output(std::string name, output_schema schema, const http_output_config& cfg,
              metrics_registry& metrics);
  ~http_output() override;
  http_output(const http_output&) = delete;
  http_output& operator=(const http_output&) = delete;

  const std::string& name() const override { return name_; }
  bool publish(const std::vector<alert>& alerts) override;
  void poll() override;
  std::size_t pending() const override { return pending_.size(); }
  bool flush(std::chrono::milliseconds timeout) override;
  // False from a failed attempt until a request succeeds.
  bool healthy() const override { return !failing_.load(std::memory_order_acquire); }

  // Alerts recovered from the spool at construction (for tests and the start log).
  std::size_t recovered() const noexcept { return recovered_; }

 private:
  struct job {
    std::uint64_t seq = 0;
    std::string alert_id;
    std::string element;
  };
  struct outcome {
    std::vector<std::uint64_t> seqs;
    std::vector<std::string> alert_ids;
    unsigned rejected_status = 0;  // 0 = delivered
  };
  struct connection;  // the I/O thread's Beast stream, in the .cpp

  void io_main();
  void take_outcomes();
  void update_gauges();

  const std::string name_;
  const output_schema schema_;
  const http_output_config cfg_;
  const http_url url_;
  const std::string host_;  // this machine's name (Splunk's host field by default)
  metrics_registry& metrics_;
  counter& delivered_;
  counter& damaged_;
  gauge& pending_gauge_;
  gauge& spool_gauge_;

  // Publisher thread.
  http_spool spool_;
  std::map<std::uint64_t, std::uint64_t> pending_;  // seq -> spool bytes
  std::size_t recovered_ = 0;
  rate_limited_log log_limit_;

  // Shared with the I/O thread, under mu_.
  std::mutex mu_;
  std::condition_variable io_cv_;    // jobs or stop for the I/O thread
  std::condition_variable done_cv_;  // outcomes for flush()
  std::deque<job> inbox_;
  std::vector<outcome> outbox_;
  bool stop_ = false;
  std::atomic<bool> failing_{false};

  std::unique_ptr<connection> conn_;  // built here, used by the I/O thread only
  std::thread io_thread_;
};

// Loads an https output's CA file and client certificate and key the way the output will,
// and reports each one that fails at "<path>.tls.<key>" (startup checks, check-config).
std::vector<config_problem> check_http_tls_files(const http_output_config& cfg,
                                                 const std::string& path);

}  // namespace portscand
