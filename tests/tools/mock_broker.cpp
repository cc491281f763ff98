// mock_broker: librdkafka's mock Kafka cluster as a standalone process, for integration
// tests and the demo. Real Kafka protocol on loopback ephemeral ports, no JVM, no ZooKeeper.
//
//   mock_broker [--brokers N] [--topic NAME[:PARTITIONS]]... [--exit-on-stdin-eof]
//
// stdout, line 1: the bootstrap servers ("127.0.0.1:PORT,127.0.0.1:PORT"), flushed at once,
// so a script can read it with `read -r BOOTSTRAP`. Then one reply line per control
// command: "ok" or "error: <why>".
//
// Lifetime: runs until SIGTERM or SIGINT (exit 0, after destroying the cluster). End of
// stdin does NOT stop it by default: a demo that starts it in the background with stdin
// from /dev/null would otherwise lose its broker at once. Tests that want the broker to die
// with them pass --exit-on-stdin-eof and keep a pipe to its stdin; when the test goes away
// the pipe closes and the broker exits.
//
// Control commands, one per stdin line (blank lines and lines starting with '#' ignored):
//   broker down N              disconnect broker N (1-based; -1 = all), refuse new
//                              connections. No leader failover happens (mock limit): its
//                              partitions are unavailable until "broker up".
//   broker up N                accept connections on broker N (-1 = all) again.
//   leader TOPIC PART BROKER   make BROKER the leader of TOPIC/PART (-1 = leaderless).
//   error API CODE COUNT       the next COUNT requests of API (PRODUCE, FETCH, METADATA,
//                              INITPRODUCERID, ... or the numeric ApiKey) fail with CODE (a
//                              librdkafka error name such as TOPIC_AUTHORIZATION_FAILED or
//                              _TRANSPORT, with or without RD_KAFKA_RESP_ERR_, or a number).
//                              Errors are cluster-wide: every client sees them.
//   clear [API]                drop the queued injected errors (of one API, or of all).
//   rtt N MS                   delay broker N's responses by MS milliseconds (-1 = all).
//   topic NAME PARTITIONS      create a topic.
//
// Deliberately does not link lib/: a test tool must not share code with what it tests.

