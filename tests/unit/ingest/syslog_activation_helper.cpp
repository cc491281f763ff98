// Child process of syslog_activation_test: runs one syslog_listener per argument the way the
// daemon would under systemd socket activation, and reports on stdout what it bound and what
// it received. Usage: syslog_activation_helper COUNT URL...
//   prints "listener URL port P activated 0|1" per URL, then "ready", then "unit TEXT" per
//   message; exits 0 after COUNT units, 1 after 10 s without them, 2 when a listener fails.
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/log.hpp"
#include "ingest/syslog_listener.hpp"
#include "ingest_test_util.hpp"

int main(int argc, char** argv) {
  using namespace portscand;
  if (argc < 3) return 2;
  init_logging("info");  // stderr: stdout is the protocol with the test
  const std::size_t want = std::strtoul(argv[1], nullptr, 10);
  auto units = std::make_shared<test::collected>();
  metrics_registry metrics;
  system_clock clk;
  std::vector<syslog_input_config> configs;
  std::vector<std::unique_ptr<syslog_listener>> listeners;
  for (int i = 2; i < argc; ++i) {
    syslog_input_config c;
    c.listen = argv[i];
    configs.push_back(c);
  }
  for (std::size_t i = 0; i < configs.size(); ++i) {
    listeners.push_back(std::make_unique<syslog_listener>(
        "activation-" + std::to_string(i), configs[i],
        [units] { return std::make_unique<test::collecting_sink>(units); }, metrics, clk));
    const status st = listeners.back()->start();
    if (!st.ok()) {
      std::printf("error %s\n", st.err().message.c_str());
      return 2;
    }
    std::printf("listener %s port %u activated %d\n", configs[i].listen.c_str(),
                listeners.back()->bound_port(), listeners.back()->socket_activated() ? 1 : 0);
  }
  std::printf("ready\n");
  std::fflush(stdout);
  const bool got = units->wait_for_count(want, std::chrono::seconds(10));
  for (const auto& u : units->units()) std::printf("unit %s\n", u.c_str());
  std::fflush(stdout);
  for (auto& l : listeners) l->stop();
  return got ? 0 : 1;
}
