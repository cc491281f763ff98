#pragma once

// The two listen-address syntaxes of the configuration, parsed in one place: configuration
// validation (check-config, SIGHUP reload) and the listeners that bind them (run) call the
// same functions, so a string is either refused by both or accepted by both. Messages start
// with the value as written ("'udp://x:99999': bad port ..."); the caller names the key.
//
// Threads: pure functions, any thread.

#include <cstdint>
#include <string>
#include <string_view>

#include "core/result.hpp"

namespace portscand {

enum class syslog_transport : std::uint8_t { udp, tcp, tls };

struct listen_endpoint {
  syslog_transport transport = syslog_transport::udp;
  std::string host;  // as written, without brackets; "" = every address
  std::uint16_t port = 0;
};

// A syslog input's `listen`: "udp://0.0.0.0:514", "tcp://[::1]:6514", "tls://:6514" (empty
// host or "*" = every address; port 0 = ephemeral). The host may be a name (resolved when
// the listener starts).
result<listen_endpoint> parse_listen_url(std::string_view url);

struct metrics_endpoint {
  std::string host;  // a numeric IPv4 or IPv6 address, without brackets
  std::uint16_t port = 0;
};

// `metrics.listen`: "127.0.0.1:9108", "[::1]:9108" (port 0 = ephemeral). The address must be
// numeric: the endpoint binds it without a resolver.
result<metrics_endpoint> parse_metrics_listen(std::string_view text);

}  // namespace portscand
