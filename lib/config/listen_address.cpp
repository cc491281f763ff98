#include "config/listen_address.hpp"

#include <charconv>

#include "core/ip_address.hpp"

namespace portscand {
namespace {

// The value as written, in quotes. (Built by appending: g++ 12 warns falsely (-Wrestrict)
// about "'" + std::string.)
std::string quoted(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 2);
  out.append(1, '\'').append(text).append(1, '\'');
  return out;
}

struct host_and_port {
  std::string host;
  std::uint16_t port = 0;
};

// "host:port" or "[v6]:port"; `what` (the whole value, quoted) starts every message, so that
// the operator sees the value as written. The caller's context names the key: the
// configuration reader puts the YAML path in front, a listener "listen" or "metrics.listen".
result<host_and_port> split_host_port(std::string_view text, const std::string& what) {
  host_and_port out;
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    const std::size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':')
      return error{what + ": an IPv6 address is written [addr]:port"};
    out.host = std::string(text.substr(1, close - 1));
    port_text = text.substr(close + 2);
  } else {
    const std::size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) return error{what + " needs a port"};
    out.host = std::string(text.substr(0, colon));
    if (out.host.find(':') != std::string::npos)
      return error{what + ": an IPv6 address is written [addr]:port"};
    port_text = text.substr(colon + 1);
  }
  // Digits only and at most 65535: a larger number must not wrap into another port.
  unsigned port = 0;
  const auto [end, ec] =
      std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || ec != std::errc{} || end != port_text.data() + port_text.size() ||
      port > 65535)
    return error{what + ": bad port '" + std::string(port_text) + "' (0 to 65535)"};
  out.port = static_cast<std::uint16_t>(port);
  return out;
}

}  // namespace

result<listen_endpoint> parse_listen_url(std::string_view url) {
  const std::string what = quoted(url);
  listen_endpoint ep;
  const std::size_t sep = url.find("://");
  if (sep == std::string_view::npos) return error{what + " must look like udp://host:port"};
  const std::string_view s = url.substr(0, sep);
  if (s == "udp")
    ep.transport = syslog_transport::udp;
  else if (s == "tcp")
    ep.transport = syslog_transport::tcp;
  else if (s == "tls")
    ep.transport = syslog_transport::tls;
  else
    return error{what + " must start with udp://, tcp:// or tls://"};
  auto hp = split_host_port(url.substr(sep + 3), what);
  if (!hp) return hp.err();
  ep.host = std::move(hp->host);
  ep.port = hp->port;
  if (ep.host == "*") ep.host.clear();
  return ep;
}

result<metrics_endpoint> parse_metrics_listen(std::string_view text) {
  const std::string what = quoted(text);
  auto hp = split_host_port(text, what);
  if (!hp) return hp.err();
  if (!ip_address::parse(hp->host))
    return error{what + ": '" + hp->host +
                 "' is not a numeric IP address (0.0.0.0 for every IPv4 address, [::] for "
                 "every address)"};
  return metrics_endpoint{std::move(hp->host), hp->port};
}

}  // namespace portscand
