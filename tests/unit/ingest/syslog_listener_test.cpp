// The syslog listener over real loopback sockets: UDP, TCP and TLS delivery, limits, the
// allowlist and the counters an operator reads. Real senders (logger, rsyslog) are in
// syslog_senders_test.cpp, socket activation in syslog_activation_test.cpp.
#include "ingest/syslog_listener.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <thread>
#include <vector>

#include "../test_names.hpp"
#include "ingest/peer_allowlist.hpp"
#include "ingest_test_util.hpp"

namespace portscand {
namespace {

using namespace std::chrono_literals;
using test::collected;

// A listener with its registry and collected units; started by the constructor.
struct running_listener {
  explicit running_listener(syslog_input_config c, std::string name = "syslog-test")
      : cfg(std::move(c)),
        units(std::make_shared<collected>()),
        listener(
            name, cfg, [u = units] { return std::make_unique<test::collecting_sink>(u); }, metrics,
            clk),
        name_(std::move(name)) {
    const status st = listener.start();
    started = st.ok();
    if (!st.ok()) start_error = st.err().message;
  }

  std::uint64_t counter(std::string_view metric, std::string_view reason = {}) const {
    metric_labels match{{"input", name_}};
    if (!reason.empty()) match.emplace_back("reason", std::string(reason));
    return metrics.counter_sum(metric, match);
  }
  // Counters move on the io thread: poll until `want` or the time is up.
  bool wait_counter(std::string_view metric, std::string_view reason, std::uint64_t want,
                    std::chrono::milliseconds timeout = 5s) const {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (counter(metric, reason) < want) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(5ms);
    }
    return true;
  }
  std::uint16_t port() const { return listener.bound_port(); }

  syslog_input_config cfg;
  metrics_registry metrics;
  system_clock clk;
  std::shared_ptr<collected> units;
  syslog_listener listener;
  bool started = false;
  std::string start_error;

 private:
  std::string name_;
};

syslog_input_config config_for(std::string listen) {
  syslog_input_config c;
  c.listen = std::move(listen);
  c.connection_idle_timeout = 10 * us_per_second;
  return c;
}

// "LEN SP MSG", RFC 6587 octet counting.
std::string octet(std::string_view msg) {
  return std::to_string(msg.size()) + " " + std::string(msg);
}

constexpr const char* rejected = "portscand_syslog_messages_rejected_total";
constexpr const char* refused = "portscand_syslog_connections_refused_total";
constexpr const char* closed = "portscand_syslog_connections_closed_total";
constexpr const char* accepted = "portscand_syslog_connections_accepted_total";

// A TCP connection to 127.0.0.1:port from the loopback address `from` (any of 127/8 is
// local on Linux): a peer with its own address, for the per-peer limit.
int connect_tcp_from(std::uint16_t port, const char* from) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in src{};
  src.sin_family = AF_INET;
  if (::inet_pton(AF_INET, from, &src.sin_addr) != 1 ||
      ::bind(fd, reinterpret_cast<const sockaddr*>(&src), sizeof src) != 0) {
    ::close(fd);
    return -1;
  }
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

// True while the peer has not closed `fd`: nothing to read, no EOF, no error.
bool still_open(int fd) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, 0) == 0) return true;
  char c = 0;
  const ssize_t n = ::recv(fd, &c, 1, MSG_DONTWAIT | MSG_PEEK);
  return n > 0 || (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK));
}

constexpr timestamp_us ms(long long n) {
  return n * (us_per_second / 1000);
}

// ---- pure helpers ---------------------------------------------------------------------------

struct url_case {
  std::string why;
  std::string url;
  bool ok;
  syslog_transport transport = syslog_transport::udp;
  std::string host;
  std::uint16_t port = 0;
};

class listen_url_table : public ::testing::TestWithParam<url_case> {};

TEST_P(listen_url_table, parses) {
  const url_case& c = GetParam();
  const auto r = parse_listen_url(c.url);
  ASSERT_EQ(r.ok(), c.ok) << (r.ok() ? "" : r.err().message);
  if (!c.ok) return;
  EXPECT_EQ(r.value().transport, c.transport);
  EXPECT_EQ(r.value().host, c.host);
  EXPECT_EQ(r.value().port, c.port);
}

INSTANTIATE_TEST_SUITE_P(
    parse_listen_url, listen_url_table,
    ::testing::Values(url_case{"udp on every IPv4 address", "udp://0.0.0.0:514", true,
                               syslog_transport::udp, "0.0.0.0", 514},
                      url_case{"tcp on an IPv6 address in brackets", "tcp://[::1]:6514", true,
                               syslog_transport::tcp, "::1", 6514},
                      url_case{"tls with an empty host means every address", "tls://:6514", true,
                               syslog_transport::tls, "", 6514},
                      url_case{"a star host means every address", "tcp://*:514", true,
                               syslog_transport::tcp, "", 514},
                      url_case{"port zero asks the kernel for a port", "udp://127.0.0.1:0", true,
                               syslog_transport::udp, "127.0.0.1", 0},
                      url_case{"an unknown scheme is refused", "http://0.0.0.0:514", false},
                      url_case{"a missing port is refused", "udp://0.0.0.0", false},
                      url_case{"a port above 65535 is refused", "udp://0.0.0.0:65536", false},
                      url_case{"an IPv6 address without brackets is refused", "tcp://::1:514",
                               false},
                      url_case{"a port with letters is refused", "tcp://0.0.0.0:51x", false}),
    test::why_name{});

