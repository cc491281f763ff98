#include "publish/http_output.hpp"

#include <openssl/ssl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cstring>
#include <optional>
#include <random>
#include <stdexcept>
#include <unordered_map>

#include "publish/tls_client.hpp"

namespace portscand {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using steady = std::chrono::steady_clock;

namespace {

// A batch's body stops growing past this size (one alert always fits).
constexpr std::size_t max_body_bytes = 4u << 20;
// Enough of a receiver's answer to log why it refused; more is read and discarded.
constexpr std::size_t max_response_body = 1u << 20;
constexpr std::size_t logged_body_chars = 200;

constexpr const char* rejected_help =
    "Alerts an HTTP output dropped as undeliverable: the receiver refused the request with a "
    "final status (4xx other than 401, 403, 408, 429).";

timestamp_us steady_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(steady::now().time_since_epoch())
      .count();
}

std::string suppressed_note(std::uint64_t n) {
  return n == 0 ? std::string() : " (" + std::to_string(n) + " similar lines suppressed)";
}

std::string errno_name(int err) {
  const char* n = strerrorname_np(err);
  return n != nullptr ? n : "errno_" + std::to_string(err);
}

std::chrono::milliseconds ms(timestamp_us us) {
  return std::chrono::milliseconds(us / 1000);
}

std::string this_host() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0) return "localhost";
  return buf;
}

// The start of a response body, printable, for a log line.
std::string snippet(std::string_view body) {
  std::string out;
  for (char c : body.substr(0, logged_body_chars))
    out += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? ' ' : c;
  if (body.size() > logged_body_chars) out += "...";
  return out;
}

// Statuses after which the alert is dropped: a refusal of the request itself.
bool status_final(unsigned status) {
  return status >= 400 && status < 500 && !http_status_retriable(status);
}

}  // namespace

// The I/O thread's connection: one stream at a time, plain or TLS, kept alive between
// requests. Only the I/O thread touches it, except `stopping` and ioc.stop() (thread-safe).
struct http_output::connection {
  asio::io_context ioc{1};
  std::optional<ssl::context> tls;
  std::string server_name;  // SNI and the name the certificate must carry
  tcp::resolver resolver{ioc};
  std::optional<beast::tcp_stream> plain;
  std::optional<beast::ssl_stream<beast::tcp_stream>> secure;
  beast::flat_buffer buffer;
  bool open = false;
  std::atomic<bool> stopping{false};

  beast::tcp_stream& lowest() { return secure ? beast::get_lowest_layer(*secure) : *plain; }

  void close() {
    if (plain || secure) {
      beast::error_code ignored;
      lowest().socket().close(ignored);
    }
    secure.reset();
    plain.reset();
    buffer.consume(buffer.size());
    open = false;
  }

  // Runs the io_context until `done` or `deadline`. On the deadline (or a stop) closes the
  // socket so the operation ends, runs its handler while the stream still exists, then
  // drops the connection, and returns false.
  bool run_until(const bool& done, steady::time_point deadline) {
    ioc.restart();
    if (!stopping.load())
      while (!done && !ioc.stopped() && steady::now() < deadline) ioc.run_one_until(deadline);
    if (done) return true;
    resolver.cancel();
    if (plain || secure) {
      beast::error_code ignored;
      lowest().socket().close(ignored);
    }
    ioc.restart();
    ioc.run();  // the aborted operation's handler (a stop arriving now leaves it unrun)
    close();
    return false;
  }
};

namespace {

// What one request came to.
struct attempt_result {
  enum kind_t : std::uint8_t { delivered, rejected, retry, stopped } kind = retry;
  unsigned status = 0;
  std::string reason;  // failure label: connect, tls, timeout, io, http_503...
  std::string detail;  // for the log
  std::optional<std::chrono::seconds> retry_after;
};

}  // namespace

