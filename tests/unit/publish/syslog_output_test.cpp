// The syslog output against rsyslogd as the receiver: an unprivileged rsyslogd started by
// the test with its own configuration (imudp, imtcp, imtcp with the ossl TLS driver) that
// writes what it receives to a file. The CEF it stores is read back with our own CEF parser
// (lib/parse/cef) and compared with the alerts sent.
#include "publish/syslog_output.hpp"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "ingest/ingest_test_util.hpp"
#include "ocsf_schema.hpp"
#include "parse/cef.hpp"
#include "publish/publish_test_util.hpp"

namespace portscand {
namespace {

using namespace std::chrono_literals;
using test::test_alert;
using test::test_alerts;

// A port nobody listens on right now (bound and released; the receiver binds it next).
std::uint16_t free_port(int type) {
  const int fd = ::socket(AF_INET, type, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

// Whether 127.0.0.1:port is bound in /proc/net/<proto> (udp or tcp, listening for tcp).
bool bound(const std::string& proto, std::uint16_t port) {
  std::ifstream in("/proc/net/" + proto);
  std::string line;
  char want[16];
  std::snprintf(want, sizeof want, "0100007F:%04X", port);
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    std::string sl, local, remote, state;
    ls >> sl >> local >> remote >> state;
    if (local == want && (proto == "udp" || state == "0A")) return true;
  }
  return false;
}

// One line rsyslogd stored: the RFC 5424 fields it parsed, tab-separated, then MSG.
struct stored {
  std::string pri, hostname, app_name, procid, msgid, timestamp, msg;
};

class rsyslog_receiver {
 public:
  enum class mode { udp, tcp, tls };

  rsyslog_receiver(const test::temp_dir& dir, mode m, std::uint16_t port,
                   const test::pem_pair* cert = nullptr, const std::string& ca = "")
      : out_(dir.file("received-" + std::to_string(port) + "-" + std::to_string(++instances) +
                      ".log")),
        mode_(m),
        port_(port) {
    const std::string work =
        dir.file("rsyslog-" + std::to_string(port) + "-" + std::to_string(instances));
    std::filesystem::create_directories(work);
    std::ostringstream c;
    c << "global(workDirectory=\"" << work << "\" maxMessageSize=\"64k\"";
    if (m == mode::tls)
      c << " defaultNetstreamDriver=\"ossl\" defaultNetstreamDriverCAFile=\"" << ca
        << "\" defaultNetstreamDriverCertFile=\"" << cert->cert_path
        << "\" defaultNetstreamDriverKeyFile=\"" << cert->key_path << "\"";
    c << ")\n";
    if (m == mode::udp) {
      c << "module(load=\"imudp\")\n"
        << "input(type=\"imudp\" address=\"127.0.0.1\" port=\"" << port << "\")\n";
    } else if (m == mode::tcp) {
      c << "module(load=\"imtcp\")\n"
        << "input(type=\"imtcp\" address=\"127.0.0.1\" port=\"" << port << "\")\n";
    } else {
      c << "module(load=\"imtcp\" streamDriver.name=\"ossl\" streamDriver.mode=\"1\" "
           "streamDriver.authMode=\"anon\")\n"
        << "input(type=\"imtcp\" address=\"127.0.0.1\" port=\"" << port << "\")\n";
    }
    c << "template(name=\"fields\" type=\"string\" string=\"%pri%\\t%hostname%\\t%app-name%\\t"
         "%procid%\\t%msgid%\\t%timereported:::date-rfc3339%\\t%msg%\\n\")\n"
      << "action(type=\"omfile\" file=\"" << out_ << "\" template=\"fields\")\n";
    const std::string conf = work + "/rsyslog.conf";
    test::write_file(conf, c.str());
    proc_ = std::make_unique<test::child_process>(
        std::vector<std::string>{test::find_tool("rsyslogd"), "-n", "-f", conf, "-i",
                                 work + "/rsyslogd.pid"},
        work + "/rsyslogd.log");
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (!bound(m == mode::udp ? "udp" : "tcp", port_) &&
           std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(20ms);
    ready_ = bound(m == mode::udp ? "udp" : "tcp", port_);
  }

  bool ready() const { return ready_; }
  void stop() { proc_->stop(); }

  std::vector<stored> lines() const {
    std::vector<stored> out;
    std::ifstream in(out_);
    std::string line;
    while (std::getline(in, line)) {
      stored s;
      std::istringstream ls(line);
      std::getline(ls, s.pri, '\t');
      std::getline(ls, s.hostname, '\t');
      std::getline(ls, s.app_name, '\t');
      std::getline(ls, s.procid, '\t');
      std::getline(ls, s.msgid, '\t');
      std::getline(ls, s.timestamp, '\t');
      std::getline(ls, s.msg);
      out.push_back(std::move(s));
    }
    return out;
  }

  // Waits until the file holds at least n lines.
  std::vector<stored> wait_for(std::size_t n, std::chrono::milliseconds timeout = 10s) const {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    auto l = lines();
    while (l.size() < n && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(20ms);
      l = lines();
    }
    return l;
  }

 private:
  static inline int instances = 0;
  std::string out_;
  mode mode_;
  std::uint16_t port_;
  std::unique_ptr<test::child_process> proc_;
  bool ready_ = false;
};

class SyslogOutput : public ::testing::Test {
 protected:
  void SetUp() override {
    if (test::find_tool("rsyslogd").empty()) GTEST_SKIP() << "rsyslogd is not installed";
  }

  syslog_output_config cfg(syslog_transport t, std::uint16_t port) const {
    syslog_output_config c;
    c.transport = t;
    c.host = "127.0.0.1";
    c.port = port;
    c.address = std::string(t == syslog_transport::udp   ? "udp"
                            : t == syslog_transport::tcp ? "tcp"
                                                         : "tls") +
                "://127.0.0.1:" + std::to_string(port);
    c.hostname = "sensor-1";
    c.connect_timeout = 2 * us_per_second;
    c.send_timeout = 2 * us_per_second;
    c.retry_backoff_min = 5'000;  // 5 ms
    c.retry_backoff_max = 100'000;
    return c;
  }
  std::uint64_t failures(const std::string& reason) const {
    return m_.counter_sum("portscand_alert_delivery_failures_total",
                          {{"output", "syslog-test"}, {"reason", reason}});
  }
  std::uint64_t delivered() const {
    return m_.counter_sum("portscand_alerts_delivered_total", {{"output", "syslog-test"}});
  }

  // Every stored line is CEF from us that parses back, with our CEF parser, to the source and
  // ports of the alert with that id; each id arrives exactly once.
  void expect_cef_of(const std::vector<stored>& got, const std::vector<alert>& sent) {
    std::map<std::string, const alert*> by_id;
    for (const alert& a : sent) by_id[a.alert_id] = &a;
    std::set<std::string> seen;
    for (const stored& s : got) {
      // local0 (16) * 8 + warning (4: the test rule is Medium): PRI 132.
      EXPECT_EQ(s.pri, "132");
      EXPECT_EQ(s.hostname, "sensor-1");
      EXPECT_EQ(s.app_name, "portscand");
      EXPECT_EQ(s.procid, std::to_string(::getpid()));
      EXPECT_EQ(s.msgid, "alert");
      const auto m = parse_cef_message(s.msg);
      ASSERT_TRUE(m) << s.msg;
      EXPECT_EQ(m->vendor, "portscand");
      EXPECT_EQ(m->signature, test::test_rule()->id);
      EXPECT_EQ(m->severity, "5");
      std::map<std::string, std::string> ext(m->extension.begin(), m->extension.end());
      const auto it = by_id.find(ext["externalId"]);
      ASSERT_NE(it, by_id.end()) << s.msg;
      EXPECT_TRUE(seen.insert(ext["externalId"]).second) << "twice: " << ext["externalId"];
      const alert& a = *it->second;
      const std::string src = a.src.is_v4() ? ext["src"] : ext["c6a2"];
      EXPECT_EQ(src, a.src.to_string());
      std::string ports;
      for (auto p : a.ports) {
        if (!ports.empty()) ports += ',';
        ports += std::to_string(p);
      }
      EXPECT_EQ(ext["cs1"], ports);
      EXPECT_EQ(ext["cs1Label"], "AttemptedPorts");
      EXPECT_EQ(ext["cnt"], std::to_string(a.event_count));
      EXPECT_EQ(s.timestamp, format_iso8601(a.detected_at));
    }
    EXPECT_EQ(seen.size(), sent.size());
  }

  test::temp_dir dir_;
  metrics_registry m_;
};

std::vector<alert> with_ipv6(std::vector<alert> alerts) {
  alert a = test_alert(0);
  a.src = *ip_address::parse("2001:db8::77");
  a.alert_id = make_alert_id(a.rule->id, a.src, a.bin_start);
  alerts.push_back(a);
  return alerts;
}

TEST_F(SyslogOutput, UdpDatagramsReachRsyslogAsCefThatParsesBack) {
  const std::uint16_t port = free_port(SOCK_DGRAM);
  rsyslog_receiver rx(dir_, rsyslog_receiver::mode::udp, port);
  ASSERT_TRUE(rx.ready());
  syslog_output out("syslog-test", output_schema::native, cfg(syslog_transport::udp, port), m_);
  const auto alerts = with_ipv6(test_alerts(1, 5));
  ASSERT_TRUE(out.publish(alerts));
  ASSERT_TRUE(out.flush(5s));
  EXPECT_EQ(out.pending(), 0u);
  EXPECT_EQ(delivered(), alerts.size());
  const auto got = rx.wait_for(alerts.size());
  ASSERT_EQ(got.size(), alerts.size());
  expect_cef_of(got, alerts);
}

TEST_F(SyslogOutput, AUdpDatagramTooLargeIsDroppedAndCountedAndTheNextStillGoes) {
  const std::uint16_t port = free_port(SOCK_DGRAM);
  rsyslog_receiver rx(dir_, rsyslog_receiver::mode::udp, port);
  ASSERT_TRUE(rx.ready());
  syslog_output out("syslog-test", output_schema::native, cfg(syslog_transport::udp, port), m_);
  // 20,000 ports of 5 digits and a comma: about 120 KB, over the 65,507-byte UDP payload.
  alert huge = test_alert(1);
  huge.ports.clear();
  for (std::uint16_t p = 40000; p < 60000; ++p) huge.ports.push_back(p);
  const alert normal = test_alert(2);
  ASSERT_TRUE(out.publish({huge, normal}));
  ASSERT_TRUE(out.flush(5s));
  EXPECT_EQ(out.pending(), 0u);
  EXPECT_EQ(delivered(), 1u);
  EXPECT_EQ(m_.counter_sum("portscand_syslog_alerts_dropped_total", {{"output", "syslog-test"}}),
            1u);
  EXPECT_EQ(failures("too_big"), 1u);
  const auto got = rx.wait_for(1);
  ASSERT_EQ(got.size(), 1u);
  expect_cef_of(got, {normal});
}

TEST_F(SyslogOutput, TcpOctetCountedFramesKeepMessagesApart) {
  const std::uint16_t port = free_port(SOCK_STREAM);
  rsyslog_receiver rx(dir_, rsyslog_receiver::mode::tcp, port);
  ASSERT_TRUE(rx.ready());
  syslog_output out("syslog-test", output_schema::native, cfg(syslog_transport::tcp, port), m_);
  // Many in one write: only the octet counts separate them.
  const auto alerts = with_ipv6(test_alerts(1, 200));
  ASSERT_TRUE(out.publish(alerts));
  ASSERT_TRUE(out.flush(5s));
  EXPECT_TRUE(out.healthy());
  const auto got = rx.wait_for(alerts.size());
  ASSERT_EQ(got.size(), alerts.size());
  expect_cef_of(got, alerts);
}

TEST_F(SyslogOutput, AlertsWaitWhileTheReceiverIsDownAndArriveOnceAfterIt) {
  const std::uint16_t port = free_port(SOCK_STREAM);
  syslog_output out("syslog-test", output_schema::native, cfg(syslog_transport::tcp, port), m_);
  const auto first = test_alerts(1, 3);
  ASSERT_TRUE(out.publish(first));
  EXPECT_FALSE(out.flush(500ms));
  out.poll();
  // Nothing is confirmed while nobody listens: the checkpoint cannot mark these keys.
  EXPECT_EQ(out.pending(), 3u);
  EXPECT_FALSE(out.healthy());
  EXPECT_GT(failures("connect"), 0u);
  {
    rsyslog_receiver rx(dir_, rsyslog_receiver::mode::tcp, port);
    ASSERT_TRUE(rx.ready());
    ASSERT_TRUE(out.flush(5s));
    EXPECT_TRUE(out.healthy());
    expect_cef_of(rx.wait_for(3), first);
    rx.stop();
    EXPECT_EQ(rx.lines().size(), 3u);
  }
  // The receiver restarted (a new instance on the same port, with its own file): the kept
  // connection is dead, and the next batch must not go into it.
  rsyslog_receiver rx2(dir_, rsyslog_receiver::mode::tcp, port);
  ASSERT_TRUE(rx2.ready());
  const auto second = test_alerts(10, 3);
  ASSERT_TRUE(out.publish(second));
  ASSERT_TRUE(out.flush(5s));
  const auto got = rx2.wait_for(3);
  ASSERT_EQ(got.size(), 3u);
  expect_cef_of(got, second);
  EXPECT_EQ(delivered(), 6u);
}

TEST_F(SyslogOutput, BoundedQueueRefusesAWholeBatch) {
  const std::uint16_t port = free_port(SOCK_STREAM);
  auto c = cfg(syslog_transport::tcp, port);
  c.max_pending_alerts = 4;
  syslog_output out("syslog-test", output_schema::native, c, m_);
  ASSERT_TRUE(out.publish(test_alerts(1, 3)));
  EXPECT_FALSE(out.publish(test_alerts(4, 2)));  // 5 > 4: none of them
  EXPECT_EQ(out.pending(), 3u);
  EXPECT_TRUE(out.publish(test_alerts(4, 1)));
  EXPECT_EQ(out.pending(), 4u);
}

TEST_F(SyslogOutput, TlsToRsyslogOsslDriverVerifiesTheReceiver) {
  test::test_ca ca(dir_.path(), "ca");
  const test::pem_pair server = ca.issue(dir_.path(), "server");
  const std::uint16_t port = free_port(SOCK_STREAM);
  rsyslog_receiver rx(dir_, rsyslog_receiver::mode::tls, port, &server, ca.cert_path());
  ASSERT_TRUE(rx.ready());
  auto c = cfg(syslog_transport::tls, port);
  c.ca_file = ca.cert_path();
  syslog_output out("syslog-test", output_schema::native, c, m_);
  const auto alerts = test_alerts(1, 20);
  ASSERT_TRUE(out.publish(alerts));
  ASSERT_TRUE(out.flush(5s));
  const auto got = rx.wait_for(alerts.size());
  ASSERT_EQ(got.size(), alerts.size());
  expect_cef_of(got, alerts);
  EXPECT_EQ(failures("tls"), 0u);
}

TEST_F(SyslogOutput, ARestartedTlsReceiverGetsTheNextBatchOnANewConnection) {
  test::test_ca ca(dir_.path(), "ca");
  const test::pem_pair server = ca.issue(dir_.path(), "server");
  const std::uint16_t port = free_port(SOCK_STREAM);
  auto c = cfg(syslog_transport::tls, port);
  c.ca_file = ca.cert_path();
  syslog_output out("syslog-test", output_schema::native, c, m_);
  const auto first = test_alerts(1, 2);
  {
    rsyslog_receiver rx(dir_, rsyslog_receiver::mode::tls, port, &server, ca.cert_path());
    ASSERT_TRUE(rx.ready());
    ASSERT_TRUE(out.publish(first));
    ASSERT_TRUE(out.flush(5s));
    expect_cef_of(rx.wait_for(2), first);
    rx.stop();
  }
  rsyslog_receiver rx2(dir_, rsyslog_receiver::mode::tls, port, &server, ca.cert_path());
  ASSERT_TRUE(rx2.ready());
  const auto second = test_alerts(10, 2);
  ASSERT_TRUE(out.publish(second));
  ASSERT_TRUE(out.flush(5s));
  const auto got = rx2.wait_for(2);
  ASSERT_EQ(got.size(), 2u);
  expect_cef_of(got, second);
}

TEST_F(SyslogOutput, TlsWithACertificateFromAnotherCaIsRefusedAndCounted) {
  test::test_ca ca(dir_.path(), "ca");
  test::test_ca other(dir_.path(), "other");
  const test::pem_pair server = ca.issue(dir_.path(), "server");
  const std::uint16_t port = free_port(SOCK_STREAM);
  rsyslog_receiver rx(dir_, rsyslog_receiver::mode::tls, port, &server, ca.cert_path());
  ASSERT_TRUE(rx.ready());
  auto c = cfg(syslog_transport::tls, port);
  c.ca_file = other.cert_path();
  syslog_output out("syslog-test", output_schema::native, c, m_);
  ASSERT_TRUE(out.publish(test_alerts(1, 2)));
  EXPECT_FALSE(out.flush(1s));
  out.poll();
  EXPECT_EQ(out.pending(), 2u);
  EXPECT_FALSE(out.healthy());
  EXPECT_GT(failures("tls"), 0u);
  EXPECT_TRUE(rx.lines().empty());
}

TEST_F(SyslogOutput, JsonBodyArrivesAsTheAlertDocument) {
  const std::uint16_t port = free_port(SOCK_STREAM);
  rsyslog_receiver rx(dir_, rsyslog_receiver::mode::tcp, port);
  ASSERT_TRUE(rx.ready());
  auto c = cfg(syslog_transport::tcp, port);
  c.format = syslog_body::json;
  c.facility = 10;  // authpriv
  c.severity = 6;   // info
  c.app_name = "scan-detector";
  syslog_output out("syslog-test", output_schema::ocsf, c, m_);
  const auto alerts = test_alerts(1, 3);
  ASSERT_TRUE(out.publish(alerts));
  ASSERT_TRUE(out.flush(5s));
  const auto got = rx.wait_for(3);
  ASSERT_EQ(got.size(), 3u);
  std::set<std::string> ids;
  for (const stored& s : got) {
    EXPECT_EQ(s.pri, "86");  // 10 * 8 + 6
    EXPECT_EQ(s.app_name, "scan-detector");
    const auto j = nlohmann::json::parse(s.msg);
    EXPECT_EQ(j["class_uid"], 2004);
    EXPECT_EQ(test::detection_finding_problems(j), "");
    ids.insert(j["finding_info"]["uid"].get<std::string>());
  }
  EXPECT_EQ(ids.size(), 3u);
  for (const alert& a : alerts) EXPECT_TRUE(ids.count(a.alert_id));
}

}  // namespace
}  // namespace portscand