struct allow_case {
  std::string why;
  std::vector<std::string> allow;
  std::string peer;
  bool allowed;
};

class allowlist_table : public ::testing::TestWithParam<allow_case> {};

TEST_P(allowlist_table, decides) {
  const allow_case& c = GetParam();
  const auto list = peer_allowlist::parse(c.allow);
  ASSERT_TRUE(list.ok()) << list.err().message;
  const auto peer = ip_address::parse(c.peer);
  ASSERT_TRUE(peer.has_value());
  EXPECT_EQ(list.value().allows(*peer), c.allowed);
}

INSTANTIATE_TEST_SUITE_P(
    peer_allowlist, allowlist_table,
    ::testing::Values(
        allow_case{"an empty list allows everyone", {}, "203.0.113.9", true},
        allow_case{"an IPv4 CIDR allows its members", {"10.0.0.0/8"}, "10.200.3.4", true},
        allow_case{"loopback is refused when only 10 slash 8 is allowed",
                   {"10.0.0.0/8"},
                   "127.0.0.1",
                   false},
        allow_case{
            "an IPv4 mapped peer matches an IPv4 CIDR", {"10.0.0.0/8"}, "::ffff:10.1.2.3", true},
        allow_case{
            "a mapped CIDR matches a plain IPv4 peer", {"::ffff:10.0.0.0/104"}, "10.1.2.3", true},
        allow_case{"a bare address allows exactly itself", {"192.0.2.7"}, "192.0.2.7", true},
        allow_case{"a bare address refuses its neighbour", {"192.0.2.7"}, "192.0.2.8", false},
        allow_case{"a prefix that is not byte aligned is honoured",
                   {"172.16.0.0/12"},
                   "172.31.255.255",
                   true},
        allow_case{"the first address past an unaligned prefix is refused",
                   {"172.16.0.0/12"},
                   "172.32.0.0",
                   false},
        allow_case{"an IPv6 CIDR allows its members", {"2001:db8::/32"}, "2001:db8:1::5", true},
        allow_case{"an IPv6 CIDR refuses IPv4 peers", {"2001:db8::/32"}, "32.1.13.184", false},
        allow_case{"slash zero allows every IPv4 peer", {"0.0.0.0/0"}, "198.51.100.1", true},
        allow_case{
            "IPv4 slash zero does not allow IPv6 peers", {"0.0.0.0/0"}, "2001:db8::1", false},
        allow_case{"any entry of several may match", {"10.0.0.0/8", "::1"}, "::1", true}),
    test::why_name{});

TEST(peer_allowlist, bad_entries_are_errors_that_name_the_entry) {
  for (const char* bad : {"10.0.0.0/33", "10.0.0.0/", "nonsense", "::/129", "10.0.0.0/8x"}) {
    const auto r = peer_allowlist::parse({bad});
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.err().message.find(bad), std::string::npos) << r.err().message;
  }
}

// ---- startup errors -------------------------------------------------------------------------

TEST(syslog_listener_start, a_port_taken_by_another_socket_is_a_clear_error) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(::listen(fd, 1), 0);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  running_listener l(config_for("tcp://127.0.0.1:" + std::to_string(ntohs(a.sin_port))));
  ::close(fd);
  ASSERT_FALSE(l.started);
  EXPECT_NE(l.start_error.find("Address already in use"), std::string::npos) << l.start_error;
  EXPECT_NE(l.start_error.find("syslog-test"), std::string::npos) << l.start_error;
}

TEST(syslog_listener_start, unreadable_tls_files_are_a_clear_error) {
  test::temp_dir dir;
  syslog_input_config c = config_for("tls://127.0.0.1:0");
  c.tls_certificate = dir.file("missing.pem");
  c.tls_key = dir.file("missing.key");
  running_listener l(c);
  ASSERT_FALSE(l.started);
  EXPECT_NE(l.start_error.find("missing.pem"), std::string::npos) << l.start_error;
  EXPECT_NE(l.start_error.find("No such file"), std::string::npos) << l.start_error;
}

TEST(syslog_listener_start, a_key_that_does_not_match_the_certificate_is_an_error) {
  test::temp_dir dir;
  test::test_ca ca(dir.path(), "ca");
  const auto a = ca.issue(dir.path(), "a");
  const auto b = ca.issue(dir.path(), "b");
  syslog_input_config c = config_for("tls://127.0.0.1:0");
  c.tls_certificate = a.cert_path;
  c.tls_key = b.key_path;
  running_listener l(c);
  ASSERT_FALSE(l.started);
  EXPECT_NE(l.start_error.find("mismatch"), std::string::npos) << l.start_error;
}

