#include "ingest_test_util.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace portscand::test {

// ---- collected -----------------------------------------------------------------------------

void collected::add(std::string_view unit, const unit_meta& meta) {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [this] { return !held_; });
  units_.emplace_back(unit);
  peers_.emplace_back(meta.peer);
  cv_.notify_all();
}

void collected::burst_end() {
  std::lock_guard lock(mu_);
  ++bursts_;
  if (units_before_first_end_ == SIZE_MAX) units_before_first_end_ = units_.size();
}

void collected::burst_continues() {
  std::lock_guard lock(mu_);
  ++bursts_;
}

std::size_t collected::units_before_first_end() const {
  std::lock_guard lock(mu_);
  return units_before_first_end_;
}

bool collected::wait_for_count(std::size_t n, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return units_.size() >= n; });
}

bool collected::wait_for_text(std::string_view text, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, timeout, [&] {
    for (const auto& u : units_)
      if (u.find(text) != std::string::npos) return true;
    return false;
  });
}

std::vector<std::string> collected::units() const {
  std::lock_guard lock(mu_);
  return units_;
}

std::vector<std::string> collected::peers() const {
  std::lock_guard lock(mu_);
  return peers_;
}

std::size_t collected::count_containing(std::string_view text) const {
  std::lock_guard lock(mu_);
  std::size_t n = 0;
  for (const auto& u : units_) n += u.find(text) != std::string::npos ? 1 : 0;
  return n;
}

std::size_t collected::bursts() const {
  std::lock_guard lock(mu_);
  return bursts_;
}

std::size_t collected::size() const {
  std::lock_guard lock(mu_);
  return units_.size();
}

void collected::hold() {
  std::lock_guard lock(mu_);
  held_ = true;
}

void collected::release() {
  std::lock_guard lock(mu_);
  held_ = false;
  cv_.notify_all();
}

// ---- files and processes -------------------------------------------------------------------

