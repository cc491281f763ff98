#include "publish/syslog_output.hpp"

#include <openssl/ssl.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <cerrno>
#include <optional>
#include <random>
#include <stdexcept>
#include <unordered_map>

#include "portscand/version.hpp"
#include "publish/http_request.hpp"
#include "publish/tls_client.hpp"

namespace portscand {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using udp = asio::ip::udp;
using steady = std::chrono::steady_clock;
using error_code = boost::system::error_code;

namespace {

// One write on a stream connection carries at most this much (one message always goes).
constexpr std::size_t max_write_bytes = 1u << 20;

timestamp_us steady_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(steady::now().time_since_epoch())
      .count();
}

std::string suppressed_note(std::uint64_t n) {
  return n == 0 ? std::string() : " (" + std::to_string(n) + " similar lines suppressed)";
}

std::chrono::milliseconds ms(timestamp_us us) {
  return std::chrono::milliseconds(us / 1000);
}

// RFC 5424 HOSTNAME: printable US-ASCII without spaces, at most 255 characters.
std::string header_hostname(const std::string& configured) {
  std::string h = configured;
  if (h.empty()) {
    char buf[256] = {};
    if (::gethostname(buf, sizeof buf - 1) == 0) h = buf;
  }
  for (char& c : h)
    if (c <= 32 || c >= 127) c = '-';
  if (h.size() > 255) h.resize(255);
  return h.empty() ? "-" : h;
}

syslog_header_fields header_fields(const syslog_output_config& cfg) {
  syslog_header_fields h;
  h.facility = cfg.facility;
  h.severity = cfg.severity;
  h.hostname = header_hostname(cfg.hostname);
  h.app_name = cfg.app_name;
  h.procid = std::to_string(::getpid());
  return h;
}

const char* transport_name(syslog_transport t) {
  return t == syslog_transport::udp ? "udp" : t == syslog_transport::tcp ? "tcp" : "tls";
}

// Whether the receiver closed (or reset) a stream connection: its FIN arrived (POLLRDHUP,
// seen even behind unread bytes such as a TLS close_notify or session ticket) or the socket
// has an error. Checked before writing on a kept connection, so that a receiver restarted
// since the last write does not take the next batch into a dead socket.
bool peer_gone(int fd) {
  pollfd p{};
  p.fd = fd;
  p.events = POLLRDHUP;
  if (::poll(&p, 1, 0) < 0) return false;
  return (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) != 0;
}

// What one attempt came to.
struct attempt_result {
  enum kind_t : std::uint8_t { sent, failed, stopped } kind = failed;
  std::size_t done = 0;     // messages from the front confirmed (UDP may send some, then fail)
  std::size_t too_big = 0;  // of those, dropped as too large for a datagram
  std::string reason;       // failure label: resolve, connect, tls, timeout, io, refused...
  std::string detail;
};

}  // namespace

// The I/O thread's sockets. Only the I/O thread touches them, except `stopping` and
// ioc.stop() (thread-safe).
struct syslog_output::connection {
  asio::io_context ioc{1};
  std::optional<ssl::context> tls;
  std::string server_name;
  tcp::resolver resolver{ioc};
  udp::resolver dgram_resolver{ioc};
  std::optional<tcp::socket> plain;
  std::optional<ssl::stream<tcp::socket>> secure;
  std::optional<udp::socket> dgram;
  bool open = false;
  std::atomic<bool> stopping{false};

  tcp::socket& stream_socket() { return secure ? secure->next_layer() : *plain; }

  void close() {
    error_code ignored;
    if (plain || secure) stream_socket().close(ignored);
    if (dgram) dgram->close(ignored);
    secure.reset();
    plain.reset();
    dgram.reset();
    open = false;
  }

  // Runs the io_context until `done` or `deadline`. On the deadline (or a stop) closes the
  // sockets so the operation ends, runs its handler while they still exist, and returns false.
  bool run_until(const bool& done, steady::time_point deadline) {
    ioc.restart();
    if (!stopping.load())
      while (!done && !ioc.stopped() && steady::now() < deadline) ioc.run_one_until(deadline);
    if (done) return true;
    resolver.cancel();
    dgram_resolver.cancel();
    error_code ignored;
    if (plain || secure) stream_socket().close(ignored);
    if (dgram) dgram->close(ignored);
    ioc.restart();
    ioc.run();  // the aborted operation's handler (a stop arriving now leaves it unrun)
    close();
    return false;
  }
};