TEST(syslog_listener_start, a_bad_allow_entry_is_an_error) {
  syslog_input_config c = config_for("udp://127.0.0.1:0");
  c.allow = {"10.0.0.0/40"};
  running_listener l(c);
  ASSERT_FALSE(l.started);
  EXPECT_NE(l.start_error.find("10.0.0.0/40"), std::string::npos) << l.start_error;
}

// ---- UDP ------------------------------------------------------------------------------------

TEST(syslog_listener_udp, each_datagram_is_one_message_with_its_peer) {
  running_listener l(config_for("udp://127.0.0.1:0"));
  ASSERT_TRUE(l.started) << l.start_error;
  ASSERT_NE(l.port(), 0);
  ASSERT_TRUE(test::send_udp(l.port(), "<13>one\n"));
  ASSERT_TRUE(test::send_udp(l.port(), "<13>two two"));
  ASSERT_TRUE(l.units->wait_for_count(2));
  EXPECT_EQ(l.units->units(), (std::vector<std::string>{"<13>one", "<13>two two"}));
  EXPECT_EQ(l.units->peers()[0].rfind("127.0.0.1:", 0), 0u) << l.units->peers()[0];
  // on_burst_end() follows the burst's units: wait for it rather than race it.
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (l.units->bursts() == 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(1ms);
  EXPECT_GE(l.units->bursts(), 1u);
  // The counters move before the sink sees a unit, so they are exact here.
  EXPECT_EQ(l.counter("portscand_syslog_messages_received_total"), 2u);
  EXPECT_EQ(l.counter("portscand_syslog_received_bytes_total"), 8u + 11u);
}

TEST(syslog_listener_udp, a_datagram_over_the_limit_is_rejected_not_cut) {
  syslog_input_config c = config_for("udp://127.0.0.1:0");
  c.max_message_bytes = 100;
  running_listener l(c);
  ASSERT_TRUE(l.started) << l.start_error;
  ASSERT_TRUE(test::send_udp(l.port(), std::string(101, 'x')));
  ASSERT_TRUE(test::send_udp(l.port(), std::string(100, 'y')));
  ASSERT_TRUE(l.units->wait_for_count(1));
  ASSERT_TRUE(l.wait_counter(rejected, "too_large", 1));
  EXPECT_EQ(l.units->units(), std::vector<std::string>{std::string(100, 'y')});
}

TEST(syslog_listener_udp, an_empty_datagram_is_counted_not_delivered) {
  running_listener l(config_for("udp://127.0.0.1:0"));
  ASSERT_TRUE(l.started) << l.start_error;
  ASSERT_TRUE(test::send_udp(l.port(), "\n"));
  ASSERT_TRUE(test::send_udp(l.port(), "<13>after"));
  ASSERT_TRUE(l.units->wait_for_count(1));
  ASSERT_TRUE(l.wait_counter(rejected, "empty", 1));
  EXPECT_EQ(l.units->units(), std::vector<std::string>{"<13>after"});
}

TEST(syslog_listener_udp, an_octet_count_prefix_is_stripped_only_when_it_matches_the_length) {
  running_listener l(config_for("udp://127.0.0.1:0"));
  ASSERT_TRUE(l.started) << l.start_error;
  ASSERT_TRUE(test::send_udp(l.port(), octet("<13>counted")));  // logger --udp --octet-count
  ASSERT_TRUE(test::send_udp(l.port(), "12 <13>counted"));      // 12 is not the length
  ASSERT_TRUE(test::send_udp(l.port(), "2023 was a year"));     // a message, not a count
  ASSERT_TRUE(l.units->wait_for_count(3));
  EXPECT_EQ(l.units->units(),
            (std::vector<std::string>{"<13>counted", "12 <13>counted", "2023 was a year"}));
}

TEST(syslog_listener_udp, the_allowlist_drops_datagrams_from_other_peers) {
  syslog_input_config c = config_for("udp://127.0.0.1:0");
  c.allow = {"10.0.0.0/8"};
  running_listener l(c);
  ASSERT_TRUE(l.started) << l.start_error;
  ASSERT_TRUE(test::send_udp(l.port(), "<13>from loopback"));
  ASSERT_TRUE(l.wait_counter(rejected, "not_allowed", 1));
  EXPECT_EQ(l.units->size(), 0u);
}

TEST(syslog_listener_udp, kernel_drops_are_counted_from_so_rxq_ovfl) {
  // A blocked sink stops the io thread, the small socket buffer overflows, and every
  // datagram is then either delivered or counted as a kernel drop: nothing goes missing.
  syslog_input_config c = config_for("udp://127.0.0.1:0");
  c.receive_buffer_bytes = 4096;
  running_listener l(c);
  ASSERT_TRUE(l.started) << l.start_error;
  l.units->hold();
  ASSERT_TRUE(test::send_udp(l.port(), "<13>first"));  // the io thread blocks on this one
  std::this_thread::sleep_for(50ms);
  const std::string payload(200, 'p');
  constexpr int flood = 2000;
  for (int i = 0; i < flood; ++i) ASSERT_TRUE(test::send_udp(l.port(), payload));
  l.units->release();
  // The drop count travels with the next queued datagram: send one after the queue drained.
  std::this_thread::sleep_for(200ms);
  ASSERT_TRUE(test::send_udp(l.port(), "<13>marker"));
  ASSERT_TRUE(l.units->wait_for_text("<13>marker"));
  const std::uint64_t drops = l.counter("portscand_syslog_kernel_drops_total");
  EXPECT_GT(drops, 0u);
  EXPECT_EQ(l.units->size() + drops, static_cast<std::size_t>(flood) + 2);
}

// ---- TCP ------------------------------------------------------------------------------------

TEST(syslog_listener_tcp, lf_and_octet_counted_connections_deliver_every_message) {
  running_listener l(config_for("tcp://127.0.0.1:0"));
  ASSERT_TRUE(l.started) << l.start_error;
  const int lf = test::connect_tcp(l.port());
  const int oc = test::connect_tcp(l.port());
  ASSERT_GE(lf, 0);
  ASSERT_GE(oc, 0);
  ASSERT_TRUE(test::send_all(lf, "<13>lf one\n<13>lf two\r\n"));
  ASSERT_TRUE(test::send_all(oc, octet("<13>oc one") + octet("<13>oc two")));
  ASSERT_TRUE(l.units->wait_for_count(4));
  ::close(lf);
  ::close(oc);
  EXPECT_EQ(l.units->count_containing("<13>lf one"), 1u);
  EXPECT_EQ(l.units->count_containing("<13>lf two"), 1u);
  EXPECT_EQ(l.units->count_containing("<13>oc one"), 1u);
  EXPECT_EQ(l.units->count_containing("<13>oc two"), 1u);
  EXPECT_EQ(l.counter("portscand_syslog_connections_accepted_total"), 2u);
}

TEST(syslog_listener_tcp, a_message_sent_byte_by_byte_arrives_whole) {
  running_listener l(config_for("tcp://127.0.0.1:0"));
  ASSERT_TRUE(l.started) << l.start_error;
  const int fd = test::connect_tcp(l.port());
  ASSERT_GE(fd, 0);
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, 1 /* TCP_NODELAY */, &one, sizeof one);
  for (char ch : octet("<13>byte by byte!")) {
    ASSERT_TRUE(test::send_all(fd, std::string_view(&ch, 1)));
    std::this_thread::sleep_for(1ms);
  }
  ASSERT_TRUE(l.units->wait_for_count(1));
  ::close(fd);
  EXPECT_EQ(l.units->units(), std::vector<std::string>{"<13>byte by byte!"});
}

