#include "runtime/metrics_server.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <stdexcept>

#include "core/thread_guard.hpp"
#include "config/listen_address.hpp"

namespace portscand {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

struct metrics_server::impl {
  asio::io_context io;
  tcp::acceptor acceptor{io};
  metrics_registry& metrics;
  std::function<std::string()> ready;
  std::thread thread;

  impl(metrics_registry& m, std::function<std::string()> r) : metrics(m), ready(std::move(r)) {}

  void accept() {
    acceptor.async_accept([this](beast::error_code ec, tcp::socket socket) {
      if (ec == asio::error::operation_aborted) return;
      if (!ec) serve(std::move(socket));
      accept();
    });
  }

  // Serves one connection synchronously with a short deadline: a slow or silent client
  // cannot hold the endpoint for long.
  void serve(tcp::socket socket) {
    beast::tcp_stream stream(std::move(socket));
    stream.expires_after(std::chrono::seconds(5));
    beast::flat_buffer buffer(8192);
    http::request_parser<http::empty_body> parser;
    parser.header_limit(8192);
    beast::error_code ec;
    http::read(stream, buffer, parser, ec);
    if (ec) return;
    const auto& req = parser.get();
    http::response<http::string_body> res;
    res.version(req.version());
    res.keep_alive(false);
    res.set(http::field::server, "portscand");
    const std::string target(req.target());
    const std::string path = target.substr(0, target.find('?'));
    if (req.method() != http::verb::get && req.method() != http::verb::head) {
      res.result(http::status::method_not_allowed);
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
    http::write(stream, res, ec);
    stream.socket().shutdown(tcp::socket::shutdown_both, ec);
  }
};

metrics_server::metrics_server(const std::string& listen, metrics_registry& metrics,
                               std::function<std::string()> ready)
    : impl_(std::make_unique<impl>(metrics, std::move(ready))) {
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
  if (!ec) impl_->acceptor.listen(16, ec);
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
  asio::post(impl_->io, [this] {
    beast::error_code ec;
    impl_->acceptor.close(ec);
  });
  impl_->io.stop();
  impl_->thread.join();
}

}  // namespace portscand