http_output::http_output(std::string name, output_schema schema, const http_output_config& cfg,
                         metrics_registry& metrics)
    : name_(std::move(name)),
      schema_(schema),
      cfg_(cfg),
      url_([&] {
        auto u = parse_http_url(cfg.url);
        if (!u) {
          const auto why = http_url_problem(cfg.url);
          throw std::runtime_error("output '" + name_ + "': url: " + why.value_or("invalid"));
        }
        return *u;
      }()),
      host_(this_host()),
      metrics_(metrics),
      delivered_(metrics.get_counter("portscand_alerts_delivered_total",
                                     "Alerts confirmed written by an output.",
                                     {{"output", name_}})),
      damaged_(metrics.get_counter(
          "portscand_http_spool_damaged_records_total",
          "Records of an HTTP output's spool skipped at start because they were damaged.",
          {{"output", name_}})),
      pending_gauge_(metrics.get_gauge("portscand_alerts_pending",
                                       "Alerts handed to an output and not yet confirmed.",
                                       {{"output", name_}})),
      spool_gauge_(metrics.get_gauge("portscand_http_spool_bytes",
                                     "Size of an HTTP output's spool file.", {{"output", name_}})),
      spool_([&] {
        if (cfg.spool_path.empty())
          throw std::runtime_error("output '" + name_ + "': no spool path");
        try {
          return http_spool(cfg.spool_path);
        } catch (const std::exception& e) {
          throw std::runtime_error("output '" + name_ + "': " + e.what());
        }
      }()),
      conn_(std::make_unique<connection>()) {
  // The usual final statuses exist from the start (at 0), so that increase() sees the
  // first rejection; a rarer status starts its series when it first happens.
  for (const char* status : {"400", "404", "405", "410", "413", "415", "422"})
    metrics.get_counter("portscand_alerts_rejected_total", rejected_help,
                        {{"output", name_}, {"status", status}});
  if (url_.tls) {
    conn_->server_name =
        setup_tls_client(conn_->tls.emplace(ssl::context::tls_client), cfg, name_, url_.host);
  }
  // What the previous process left goes first, in its order.
  if (spool_.damaged_lines() > 0) {
    damaged_.inc(spool_.damaged_lines());
    spdlog::error(
        "output '{}': {} damaged record(s) in the spool '{}' were skipped (a torn "
        "last line after a crash, or a damaged file); the alerts in them are lost "
        "unless a re-evaluation raises them again",
        name_, spool_.damaged_lines(), spool_.path());
  }
  for (auto& a : spool_.take_recovered()) {
    pending_[a.seq] = a.element.size();
    inbox_.push_back({a.seq, std::move(a.alert_id), std::move(a.element)});
  }
  recovered_ = pending_.size();
  if (recovered_ > 0)
    spdlog::info("output '{}': {} undelivered alert(s) from the spool '{}' are sent first", name_,
                 recovered_, spool_.path());
  update_gauges();
  io_thread_ = std::thread([this] { io_main(); });
}

http_output::~http_output() {
  {
    std::lock_guard lk(mu_);
    stop_ = true;
  }
  io_cv_.notify_all();
  conn_->stopping.store(true);
  conn_->ioc.stop();
  if (io_thread_.joinable()) io_thread_.join();
  take_outcomes();
  if (!pending_.empty())
    spdlog::warn(
        "output '{}': closing with {} alert(s) not confirmed by {}; they stay in the "
        "spool '{}' and are sent after the next start",
        name_, pending_.size(), cfg_.url, spool_.path());
}

bool http_output::publish(const std::vector<alert>& alerts) {
  if (alerts.empty()) return true;
  take_outcomes();
  if (!pending_.empty() && pending_.size() + alerts.size() > cfg_.max_pending_alerts) return false;
  std::vector<spooled_alert> batch;
  batch.reserve(alerts.size());
  std::uint64_t seq = spool_.next_seq();
  std::uint64_t bytes = 0;
  for (const alert& a : alerts) {
    batch.push_back({seq++, a.alert_id, render_http_element(a, cfg_, schema_, host_)});
    bytes += batch.back().element.size() + batch.back().alert_id.size() + 64;
  }
  if (!pending_.empty() && spool_.size_bytes() + bytes > cfg_.spool_max_bytes) {
    std::uint64_t suppressed = 0;
    if (log_limit_.allow("spool_full", steady_us(), suppressed))
      spdlog::warn(
          "output '{}': spool full ({} bytes, limit spool_max_bytes {}); {} alert(s) "
          "wait for deliveries to {}{}",
          name_, spool_.size_bytes(), cfg_.spool_max_bytes, pending_.size(), cfg_.url,
          suppressed_note(suppressed));
    return false;
  }
  if (const int err = spool_.append(batch); err != 0) {
    const std::string reason = "spool:" + errno_name(err);
    delivery_failures(metrics_, name_, reason).inc();
    std::uint64_t suppressed = 0;
    if (log_limit_.allow(reason, steady_us(), suppressed))
      spdlog::error(
          "output '{}': cannot write the spool '{}': {}; {} alert(s) refused for now "
          "(the publisher keeps them){}",
          name_, spool_.path(), std::strerror(err), alerts.size(), suppressed_note(suppressed));
    return false;
  }
  {
    std::lock_guard lk(mu_);
    for (auto& b : batch) {
      pending_[b.seq] = b.element.size();
      inbox_.push_back({b.seq, std::move(b.alert_id), std::move(b.element)});
    }
  }
  io_cv_.notify_one();
  update_gauges();
  return true;
}

