#pragma once

// A local HTTP(S) receiver for the HTTP output's tests, built on Beast: it records every
// request and answers as the test tells it (a status, Retry-After, a delay), and it can stop
// accepting connections (connection refused) and accept again on the same port. With a
// certificate and key it speaks TLS only; with a CA it also demands a client certificate.
// Every wait is bounded, so a broken output fails a test instead of hanging it.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace portscand::test {

struct recorded_request {
  std::string method;
  std::string target;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
  unsigned answered = 0;       // the status it got
  std::size_t connection = 0;  // which accepted connection carried it (counts from 1)
  std::string sni;             // the TLS server name the client sent ("" = none or plain)
  std::string header(const std::string& lower_name) const {
    const auto it = headers.find(lower_name);
    return it == headers.end() ? std::string() : it->second;
  }
};

struct planned_answer {
  unsigned status = 200;
  std::string retry_after;  // "" = no header
  std::chrono::milliseconds delay{0};
  std::string body = "{}";
};

struct receiver_tls {
  std::string cert_path, key_path;
  std::string client_ca_path;  // "" = no client certificate asked for
};

class http_receiver {
 public:
  // Listens on 127.0.0.1 on a free port; TLS when `tls` has a certificate.
  explicit http_receiver(receiver_tls tls = {});
  ~http_receiver();
  http_receiver(const http_receiver&) = delete;
  http_receiver& operator=(const http_receiver&) = delete;

  std::uint16_t port() const { return port_; }
  std::string url(const std::string& path = "/hook") const;

  // Decides the answer to each request; index counts requests as they arrive, from 0 over
  // the receiver's life. A request is recorded when it is answered.
  // Default: 200.
  void plan(std::function<planned_answer(const recorded_request&, std::size_t index)> f);
  // Closes the listening socket (connection refused) and every open connection; resume()
  // listens again on the same port.
  void refuse();
  void resume();

  std::vector<recorded_request> requests() const;
  std::size_t request_count() const;
  // Waits until pred(requests) holds; false on timeout.
  bool wait_for(const std::function<bool(const std::vector<recorded_request>&)>& pred,
                std::chrono::milliseconds timeout = std::chrono::seconds(10)) const;
  // TLS handshakes that failed on the server side.
  std::size_t failed_handshakes() const;

 private:
  struct impl;
  std::unique_ptr<impl> p_;
  std::uint16_t port_ = 0;
};

}  // namespace portscand::test
