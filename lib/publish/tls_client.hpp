#pragma once

// The TLS client side shared by the outputs that open their own connections (http, syslog):
// one way to build the context from an output's `tls:` settings, one way to check its files.

#include <spdlog/spdlog.h>

#include <boost/asio/ssl.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "config/config.hpp"

namespace portscand {

// Sets up `ctx` (a tls_client context) for an output's `tls:` settings (a config with
// ca_file, client_cert, client_key, server_name and tls_verify): TLS 1.2 or newer, the CA
// file or else the system's CAs, the client certificate and key for mutual TLS, and peer
// verification against `server_name` (else `host`), which it returns (also the SNI name).
// Throws std::runtime_error naming the output and the file that cannot be loaded.
template <class Settings>
std::string setup_tls_client(boost::asio::ssl::context& ctx, const Settings& cfg,
                             const std::string& output, const std::string& host) {
  namespace ssl = boost::asio::ssl;
  ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                  ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
  boost::system::error_code ec;
  const auto load = [&](const char* what, const std::string& path) {
    if (ec)
      throw std::runtime_error("output '" + output + "': cannot load " + what + " '" + path +
                               "': " + ec.message());
  };
  if (cfg.ca_file.empty()) {
    ctx.set_default_verify_paths(ec);
    load("the system CA certificates", "default paths");
  } else {
    ctx.load_verify_file(cfg.ca_file, ec);
    load("tls.ca_file", cfg.ca_file);
  }
  if (!cfg.client_cert.empty()) {
    ctx.use_certificate_chain_file(cfg.client_cert, ec);
    load("tls.client_cert", cfg.client_cert);
    ctx.use_private_key_file(cfg.client_key, ssl::context::pem, ec);
    load("tls.client_key", cfg.client_key);
  }
  std::string server_name = cfg.server_name.empty() ? host : cfg.server_name;
  if (cfg.tls_verify) {
    ctx.set_verify_mode(ssl::verify_peer);
    ctx.set_verify_callback(ssl::host_name_verification(server_name));
  } else {
    ctx.set_verify_mode(ssl::verify_none);
    spdlog::warn(
        "output '{}': TLS certificate verification is OFF (tls.verify: false); "
        "anyone on the path to {} can read and forge the alerts",
        output, host);
  }
  return server_name;
}

// Loads an output's CA file and client certificate and key as setup_tls_client does, and
// reports each one that fails at "<path>.tls.<key>" (startup checks, check-config).
template <class Settings>
std::vector<config_problem> check_tls_client_files(const Settings& cfg, const std::string& path) {
  namespace ssl = boost::asio::ssl;
  std::vector<config_problem> out;
  ssl::context ctx(ssl::context::tls_client);
  boost::system::error_code ec;
  if (!cfg.ca_file.empty()) {
    ctx.load_verify_file(cfg.ca_file, ec);
    if (ec)
      out.push_back({path + ".tls.ca_file",
                     "cannot load CA certificates from '" + cfg.ca_file + "': " + ec.message()});
  }
  if (!cfg.client_cert.empty()) {
    ctx.use_certificate_chain_file(cfg.client_cert, ec);
    if (ec)
      out.push_back(
          {path + ".tls.client_cert", "cannot load '" + cfg.client_cert + "': " + ec.message()});
    ec.clear();
    ctx.use_private_key_file(cfg.client_key, ssl::context::pem, ec);
    if (ec)
      out.push_back(
          {path + ".tls.client_key", "cannot load '" + cfg.client_key + "': " + ec.message()});
  }
  return out;
}

}  // namespace portscand