TEST(syslog_listener_tcp, a_partial_frame_at_disconnect_is_counted_as_truncated) {
  running_listener l(config_for("tcp://127.0.0.1:0"));
  ASSERT_TRUE(l.started) << l.start_error;
  const int fd = test::connect_tcp(l.port());
  ASSERT_TRUE(test::send_all(fd, octet("<13>whole") + "50 <13>cut short"));
  ASSERT_TRUE(l.units->wait_for_count(1));
  ::close(fd);
  ASSERT_TRUE(l.wait_counter(rejected, "truncated", 1));
  EXPECT_EQ(l.units->units(), std::vector<std::string>{"<13>whole"});
}

TEST(syslog_listener_tcp, an_oversize_frame_and_garbage_are_counted_and_the_stream_resyncs) {
  syslog_input_config c = config_for("tcp://127.0.0.1:0");
  c.max_message_bytes = 100;
  running_listener l(c);
  ASSERT_TRUE(l.started) << l.start_error;
  const int fd = test::connect_tcp(l.port());
  ASSERT_TRUE(test::send_all(fd, octet("<13>one") + octet(std::string(200, 'z')) +
                                     octet("<13>two") + "GARBAGE\n" + octet("<13>six")));
  ASSERT_TRUE(l.units->wait_for_count(3));
  ::close(fd);
  EXPECT_EQ(l.units->units(), (std::vector<std::string>{"<13>one", "<13>two", "<13>six"}));
  EXPECT_EQ(l.counter(rejected, "too_large"), 1u);
  EXPECT_EQ(l.counter(rejected, "garbage"), 1u);
}

TEST(syslog_listener_tcp, a_thousand_concurrent_connections_each_deliver_their_message) {
  ASSERT_GE(test::raise_fd_limit(4096), 2100u) << "RLIMIT_NOFILE too low for 2x1000 sockets";
  syslog_input_config c = config_for("tcp://127.0.0.1:0");
  c.max_connections_per_peer = 0;  // all from 127.0.0.1
  running_listener l(c);
  ASSERT_TRUE(l.started) << l.start_error;
  constexpr int n = 1000;
  std::vector<int> fds;
  for (int i = 0; i < n; ++i) {
    const int fd = test::connect_tcp(l.port());
    ASSERT_GE(fd, 0) << "connection " << i;
    fds.push_back(fd);
  }
  for (int i = 0; i < n; ++i)
    ASSERT_TRUE(test::send_all(fds[i], "<13>conn " + std::to_string(i) + " says hi\n"));
  EXPECT_TRUE(l.units->wait_for_count(n, 20s)) << l.units->size();
  // Every connection is still open here: the gauge sees all of them at once.
  EXPECT_EQ(
      l.metrics.render().find("portscand_syslog_connections_open{input=\"syslog-test\"} 1000") !=
          std::string::npos,
      true);
  for (int fd : fds) ::close(fd);
  const auto units = l.units->units();
  std::vector<int> seen(n, 0);
  for (const auto& u : units) {
    const int i = std::stoi(u.substr(std::string("<13>conn ").size()));
    ASSERT_TRUE(i >= 0 && i < n) << u;
    ++seen[i];
  }
  for (int i = 0; i < n; ++i) EXPECT_EQ(seen[i], 1) << "connection " << i;
  EXPECT_EQ(l.counter("portscand_syslog_connections_accepted_total"),
            static_cast<std::uint64_t>(n));
  EXPECT_TRUE(l.wait_counter("portscand_syslog_connections_closed_total", "peer", n, 20s));
}

