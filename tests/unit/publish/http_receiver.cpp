#include "publish/http_receiver.hpp"

#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cctype>
#include <optional>
#include <set>
#include <stdexcept>

namespace portscand::test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

struct http_receiver::impl {
  asio::io_context ioc;
  std::optional<ssl::context> tls;
  std::unique_ptr<tcp::acceptor> acceptor;
  std::uint16_t port = 0;

  mutable std::mutex mu;
  mutable std::condition_variable cv;
  std::vector<recorded_request> requests;
  std::function<planned_answer(const recorded_request&, std::size_t)> planner;
  std::set<int> open_fds;
  std::size_t failed_handshakes = 0;
  std::size_t connections_accepted = 0;
  std::size_t arrived = 0;  // requests read so far (a delayed one is recorded when answered)
  bool refusing = false;
  bool stopping = false;
  std::vector<std::thread> connections;
  std::thread accept_thread;

  void listen() {
    auto a = std::make_unique<tcp::acceptor>(ioc);
    const tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), port);
    a->open(ep.protocol());
    a->set_option(asio::socket_base::reuse_address(true));
    a->bind(ep);
    a->listen();
    a->non_blocking(true);
    port = a->local_endpoint().port();
    acceptor = std::move(a);
  }

  void accept_loop() {
    for (;;) {
      int fd = -1;
      {
        std::lock_guard lk(mu);
        if (stopping) return;
        if (!refusing && acceptor) fd = acceptor->native_handle();
      }
      if (fd < 0) {
        std::unique_lock lk(mu);
        cv.wait_for(lk, std::chrono::milliseconds(20));
        continue;
      }
      pollfd pfd{fd, POLLIN, 0};
      if (::poll(&pfd, 1, 20) <= 0) continue;
      beast::error_code ec;
      tcp::socket s(ioc);
      {
        std::lock_guard lk(mu);
        if (stopping || refusing || !acceptor) {
          continue;
        }
        acceptor->accept(s, ec);
      }
      if (ec) continue;
      std::lock_guard lk(mu);
      connections.emplace_back([this, sock = std::move(s)]() mutable { serve(std::move(sock)); });
    }
  }

  template <class Stream>
  void exchange(Stream& stream, std::size_t connection, const std::string& sni) {
    beast::flat_buffer buffer;
    for (;;) {
      http::request<http::string_body> req;
      beast::error_code ec;
      http::read(stream, buffer, req, ec);
      if (ec) return;
      recorded_request r;
      r.method = std::string(req.method_string());
      r.target = std::string(req.target());
      for (const auto& f : req) {
        std::string name(f.name_string());
        std::transform(name.begin(), name.end(), name.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        r.headers[name] = std::string(f.value());
      }
      r.body = req.body();
      r.connection = connection;
      r.sni = sni;
      planned_answer a;
      std::size_t index = 0;
      {
        std::lock_guard lk(mu);
        index = arrived++;
        if (planner) a = planner(r, index);
      }
      if (a.delay.count() > 0) {
        std::unique_lock lk(mu);
        if (cv.wait_for(lk, a.delay, [this] { return stopping || refusing; })) return;
      }
      r.answered = a.status;
      http::response<http::string_body> res{static_cast<http::status>(a.status), 11};
      res.set(http::field::content_type, "application/json");
      if (!a.retry_after.empty()) res.set(http::field::retry_after, a.retry_after);
      res.keep_alive(req.keep_alive());
      res.body() = a.body;
      res.prepare_payload();
      {
        // Recorded before the answer leaves: a test that saw the output confirm an alert
        // finds its request here.
        std::lock_guard lk(mu);
        requests.push_back(std::move(r));
      }
      cv.notify_all();
      http::write(stream, res, ec);
      if (ec || !res.keep_alive()) return;
    }
  }

  void serve(tcp::socket sock) {
    const int fd = sock.native_handle();
    std::size_t connection = 0;
    {
      std::lock_guard lk(mu);
      if (stopping || refusing) return;
      open_fds.insert(fd);
      connection = ++connections_accepted;
    }
    if (tls) {
      ssl::stream<tcp::socket> stream(std::move(sock), *tls);
      beast::error_code ec;
      stream.handshake(ssl::stream_base::server, ec);
      if (ec) {
        std::lock_guard lk(mu);
        ++failed_handshakes;
        cv.notify_all();
      } else {
        const char* name = SSL_get_servername(stream.native_handle(), TLSEXT_NAMETYPE_host_name);
        exchange(stream, connection, name != nullptr ? name : "");
      }
      std::lock_guard lk(mu);
      open_fds.erase(fd);
      beast::error_code ignored;
      stream.next_layer().close(ignored);
    } else {
      exchange(sock, connection, "");
      std::lock_guard lk(mu);
      open_fds.erase(fd);
      beast::error_code ignored;
      sock.close(ignored);
    }
  }

  // Under mu: ends every connection's blocking read.
  void shutdown_connections() {
    for (int fd : open_fds) ::shutdown(fd, SHUT_RDWR);
  }
};

http_receiver::http_receiver(receiver_tls tls) : p_(std::make_unique<impl>()) {
  if (!tls.cert_path.empty()) {
    ssl::context& ctx = p_->tls.emplace(ssl::context::tls_server);
    ctx.use_certificate_chain_file(tls.cert_path);
    ctx.use_private_key_file(tls.key_path, ssl::context::pem);
    if (!tls.client_ca_path.empty()) {
      ctx.load_verify_file(tls.client_ca_path);
      ctx.set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
    }
  }
  p_->listen();
  port_ = p_->port;
  p_->accept_thread = std::thread([this] { p_->accept_loop(); });
}

http_receiver::~http_receiver() {
  {
    std::lock_guard lk(p_->mu);
    p_->stopping = true;
    p_->shutdown_connections();
  }
  p_->cv.notify_all();
  p_->accept_thread.join();
  std::vector<std::thread> threads;
  {
    std::lock_guard lk(p_->mu);
    threads.swap(p_->connections);
  }
  for (auto& t : threads) t.join();
}

std::string http_receiver::url(const std::string& path) const {
  return std::string(p_->tls ? "https" : "http") + "://127.0.0.1:" + std::to_string(port_) + path;
}

void http_receiver::plan(std::function<planned_answer(const recorded_request&, std::size_t)> f) {
  std::lock_guard lk(p_->mu);
  p_->planner = std::move(f);
}

void http_receiver::refuse() {
  std::lock_guard lk(p_->mu);
  p_->refusing = true;
  p_->acceptor.reset();  // closes the listening socket: connections are refused
  p_->shutdown_connections();
  p_->cv.notify_all();
}

void http_receiver::resume() {
  std::lock_guard lk(p_->mu);
  p_->listen();
  p_->refusing = false;
  p_->cv.notify_all();
}

std::vector<recorded_request> http_receiver::requests() const {
  std::lock_guard lk(p_->mu);
  return p_->requests;
}

std::size_t http_receiver::request_count() const {
  std::lock_guard lk(p_->mu);
  return p_->requests.size();
}

std::size_t http_receiver::failed_handshakes() const {
  std::lock_guard lk(p_->mu);
  return p_->failed_handshakes;
}

bool http_receiver::wait_for(const std::function<bool(const std::vector<recorded_request>&)>& pred,
                             std::chrono::milliseconds timeout) const {
  std::unique_lock lk(p_->mu);
  return p_->cv.wait_for(lk, timeout, [&] { return pred(p_->requests); });
}

}  // namespace portscand::test
