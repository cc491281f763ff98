#pragma once

// Helpers of the syslog listener tests: a collecting sink, temporary directories, child
// processes with time limits, test certificates and small socket clients. Every wait is
// bounded so that a broken listener fails a test instead of hanging ctest.

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "ingest/unit_sink.hpp"

namespace portscand::test {

using namespace std::chrono_literals;

// What a listener delivered. Shared between the sink (io thread) and the test thread.
class collected {
 public:
  void add(std::string_view unit, const unit_meta& meta);
  void burst_end();
  void burst_continues();
  // Units received before the first on_burst_end() (not on_burst_continues()).
  std::size_t units_before_first_end() const;
  // Waits until at least n units arrived; false on timeout.
  bool wait_for_count(std::size_t n, std::chrono::milliseconds timeout = 5s);
  // Waits until a unit containing `text` arrived; false on timeout.
  bool wait_for_text(std::string_view text, std::chrono::milliseconds timeout = 5s);
  std::vector<std::string> units() const;
  std::vector<std::string> peers() const;
  std::size_t count_containing(std::string_view text) const;
  std::size_t bursts() const;
  std::size_t size() const;

  // While held, on_unit() blocks: a sink whose engine is behind.
  void hold();
  void release();

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> units_, peers_;
  std::size_t bursts_ = 0;
  std::size_t units_before_first_end_ = SIZE_MAX;
  bool held_ = false;
};

class collecting_sink final : public unit_sink {
 public:
  explicit collecting_sink(std::shared_ptr<collected> out) : out_(std::move(out)) {}
  void on_unit(std::string_view unit, const unit_meta& meta) override { out_->add(unit, meta); }
  void on_burst_end() override { out_->burst_end(); }
  void on_burst_continues() override { out_->burst_continues(); }

 private:
  std::shared_ptr<collected> out_;
};

// A fresh directory under $TMPDIR (or /tmp), removed with its contents on destruction.
class temp_dir {
 public:
  temp_dir();
  ~temp_dir();
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(std::string_view name) const { return path_ + "/" + std::string(name); }

 private:
  std::string path_;
};

void write_file(const std::string& path, std::string_view content);
std::string read_file(const std::string& path);

// The absolute path of an executable found in PATH or in /usr/sbin and /sbin; "" if none.
std::string find_tool(std::string_view name);

// Runs argv to completion with stdout and stderr to `output_path` (or /dev/null). Returns the
// exit status, or -1 when it had to be killed after `timeout`.
int run_command(const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
                const std::string& output_path = "");

// A child process killed (SIGTERM, then SIGKILL) and reaped when this goes away.
class child_process {
 public:
  child_process(const std::vector<std::string>& argv, const std::string& output_path);
  ~child_process();
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;
  pid_t pid() const { return pid_; }
  bool running();
  void stop();

 private:
  pid_t pid_ = -1;
};

// Raises the soft RLIMIT_NOFILE to at least `n` (up to the hard limit); returns the new limit.
std::size_t raise_fd_limit(std::size_t n);

// Test PKI built with the OpenSSL API: P-256 keys, certificates valid from `not_before_s` to
// `not_after_s` seconds relative to now (negative = the past), so an expired certificate
// needs no clock tricks.
struct pem_pair {
  std::string cert_path, key_path;
};
class test_ca {
 public:
  test_ca(const std::string& dir, const std::string& name);
  ~test_ca();
  const std::string& cert_path() const { return cert_path_; }
  // A leaf certificate for 127.0.0.1/localhost (server and client use).
  pem_pair issue(const std::string& dir, const std::string& name, long not_before_s = -3600,
                 long not_after_s = 86400) const;

 private:
  struct state;
  std::unique_ptr<state> s_;
  std::string cert_path_;
};

// Clients. Each returns false (with the reason in `error` when given) instead of throwing.
bool send_udp(std::uint16_t port, std::string_view payload);
// A connected TCP socket to 127.0.0.1:port (-1 on failure); the caller closes it.
int connect_tcp(std::uint16_t port);
bool send_all(int fd, std::string_view bytes);
// True when the peer closes the connection (EOF or reset) within `timeout`.
bool wait_for_close(int fd, std::chrono::milliseconds timeout);

struct tls_client_options {
  std::string ca_file;              // verify the server with it; "" = do not verify
  std::string cert_file, key_file;  // client certificate; "" = none
};
// Connects over TLS, sends `bytes`, closes with close_notify. False when the handshake or the
// write failed; a server that rejects the client certificate after a TLS 1.3 handshake is
// only seen by the server, so tests check the server's counters, not this result alone.
bool send_tls(std::uint16_t port, const tls_client_options& opt, std::string_view bytes,
              std::string* error = nullptr);

}  // namespace portscand::test