// Issue 11 (slowloris): max_connections peers dripping a byte now and then, under the idle
// timeout, held every slot; new senders were accepted and closed at once, and a real scan sent
// meanwhile produced no alert. Now a newcomer evicts the connection that never delivered a
// message, and a sender that delivers is never the one to go.
TEST(syslog_listener_tcp, drippers_holding_every_slot_are_evicted_for_a_real_sender) {
  syslog_input_config c = config_for("tcp://127.0.0.1:0");
  c.max_connections = 8;
  c.connection_idle_timeout = 60 * us_per_second;  // the drippers stay under it
  c.frame_timeout = 3600 * us_per_second;          // eviction alone must let the sender in
  running_listener l(c);
  ASSERT_TRUE(l.started) << l.start_error;
  std::vector<int> drippers;
  for (int i = 0; i < 8; ++i) {
    const std::string from = "127.0.1." + std::to_string(i + 1);
    const int fd = connect_tcp_from(l.port(), from.c_str());
    ASSERT_GE(fd, 0) << from;
    ASSERT_TRUE(test::send_all(fd, "<13>a frame that never ends"));
    drippers.push_back(fd);
  }
  ASSERT_TRUE(l.wait_counter(accepted, {}, 8));                  // every slot is taken
  for (int fd : drippers) ASSERT_TRUE(test::send_all(fd, "."));  // a drip each

  const int sender = connect_tcp_from(l.port(), "127.0.2.1");
  ASSERT_GE(sender, 0);
  ASSERT_TRUE(test::send_all(sender, "<13>scan 1\n<13>scan 2\n"));
  ASSERT_TRUE(l.units->wait_for_count(2)) << "the real sender was locked out";
  EXPECT_EQ(l.units->units(), (std::vector<std::string>{"<13>scan 1", "<13>scan 2"}));
  EXPECT_EQ(l.counter(closed, "evicted"), 1u);
  EXPECT_EQ(l.counter(refused), 0u);

  // More drippers arrive: each evicts another dripper, never the sender that delivers.
  std::vector<int> late;
  for (int i = 0; i < 8; ++i) {
    const std::string from = "127.0.3." + std::to_string(i + 1);
    const int fd = connect_tcp_from(l.port(), from.c_str());
    ASSERT_GE(fd, 0) << from;
    ASSERT_TRUE(test::send_all(fd, "<13>another frame that never ends"));
    late.push_back(fd);
    ASSERT_TRUE(l.wait_counter(closed, "evicted", 2 + i));
  }
  ASSERT_TRUE(test::send_all(sender, "<13>scan 3\n"));
  ASSERT_TRUE(l.units->wait_for_count(3)) << "the real sender was evicted";
  EXPECT_TRUE(still_open(sender));
  // The 8 first drippers went (oldest first), and the first of the late ones made room for
  // the ninth eviction: 9 evictions, 9 partial frames counted as truncated.
  for (int fd : drippers) EXPECT_TRUE(test::wait_for_close(fd, 5s));
  EXPECT_TRUE(l.wait_counter(rejected, "truncated", 9));
  EXPECT_EQ(l.counter(closed, "evicted"), 9u);
  for (int fd : drippers) ::close(fd);
  for (int fd : late) ::close(fd);
  ::close(sender);
}

TEST(syslog_listener_tcp, a_peer_over_its_connection_limit_is_refused_and_others_still_connect) {
  syslog_input_config c = config_for("tcp://127.0.0.1:0");
  c.max_connections_per_peer = 2;
  running_listener l(c);
  ASSERT_TRUE(l.started) << l.start_error;
  const int a = connect_tcp_from(l.port(), "127.0.4.1");
  const int b = connect_tcp_from(l.port(), "127.0.4.1");
  ASSERT_TRUE(test::send_all(a, "<13>a\n"));
  ASSERT_TRUE(test::send_all(b, "<13>b\n"));
  ASSERT_TRUE(l.units->wait_for_count(2));  // both are established before the third arrives
  const int third = connect_tcp_from(l.port(), "127.0.4.1");
  ASSERT_GE(third, 0);
  EXPECT_TRUE(test::wait_for_close(third, 5s)) << "a third connection from one peer stayed open";
  EXPECT_TRUE(l.wait_counter(refused, "max_connections_per_peer", 1));
  const int other = connect_tcp_from(l.port(), "127.0.4.2");
  ASSERT_TRUE(test::send_all(other, "<13>other peer\n"));
  ASSERT_TRUE(l.units->wait_for_text("<13>other peer"));
  // A closed connection gives its slot back.
  ::close(a);
  ASSERT_TRUE(l.wait_counter(closed, "peer", 1));
  const int again = connect_tcp_from(l.port(), "127.0.4.1");
  ASSERT_TRUE(test::send_all(again, "<13>again\n"));
  EXPECT_TRUE(l.units->wait_for_text("<13>again"));
  EXPECT_EQ(l.counter(refused, "max_connections_per_peer"), 1u);
  for (int fd : {b, third, other, again}) ::close(fd);
}