syslog_output::syslog_output(std::string name, output_schema schema,
                             const syslog_output_config& cfg, metrics_registry& metrics)
    : name_(std::move(name)),
      schema_(schema),
      cfg_(cfg),
      header_(header_fields(cfg)),
      metrics_(metrics),
      delivered_(metrics.get_counter("portscand_alerts_delivered_total",
                                     "Alerts confirmed written by an output.",
                                     {{"output", name_}})),
      rejected_(metrics.get_counter(
          "portscand_syslog_alerts_dropped_total",
          "Alerts a syslog output dropped because the transport refused the message as too "
          "large (a UDP datagram over the path's limit).",
          {{"output", name_}})),
      pending_gauge_(metrics.get_gauge("portscand_alerts_pending",
                                       "Alerts handed to an output and not yet confirmed.",
                                       {{"output", name_}})),
      conn_(std::make_unique<connection>()) {
  if (cfg_.host.empty() || cfg_.port == 0)
    throw std::runtime_error("output '" + name_ + "': address '" + cfg_.address +
                             "' needs a host and a port");
  if (cfg_.transport == syslog_transport::tls) {
    conn_->server_name =
        setup_tls_client(conn_->tls.emplace(ssl::context::tls_client), cfg_, name_, cfg_.host);
  }
  // Every failure reason exists from the start (at 0), so that increase() sees the first one.
  for (const char* reason : {"resolve", "connect", "tls", "timeout", "io", "refused", "too_big"})
    delivery_failures(metrics_, name_, reason);
  pending_gauge_.set(0);
  io_thread_ = std::thread([this] { io_main(); });
}

syslog_output::~syslog_output() {
  {
    std::lock_guard lk(mu_);
    stop_ = true;
  }
  io_cv_.notify_all();
  conn_->stopping.store(true);
  conn_->ioc.stop();
  if (io_thread_.joinable()) io_thread_.join();
  take_outcomes();
  if (pending_ > 0)
    spdlog::warn(
        "output '{}': closing with {} alert(s) not sent to {}; the checkpoint has not marked "
        "them, so they are evaluated and sent again after the next start",
        name_, pending_, cfg_.address);
}

bool syslog_output::publish(const std::vector<alert>& alerts) {
  if (alerts.empty()) return true;
  take_outcomes();
  if (pending_ > 0 && pending_ + alerts.size() > cfg_.max_pending_alerts) return false;
  std::vector<std::string> framed;
  framed.reserve(alerts.size());
  for (const alert& a : alerts) {
    std::string msg =
        rfc5424_message(header_, a, syslog_body_for(a, cfg_.format, schema_, version_string));
    framed.push_back(cfg_.transport == syslog_transport::udp ? std::move(msg) : octet_counted(msg));
  }
  {
    std::lock_guard lk(mu_);
    for (auto& f : framed) inbox_.push_back(std::move(f));
  }
  pending_ += alerts.size();
  pending_gauge_.set(static_cast<double>(pending_));
  io_cv_.notify_one();
  return true;
}

void syslog_output::take_outcomes() {
  std::size_t confirmed = 0, dropped = 0;
  {
    std::lock_guard lk(mu_);
    confirmed = std::exchange(confirmed_, 0);
    dropped = std::exchange(dropped_, 0);
  }
  if (confirmed == 0 && dropped == 0) return;
  pending_ -= std::min(pending_, confirmed + dropped);
  delivered_.inc(confirmed);
  if (dropped > 0) {
    rejected_.inc(dropped);
    std::uint64_t suppressed = 0;
    if (log_limit_.allow("too_big", steady_us(), suppressed))
      spdlog::error(
          "output '{}': {} alert(s) DROPPED: too large for one UDP datagram to {} (use "
          "tcp:// or tls:// for long alerts){}",
          name_, dropped, cfg_.address, suppressed_note(suppressed));
  }
  pending_gauge_.set(static_cast<double>(pending_));
}

void syslog_output::poll() {
  take_outcomes();
}

bool syslog_output::flush(std::chrono::milliseconds timeout) {
  const auto deadline = steady::now() + timeout;
  take_outcomes();
  while (pending_ > 0) {
    const auto now = steady::now();
    if (now >= deadline) return false;
    {
      std::unique_lock lk(mu_);
      done_cv_.wait_until(lk, std::min(deadline, now + std::chrono::milliseconds(100)),
                          [this] { return confirmed_ > 0 || dropped_ > 0; });
    }
    take_outcomes();
  }
  return true;
}

