// systemd socket activation: the helper process inherits pre-bound sockets on fd 3 and 4 with
// LISTEN_FDS/LISTEN_PID set (exactly what systemd does), and also runs under the real
// systemd-socket-activate. Its listeners must adopt the sockets whose type and port match and
// bind their own otherwise.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "ingest_test_util.hpp"

extern char** environ;

namespace portscand {
namespace {

using namespace std::chrono_literals;

// A socket bound to 127.0.0.1 on an ephemeral port (listening, for TCP).
int bound_socket(int type, std::uint16_t& port) {
  const int fd = ::socket(AF_INET, type, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return -1;
  if (type == SOCK_STREAM && ::listen(fd, 16) != 0) return -1;
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  port = ntohs(a.sin_port);
  return fd;
}

// Reads the helper's stdout line by line, with a deadline.
class line_reader {
 public:
  explicit line_reader(int fd) : fd_(fd) {}
  bool next(std::string& line, std::chrono::milliseconds timeout = 10s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      const std::size_t nl = buf_.find('\n');
      if (nl != std::string::npos) {
        line = buf_.substr(0, nl);
        buf_.erase(0, nl + 1);
        return true;
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      char chunk[4096];
      const ssize_t n = ::read(fd_, chunk, sizeof chunk);
      if (n <= 0) return false;
      buf_.append(chunk, static_cast<std::size_t>(n));
    }
  }

 private:
  int fd_;
  std::string buf_;
};

struct helper_run {
  pid_t pid = -1;
  int out = -1;
  ~helper_run() {
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
    if (out >= 0) ::close(out);
  }
  int wait_exit() {
    int status = 0;
    for (int i = 0; i < 1500; ++i) {  // 15 s
      if (::waitpid(pid, &status, WNOHANG) == pid) {
        pid = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(10ms);
    }
    return -1;
  }
};

// fork+exec with `inherited` on fds 3, 4, ... and LISTEN_FDS/LISTEN_PID naming the child,
// as systemd does. Only async-signal-safe calls happen between fork and exec.
void spawn_with_sockets(helper_run& run, const std::vector<std::string>& args,
                        const std::vector<int>& inherited) {
  int pipe_fds[2];
  ASSERT_EQ(::pipe2(pipe_fds, O_CLOEXEC), 0);
  // Move the sockets out of the way of 3, 4, ... first so that the dup2 calls in the child
  // cannot overwrite one another.
  std::vector<int> high;
  for (int fd : inherited) high.push_back(::fcntl(fd, F_DUPFD_CLOEXEC, 100));
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e)
    if (std::strncmp(*e, "LISTEN_", 7) != 0) env_strings.emplace_back(*e);
  if (!inherited.empty()) {
    env_strings.push_back("LISTEN_FDS=" + std::to_string(inherited.size()));
    env_strings.push_back("LISTEN_PID=                    ");  // the child writes its pid here
  }
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  char* pid_slot =
      inherited.empty() ? nullptr : env_strings.back().data() + std::strlen("LISTEN_PID=");
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);

  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::dup2(pipe_fds[1], 1);
    for (std::size_t i = 0; i < high.size(); ++i) ::dup2(high[i], 3 + static_cast<int>(i));
    if (pid_slot != nullptr) {
      char digits[20];
      int n = 0;
      for (pid_t p = ::getpid(); p > 0; p /= 10) digits[n++] = static_cast<char>('0' + p % 10);
      for (int i = 0; i < n; ++i) pid_slot[i] = digits[n - 1 - i];
      pid_slot[n] = '\0';
    }
    ::execve(argv[0], argv.data(), envp.data());
    ::_exit(127);
  }
  ::close(pipe_fds[1]);
  for (int fd : high) ::close(fd);
  run.pid = pid;
  run.out = pipe_fds[0];
}

TEST(syslog_socket_activation, inherited_udp_and_tcp_sockets_are_adopted_by_type_and_port) {
  std::uint16_t udp_port = 0, tcp_port = 0;
  const int udp_fd = bound_socket(SOCK_DGRAM, udp_port);
  const int tcp_fd = bound_socket(SOCK_STREAM, tcp_port);
  ASSERT_GE(udp_fd, 0);
  ASSERT_GE(tcp_fd, 0);
  const std::string udp_url = "udp://127.0.0.1:" + std::to_string(udp_port);
  const std::string tcp_url = "tcp://127.0.0.1:" + std::to_string(tcp_port);
  helper_run run;
  // Listed in the opposite order of the fds: matching is by type and port, not position. The
  // third listener has no inherited socket (port 0) and binds its own.
  spawn_with_sockets(run, {PORTSCAND_ACTIVATION_HELPER, "2", tcp_url, udp_url, "udp://127.0.0.1:0"},
                     {udp_fd, tcp_fd});
  if (HasFatalFailure()) return;
  ::close(udp_fd);  // only the child holds them now: a message can reach nobody else
  ::close(tcp_fd);

  line_reader out(run.out);
  std::string line;
  ASSERT_TRUE(out.next(line)) << "helper printed nothing";
  EXPECT_EQ(line, "listener " + tcp_url + " port " + std::to_string(tcp_port) + " activated 1");
  ASSERT_TRUE(out.next(line));
  EXPECT_EQ(line, "listener " + udp_url + " port " + std::to_string(udp_port) + " activated 1");
  ASSERT_TRUE(out.next(line));
  EXPECT_NE(line.find("udp://127.0.0.1:0 port "), std::string::npos) << line;
  EXPECT_EQ(line.find(" port 0 "), std::string::npos) << line;
  EXPECT_NE(line.find("activated 0"), std::string::npos) << line;
  ASSERT_TRUE(out.next(line));
  ASSERT_EQ(line, "ready");

  ASSERT_TRUE(test::send_udp(udp_port, "<13>through the inherited datagram socket"));
  const int c = test::connect_tcp(tcp_port);
  ASSERT_GE(c, 0);
  ASSERT_TRUE(test::send_all(c, "<13>through the inherited stream socket\n"));
  ::close(c);

  std::vector<std::string> units;
  while (out.next(line)) units.push_back(line);
  EXPECT_EQ(run.wait_exit(), 0);
  std::sort(units.begin(), units.end());
  EXPECT_EQ(units, (std::vector<std::string>{"unit <13>through the inherited datagram socket",
                                             "unit <13>through the inherited stream socket"}));
}

TEST(syslog_socket_activation, a_real_systemd_socket_activate_passes_a_datagram_socket) {
  const std::string activate = test::find_tool("systemd-socket-activate");
  ASSERT_FALSE(activate.empty())
      << "systemd-socket-activate not found: install the systemd package";
  // systemd-socket-activate binds the port itself: take a free one, and retry if another
  // process grabbed it in between (then systemd-socket-activate exits at once).
  for (int attempt = 0; attempt < 3; ++attempt) {
    std::uint16_t port = 0;
    const int probe = bound_socket(SOCK_DGRAM, port);
    ASSERT_GE(probe, 0);
    ::close(probe);
    const std::string url = "udp://127.0.0.1:" + std::to_string(port);
    helper_run run;
    spawn_with_sockets(run,
                       {activate, "--datagram", "-l", "127.0.0.1:" + std::to_string(port),
                        PORTSCAND_ACTIVATION_HELPER, "1", url},
                       {});
    if (HasFatalFailure()) return;
    // Like systemd, it starts the service on the first datagram; that datagram waits in the
    // socket and must be the first thing the listener reads. A datagram sent before the
    // socket exists is lost, so send until the helper starts.
    line_reader out(run.out);
    std::string line;
    bool started = false;
    for (int i = 0; i < 50 && !started; ++i) {
      ASSERT_TRUE(test::send_udp(port, "<13>via systemd-socket-activate"));
      started = out.next(line, 200ms);
      if (!started && ::waitpid(run.pid, nullptr, WNOHANG) == run.pid) {
        run.pid = -1;
        break;  // it could not bind: try another port
      }
    }
    if (!started) continue;
    EXPECT_EQ(line, "listener " + url + " port " + std::to_string(port) + " activated 1");
    ASSERT_TRUE(out.next(line));
    ASSERT_EQ(line, "ready");
    ASSERT_TRUE(out.next(line));
    EXPECT_EQ(line, "unit <13>via systemd-socket-activate");
    EXPECT_EQ(run.wait_exit(), 0);
    return;
  }
  FAIL() << "systemd-socket-activate never started the helper";
}

}  // namespace
}  // namespace portscand
