#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/log.hpp"
#include "publish/alert_output.hpp"
#include "publish/syslog_format.hpp"

namespace portscand {

// Sends alerts as RFC 5424 syslog messages (body: CEF or the JSON alert) over UDP (RFC 5426,
// one datagram each), TCP (RFC 6587 octet counting) or TLS (RFC 5425), per
// lib/publish/README.md "Syslog output".
//
// publish() renders and frames each alert and hands the batch to the output's I/O thread; it
// refuses the batch (false) when max_pending_alerts would be exceeded. The I/O thread writes
// what is queued, in order, over one connection (reconnecting with exponential backoff and
// full jitter, for as long as the process runs) and reports what the transport confirmed:
// for TCP and TLS, the whole batch written to the connection; for UDP, each datagram handed
// to the kernel. Neither transport has an application-level acknowledgement (see the
// README's contract). poll() collects the confirmations; an alert stops being pending only
// then, so the checkpoint rule holds.
//
// Threads: every member function is for the publisher thread only. The I/O thread (owned
// here, joined by the destructor) shares only the hand-over state below, under one mutex,
// and atomics.
class syslog_output final : public alert_output {
 public:
  // Loads the TLS files and starts the I/O thread (which connects). Throws
  // std::runtime_error naming the problem (bad address, unreadable CA file or client key).
  syslog_output(std::string name, output_schema schema, const syslog_output_config& cfg,
                metrics_registry& metrics);
  ~syslog_output() override;
  syslog_output(const syslog_output&) = delete;
  syslog_output& operator=(const syslog_output&) = delete;

  const std::string& name() const override { return name_; }
  bool publish(const std::vector<alert>& alerts) override;
  void poll() override;
  std::size_t pending() const override { return pending_; }
  bool flush(std::chrono::milliseconds timeout) override;
  // False from a failed attempt until a send succeeds.
  bool healthy() const override { return !failing_.load(std::memory_order_acquire); }

 private:
  struct connection;  // the I/O thread's sockets, in the .cpp

  void io_main();
  void take_outcomes();

  const std::string name_;
  const output_schema schema_;
  const syslog_output_config cfg_;
  const syslog_header_fields header_;
  metrics_registry& metrics_;
  counter& delivered_;
  counter& rejected_;
  gauge& pending_gauge_;

  // Publisher thread.
  std::size_t pending_ = 0;
  rate_limited_log log_limit_;

  // Shared with the I/O thread, under mu_.
  std::mutex mu_;
  std::condition_variable io_cv_;    // messages or stop for the I/O thread
  std::condition_variable done_cv_;  // confirmations for flush()
  std::deque<std::string> inbox_;    // framed messages (UDP: one datagram each)
  std::size_t confirmed_ = 0;        // sent since the last take_outcomes()
  std::size_t dropped_ = 0;          // refused by the transport as too large (UDP)
  bool stop_ = false;
  std::atomic<bool> failing_{false};

  std::unique_ptr<connection> conn_;  // built here, used by the I/O thread only
  std::thread io_thread_;
};

// Loads a tls:// syslog output's CA file and client certificate and key the way the output
// will, and reports each one that fails at "<path>.tls.<key>" (startup checks, check-config).
std::vector<config_problem> check_syslog_tls_files(const syslog_output_config& cfg,
                                                   const std::string& path);

}  // namespace portscand