void http_output::take_outcomes() {
  std::vector<outcome> done;
  {
    std::lock_guard lk(mu_);
    done.swap(outbox_);
  }
  if (done.empty()) return;
  std::vector<std::uint64_t> finished;
  for (const outcome& o : done) {
    for (std::uint64_t seq : o.seqs) {
      pending_.erase(seq);
      finished.push_back(seq);
    }
    if (o.rejected_status == 0) {
      delivered_.inc(o.seqs.size());
      continue;
    }
    const std::string status = std::to_string(o.rejected_status);
    metrics_
        .get_counter("portscand_alerts_rejected_total", rejected_help,
                     {{"output", name_}, {"status", status}})
        .inc(o.seqs.size());
    std::uint64_t suppressed = 0;
    if (log_limit_.allow("rejected_" + status, steady_us(), suppressed)) {
      std::string ids;
      for (const auto& id : o.alert_ids) ids += (ids.empty() ? "" : ", ") + id;
      spdlog::error(
          "output '{}': {} alert(s) DROPPED as undeliverable: {} answered HTTP {} "
          "(not retried: the receiver refuses the request itself); alert ids: {}{}",
          name_, o.seqs.size(), cfg_.url, status, ids, suppressed_note(suppressed));
    }
  }
  if (const int err = spool_.mark_done(finished); err != 0) {
    std::uint64_t suppressed = 0;
    if (log_limit_.allow("spool_done", steady_us(), suppressed))
      spdlog::warn(
          "output '{}': cannot record deliveries in the spool '{}': {}; those alerts "
          "would be sent again after a restart{}",
          name_, spool_.path(), std::strerror(err), suppressed_note(suppressed));
  }
  update_gauges();
}

void http_output::poll() {
  take_outcomes();
}

bool http_output::flush(std::chrono::milliseconds timeout) {
  const auto deadline = steady::now() + timeout;
  take_outcomes();
  while (!pending_.empty()) {
    const auto now = steady::now();
    if (now >= deadline) return false;
    {
      std::unique_lock lk(mu_);
      done_cv_.wait_until(lk, std::min(deadline, now + std::chrono::milliseconds(100)),
                          [this] { return !outbox_.empty(); });
    }
    take_outcomes();
  }
  return true;
}

void http_output::update_gauges() {
  pending_gauge_.set(static_cast<double>(pending_.size()));
  spool_gauge_.set(static_cast<double>(spool_.size_bytes()));
}

