#include "runtime/metrics_server.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <optional>
#include <stdexcept>
#include <vector>

#include "config/listen_address.hpp"
#include "core/thread_guard.hpp"

namespace portscand {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using steady = std::chrono::steady_clock;

namespace {

// What every connection needs from the server. Only the server's thread touches it.
struct endpoint {
  metrics_registry& metrics;
  std::function<std::string()> ready;
  metrics_server_limits limits;
  counter& evicted;
  // Timeouts by phase: `idle` is a client that sent nothing (also a kept-alive connection
  // its client has not reused, which is normal for Prometheus), `read` a request that did
  // not arrive whole in time, `write` a response the client did not take in time.
  counter& idle_timeouts;
  counter& read_timeouts;
  counter& write_timeouts;

  endpoint(metrics_registry& m, std::function<std::string()> r, metrics_server_limits l)
      : metrics(m),
        ready(std::move(r)),
        limits(l),
        evicted(m.get_counter("portscand_metrics_connections_evicted_total",
                              "Connections to the metrics endpoint closed to admit a new one "
                              "at the connection limit.")),
        idle_timeouts(timeouts(m, "idle")),
        read_timeouts(timeouts(m, "read")),
        write_timeouts(timeouts(m, "write")) {}

  static counter& timeouts(metrics_registry& m, const char* phase) {
    return m.get_counter("portscand_metrics_connection_timeouts_total",
                         "Connections to the metrics endpoint closed at a deadline, by phase.",
                         {{"phase", phase}});
  }

  http::response<http::string_body> respond(const http::request<http::empty_body>& req) const {
    http::response<http::string_body> res;
    res.version(req.version());
    res.keep_alive(req.keep_alive());
    res.set(http::field::server, "portscand");
    const std::string_view target(req.target().data(), req.target().size());
    const std::string_view path = target.substr(0, target.find('?'));
    const bool head = req.method() == http::verb::head;
    if (req.method() != http::verb::get && !head) {
      res.result(http::status::method_not_allowed);
      res.set(http::field::allow, "GET, HEAD");
      res.body() = "GET only\n";
    } else if (path == "/metrics") {
      res.result(http::status::ok);
      res.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
      res.body() = metrics.render();
    } else if (path == "/healthz") {
      res.result(http::status::ok);
      res.body() = "ok\n";
    } else if (path == "/readyz") {
      const std::string why = ready ? ready() : std::string();
      res.result(why.empty() ? http::status::ok : http::status::service_unavailable);
      res.body() = why.empty() ? "ready\n" : why + "\n";
    } else {
      res.result(http::status::not_found);
      res.body() = "not found: try /metrics, /healthz or /readyz\n";
    }
    if (res.find(http::field::content_type) == res.end())
      res.set(http::field::content_type, "text/plain; charset=utf-8");
    res.prepare_payload();
    // A HEAD answer carries the GET answer's Content-Length and no body: a body would be
    // read as the start of the next response on a kept-alive connection.
    if (head) res.body().clear();
    return res;
  }
};

// One connection: read a request, answer it, and again while the client keeps it alive.
// Handlers hold a shared_ptr, so the session lives exactly as long as an operation is
// pending; its destructor must not touch the server (it may run while the io_context is
// destroyed).
class session : public std::enable_shared_from_this<session> {
 public:
  session(tcp::socket socket, const endpoint& ep) : stream_(std::move(socket)), ep_(ep) {}

  void start() { read_request(); }

  // Eviction and stop(): the pending operation completes with operation_aborted, its
  // handler returns, and the last reference goes. The client sees the connection close.
  void close() {
    closed_ = true;
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.close();
  }

  bool waiting_for_request() const noexcept { return reading_; }
  steady::time_point waiting_since() const noexcept { return waiting_since_; }

 private:
  void read_request() {
    reading_ = true;
    waiting_since_ = steady::now();
    parser_.emplace();
    parser_->header_limit(8192);
    // One deadline for the whole request, idle time included: a client that trickles a
    // byte at a time cannot extend it.
    stream_.expires_after(ep_.limits.read_timeout);
    http::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    if (ec == beast::error::timeout) {  // tcp_stream has closed the socket
      const bool partial = buffer_.size() > 0 || parser_->got_some();
      (partial ? ep_.read_timeouts : ep_.idle_timeouts).inc();
      return;
    }
    // End of stream, a reset, a malformed or oversized request, eviction, stop(): nothing to
    // answer, and dropping the last reference closes the socket.
    if (ec || closed_) return;
    reading_ = false;
    response_ = ep_.respond(parser_->get());
    stream_.expires_after(ep_.limits.write_timeout);
    http::async_write(
        stream_, response_,
        [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_write(ec); });
  }