TEST(syslog_listener_tcp, a_frame_dripped_under_the_idle_timeout_is_closed_at_the_frame_deadline) {
  syslog_input_config c = config_for("tcp://127.0.0.1:0");
  c.connection_idle_timeout = 60 * us_per_second;
  c.frame_timeout = ms(300);
  running_listener l(c);
  ASSERT_TRUE(l.started) << l.start_error;
  const int fd = test::connect_tcp(l.port());
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(test::send_all(fd, "<13>slow"));
  bool was_closed = false;
  // A byte every 50 ms for up to 10 s: never idle, the frame never ends.
  for (int i = 0; i < 200 && !was_closed; ++i) {
    std::this_thread::sleep_for(50ms);
    was_closed = !still_open(fd) || !test::send_all(fd, "x");
  }
  EXPECT_TRUE(was_closed) << "a dripping peer kept its connection";
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 250ms);
  EXPECT_TRUE(l.wait_counter(closed, "frame_timeout", 1));
  EXPECT_TRUE(l.wait_counter(rejected, "truncated", 1));
  EXPECT_EQ(l.units->size(), 0u);
  ::close(fd);
}

TEST(syslog_listener_tcp, quiet_gaps_between_whole_frames_are_not_a_frame_timeout) {
  syslog_input_config c = config_for("tcp://127.0.0.1:0");
  c.frame_timeout = ms(200);  // the gaps below are three times longer
  running_listener l(c);
  ASSERT_TRUE(l.started) << l.start_error;
  const int fd = test::connect_tcp(l.port());
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(test::send_all(fd, octet("<13>tick " + std::to_string(i))));
    std::this_thread::sleep_for(600ms);
  }
  ASSERT_TRUE(l.units->wait_for_count(3));
  EXPECT_TRUE(still_open(fd));
  EXPECT_EQ(l.counter(closed, "frame_timeout"), 0u);
  ::close(fd);
}

TEST(syslog_listener_tcp, a_peer_dripping_only_newlines_is_idle) {
  syslog_input_config c = config_for("tcp://127.0.0.1:0");
  c.connection_idle_timeout = ms(400);
  running_listener l(c);
  ASSERT_TRUE(l.started) << l.start_error;
  const int fd = test::connect_tcp(l.port());
  ASSERT_TRUE(test::send_all(fd, "<13>one message\n"));
  bool was_closed = false;
  for (int i = 0; i < 200 && !was_closed; ++i) {  // a separator every 50 ms, up to 10 s
    std::this_thread::sleep_for(50ms);
    was_closed = !still_open(fd) || !test::send_all(fd, "\n");
  }
  EXPECT_TRUE(was_closed) << "newlines between frames kept the connection from being idle";
  EXPECT_TRUE(l.wait_counter(closed, "idle_timeout", 1));
  EXPECT_EQ(l.units->units(), (std::vector<std::string>{"<13>one message"}));
  ::close(fd);
}

TEST(syslog_listener_tcp, a_silent_peer_is_closed_after_the_idle_timeout) {
  syslog_input_config c = config_for("tcp://127.0.0.1:0");
  c.connection_idle_timeout = 300 * (us_per_second / 1000);
  running_listener l(c);
  ASSERT_TRUE(l.started) << l.start_error;
  const auto t0 = std::chrono::steady_clock::now();
  const int silent = test::connect_tcp(l.port());
  ASSERT_TRUE(test::wait_for_close(silent, 5s));
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 250ms);
  ::close(silent);
  EXPECT_TRUE(l.wait_counter("portscand_syslog_connections_closed_total", "idle_timeout", 1));
}

TEST(syslog_listener_tcp, a_peer_that_keeps_talking_is_not_idle) {
  syslog_input_config c = config_for("tcp://127.0.0.1:0");
  c.connection_idle_timeout = 400 * (us_per_second / 1000);
  running_listener l(c);
  ASSERT_TRUE(l.started) << l.start_error;
  const int fd = test::connect_tcp(l.port());
  for (int i = 0; i < 10; ++i) {  // 1 s in all, never more than 100 ms apart
    ASSERT_TRUE(test::send_all(fd, "<13>tick\n"));
    std::this_thread::sleep_for(100ms);
  }
  ASSERT_TRUE(l.units->wait_for_count(10));
  EXPECT_EQ(l.counter("portscand_syslog_connections_closed_total", "idle_timeout"), 0u);
  ::close(fd);
}