void http_output::io_main() {
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
  const std::size_t per_request = cfg_.batch == http_batch::one ? 1 : cfg_.max_batch;

  // One request on the current (or a new) connection.
  const auto attempt = [&](const http::request<http::string_body>& req) -> attempt_result {
    attempt_result r;
    const bool reused = c.open;
    if (!c.open) {
      const auto deadline = steady::now() + ms(cfg_.connect_timeout);
      bool done = false;
      beast::error_code ec;
      tcp::resolver::results_type endpoints;
      c.resolver.async_resolve(url_.host, url_.port,
                               [&](beast::error_code e, tcp::resolver::results_type res) {
                                 ec = e;
                                 endpoints = std::move(res);
                                 done = true;
                               });
      if (!c.run_until(done, deadline)) {
        r.kind = c.stopping ? attempt_result::stopped : attempt_result::retry;
        r.reason = "timeout";
        r.detail = "resolving " + url_.host + " timed out";
        return r;
      }
      if (ec) {
        r.reason = "resolve";
        r.detail = "cannot resolve " + url_.host + ": " + ec.message();
        return r;
      }
      if (c.tls)
        c.secure.emplace(c.ioc, *c.tls);
      else
        c.plain.emplace(c.ioc);
      done = false;
      c.lowest().async_connect(endpoints, [&](beast::error_code e, const tcp::endpoint&) {
        ec = e;
        done = true;
      });
      if (!c.run_until(done, deadline)) {
        r.kind = c.stopping ? attempt_result::stopped : attempt_result::retry;
        r.reason = "timeout";
        r.detail = "connecting to " + url_.host + ":" + url_.port + " timed out";
        return r;
      }
      if (ec) {
        c.close();
        r.reason = "connect";
        r.detail = "cannot connect to " + url_.host + ":" + url_.port + ": " + ec.message();
        return r;
      }
      if (c.secure) {
        // SNI carries host names only (RFC 6066 §3), never an address literal.
        beast::error_code not_ip;
        asio::ip::make_address(c.server_name, not_ip);
        if (not_ip && !SSL_set_tlsext_host_name(c.secure->native_handle(), c.server_name.c_str())) {
          c.close();
          r.reason = "tls";
          r.detail = "cannot set the TLS server name '" + c.server_name + "'";
          return r;
        }
        done = false;
        c.secure->async_handshake(ssl::stream_base::client, [&](beast::error_code e) {
          ec = e;
          done = true;
        });
        if (!c.run_until(done, deadline)) {
          r.kind = c.stopping ? attempt_result::stopped : attempt_result::retry;
          r.reason = "timeout";
          r.detail = "TLS handshake with " + url_.host + ":" + url_.port + " timed out";
          return r;
        }
        if (ec) {
          std::string why = ec.message();
          const long verify = SSL_get_verify_result(c.secure->native_handle());
          if (verify != X509_V_OK)
            why += std::string(" (certificate: ") + X509_verify_cert_error_string(verify) + ")";
          c.close();
          r.reason = "tls";
          r.detail = "TLS handshake with " + url_.host + ":" + url_.port + " failed: " + why;
          return r;
        }
      }
      c.open = true;
    }

    const auto deadline = steady::now() + ms(cfg_.request_timeout);
    bool done = false;
    beast::error_code ec;
    http::response_parser<http::string_body> parser;
    parser.body_limit(max_response_body);
    const auto on_write = [&](beast::error_code e, std::size_t) {
      ec = e;
      done = true;
    };
    if (c.secure)
      http::async_write(*c.secure, req, on_write);
    else
      http::async_write(*c.plain, req, on_write);
    bool wrote = c.run_until(done, deadline);
    bool got_bytes = false;
    if (wrote && !ec) {
      done = false;
      const auto on_read = [&](beast::error_code e, std::size_t n) {
        ec = e;
        got_bytes = n > 0;
        done = true;
      };
      if (c.secure)
        http::async_read(*c.secure, c.buffer, parser, on_read);
      else
        http::async_read(*c.plain, c.buffer, parser, on_read);
      wrote = c.run_until(done, deadline);
    }
    if (!wrote) {
      r.kind = c.stopping ? attempt_result::stopped : attempt_result::retry;
      r.reason = "timeout";
      r.detail = "no complete answer from " + url_.host + ":" + url_.port + " within " +
                 format_duration(cfg_.request_timeout);
      return r;
    }
    if (ec) {
      c.close();
      // A kept-alive connection the server closed meanwhile: not a failure of the receiver.
      const bool stale = reused && !got_bytes &&
                         (ec == http::error::end_of_stream || ec == asio::error::eof ||
                          ec == asio::error::connection_reset || ec == asio::error::broken_pipe);
      r.reason = stale ? "stale" : (ec == http::error::body_limit ? "response" : "io");
      r.detail = "request to " + url_.host + ":" + url_.port + " failed: " + ec.message();
      return r;
    }
    const auto& res = parser.get();
    r.status = res.result_int();
    if (!res.keep_alive()) c.close();
    if (r.status >= 200 && r.status < 300) {
      r.kind = attempt_result::delivered;
      return r;
    }
    r.reason = "http_" + std::to_string(r.status);
    r.detail = "HTTP " + std::to_string(r.status) + " " + std::string(res.reason()) + ": " +
               snippet(res.body());
    if (const auto it = res.find(http::field::retry_after); it != res.end())
      r.retry_after = parse_retry_after(std::string_view(it->value().data(), it->value().size()),
                                        std::chrono::system_clock::now());
    r.kind = status_final(r.status) ? attempt_result::rejected : attempt_result::retry;
    return r;
  };

  for (;;) {
    std::vector<job> batch;
    {
      std::unique_lock lk(mu_);
      io_cv_.wait(lk, [this] { return stop_ || !inbox_.empty(); });
      if (stop_) break;
      std::size_t bytes = 0;
      while (!inbox_.empty() && batch.size() < per_request &&
             (batch.empty() || bytes + inbox_.front().element.size() <= max_body_bytes)) {
        bytes += inbox_.front().element.size() + 1;
        batch.push_back(std::move(inbox_.front()));
        inbox_.pop_front();
      }
    }
    std::vector<std::string_view> elements, ids;
    for (const job& j : batch) {
      elements.push_back(j.element);
      ids.push_back(j.alert_id);
    }
    http::request<http::string_body> req{http::verb::post, url_.target, 11};
    req.set(http::field::host, url_.host_header);
    req.set(http::field::user_agent, "portscand");
    req.set(http::field::content_type, std::string(http_content_type(cfg_.preset, cfg_.batch)));
    req.set("Idempotency-Key", http_idempotency_key(ids));
    if (cfg_.preset == http_preset::thehive)
      req.set(http::field::authorization, "Bearer " + cfg_.token);
    if (cfg_.preset == http_preset::splunk_hec)
      req.set(http::field::authorization, "Splunk " + cfg_.token);
    if (cfg_.preset == http_preset::webhook && !cfg_.token.empty())
      req.set(http::field::authorization, "Bearer " + cfg_.token);
    for (const auto& [key, value] : cfg_.headers) req.set(key, value);
    req.keep_alive(true);
    req.body() = http_body(cfg_.batch, elements);
    req.prepare_payload();

    std::uint32_t failures = 0;
    for (;;) {
      attempt_result r = attempt(req);
      if (r.kind == attempt_result::retry && r.reason == "stale") r = attempt(req);  // at once
      if (r.kind == attempt_result::stopped) return;
      if (r.kind == attempt_result::delivered || r.kind == attempt_result::rejected) {
        outcome o;
        for (const job& j : batch) {
          o.seqs.push_back(j.seq);
          o.alert_ids.push_back(j.alert_id);
        }
        if (r.kind == attempt_result::rejected) {
          count_failure(r.reason);
          o.rejected_status = r.status;
          std::uint64_t suppressed = 0;
          if (log_limit.allow(r.reason, steady_us(), suppressed))
            spdlog::error("output '{}': {} refused the request: {}{}", name_, cfg_.url, r.detail,
                          suppressed_note(suppressed));
        } else if (failing_.load()) {
          spdlog::info("output '{}': delivery to {} works again after {} failed attempt(s)", name_,
                       cfg_.url, failures);
          failing_.store(false, std::memory_order_release);
        }
        {
          std::lock_guard lk(mu_);
          outbox_.push_back(std::move(o));
        }
        done_cv_.notify_all();
        break;
      }
      ++failures;
      failing_.store(true, std::memory_order_release);
      if (r.reason == "stale") r.reason = "io";
      count_failure(r.reason);
      std::chrono::milliseconds delay = full_jitter_backoff(
          ms(cfg_.retry_backoff_min), ms(cfg_.retry_backoff_max), failures, rng());
      // Retry-After is a floor (the receiver asked for at least that long), capped by
      // retry_after_max so that a wild value cannot park the output for a day.
      if (r.retry_after)
        delay = std::min<std::chrono::milliseconds>(
            std::max<std::chrono::milliseconds>(*r.retry_after, delay), ms(cfg_.retry_after_max));
      std::uint64_t suppressed = 0;
      if (log_limit.allow(r.reason, steady_us(), suppressed))
        spdlog::warn(
            "output '{}': {} ({}); {} alert(s) in this request, attempt {} failed, "
            "retrying in {} ms{}{}",
            name_, r.detail, r.reason, batch.size(), failures, delay.count(),
            r.retry_after ? " (Retry-After)" : "", suppressed_note(suppressed));
      std::unique_lock lk(mu_);
      if (io_cv_.wait_for(lk, delay, [this] { return stop_; })) return;
    }
  }
}

std::vector<config_problem> check_http_tls_files(const http_output_config& cfg,
                                                 const std::string& path) {
  if (cfg.url.rfind("https://", 0) != 0) return {};
  return check_tls_client_files(cfg, path);
}

}  // namespace portscand