// rdkafka.h first: rdkafka_mock.h relies on its declarations.
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace {

constexpr int max_api_key = 80;  // ApiKeys in use today are < 70; clear them all

void usage(std::FILE* out) {
  std::fputs(
      "usage: mock_broker [--brokers N] [--topic NAME[:PARTITIONS]]... [--exit-on-stdin-eof]\n"
      "Prints the bootstrap servers as the first stdout line, then serves until SIGTERM/SIGINT.\n"
      "stdin commands: broker down N | broker up N | leader TOPIC PART BROKER |\n"
      "                error API CODE COUNT | clear [API] | rtt N MS | topic NAME PARTITIONS\n",
      out);
}

std::string upper(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return s;
}

std::optional<long> parse_int(const std::string& s) {
  if (s.empty()) return std::nullopt;
  char* end = nullptr;
  errno = 0;
  const long v = std::strtol(s.c_str(), &end, 10);
  if (errno != 0 || *end != '\0') return std::nullopt;
  return v;
}

std::optional<int> parse_api(const std::string& name) {
  if (auto n = parse_int(name))
    return *n >= 0 && *n < max_api_key ? std::optional<int>(*n) : std::nullopt;
  static const std::pair<const char*, int> apis[] = {
      {"PRODUCE", 0},          {"FETCH", 1},
      {"LISTOFFSETS", 2},      {"METADATA", 3},
      {"OFFSETCOMMIT", 8},     {"OFFSETFETCH", 9},
      {"FINDCOORDINATOR", 10}, {"JOINGROUP", 11},
      {"HEARTBEAT", 12},       {"LEAVEGROUP", 13},
      {"SYNCGROUP", 14},       {"APIVERSIONS", 18},
      {"INITPRODUCERID", 22},  {"ADDPARTITIONSTOTXN", 24},
      {"ENDTXN", 26}};
  const std::string u = upper(name);
  for (const auto& [n, key] : apis)
    if (u == n) return key;
  return std::nullopt;
}

std::optional<rd_kafka_resp_err_t> parse_error_code(const std::string& text) {
  if (auto n = parse_int(text)) return static_cast<rd_kafka_resp_err_t>(*n);
  std::string u = upper(text);
  if (u.rfind("RD_KAFKA_RESP_ERR_", 0) == 0) u = u.substr(18);
  const rd_kafka_err_desc* descs = nullptr;
  size_t cnt = 0;
  rd_kafka_get_err_descs(&descs, &cnt);
  for (size_t i = 0; i < cnt; ++i)
    if (descs[i].name != nullptr && u == descs[i].name) return descs[i].code;
  return std::nullopt;
}

class mock_broker {
 public:
  mock_broker(rd_kafka_mock_cluster_t* mc, int brokers) : mc_(mc), brokers_(brokers) {}

  // Executes one command line; returns the reply ("ok" or "error: ...").
  std::string execute(const std::string& line) {
    std::istringstream in(line);
    std::vector<std::string> w;
    for (std::string word; in >> word;) w.push_back(word);
    if (w.empty() || w[0][0] == '#') return {};
    const std::string cmd = w[0];

    if (cmd == "broker" && w.size() == 3 && (w[1] == "down" || w[1] == "up")) {
      const auto id = broker_id(w[2]);
      if (!id) return "error: broker id must be 1.." + std::to_string(brokers_) + " or -1";
      const rd_kafka_resp_err_t err = w[1] == "down" ? rd_kafka_mock_broker_set_down(mc_, *id)
                                                     : rd_kafka_mock_broker_set_up(mc_, *id);
      return reply(err);
    }
    if (cmd == "leader" && w.size() == 4) {
      const auto part = parse_int(w[2]);
      const auto id = parse_int(w[3]);
      if (!part || *part < 0) return "error: partition must be a number >= 0";
      if (!id || (*id != -1 && (*id < 1 || *id > brokers_)))
        return "error: broker id must be 1.." + std::to_string(brokers_) + " or -1";
      return reply(rd_kafka_mock_partition_set_leader(
          mc_, w[1].c_str(), static_cast<int32_t>(*part), static_cast<int32_t>(*id)));
    }
    if (cmd == "error" && w.size() == 4) {
      const auto api = parse_api(w[1]);
      const auto code = parse_error_code(w[2]);
      const auto count = parse_int(w[3]);
      if (!api)
        return "error: unknown API '" + w[1] + "' (PRODUCE, FETCH, METADATA, ... or a number)";
      if (!code) return "error: unknown error code '" + w[2] + "'";
      if (!count || *count < 1 || *count > 1'000'000) return "error: COUNT must be 1..1000000";
      const std::vector<rd_kafka_resp_err_t> errs(static_cast<std::size_t>(*count), *code);
      rd_kafka_mock_push_request_errors_array(mc_, static_cast<int16_t>(*api), errs.size(),
                                              errs.data());
      return "ok";
    }
    if (cmd == "clear" && w.size() <= 2) {
      if (w.size() == 2) {
        const auto api = parse_api(w[1]);
        if (!api) return "error: unknown API '" + w[1] + "'";
        rd_kafka_mock_clear_request_errors(mc_, static_cast<int16_t>(*api));
      } else {
        for (int api = 0; api < max_api_key; ++api)
          rd_kafka_mock_clear_request_errors(mc_, static_cast<int16_t>(api));
      }
      return "ok";
    }
    if (cmd == "rtt" && w.size() == 3) {
      const auto id = broker_id(w[1]);
      const auto ms = parse_int(w[2]);
      if (!id) return "error: broker id must be 1.." + std::to_string(brokers_) + " or -1";
      if (!ms || *ms < 0 || *ms > 600'000) return "error: MS must be 0..600000";
      return reply(rd_kafka_mock_broker_set_rtt(mc_, *id, static_cast<int>(*ms)));
    }
    if (cmd == "topic" && w.size() == 3) {
      const auto parts = parse_int(w[2]);
      if (!parts || *parts < 1 || *parts > 10'000) return "error: PARTITIONS must be 1..10000";
      return reply(rd_kafka_mock_topic_create(mc_, w[1].c_str(), static_cast<int>(*parts),
                                              std::min(brokers_, 3)));
    }
    return "error: unknown or malformed command '" + line + "'";
  }

 private:
  std::optional<int32_t> broker_id(const std::string& s) const {
    const auto id = parse_int(s);
    if (!id || (*id != -1 && (*id < 1 || *id > brokers_))) return std::nullopt;
    return static_cast<int32_t>(*id);
  }
  static std::string reply(rd_kafka_resp_err_t err) {
    return err == RD_KAFKA_RESP_ERR_NO_ERROR ? "ok"
                                             : std::string("error: ") + rd_kafka_err2str(err);
  }

  rd_kafka_mock_cluster_t* mc_;
  int brokers_;
};

// stdout is the control channel: a reader that went away means nobody controls us any more.
bool say(const std::string& line) {
  return std::fprintf(stdout, "%s\n", line.c_str()) >= 0 && std::fflush(stdout) == 0;
}

}  // namespace

int main(int argc, char** argv) {
  int brokers = 1;
  bool exit_on_eof = false;
  std::vector<std::pair<std::string, int>> topics;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if ((arg == "--brokers" || arg == "-b") && i + 1 < argc) {
      const auto n = parse_int(argv[++i]);
      if (!n || *n < 1 || *n > 64) {
        std::fprintf(stderr, "mock_broker: --brokers must be 1..64\n");
        return 2;
      }
      brokers = static_cast<int>(*n);
    } else if ((arg == "--topic" || arg == "-t") && i + 1 < argc) {
      const std::string spec = argv[++i];
      const auto colon = spec.rfind(':');
      std::string name = spec;
      int parts = 1;
      if (colon != std::string::npos) {
        name = spec.substr(0, colon);
        const auto n = parse_int(spec.substr(colon + 1));
        if (!n || *n < 1 || *n > 10'000) {
          std::fprintf(stderr, "mock_broker: bad --topic '%s' (NAME[:PARTITIONS])\n", spec.c_str());
          return 2;
        }
        parts = static_cast<int>(*n);
      }
      if (name.empty()) {
        std::fprintf(stderr, "mock_broker: bad --topic '%s' (empty name)\n", spec.c_str());
        return 2;
      }
      topics.emplace_back(name, parts);
    } else if (arg == "--exit-on-stdin-eof") {
      exit_on_eof = true;
    } else if (arg == "--help" || arg == "-h") {
      usage(stdout);
      return 0;
    } else {
      std::fprintf(stderr, "mock_broker: unknown argument '%s'\n", arg.c_str());
      usage(stderr);
      return 2;
    }
  }

  // Block the stop signals before librdkafka starts its threads (they inherit the mask), so
  // that only our signalfd sees them.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  if (pthread_sigmask(SIG_BLOCK, &stop, nullptr) != 0) return 1;
  const int sfd = signalfd(-1, &stop, SFD_CLOEXEC);
  if (sfd < 0) {
    std::perror("mock_broker: signalfd");
    return 1;
  }
  std::signal(SIGPIPE, SIG_IGN);

  // rd_kafka_mock_cluster_new() needs a client instance for its bookkeeping; a producer
  // without bootstrap servers is enough. log_level 3 hides its "no bootstrap.servers" notice.
  char errstr[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof errstr);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
  if (rk == nullptr) {
    std::fprintf(stderr, "mock_broker: rd_kafka_new: %s\n", errstr);
    return 1;
  }
  rd_kafka_mock_cluster_t* mc = rd_kafka_mock_cluster_new(rk, brokers);
  if (mc == nullptr) {
    std::fprintf(stderr, "mock_broker: cannot create the mock cluster\n");
    rd_kafka_destroy(rk);
    return 1;
  }
  int rc = 0;
  for (const auto& [name, parts] : topics) {
    const rd_kafka_resp_err_t err =
        rd_kafka_mock_topic_create(mc, name.c_str(), parts, std::min(brokers, 3));
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      std::fprintf(stderr, "mock_broker: cannot create topic '%s': %s\n", name.c_str(),
                   rd_kafka_err2str(err));
      rc = 1;
    }
  }

  const std::string bootstraps = rd_kafka_mock_cluster_bootstraps(mc);
  if (rc == 0 && !say(bootstraps)) rc = 1;
  if (rc == 0)
    std::fprintf(stderr, "mock_broker: %d broker(s) at %s, %zu topic(s); SIGTERM to stop\n",
                 brokers, bootstraps.c_str(), topics.size());

  mock_broker control(mc, brokers);
  std::string buffer;
  pollfd fds[2] = {{sfd, POLLIN, 0}, {STDIN_FILENO, POLLIN, 0}};
  bool running = rc == 0;
  while (running) {
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      std::perror("mock_broker: poll");
      rc = 1;
      running = false;
      break;
    }
    if (fds[0].revents & POLLIN) {
      signalfd_siginfo si{};
      if (::read(sfd, &si, sizeof si) > 0)
        std::fprintf(stderr, "mock_broker: signal %u, stopping\n", si.ssi_signo);
      running = false;
      break;
    }
    if (fds[1].revents & (POLLIN | POLLHUP | POLLERR)) {
      char chunk[4096];
      const ssize_t n = ::read(STDIN_FILENO, chunk, sizeof chunk);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        if (exit_on_eof) {
          std::fprintf(stderr, "mock_broker: stdin closed, stopping\n");
          running = false;
          break;
        }
        fds[1].fd = -1;  // poll() ignores negative fds: serve until a signal
        continue;
      }
      buffer.append(chunk, static_cast<std::size_t>(n));
      for (auto nl = buffer.find('\n'); running && nl != std::string::npos;
           nl = buffer.find('\n')) {
        std::string line = buffer.substr(0, nl);
        buffer.erase(0, nl + 1);
        if (!line.empty() && line.back() == '\r') line.pop_back();
        const std::string answer = control.execute(line);
        if (!answer.empty() && !say(answer)) {
          std::fprintf(stderr, "mock_broker: stdout closed, stopping\n");
          running = false;
        }
      }
    }
  }
  rd_kafka_mock_cluster_destroy(mc);
  rd_kafka_destroy(rk);
  ::close(sfd);
  return rc;
}