temp_dir::temp_dir() {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl =
      std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/portscand-ingest-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

temp_dir::~temp_dir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

void write_file(const std::string& path, std::string_view content) {
  std::ofstream out(path, std::ios::binary | std::ios::app);
  out << content;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string find_tool(std::string_view name) {
  std::string path = std::getenv("PATH") != nullptr ? std::getenv("PATH") : "";
  path += ":/usr/sbin:/sbin:/usr/bin:/bin";
  std::stringstream dirs(path);
  for (std::string dir; std::getline(dirs, dir, ':');) {
    if (dir.empty()) continue;
    const std::string candidate = dir + "/" + std::string(name);
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

namespace {

// posix_spawn is safe in a multi-threaded process (the listeners' io threads are running).
pid_t spawn(const std::vector<std::string>& argv, const std::string& output_path) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  const std::string out = output_path.empty() ? "/dev/null" : output_path;
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, args[0], &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  return rc == 0 ? pid : -1;
}

// Waits for `pid` up to `timeout`; the exit status, or -1 if it is still running.
int wait_for_exit(pid_t pid, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int status = 0;
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (r < 0) return -2;
    if (std::chrono::steady_clock::now() >= deadline) return -1;
    std::this_thread::sleep_for(10ms);
  }
}

}  // namespace

int run_command(const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
                const std::string& output_path) {
  const pid_t pid = spawn(argv, output_path);
  if (pid < 0) return -3;
  const int rc = wait_for_exit(pid, timeout);
  if (rc == -1) {
    ::kill(pid, SIGKILL);
    wait_for_exit(pid, 2s);
  }
  return rc;
}

child_process::child_process(const std::vector<std::string>& argv, const std::string& output_path)
    : pid_(spawn(argv, output_path)) {}

child_process::~child_process() {
  stop();
}

bool child_process::running() {
  if (pid_ < 0) return false;
  int status = 0;
  if (::waitpid(pid_, &status, WNOHANG) == pid_) {
    pid_ = -1;
    return false;
  }
  return true;
}

void child_process::stop() {
  if (pid_ < 0) return;
  ::kill(pid_, SIGTERM);
  if (wait_for_exit(pid_, 3s) == -1) {
    ::kill(pid_, SIGKILL);
    wait_for_exit(pid_, 3s);
  }
  pid_ = -1;
}

std::size_t raise_fd_limit(std::size_t n) {
  rlimit rl{};
  ::getrlimit(RLIMIT_NOFILE, &rl);
  if (rl.rlim_cur < n) {
    rl.rlim_cur = std::min<rlim_t>(n, rl.rlim_max);
    ::setrlimit(RLIMIT_NOFILE, &rl);
    ::getrlimit(RLIMIT_NOFILE, &rl);
  }
  return rl.rlim_cur;
}

// ---- PKI -----------------------------------------------------------------------------------

struct test_ca::state {
  EVP_PKEY* key = nullptr;
  X509* cert = nullptr;
};

namespace {

void add_ext(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (ext == nullptr) throw std::runtime_error("bad certificate extension");
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

X509* make_cert(EVP_PKEY* key, const std::string& cn, X509* issuer, EVP_PKEY* issuer_key,
                bool is_ca, long not_before_s, long not_after_s) {
  X509* cert = X509_new();
  X509_set_version(cert, 2);
  static std::mt19937_64 rng{std::random_device{}()};
  ASN1_INTEGER_set_uint64(X509_get_serialNumber(cert), rng() >> 1);
  X509_gmtime_adj(X509_getm_notBefore(cert), not_before_s);
  X509_gmtime_adj(X509_getm_notAfter(cert), not_after_s);
  X509_set_pubkey(cert, key);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509* signer = issuer != nullptr ? issuer : cert;
  X509_set_issuer_name(cert, X509_get_subject_name(signer));
  if (is_ca) {
    add_ext(cert, signer, NID_basic_constraints, "critical,CA:TRUE");
    add_ext(cert, signer, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    add_ext(cert, signer, NID_basic_constraints, "critical,CA:FALSE");
    add_ext(cert, signer, NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1");
    add_ext(cert, signer, NID_ext_key_usage, "serverAuth,clientAuth");
  }
  add_ext(cert, signer, NID_subject_key_identifier, "hash");
  X509_sign(cert, issuer_key != nullptr ? issuer_key : key, EVP_sha256());
  return cert;
}

void write_pem(const std::string& cert_path, const std::string& key_path, X509* cert,
               EVP_PKEY* key) {
  FILE* f = std::fopen(cert_path.c_str(), "wb");
  PEM_write_X509(f, cert);
  std::fclose(f);
  if (key_path.empty()) return;
  f = std::fopen(key_path.c_str(), "wb");
  PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
  std::fclose(f);
}

}  // namespace

test_ca::test_ca(const std::string& dir, const std::string& name) : s_(std::make_unique<state>()) {
  s_->key = EVP_EC_gen("P-256");
  s_->cert = make_cert(s_->key, name, nullptr, nullptr, true, -3600, 86400);
  cert_path_ = dir + "/" + name + ".pem";
  write_pem(cert_path_, "", s_->cert, s_->key);
}

test_ca::~test_ca() {
  X509_free(s_->cert);
  EVP_PKEY_free(s_->key);
}

pem_pair test_ca::issue(const std::string& dir, const std::string& name, long not_before_s,
                        long not_after_s) const {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* cert = make_cert(key, name, s_->cert, s_->key, false, not_before_s, not_after_s);
  pem_pair out{dir + "/" + name + ".pem", dir + "/" + name + ".key"};
  write_pem(out.cert_path, out.key_path, cert, key);
  X509_free(cert);
  EVP_PKEY_free(key);
  return out;
}

// ---- clients -------------------------------------------------------------------------------

bool send_udp(std::uint16_t port, std::string_view payload) {
  const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) return false;
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const ssize_t n = ::sendto(fd, payload.data(), payload.size(), 0,
                             reinterpret_cast<const sockaddr*>(&to), sizeof to);
  ::close(fd);
  return n == static_cast<ssize_t>(payload.size());
}

int connect_tcp(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&to), sizeof to) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

bool send_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

bool wait_for_close(int fd, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    char buf[256];
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) return true;
  }
}

bool send_tls(std::uint16_t port, const tls_client_options& opt, std::string_view bytes,
              std::string* error) {
  namespace asio = boost::asio;
  using boost::system::error_code;
  asio::io_context io;
  asio::ssl::context ctx(asio::ssl::context::tls_client);
  error_code ec;
  const auto fail = [&](const char* what) {
    if (error != nullptr) *error = std::string(what) + ": " + ec.message();
    return false;
  };
  if (!opt.ca_file.empty()) {
    ctx.load_verify_file(opt.ca_file, ec);
    if (ec) return fail("ca");
    ctx.set_verify_mode(asio::ssl::verify_peer);
  } else {
    ctx.set_verify_mode(asio::ssl::verify_none);
  }
  if (!opt.cert_file.empty()) {
    ctx.use_certificate_chain_file(opt.cert_file, ec);
    if (ec) return fail("certificate");
    ctx.use_private_key_file(opt.key_file, asio::ssl::context::pem, ec);
    if (ec) return fail("key");
  }
  asio::ssl::stream<asio::ip::tcp::socket> stream(io, ctx);
  stream.lowest_layer().connect(asio::ip::tcp::endpoint(asio::ip::address_v4::loopback(), port),
                                ec);
  if (ec) return fail("connect");
  stream.handshake(asio::ssl::stream_base::client, ec);
  if (ec) return fail("handshake");
  asio::write(stream, asio::buffer(bytes.data(), bytes.size()), ec);
  if (ec) return fail("write");
  // Under TLS 1.3 a rejected client certificate surfaces only here, as the server's alert.
  stream.shutdown(ec);
  if (ec && ec != asio::error::eof && ec != asio::ssl::error::stream_truncated)
    return fail("shutdown");
  return true;
}

}  // namespace portscand::test
