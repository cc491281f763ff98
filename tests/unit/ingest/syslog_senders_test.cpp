// Real syslog senders against the listener: util-linux logger (bsdutils) in each of its
// transport and header modes, and rsyslogd forwarding with octet-counted TCP and with TLS.
// A missing tool fails the test with the package to install; nothing is skipped.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "../test_names.hpp"
#include "ingest/syslog_listener.hpp"
#include "ingest_test_util.hpp"

namespace portscand {
namespace {

using namespace std::chrono_literals;
using test::collected;

// A marker no other test (or a parallel ctest process) sends; the closing '.' keeps
// marker 1 from matching inside marker 10.
std::string unique_text(std::string_view what) {
  static std::atomic<int> n{0};
  return std::string(what) + "-" + std::to_string(::getpid()) + "-" + std::to_string(n++) + ".";
}

struct listener_under_test {
  explicit listener_under_test(syslog_input_config c)
      : cfg(std::move(c)),
        units(std::make_shared<collected>()),
        listener(
            "senders", cfg, [u = units] { return std::make_unique<test::collecting_sink>(u); },
            metrics, clk) {
    const status st = listener.start();
    if (!st.ok()) error = st.err().message;
  }
  syslog_input_config cfg;
  metrics_registry metrics;
  system_clock clk;
  std::shared_ptr<collected> units;
  syslog_listener listener;
  std::string error;  // "" when started
};

syslog_input_config listen_on(std::string url) {
  syslog_input_config c;
  c.listen = std::move(url);
  c.connection_idle_timeout = 30 * us_per_second;
  return c;
}

// ---- logger ---------------------------------------------------------------------------------

struct logger_case {
  std::string why;
  std::string scheme;              // udp or tcp
  std::vector<std::string> flags;  // logger's transport and format flags
  std::string header;              // what the delivered unit starts with
};

class logger_table : public ::testing::TestWithParam<logger_case> {};

TEST_P(logger_table, delivers_the_message_exactly_once) {
  const logger_case& c = GetParam();
  const std::string logger = test::find_tool("logger");
  ASSERT_FALSE(logger.empty()) << "logger not found: install the bsdutils package";
  listener_under_test l(listen_on(c.scheme + "://127.0.0.1:0"));
  ASSERT_TRUE(l.error.empty()) << l.error;

  const std::string text = unique_text("logger " + c.why);
  std::vector<std::string> argv = {
      logger, "--server",      "127.0.0.1", "--port", std::to_string(l.listener.bound_port()),
      "-t",   "portscand-test"};
  argv.insert(argv.end(), c.flags.begin(), c.flags.end());
  argv.push_back(text);
  test::temp_dir dir;
  const int rc = test::run_command(argv, 10s, dir.file("logger.out"));
  ASSERT_EQ(rc, 0) << "logger failed: " << test::read_file(dir.file("logger.out"));

  ASSERT_TRUE(l.units->wait_for_text(text)) << "logger's message never arrived";
  std::this_thread::sleep_for(200ms);  // a duplicate would have arrived by now
  EXPECT_EQ(l.units->count_containing(text), 1u);
  const auto units = l.units->units();
  ASSERT_EQ(units.size(), 1u);
  EXPECT_EQ(units[0].rfind(c.header, 0), 0u) << units[0];
  EXPECT_NE(units[0].back(), '\n') << "the LF terminator is framing, not content";
}

INSTANTIATE_TEST_SUITE_P(
    logger, logger_table,
    ::testing::Values(
        logger_case{"udp datagrams", "udp", {"--udp"}, "<13>1 "},
        logger_case{"tcp with LF framing", "tcp", {"--tcp"}, "<13>1 "},
        logger_case{"tcp with octet counting", "tcp", {"--tcp", "--octet-count"}, "<13>1 "},
        logger_case{"rfc3164 headers over udp", "udp", {"--udp", "--rfc3164"}, "<13>"},
        logger_case{"rfc3164 headers over tcp", "tcp", {"--tcp", "--rfc3164"}, "<13>"},
        logger_case{"rfc5424 headers over tcp", "tcp", {"--tcp", "--rfc5424"}, "<13>1 "},
        logger_case{"octet counting that logger wrongly applies to udp is stripped",
                    "udp",
                    {"--udp", "--rfc5424", "--octet-count"},
                    "<13>1 "}),
    test::why_name{});

// ---- rsyslog --------------------------------------------------------------------------------

// rsyslogd as a plain process: imfile reads a file the test wrote, omfwd forwards to the
// listener. No imuxsock/imklog, its own pid file and work directory, so it touches nothing of
// the machine's own syslog.
class rsyslog_forwarding : public ::testing::Test {
 protected:
  void SetUp() override {
    rsyslogd_ = test::find_tool("rsyslogd");
    ASSERT_FALSE(rsyslogd_.empty()) << "rsyslogd not found: install the rsyslog package";
  }