TEST(syslog_listener_tcp, a_peer_waiting_behind_a_blocked_sink_is_not_closed_as_idle) {
  // While the sink blocks, no connection is read and every idle timer comes due. Right after
  // the stall none may close: the listener could not observe whether its peer was silent.
  syslog_input_config c = config_for("tcp://127.0.0.1:0");
  c.connection_idle_timeout = 600 * (us_per_second / 1000);
  running_listener l(c);
  ASSERT_TRUE(l.started) << l.start_error;
  const int blocker = test::connect_tcp(l.port());
  const int waiting = test::connect_tcp(l.port());
  ASSERT_TRUE(test::send_all(waiting, "<13>hello\n"));
  ASSERT_TRUE(l.units->wait_for_count(1));  // both accepted, timers armed
  l.units->hold();
  ASSERT_TRUE(test::send_all(blocker, "<13>blocks the io thread\n"));
  std::this_thread::sleep_for(100ms);
  ASSERT_TRUE(test::send_all(waiting, "<13>waits in the socket\n"));
  std::this_thread::sleep_for(1500ms);  // both timers are long overdue
  l.units->release();
  ASSERT_TRUE(l.units->wait_for_count(3));
  EXPECT_EQ(l.counter("portscand_syslog_connections_closed_total", "idle_timeout"), 0u);
  ASSERT_TRUE(test::send_all(waiting, "<13>still connected\n"));
  EXPECT_TRUE(l.units->wait_for_text("<13>still connected"));
  ::close(blocker);
  ::close(waiting);
}

TEST(syslog_listener_tcp, the_allowlist_refuses_loopback_when_only_ten_slash_eight_is_allowed) {
  syslog_input_config c = config_for("tcp://127.0.0.1:0");
  c.allow = {"10.0.0.0/8"};
  running_listener l(c);
  ASSERT_TRUE(l.started) << l.start_error;
  const int fd = test::connect_tcp(l.port());
  ASSERT_GE(fd, 0);
  test::send_all(fd, "<13>should not arrive\n");  // may fail: the listener already closed it
  EXPECT_TRUE(test::wait_for_close(fd, 5s));
  ::close(fd);
  EXPECT_TRUE(l.wait_counter(refused, "not_allowed", 1));
  EXPECT_EQ(l.units->size(), 0u);
  EXPECT_EQ(l.counter("portscand_syslog_connections_accepted_total"), 0u);
}

TEST(syslog_listener_tcp, a_blocked_sink_stops_reading_and_nothing_is_lost) {
  // TCP backpressure: while on_unit() blocks, the listener reads nothing, the kernel
  // buffers fill and the sender blocks; once released every message arrives.
  running_listener l(config_for("tcp://127.0.0.1:0"));
  ASSERT_TRUE(l.started) << l.start_error;
  l.units->hold();
  const int fd = test::connect_tcp(l.port());
  constexpr int n = 20000;
  std::thread sender([&] {
    for (int i = 0; i < n; ++i) test::send_all(fd, "<13>pressure " + std::to_string(i) + "\n");
  });
  std::this_thread::sleep_for(300ms);
  const std::uint64_t bytes_while_held = l.counter("portscand_syslog_received_bytes_total");
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(l.counter("portscand_syslog_received_bytes_total"), bytes_while_held);
  l.units->release();
  sender.join();
  EXPECT_TRUE(l.units->wait_for_count(n, 20s)) << l.units->size();
  ::close(fd);
}

TEST(syslog_listener_tcp, stop_closes_connections_and_counts_their_partial_frames) {
  running_listener l(config_for("tcp://127.0.0.1:0"));
  ASSERT_TRUE(l.started) << l.start_error;
  const int fd = test::connect_tcp(l.port());
  ASSERT_TRUE(test::send_all(fd, "<13>done\n<13>half"));
  ASSERT_TRUE(l.units->wait_for_count(1));
  l.listener.stop();
  EXPECT_TRUE(test::wait_for_close(fd, 5s));
  ::close(fd);
  EXPECT_EQ(l.counter(rejected, "truncated"), 1u);
  EXPECT_EQ(l.counter("portscand_syslog_connections_closed_total", "shutdown"), 1u);
  l.listener.stop();  // idempotent
}

// ---- TLS ------------------------------------------------------------------------------------

struct tls_fixture : ::testing::Test {
  test::temp_dir dir;
  test::test_ca ca{dir.path(), "ca"};
  test::test_ca other_ca{dir.path(), "other-ca"};
  test::pem_pair server = ca.issue(dir.path(), "server");
  test::pem_pair client = ca.issue(dir.path(), "client");

  syslog_input_config tls_config(bool verify_client) const {
    syslog_input_config c = config_for("tls://127.0.0.1:0");
    c.tls_certificate = server.cert_path;
    c.tls_key = server.key_path;
    c.tls_ca = ca.cert_path();
    c.tls_verify_client = verify_client;
    return c;
  }
};