  void on_write(beast::error_code ec) {
    if (ec == beast::error::timeout) {
      ep_.write_timeouts.inc();
      return;
    }
    if (ec || closed_) return;
    if (!response_.keep_alive()) {
      stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
      return;
    }
    read_request();
  }

  beast::tcp_stream stream_;
  const endpoint& ep_;
  // The argument is the buffer's limit: a request is a few hundred bytes, and a client that
  // sends more than 8 KiB of header is cut off (header_limit) rather than buffered.
  beast::flat_buffer buffer_{8192};
  std::optional<http::request_parser<http::empty_body>> parser_;
  http::response<http::string_body> response_;
  bool reading_ = false;
  bool closed_ = false;
  steady::time_point waiting_since_;
};

}  // namespace

struct metrics_server::impl {
  // First member, so it is destroyed last: its destructor destroys the handlers still
  // pending after stop(), and with them the sessions.
  asio::io_context io;
  tcp::acceptor acceptor{io};
  asio::steady_timer accept_retry{io};
  endpoint ep;
  // Open connections, for the limit and eviction; an entry expires when its session ends.
  std::vector<std::weak_ptr<session>> sessions;
  bool stopping = false;
  std::thread thread;

  impl(metrics_registry& m, std::function<std::string()> r, metrics_server_limits l)
      : ep(m, std::move(r), l) {}

  void accept() {
    acceptor.async_accept([this](beast::error_code ec, tcp::socket socket) {
      if (stopping || ec == asio::error::operation_aborted) return;
      if (!ec) {
        admit(std::move(socket));
        accept();
        return;
      }
      // Out of file descriptors or similar: accepting again at once would spin the thread.
      spdlog::warn("metrics endpoint: accept failed: {}", ec.message());
      accept_retry.expires_after(std::chrono::milliseconds(100));
      accept_retry.async_wait([this](beast::error_code wait_ec) {
        if (!wait_ec && !stopping) accept();
      });
    });
  }

  void admit(tcp::socket socket) {
    std::erase_if(sessions, [](const std::weak_ptr<session>& s) { return s.expired(); });
    if (sessions.size() >= ep.limits.max_connections) evict_one();
    auto s = std::make_shared<session>(std::move(socket), ep);
    sessions.push_back(s);
    s->start();
  }

  // The connection that has waited longest for a request; one being answered only when
  // every connection is (its write deadline bounds it anyway, and the newcomer is served).
  void evict_one() {
    auto victim = sessions.end();
    std::shared_ptr<session> chosen;
    for (auto it = sessions.begin(); it != sessions.end(); ++it) {
      auto s = it->lock();
      if (!s) continue;
      if (!chosen || better_victim(*s, *chosen)) {
        chosen = std::move(s);
        victim = it;
      }
    }
    if (!chosen) return;
    chosen->close();
    sessions.erase(victim);
    ep.evicted.inc();
  }

  static bool better_victim(const session& a, const session& b) {
    if (a.waiting_for_request() != b.waiting_for_request()) return a.waiting_for_request();
    return a.waiting_since() < b.waiting_since();
  }

  void shutdown() {
    stopping = true;
    beast::error_code ec;
    acceptor.close(ec);
    accept_retry.cancel();
    for (auto& w : sessions)
      if (auto s = w.lock()) s->close();
    sessions.clear();
    // The aborted handlers need not run: they would only drop their sessions, which the
    // io_context's destructor does as well.
    io.stop();
  }
};

metrics_server::metrics_server(const std::string& listen, metrics_registry& metrics,
                               std::function<std::string()> ready, metrics_server_limits limits)
    : impl_(std::make_unique<impl>(metrics, std::move(ready), limits)) {
  if (limits.max_connections == 0)
    throw std::invalid_argument("metrics server: max_connections is 0");
  // The same parser as configuration validation: check-config refuses what this refuses.
  auto parsed = parse_metrics_listen(listen);
  if (!parsed) throw std::runtime_error("metrics.listen " + parsed.err().message);
  beast::error_code ec;
  const auto address = asio::ip::make_address(parsed->host, ec);
  if (ec) throw std::runtime_error("metrics.listen '" + listen + "': bad address");
  const tcp::endpoint ep(address, parsed->port);
  impl_->acceptor.open(ep.protocol(), ec);
  if (!ec) impl_->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) impl_->acceptor.bind(ep, ec);
  if (!ec) impl_->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) throw std::runtime_error("metrics endpoint " + listen + ": " + ec.message());
  port_ = impl_->acceptor.local_endpoint().port();
  impl_->accept();
  impl_->thread = std::thread(guarded("metrics", [this] { impl_->io.run(); }));
}

metrics_server::~metrics_server() {
  stop();
}

void metrics_server::stop() {
  if (!impl_ || !impl_->thread.joinable()) return;
  asio::post(impl_->io, [this] { impl_->shutdown(); });
  impl_->thread.join();
}

}  // namespace portscand
