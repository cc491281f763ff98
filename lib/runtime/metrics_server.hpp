#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "core/metrics.hpp"

namespace portscand {

// The loopback HTTP endpoint of SPEC §3: GET /metrics (Prometheus text exposition 0.0.4),
// /healthz (the process is up) and /readyz (inputs connected, watermark moving, outputs
// healthy: `ready` decides). Boost.Beast, one thread, one request per connection at a time;
// a scrape is small and rare, so nothing here needs to be concurrent.
class metrics_server {
 public:
  // listen: "host:port" (port 0 = ephemeral). Throws std::runtime_error when it cannot bind.
  metrics_server(const std::string& listen, metrics_registry& metrics, std::function<std::string()> ready);
  ~metrics_server();
  metrics_server(const metrics_server&) = delete;
  metrics_server& operator=(const metrics_server&) = delete;

  unsigned short port() const noexcept { return port_; }
  void stop();

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
  unsigned short port_ = 0;
};

}  // namespace portscand
