// notify_listener — the receiving end of sd_notify(3), for the readiness integration test.
//
//   notify_listener SOCKET_PATH [--timeout SECONDS]
//
// Binds an AF_UNIX datagram socket at SOCKET_PATH (what systemd does for NOTIFY_SOCKET) and
// writes every datagram it receives to stdout as one line, the message's newline-separated
// assignments joined by TABs ("READY=1\tSTATUS=running"), flushed at once so a script can
// follow the file. Stops on SIGTERM/SIGINT or after --timeout seconds (default 300: a test
// that forgets it must not leave it behind forever), removing the socket file.
//
// A C++ tool rather than python3 or socat: neither is guaranteed on a fresh Debian machine
// (deploy/install-deps.sh installs neither), and this is forty lines. Deliberately does not
// link lib/ or libsystemd: the test must observe the protocol, not share code with the sender.

#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

volatile sig_atomic_t stop_requested = 0;
void on_signal(int) {
  stop_requested = 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2 && !(argc == 4 && std::strcmp(argv[2], "--timeout") == 0)) {
    std::fprintf(stderr, "usage: notify_listener SOCKET_PATH [--timeout SECONDS]\n");
    return 2;
  }
  const std::string path = argv[1];
  const int timeout_s = argc == 4 ? std::atoi(argv[3]) : 300;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) {
    std::fprintf(stderr, "notify_listener: socket path too long (%zu bytes)\n", path.size());
    return 2;
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);

  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);

  const int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    std::fprintf(stderr, "notify_listener: cannot bind %s: %s\n", path.c_str(),
                 std::strerror(errno));
    return 1;
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  char buf[4096];
  while (stop_requested == 0 && std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 200) <= 0) continue;  // EINTR from the stop signal lands here too
    const ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n < 0) continue;
    std::string line(buf, static_cast<std::size_t>(n));
    while (!line.empty() && line.back() == '\n') line.pop_back();
    for (char& c : line)
      if (c == '\n') c = '\t';
    std::printf("%s\n", line.c_str());
    std::fflush(stdout);
  }
  close(fd);
  unlink(path.c_str());
  return 0;
}