  // Writes `lines` to the watched file, runs rsyslogd with `action` and waits until every
  // line arrived once.
  void forward(listener_under_test& l, const std::string& globals, const std::string& action,
               const std::vector<std::string>& lines) {
    std::string in;
    for (const auto& line : lines) in += line + "\n";
    test::write_file(dir_.file("in.log"), in);
    const std::string conf = "global(workDirectory=\"" + dir_.path() + "\"" + globals + ")\n" +
                             "module(load=\"imfile\")\n"
                             "input(type=\"imfile\" file=\"" +
                             dir_.file("in.log") +
                             "\" tag=\"rsyslog-test:\" freshStartTail=\"off\")\n" + action + "\n";
    test::write_file(dir_.file("rsyslog.conf"), conf);
    test::child_process rsyslogd(
        {rsyslogd_, "-n", "-f", dir_.file("rsyslog.conf"), "-i", dir_.file("rsyslogd.pid")},
        dir_.file("rsyslogd.out"));
    ASSERT_GT(rsyslogd.pid(), 0);
    for (const auto& line : lines) {
      ASSERT_TRUE(l.units->wait_for_text(line, 10s))
          << "rsyslog did not forward '" << line << "'. rsyslogd said:\n"
          << test::read_file(dir_.file("rsyslogd.out"));
    }
    std::this_thread::sleep_for(200ms);
    rsyslogd.stop();
    for (const auto& line : lines) EXPECT_EQ(l.units->count_containing(line), 1u) << line;
    for (const auto& u : l.units->units())
      EXPECT_NE(u.find("rsyslog-test:"), std::string::npos) << "unexpected unit: " << u;
  }

  // "openssl req -x509" PKI: a CA, and a leaf signed by it for 127.0.0.1/localhost.
  void make_pki() {
    const std::string openssl = test::find_tool("openssl");
    ASSERT_FALSE(openssl.empty()) << "openssl not found: install the openssl package";
    test::write_file(dir_.file("min.cnf"), "[req]\ndistinguished_name = dn\n[dn]\n");
    const std::vector<std::string> common = {openssl,
                                             "req",
                                             "-x509",
                                             "-config",
                                             dir_.file("min.cnf"),
                                             "-newkey",
                                             "ec",
                                             "-pkeyopt",
                                             "ec_paramgen_curve:prime256v1",
                                             "-nodes",
                                             "-days",
                                             "2"};
    auto run = [&](std::vector<std::string> extra) {
      std::vector<std::string> argv = common;
      argv.insert(argv.end(), extra.begin(), extra.end());
      const int rc = test::run_command(argv, 20s, dir_.file("openssl.out"));
      ASSERT_EQ(rc, 0) << test::read_file(dir_.file("openssl.out"));
    };
    run({"-keyout", dir_.file("ca.key"), "-out", dir_.file("ca.pem"), "-subj",
         "/CN=portscand test CA", "-addext", "basicConstraints=critical,CA:TRUE", "-addext",
         "keyUsage=critical,keyCertSign,cRLSign"});
    for (const char* name : {"server", "client"}) {
      run({"-keyout", dir_.file(std::string(name) + ".key"), "-out",
           dir_.file(std::string(name) + ".pem"), "-subj", "/CN=localhost", "-addext",
           "subjectAltName=DNS:localhost,IP:127.0.0.1", "-addext",
           "basicConstraints=critical,CA:FALSE", "-CA", dir_.file("ca.pem"), "-CAkey",
           dir_.file("ca.key")});
    }
  }

  test::temp_dir dir_;
  std::string rsyslogd_;
};

TEST_F(rsyslog_forwarding, octet_counted_tcp_delivers_each_line_once) {
  listener_under_test l(listen_on("tcp://127.0.0.1:0"));
  ASSERT_TRUE(l.error.empty()) << l.error;
  std::vector<std::string> lines;
  for (int i = 0; i < 50; ++i) lines.push_back(unique_text("rsyslog-tcp"));
  forward(l, "",
          "action(type=\"omfwd\" target=\"127.0.0.1\" port=\"" +
              std::to_string(l.listener.bound_port()) +
              "\" protocol=\"tcp\" TCP_Framing=\"octet-counted\")",
          lines);
}

TEST_F(rsyslog_forwarding, tls_with_client_certificates_delivers_each_line_once) {
  // The rsyslog-openssl package provides the ossl stream driver.
  bool have_ossl = false;
  for (const char* dir : {"/usr/lib/x86_64-linux-gnu/rsyslog", "/usr/lib/aarch64-linux-gnu/rsyslog",
                          "/usr/lib/rsyslog", "/usr/lib64/rsyslog"})
    have_ossl = have_ossl || ::access((std::string(dir) + "/lmnsd_ossl.so").c_str(), R_OK) == 0;
  ASSERT_TRUE(have_ossl) << "rsyslog's ossl driver (lmnsd_ossl.so) not found: install the "
                            "rsyslog-openssl package";
  make_pki();
  if (HasFatalFailure()) return;
  syslog_input_config c = listen_on("tls://127.0.0.1:0");
  c.tls_certificate = dir_.file("server.pem");
  c.tls_key = dir_.file("server.key");
  c.tls_ca = dir_.file("ca.pem");
  c.tls_verify_client = true;
  listener_under_test l(c);
  ASSERT_TRUE(l.error.empty()) << l.error;
  std::vector<std::string> lines;
  for (int i = 0; i < 50; ++i) lines.push_back(unique_text("rsyslog-tls"));
  forward(l,
          " DefaultNetstreamDriverCAFile=\"" + dir_.file("ca.pem") +
              "\" DefaultNetstreamDriverCertFile=\"" + dir_.file("client.pem") +
              "\" DefaultNetstreamDriverKeyFile=\"" + dir_.file("client.key") + "\"",
          "action(type=\"omfwd\" target=\"127.0.0.1\" port=\"" +
              std::to_string(l.listener.bound_port()) +
              "\" protocol=\"tcp\" StreamDriver=\"ossl\" StreamDriverMode=\"1\""
              " StreamDriverAuthMode=\"x509/name\" StreamDriverPermittedPeers=\"localhost\""
              " TCP_Framing=\"octet-counted\")",
          lines);
  EXPECT_EQ(l.metrics.counter_sum("portscand_syslog_connections_refused_total"), 0u);
}

}  // namespace
}  // namespace portscand