TEST_F(tls_fixture, a_verified_client_delivers_octet_counted_messages) {
  running_listener l(tls_config(true));
  ASSERT_TRUE(l.started) << l.start_error;
  std::string err;
  ASSERT_TRUE(test::send_tls(l.port(), {ca.cert_path(), client.cert_path, client.key_path},
                             octet("<13>over TLS one") + octet("<13>over TLS two"), &err))
      << err;
  ASSERT_TRUE(l.units->wait_for_count(2));
  EXPECT_EQ(l.units->units(), (std::vector<std::string>{"<13>over TLS one", "<13>over TLS two"}));
  EXPECT_EQ(l.counter("portscand_syslog_connections_accepted_total"), 1u);
  EXPECT_EQ(l.counter(refused, "tls_handshake"), 0u);
}

TEST_F(tls_fixture, without_verify_client_a_client_needs_no_certificate) {
  running_listener l(tls_config(false));
  ASSERT_TRUE(l.started) << l.start_error;
  std::string err;
  ASSERT_TRUE(test::send_tls(l.port(), {ca.cert_path(), "", ""}, "<13>anonymous client\n", &err))
      << err;
  ASSERT_TRUE(l.units->wait_for_text("<13>anonymous client"));
}

TEST_F(tls_fixture, a_client_certificate_from_another_ca_is_refused_and_counted) {
  running_listener l(tls_config(true));
  ASSERT_TRUE(l.started) << l.start_error;
  const auto stranger = other_ca.issue(dir.path(), "stranger");
  test::send_tls(l.port(), {ca.cert_path(), stranger.cert_path, stranger.key_path}, "<13>x\n");
  EXPECT_TRUE(l.wait_counter(refused, "tls_handshake", 1));
  EXPECT_EQ(l.units->size(), 0u);
}

TEST_F(tls_fixture, an_expired_client_certificate_is_refused_and_counted) {
  running_listener l(tls_config(true));
  ASSERT_TRUE(l.started) << l.start_error;
  const auto expired = ca.issue(dir.path(), "expired", -2 * 86400, -86400);
  test::send_tls(l.port(), {ca.cert_path(), expired.cert_path, expired.key_path}, "<13>x\n");
  EXPECT_TRUE(l.wait_counter(refused, "tls_handshake", 1));
  EXPECT_EQ(l.units->size(), 0u);
}

TEST_F(tls_fixture, a_client_without_certificate_is_refused_when_verify_client_is_on) {
  running_listener l(tls_config(true));
  ASSERT_TRUE(l.started) << l.start_error;
  test::send_tls(l.port(), {ca.cert_path(), "", ""}, "<13>x\n");
  EXPECT_TRUE(l.wait_counter(refused, "tls_handshake", 1));
  EXPECT_EQ(l.units->size(), 0u);
}

TEST_F(tls_fixture, plain_text_sent_to_the_tls_port_is_refused_and_counted) {
  running_listener l(tls_config(false));
  ASSERT_TRUE(l.started) << l.start_error;
  const int fd = test::connect_tcp(l.port());
  ASSERT_TRUE(test::send_all(fd, "<13>this is not TLS\n"));
  EXPECT_TRUE(test::wait_for_close(fd, 5s));
  ::close(fd);
  EXPECT_TRUE(l.wait_counter(refused, "tls_handshake", 1));
  EXPECT_EQ(l.units->size(), 0u);
}

TEST_F(tls_fixture, a_client_that_never_starts_the_handshake_is_closed_when_idle) {
  syslog_input_config c = tls_config(false);
  c.connection_idle_timeout = 300 * (us_per_second / 1000);
  running_listener l(c);
  ASSERT_TRUE(l.started) << l.start_error;
  const int fd = test::connect_tcp(l.port());
  EXPECT_TRUE(test::wait_for_close(fd, 5s));
  ::close(fd);
  EXPECT_TRUE(l.wait_counter("portscand_syslog_connections_closed_total", "idle_timeout", 1));
  EXPECT_EQ(l.counter(refused, "tls_handshake"), 0u);
}

TEST_F(tls_fixture, a_handshake_dripped_under_the_idle_timeout_is_closed_at_the_frame_deadline) {
  syslog_input_config c = tls_config(false);
  c.connection_idle_timeout = 60 * us_per_second;
  c.frame_timeout = ms(300);
  running_listener l(c);
  ASSERT_TRUE(l.started) << l.start_error;
  const int fd = test::connect_tcp(l.port());
  // A TLS record header announcing a 512-byte handshake record, then its body a byte at a time.
  ASSERT_TRUE(test::send_all(fd, std::string("\x16\x03\x01\x02\x00", 5)));
  bool was_closed = false;
  for (int i = 0; i < 200 && !was_closed; ++i) {
    std::this_thread::sleep_for(50ms);
    was_closed = !still_open(fd) || !test::send_all(fd, std::string(1, '\0'));
  }
  EXPECT_TRUE(was_closed) << "a dripped handshake kept its connection";
  EXPECT_TRUE(l.wait_counter(closed, "frame_timeout", 1));
  EXPECT_EQ(l.counter(refused, "tls_handshake"), 0u);
  ::close(fd);
}

}  // namespace
}  // namespace portscand