void syslog_output::io_main() {
  connection& c = *conn_;
  std::mt19937_64 rng(std::random_device{}());
  rate_limited_log log_limit;
  std::unordered_map<std::string, counter*> failure_counters;
  const auto count_failure = [&](const std::string& reason) {
    auto it = failure_counters.find(reason);
    if (it == failure_counters.end())
      it = failure_counters.emplace(reason, &delivery_failures(metrics_, name_, reason)).first;
    it->second->inc();
  };
  const std::string where = cfg_.host + ":" + std::to_string(cfg_.port);
  const std::string port = std::to_string(cfg_.port);
  const bool datagrams = cfg_.transport == syslog_transport::udp;

  const auto connect = [&](attempt_result& r) -> bool {
    const auto deadline = steady::now() + ms(cfg_.connect_timeout);
    bool done = false;
    error_code ec;
    const auto timed_out = [&](const char* what) {
      r.kind = c.stopping ? attempt_result::stopped : attempt_result::failed;
      r.reason = "timeout";
      r.detail = std::string(what) + " " + where + " timed out";
      return false;
    };
    if (datagrams) {
      udp::resolver::results_type endpoints;
      c.dgram_resolver.async_resolve(cfg_.host, port,
                                     [&](error_code e, udp::resolver::results_type res) {
                                       ec = e;
                                       endpoints = std::move(res);
                                       done = true;
                                     });
      if (!c.run_until(done, deadline)) return timed_out("resolving");
      if (ec || endpoints.empty()) {
        r.reason = "resolve";
        r.detail = "cannot resolve " + cfg_.host + ": " + ec.message();
        return false;
      }
      const udp::endpoint ep = endpoints.begin()->endpoint();
      c.dgram.emplace(c.ioc);
      c.dgram->open(ep.protocol(), ec);
      if (!ec) c.dgram->connect(ep, ec);
      if (ec) {
        c.close();
        r.reason = "connect";
        r.detail = "cannot open a UDP socket to " + where + ": " + ec.message();
        return false;
      }
      c.open = true;
      return true;
    }
    tcp::resolver::results_type endpoints;
    c.resolver.async_resolve(cfg_.host, port, [&](error_code e, tcp::resolver::results_type res) {
      ec = e;
      endpoints = std::move(res);
      done = true;
    });
    if (!c.run_until(done, deadline)) return timed_out("resolving");
    if (ec) {
      r.reason = "resolve";
      r.detail = "cannot resolve " + cfg_.host + ": " + ec.message();
      return false;
    }
    if (c.tls)
      c.secure.emplace(c.ioc, *c.tls);
    else
      c.plain.emplace(c.ioc);
    done = false;
    asio::async_connect(c.stream_socket(), endpoints, [&](error_code e, const tcp::endpoint&) {
      ec = e;
      done = true;
    });
    if (!c.run_until(done, deadline)) return timed_out("connecting to");
    if (ec) {
      c.close();
      r.reason = "connect";
      r.detail = "cannot connect to " + where + ": " + ec.message();
      return false;
    }
    if (c.secure) {
      // SNI carries host names only (RFC 6066 §3), never an address literal.
      error_code not_ip;
      asio::ip::make_address(c.server_name, not_ip);
      if (not_ip && !SSL_set_tlsext_host_name(c.secure->native_handle(), c.server_name.c_str())) {
        c.close();
        r.reason = "tls";
        r.detail = "cannot set the TLS server name '" + c.server_name + "'";
        return false;
      }
      done = false;
      c.secure->async_handshake(ssl::stream_base::client, [&](error_code e) {
        ec = e;
        done = true;
      });
      if (!c.run_until(done, deadline)) return timed_out("TLS handshake with");
      if (ec) {
        std::string why = ec.message();
        const long verify = SSL_get_verify_result(c.secure->native_handle());
        if (verify != X509_V_OK)
          why += std::string(" (certificate: ") + X509_verify_cert_error_string(verify) + ")";
        c.close();
        r.reason = "tls";
        r.detail = "TLS handshake with " + where + " failed: " + why;
        return false;
      }
    }
    c.open = true;
    return true;
  };

  // Sends `batch` (framed messages) on the current or a new connection.
  const auto attempt = [&](const std::vector<std::string>& batch) -> attempt_result {
    attempt_result r;
    if (c.open && !datagrams && peer_gone(c.stream_socket().native_handle())) c.close();
    if (!c.open && !connect(r)) return r;
    if (datagrams) {
      // One datagram per message (RFC 5426). A refused send is the ICMP port unreachable of
      // an earlier datagram: that one is lost, this one was not sent and is retried.
      for (const std::string& m : batch) {
        error_code ec;
        c.dgram->send(asio::buffer(m), 0, ec);
        if (ec == asio::error::message_size) {
          ++r.done;
          ++r.too_big;
          count_failure("too_big");
          continue;
        }
        if (ec) {
          c.close();
          r.reason = ec == asio::error::connection_refused ? "refused" : "io";
          r.detail = "sending to udp://" + where + " failed: " + ec.message();
          return r;
        }
        ++r.done;
      }
      r.kind = attempt_result::sent;
      return r;
    }
    std::string data;
    for (const std::string& m : batch) data += m;
    const auto deadline = steady::now() + ms(cfg_.send_timeout);
    bool done = false;
    error_code ec;
    const auto on_write = [&](error_code e, std::size_t) {
      ec = e;
      done = true;
    };
    if (c.secure)
      asio::async_write(*c.secure, asio::buffer(data), on_write);
    else
      asio::async_write(*c.plain, asio::buffer(data), on_write);
    if (!c.run_until(done, deadline)) {
      r.kind = c.stopping ? attempt_result::stopped : attempt_result::failed;
      r.reason = "timeout";
      r.detail = "writing " + std::to_string(batch.size()) + " message(s) to " + where +
                 " did not finish within " + format_duration(cfg_.send_timeout);
      return r;
    }
    if (ec) {
      c.close();
      r.reason = ec == asio::error::connection_refused ? "refused" : "io";
      r.detail = "writing to " + std::string(transport_name(cfg_.transport)) + "://" + where +
                 " failed: " + ec.message();
      return r;
    }
    r.kind = attempt_result::sent;
    r.done = batch.size();
    return r;
  };

  std::uint32_t failures = 0;
  for (;;) {
    std::vector<std::string> batch;
    {
      std::unique_lock lk(mu_);
      io_cv_.wait(lk, [this] { return stop_ || !inbox_.empty(); });
      if (stop_) break;
      std::size_t bytes = 0;
      while (!inbox_.empty() &&
             (batch.empty() || bytes + inbox_.front().size() <= max_write_bytes)) {
        bytes += inbox_.front().size();
        batch.push_back(std::move(inbox_.front()));
        inbox_.pop_front();
      }
    }
    while (!batch.empty()) {
      attempt_result r = attempt(batch);
      if (r.kind == attempt_result::stopped) return;
      // Healthy again before the confirmation is visible: whoever sees the alerts delivered
      // sees a healthy output.
      if (r.kind == attempt_result::sent && failing_.load()) {
        spdlog::info("output '{}': delivery to {} works again after {} failed attempt(s)", name_,
                     cfg_.address, failures);
        failing_.store(false, std::memory_order_release);
      }
      if (r.done > 0) {
        {
          std::lock_guard lk(mu_);
          confirmed_ += r.done - r.too_big;
          dropped_ += r.too_big;
        }
        done_cv_.notify_all();
        batch.erase(batch.begin(), batch.begin() + static_cast<std::ptrdiff_t>(r.done));
      }
      if (r.kind == attempt_result::sent) {
        failures = 0;
        break;
      }
      ++failures;
      failing_.store(true, std::memory_order_release);
      count_failure(r.reason);
      const std::chrono::milliseconds delay = full_jitter_backoff(
          ms(cfg_.retry_backoff_min), ms(cfg_.retry_backoff_max), failures, rng());
      std::uint64_t suppressed = 0;
      if (log_limit.allow(r.reason, steady_us(), suppressed))
        spdlog::warn(
            "output '{}': {} ({}); {} alert(s) wait, attempt {} failed, retrying in {} ms{}", name_,
            r.detail, r.reason, batch.size(), failures, delay.count(), suppressed_note(suppressed));
      std::unique_lock lk(mu_);
      if (io_cv_.wait_for(lk, delay, [this] { return stop_; })) return;
    }
  }
}

std::vector<config_problem> check_syslog_tls_files(const syslog_output_config& cfg,
                                                   const std::string& path) {
  if (cfg.transport != syslog_transport::tls) return {};
  return check_tls_client_files(cfg, path);
}

}  // namespace portscand
