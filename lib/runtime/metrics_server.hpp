#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "core/metrics.hpp"

namespace portscand {

// How long a client may take and how many may be connected at once. The defaults are what
// the daemon uses; tests shorten the deadlines.
struct metrics_server_limits {
  // Reading one whole request, from the moment the server starts waiting for it: a fresh
  // connection, or a kept-alive one between requests. A client that is silent or slow for
  // longer is closed (Prometheus and the kubelet send their request at once).
  std::chrono::milliseconds read_timeout{5000};
  // Writing one whole response: a client that stops reading is closed.
  std::chrono::milliseconds write_timeout{5000};
  // Open connections. When a new client arrives at the limit, the connection that has
  // waited longest for a request is closed to make room (one that is being answered only
  // if none waits): the endpoint stays reachable for Prometheus and the kubelet however
  // many idle connections pile up. 64 is far above the handful of scrapers and probes a
  // daemon has and far below the file descriptor limit.
  std::size_t max_connections = 64;
};

// The loopback HTTP endpoint of SPEC §3: GET/HEAD /metrics (Prometheus text exposition
// 0.0.4), /healthz (the process is up) and /readyz (inputs connected, watermark moving,
// outputs healthy: `ready` returns "" or the reason). Boost.Beast, asynchronous, one
// io_context thread: every connection reads and writes under its own deadline, so a slow or
// silent client never delays another. Counts evictions and timeouts in `metrics`:
// portscand_metrics_connections_evicted_total and
// portscand_metrics_connection_timeouts_total{phase="idle"|"read"|"write"}.
// `ready` and the registry's render() run on the server's thread.
class metrics_server {
 public:
  // listen: "host:port" (port 0 = ephemeral). Throws std::runtime_error when it cannot bind.
  metrics_server(const std::string& listen, metrics_registry& metrics,
                 std::function<std::string()> ready, metrics_server_limits limits = {});
  ~metrics_server();
  metrics_server(const metrics_server&) = delete;
  metrics_server& operator=(const metrics_server&) = delete;

  unsigned short port() const noexcept { return port_; }
  // Closes the listener and every open connection and joins the thread; it does not wait
  // for any client. Any thread but the server's; idempotent.
  void stop();

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
  unsigned short port_ = 0;
};

}  // namespace portscand
