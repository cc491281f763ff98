#pragma once

// A syslog server for one `inputs[]` entry: UDP (RFC 5426), TCP (RFC 6587) or TLS (RFC 5425).
// Transport and framing only: each message goes, as received (header included), to the
// unit_sink; the decoder splits the RFC 3164/5424 header off later. See lib/ingest/README.md.
//
// Threads: start() and stop() are called by the owner (the runtime's thread); everything else
// runs on the listener's own io thread, which owns the sockets, the framers and the sink.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "config/listen_address.hpp"
#include "core/clock.hpp"
#include "core/metrics.hpp"
#include "core/result.hpp"
#include "ingest/unit_sink.hpp"

namespace portscand {

// The TLS files of a tls:// syslog input, loaded by OpenSSL as the listener loads them when
// it starts (without binding anything): one problem per unusable file, at
// "<path>.tls.certificate", ".tls.key" or ".tls.ca". Empty for udp:// and tcp://.
// Any thread.
std::vector<config_problem> check_tls_files(const syslog_input_config& cfg,
                                            const std::string& path);

class syslog_listener {
 public:
  // make_sink is called once, by start(); the sink is then used only on the io thread.
  syslog_listener(std::string name, const syslog_input_config& cfg,
                  std::function<std::unique_ptr<unit_sink>()> make_sink, metrics_registry& metrics,
                  const clock& clk);
  ~syslog_listener();  // stop()
  syslog_listener(const syslog_listener&) = delete;
  syslog_listener& operator=(const syslog_listener&) = delete;

  // Binds (or adopts the socket systemd passed, see README "socket activation"), loads the
  // TLS files and starts the io thread. An error (port taken, unreadable certificate, bad
  // allow entry) leaves nothing running and names what failed. Call once.
  status start();

  // Stops accepting and reading, closes every connection (a frame in progress is counted as
  // truncated) and joins the io thread. Returns only once the sink is no longer used, which
  // also means it waits for an on_unit() call that is blocked: unblock the sink first.
  // Idempotent.
  void stop();

  // The local port after start(): the configured one, or the kernel's choice for port 0.
  std::uint16_t bound_port() const noexcept;
  // True when start() adopted a socket inherited from systemd instead of binding.
  bool socket_activated() const noexcept;

 private:
  class impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace portscand
