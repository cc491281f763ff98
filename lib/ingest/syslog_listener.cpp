#include "ingest/syslog_listener.hpp"

#include <netinet/in.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <systemd/sd-daemon.h>

#include <array>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <climits>
#include <cstring>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "core/assert.hpp"
#include "core/log.hpp"
#include "core/thread_guard.hpp"
#include "ingest/peer_allowlist.hpp"
#include "ingest/syslog_framing.hpp"

namespace portscand {

namespace asio = boost::asio;
using asio::ip::tcp;
using asio::ip::udp;
using boost::system::error_code;
using tls_stream = asio::ssl::stream<tcp::socket>;

namespace {

std::string_view scheme(syslog_transport t) noexcept {
  switch (t) {
    case syslog_transport::udp:
      return "udp";
    case syslog_transport::tcp:
      return "tcp";
    case syslog_transport::tls:
      return "tls";
  }
  return "?";
}

// Messages that were received but not delivered. Each is a metric label.
enum class reject_reason : std::uint8_t {
  too_large,
  garbage,
  truncated,
  empty,
  not_allowed,
  count_
};
constexpr std::array<std::string_view, 5> reject_names = {"too_large", "garbage", "truncated",
                                                          "empty", "not_allowed"};
reject_reason from_frame_error(frame_error e) noexcept {
  switch (e) {
    case frame_error::too_large:
      return reject_reason::too_large;
    case frame_error::garbage:
      return reject_reason::garbage;
    case frame_error::truncated:
      return reject_reason::truncated;
  }
  return reject_reason::garbage;
}

// Connections closed at once, before any byte of theirs was read as a message. There is no
// "max_connections" reason any more: at that limit an old connection is evicted instead.
enum class refuse_reason : std::uint8_t {
  not_allowed,
  max_connections_per_peer,
  tls_handshake,
  count_
};
constexpr std::array<std::string_view, 3> refuse_names = {"not_allowed", "max_connections_per_peer",
                                                          "tls_handshake"};

// Why an established connection ended. `evicted`: closed at max_connections to admit a new
// one; `frame_timeout`: a message (or TLS handshake) not completed within frame_timeout.
enum class close_reason : std::uint8_t {
  peer,
  idle_timeout,
  frame_timeout,
  evicted,
  shutdown,
  count_
};
constexpr std::array<std::string_view, 5> close_names = {"peer", "idle_timeout", "frame_timeout",
                                                         "evicted", "shutdown"};

// Every metric of one listener, looked up once at construction so that the data path only
// touches counters.
struct listener_metrics {
  listener_metrics(metrics_registry& r, const std::string& input)
      : messages(r.get_counter("portscand_syslog_messages_received_total",
                               "Syslog messages delivered to the decoder.", {{"input", input}})),
        bytes(r.get_counter("portscand_syslog_received_bytes_total",
                            "Bytes read from syslog sockets, framing included.",
                            {{"input", input}})),
        kernel_drops(r.get_counter("portscand_syslog_kernel_drops_total",
                                   "UDP datagrams the kernel dropped because the socket receive "
                                   "buffer was full (SO_RXQ_OVFL).",
                                   {{"input", input}})),
        accepted(r.get_counter("portscand_syslog_connections_accepted_total",
                               "TCP/TLS connections established (TLS: after the handshake).",
                               {{"input", input}})),
        open(r.get_gauge("portscand_syslog_connections_open",
                         "TCP/TLS connections currently open (TLS handshakes included).",
                         {{"input", input}})),
        receive_buffer(
            r.get_gauge("portscand_syslog_receive_buffer_bytes",
                        "Effective SO_RCVBUF of a UDP listener, as the kernel reports it.",
                        {{"input", input}})) {
    for (std::size_t i = 0; i < rejected.size(); ++i)
      rejected[i] = &r.get_counter("portscand_syslog_messages_rejected_total",
                                   "Syslog messages received but not delivered, by reason.",
                                   {{"input", input}, {"reason", std::string(reject_names[i])}});
    for (std::size_t i = 0; i < refused.size(); ++i)
      refused[i] = &r.get_counter("portscand_syslog_connections_refused_total",
                                  "TCP/TLS connections closed without reading, by reason.",
                                  {{"input", input}, {"reason", std::string(refuse_names[i])}});
    for (std::size_t i = 0; i < closed.size(); ++i)
      closed[i] = &r.get_counter("portscand_syslog_connections_closed_total",
                                 "Established TCP/TLS connections that ended, by reason.",
                                 {{"input", input}, {"reason", std::string(close_names[i])}});
  }

  counter& messages;
  counter& bytes;
  counter& kernel_drops;
  counter& accepted;
  gauge& open;
  gauge& receive_buffer;
  std::array<counter*, static_cast<std::size_t>(reject_reason::count_)> rejected{};
  std::array<counter*, static_cast<std::size_t>(refuse_reason::count_)> refused{};
  std::array<counter*, static_cast<std::size_t>(close_reason::count_)> closed{};
};

ip_address to_ip(const asio::ip::address& a) noexcept {
  if (a.is_v4()) return ip_address::from_v4(a.to_v4().to_uint());
  const auto b = a.to_v6().to_bytes();
  std::array<std::uint8_t, 16> bytes{};
  std::memcpy(bytes.data(), b.data(), 16);
  return ip_address::from_v6(bytes);
}

// "a.b.c.d:port" or "[v6]:port" into `out` (at least 64 bytes); returns the length.
std::size_t format_peer(const ip_address& ip, std::uint16_t port, char* out) noexcept {
  std::size_t n = 0;
  if (!ip.is_v4()) out[n++] = '[';
  n += ip.format(out + n);
  if (!ip.is_v4()) out[n++] = ']';
  out[n++] = ':';
  n = static_cast<std::size_t>(std::to_chars(out + n, out + 64, port).ptr - out);
  return n;
}

// systemd socket activation. Inherited sockets are process-wide; each is handed to at most
// one listener.
std::mutex activation_mu;
std::set<int> claimed_fds;

int take_inherited_socket(syslog_transport t, std::uint16_t port) {
  if (port == 0) return -1;        // an ephemeral port cannot have been prepared by systemd
  const int n = sd_listen_fds(0);  // 0 when LISTEN_PID is not this process
  if (n <= 0) return -1;
  const int type = t == syslog_transport::udp ? SOCK_DGRAM : SOCK_STREAM;
  const int listening = t == syslog_transport::udp ? -1 : 1;
  std::lock_guard lock(activation_mu);
  for (int fd = SD_LISTEN_FDS_START; fd < SD_LISTEN_FDS_START + n; ++fd) {
    if (claimed_fds.count(fd) != 0) continue;
    if (sd_is_socket_inet(fd, AF_UNSPEC, type, listening, port) > 0) {
      claimed_fds.insert(fd);
      return fd;
    }
  }
  return -1;
}

// Address family of a socket, for asio's assign().
int socket_family(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return AF_UNSPEC;
  return ss.ss_family;
}

bool is_separator(char c) noexcept {
  return c == '\n' || c == '\r' || c == '\0';
}

// util-linux logger --octet-count prefixes UDP datagrams too ("168 <13>1 ..."), which RFC 5426
// does not allow. A prefix whose LEN is exactly the rest of the datagram cannot be an accident
// of a real message, so it is dropped; anything else is left alone.
std::string_view strip_octet_count(std::string_view d) noexcept {
  std::size_t i = 0;
  std::size_t len = 0;
  while (i < d.size() && i < 6 && d[i] >= '0' && d[i] <= '9') len = len * 10 + (d[i++] - '0');
  if (i == 0 || d[0] == '0' || i >= d.size() || d[i] != ' ') return d;
  const std::string_view rest = d.substr(i + 1);
  return rest.size() == len ? rest : d;
}

// One TLS file of a tls:// listener that cannot be used: which key (certificate, key, ca)
// and why, in the words the operator reads in the log or from check-config.
struct tls_file_failure {
  const char* key;
  std::string message;
};

// Loads the certificate chain, the private key and the CA file of a tls:// listener into
// ctx. The listener uses it when it starts and check_tls_files() on a throw-away context,
// so check-config refuses exactly the files `run` would. Every unreadable file is reported;
// OpenSSL only sees the files once all of them can be read.
std::vector<tls_file_failure> load_tls_files(asio::ssl::context& ctx,
                                             const syslog_input_config& cfg) {
  std::vector<tls_file_failure> failures;
  const auto readable = [&failures](const char* key, const std::string& path) {
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (f == nullptr) {
      failures.push_back({key, "cannot read tls." + std::string(key) + " '" + path +
                                   "': " + std::strerror(errno)});
      return;
    }
    std::fclose(f);
  };
  readable("certificate", cfg.tls_certificate);
  readable("key", cfg.tls_key);
  if (!cfg.tls_ca.empty()) readable("ca", cfg.tls_ca);
  if (!failures.empty()) return failures;

  error_code ec;
  ctx.use_certificate_chain_file(cfg.tls_certificate, ec);
  if (ec)
    return {{"certificate", "tls.certificate '" + cfg.tls_certificate + "': " + ec.message()}};
  ctx.use_private_key_file(cfg.tls_key, asio::ssl::context::pem, ec);
  if (ec)
    return {{"key",
             "tls.key '" + cfg.tls_key + "' cannot be used with tls.certificate: " + ec.message()}};
  if (SSL_CTX_check_private_key(ctx.native_handle()) != 1)
    return {{"key", "tls.key '" + cfg.tls_key + "' does not match tls.certificate"}};
  if (!cfg.tls_ca.empty()) {
    ctx.load_verify_file(cfg.tls_ca, ec);
    if (ec) return {{"ca", "tls.ca '" + cfg.tls_ca + "': " + ec.message()}};
  }
  return {};
}

constexpr std::size_t read_buffer_bytes = 16 * 1024;
// How late an idle timer may fire before we assume the io thread was stalled.
constexpr std::chrono::milliseconds stall_tolerance{250};
constexpr unsigned udp_batch = 32;           // datagrams per recvmmsg() (one burst)
constexpr unsigned udp_bursts_per_wake = 8;  // then yield to stop() and timers
constexpr std::size_t udp_max_payload = 65535;

}  // namespace

std::vector<config_problem> check_tls_files(const syslog_input_config& cfg,
                                            const std::string& path) {
  auto ep = parse_listen_url(cfg.listen);
  // A bad URL or a missing certificate/key entry is the configuration's own problem (reported
  // by the configuration reader); there are no files to look at then.
  if (!ep || ep->transport != syslog_transport::tls || cfg.tls_certificate.empty() ||
      cfg.tls_key.empty())
    return {};
  asio::ssl::context ctx(asio::ssl::context::tls_server);
  std::vector<config_problem> problems;
  for (auto& f : load_tls_files(ctx, cfg))
    problems.push_back({path + ".tls." + f.key, std::move(f.message)});
  return problems;
}

// ---------------------------------------------------------------------------------------------

class syslog_listener::impl {
 public:
  impl(std::string name, const syslog_input_config& cfg,
       std::function<std::unique_ptr<unit_sink>()> make_sink, metrics_registry& metrics,
       const clock& clk)
      : name_(std::move(name)),
        cfg_(cfg),
        make_sink_(std::move(make_sink)),
        m_(metrics, name_),
        clock_(clk),
        idle_timeout_(std::chrono::microseconds(cfg.connection_idle_timeout)),
        frame_timeout_(std::chrono::microseconds(cfg.frame_timeout)) {}

  status start();
  void stop();

  std::uint16_t port_ = 0;
  bool activated_ = false;

 private:
  class connection_base;
  template <class Stream>
  class connection;

  status resolve(const listen_endpoint& ep, asio::ip::address& out) const;
  status setup_tls();
  status open_udp(const asio::ip::address& addr);
  status open_tcp(const asio::ip::address& addr);
  void run();
  void shutdown_io();

  void accept();
  void on_accepted(tcp::socket s);
  void evict_one(std::string_view newcomer);
  void refuse(refuse_reason r, std::string_view peer);
  void on_connection_gone(connection_base* c);
  void release_slot(const ip_address& ip);

  void udp_wait();
  void udp_drain();
  bool on_datagram(mmsghdr& mm, char* data, timestamp_us now);
  void count_kernel_drops(const msghdr& h);

  void reject(reject_reason r, std::string_view peer);
  template <typename... Args>
  void warn_limited(std::string_view key, fmt::format_string<Args...> f, Args&&... args);

  const std::string name_;
  const syslog_input_config cfg_;
  std::function<std::unique_ptr<unit_sink>()> make_sink_;
  listener_metrics m_;
  const clock& clock_;
  const std::chrono::steady_clock::duration idle_timeout_;
  const std::chrono::steady_clock::duration frame_timeout_;
  listen_endpoint ep_;
  peer_allowlist allow_;
  rate_limited_log log_limit_;
  std::unique_ptr<unit_sink> sink_;
  std::optional<asio::ssl::context> tls_;
  std::unordered_set<connection_base*> conns_;  // until their handlers are gone
  // Connections not yet closed (conns_ also holds closed ones whose handlers are still
  // pending), in all and per peer address: what max_connections and _per_peer limit.
  std::size_t live_ = 0;
  std::unordered_map<ip_address, std::size_t> live_per_peer_;
  bool stopping_ = false;

  // Declared after everything its handlers reference, before the I/O objects bound to it.
  asio::io_context io_{1};
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_;
  std::optional<udp::socket> udp_;
  std::optional<tcp::acceptor> acceptor_;
  std::optional<asio::steady_timer> accept_retry_;

  // UDP burst buffers: udp_batch slots of one maximal datagram each.
  struct udp_slot {
    sockaddr_storage addr;
    iovec iov;
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(std::uint32_t)) + 16];
  };
  std::vector<mmsghdr> msgs_;
  std::vector<udp_slot> slots_;
  std::vector<char> udp_buffer_;
  std::size_t slot_bytes_ = 0;
  std::uint32_t last_drops_ = 0;

  std::thread thread_;
};

// The io thread's view of a connection: what shutdown and eviction need.
class syslog_listener::impl::connection_base {
 public:
  // Which connection to evict at max_connections: the lowest rank goes first. A connection
  // that never delivered a message (a slowloris, a stuck TLS handshake) ranks below every
  // one that did; within each group the one whose last message (or, without one, whose
  // accept) lies furthest back goes first. A sender that delivers messages regularly is
  // therefore the last to go.
  struct rank {
    bool delivered;
    std::chrono::steady_clock::time_point since;
    friend bool operator<(const rank& a, const rank& b) noexcept {
      return a.delivered != b.delivered ? !a.delivered : a.since < b.since;
    }
  };

  virtual ~connection_base() = default;
  virtual void close(close_reason why) = 0;
  virtual bool closed() const noexcept = 0;
  virtual rank eviction_rank() const noexcept = 0;
  virtual std::string_view peer() const noexcept = 0;
};

// One TCP or TLS connection: reads, frames, delivers. Lives as long as a handler of its own
// holds it; every member is touched only on the io thread.
template <class Stream>
class syslog_listener::impl::connection final
    : public connection_base,
      public frame_handler,
      public std::enable_shared_from_this<connection<Stream>> {
  static constexpr bool is_tls = std::is_same_v<Stream, tls_stream>;

 public:
  // The caller has counted the connection in live_ and live_per_peer_[ip]; close() (or the
  // destructor) gives that slot back.
  connection(impl& owner, Stream stream, const ip_address& ip, std::string peer)
      : owner_(owner),
        stream_(std::move(stream)),
        timer_(stream_.get_executor()),
        framer_(owner.cfg_.max_message_bytes),
        ip_(ip),
        peer_(std::move(peer)),
        buf_(new char[read_buffer_bytes]),
        accepted_at_(std::chrono::steady_clock::now()),
        last_activity_(accepted_at_),
        frame_started_(accepted_at_) {}

  ~connection() override {
    if (!closed_) owner_.release_slot(ip_);
    owner_.on_connection_gone(this);
  }

  void start() {
    arm_timer(next_due(last_activity_));
    if constexpr (is_tls) {
      stream_.async_handshake(
          asio::ssl::stream_base::server,
          [self = this->shared_from_this()](const error_code& ec) { self->on_handshake(ec); });
    } else {
      owner_.m_.accepted.inc();
      read();
    }
  }

  void close(close_reason why) override {
    if (closed_) return;
    closed_ = true;
    owner_.release_slot(ip_);
    if (established_) owner_.m_.closed[static_cast<std::size_t>(why)]->inc();
    timer_.cancel();
    error_code ignored;
    stream_.lowest_layer().close(ignored);
  }

  // Evicted, timed out and shut down connections are counted even during a TLS handshake.
  void close_counted(close_reason why) {
    established_ = true;
    close(why);
  }

  bool closed() const noexcept override { return closed_; }
  rank eviction_rank() const noexcept override {
    return {ever_delivered_, ever_delivered_ ? last_delivery_ : accepted_at_};
  }
  std::string_view peer() const noexcept override { return peer_; }

  void on_frame(std::string_view frame) override {
    owner_.m_.messages.inc();  // received, even while the sink below blocks
    owner_.sink_->on_unit(frame, unit_meta{receive_time_, peer_});
    delivered_ = true;
    ++frames_ended_;
  }

  void on_frame_error(frame_error e) override {
    owner_.reject(from_frame_error(e), peer_);
    ++frames_ended_;
  }

 private:
  void on_handshake(const error_code& ec) {
    if (ec) {
      // A handshake cut short by the idle timer or by shutdown is not the peer's TLS failure.
      if (!closed_) {
        owner_.refuse(refuse_reason::tls_handshake, peer_);
        owner_.warn_limited("tls_handshake", "TLS handshake with {} failed: {}", peer_,
                            ec.message());
        close(close_reason::peer);
      }
      return;
    }
    owner_.m_.accepted.inc();
    established_ = true;
    in_frame_ = false;  // the handshake was under the frame deadline; it is done
    last_activity_ = std::chrono::steady_clock::now();
    read();
  }

  void read() {
    stream_.async_read_some(asio::buffer(buf_.get(), read_buffer_bytes),
                            [self = this->shared_from_this()](const error_code& ec, std::size_t n) {
                              self->on_read(ec, n);
                            });
  }

  void on_read(const error_code& ec, std::size_t n) {
    if (ec) {
      // End of stream (EOF, TLS without close_notify, reset, our own close): a frame in
      // progress is counted as truncated and never delivered.
      framer_.finish(*this);
      close(close_reason::peer);
      return;
    }
    owner_.m_.bytes.inc(n);
    const auto now = std::chrono::steady_clock::now();
    receive_time_ = owner_.clock_.now();
    delivered_ = false;
    frames_ended_ = 0;
    // on_unit() may block here while the engine is behind: then this io thread reads no
    // socket at all and TCP flow control pushes back on every peer (README "backpressure").
    framer_.feed(std::string_view(buf_.get(), n), *this);
    const bool in_frame = framer_.in_frame();
    // Separators between frames (LF, CR, NUL) are no activity: a peer dripping newlines
    // would otherwise never be idle and never start a frame the deadline could time.
    if (in_frame_ || in_frame || frames_ended_ != 0) last_activity_ = now;
    // A frame started in this read: its deadline runs from now.
    if (in_frame && (!in_frame_ || frames_ended_ != 0)) {
      frame_started_ = now;
      frame_grace_ = false;
    }
    in_frame_ = in_frame;
    if (delivered_) {
      ever_delivered_ = true;
      last_delivery_ = now;
      owner_.sink_->on_burst_end();
    }
    if (!closed_) read();
  }

  // When the timer should next look: the idle deadline, the frame deadline of a frame in
  // progress, and between frames at least every frame_timeout (a frame that starts now is
  // then timed without re-arming the timer on the data path).
  std::chrono::steady_clock::time_point next_due(std::chrono::steady_clock::time_point now) const {
    const auto idle_due = last_activity_ + owner_.idle_timeout_;
    const auto frame_due = (in_frame_ ? frame_started_ : now) + owner_.frame_timeout_;
    return std::min(idle_due, frame_due);
  }

  // The timer is re-armed from its own handler rather than on every read, so a busy
  // connection costs one clock read per segment, not a timer cancel.
  void arm_timer(std::chrono::steady_clock::time_point at) {
    timer_.expires_at(at);
    timer_.async_wait([self = this->shared_from_this()](const error_code& ec) {
      if (!ec && !self->closed_) self->on_timer();
    });
  }

  void on_timer() {
    const auto now = std::chrono::steady_clock::now();
    const auto lateness = now - timer_.expiry();
    // A timer that fires late means the io thread was stalled (a sink blocked by
    // backpressure): nothing was read meanwhile, so neither the silence nor the slow frame
    // was the peer's doing. Closing then would drop its data; the stall is not counted.
    if (lateness > stall_tolerance) {
      last_activity_ = now;
      frame_started_ += lateness;
      return arm_timer(next_due(now));
    }
    error_code ignored;
    const bool unread = stream_.lowest_layer().available(ignored) > 0;
    if (in_frame_ && now >= frame_started_ + owner_.frame_timeout_) {
      // Bytes waiting in the socket may finish the frame: read them first, once.
      if (unread && !frame_grace_) {
        frame_grace_ = true;
        return arm_timer(now + stall_tolerance);
      }
      owner_.warn_limited(
          "frame_timeout", "closing {}: {} not complete after {} ms", peer_,
          established_ ? "message" : "TLS handshake",
          std::chrono::duration_cast<std::chrono::milliseconds>(owner_.frame_timeout_).count());
      return close_counted(close_reason::frame_timeout);
    }
    if (now >= last_activity_ + owner_.idle_timeout_) {
      // Bytes waiting in the socket prove the peer is not idle.
      if (unread) {
        last_activity_ = now;
        return arm_timer(next_due(now));
      }
      owner_.warn_limited(
          "idle_timeout", "closing {}: idle for {} ms", peer_,
          std::chrono::duration_cast<std::chrono::milliseconds>(owner_.idle_timeout_).count());
      return close_counted(close_reason::idle_timeout);
    }
    arm_timer(next_due(now));
  }

  impl& owner_;
  Stream stream_;
  asio::steady_timer timer_;  // idle and frame deadlines
  syslog_framer framer_;
  const ip_address ip_;
  const std::string peer_;
  std::unique_ptr<char[]> buf_;
  const std::chrono::steady_clock::time_point accepted_at_;
  std::chrono::steady_clock::time_point last_activity_;
  // Start of the frame in progress (of the TLS handshake until it completes).
  std::chrono::steady_clock::time_point frame_started_;
  std::chrono::steady_clock::time_point last_delivery_{};
  timestamp_us receive_time_ = 0;
  std::size_t frames_ended_ = 0;  // frames delivered or rejected by the current feed()
  bool in_frame_ = is_tls;        // the handshake counts as a frame
  bool frame_grace_ = false;
  bool ever_delivered_ = false;
  bool established_ = !is_tls;
  bool delivered_ = false;
  bool closed_ = false;
};

template <typename... Args>
void syslog_listener::impl::warn_limited(std::string_view key, fmt::format_string<Args...> f,
                                         Args&&... args) {
  std::uint64_t suppressed = 0;
  if (!log_limit_.allow(key, clock_.now(), suppressed)) return;
  spdlog::warn(
      "syslog input {}: {}{}", name_, fmt::format(f, std::forward<Args>(args)...),
      suppressed != 0 ? fmt::format(" ({} more since the last line)", suppressed) : std::string());
}

void syslog_listener::impl::reject(reject_reason r, std::string_view peer) {
  m_.rejected[static_cast<std::size_t>(r)]->inc();
  const std::string_view reason = reject_names[static_cast<std::size_t>(r)];
  warn_limited(reason, "message from {} rejected: {}", peer, reason);
}

void syslog_listener::impl::refuse(refuse_reason r, std::string_view peer) {
  m_.refused[static_cast<std::size_t>(r)]->inc();
  if (r == refuse_reason::tls_handshake) return;  // logged with OpenSSL's reason by the caller
  const std::string_view reason = refuse_names[static_cast<std::size_t>(r)];
  warn_limited(reason, "connection from {} refused: {}", peer, reason);
}

status syslog_listener::impl::resolve(const listen_endpoint& ep, asio::ip::address& out) const {
  if (ep.host.empty()) {
    out = asio::ip::address_v6::any();  // dual-stack; open_* falls back to IPv4
    return ok_status();
  }
  error_code ec;
  out = asio::ip::make_address(ep.host, ec);
  if (!ec) return ok_status();
  asio::io_context tmp;
  tcp::resolver resolver(tmp);
  const auto results = resolver.resolve(ep.host, "", tcp::resolver::passive, ec);
  if (ec || results.empty())
    return error{"cannot resolve listen host '" + ep.host + "': " + ec.message()};
  out = results.begin()->endpoint().address();
  return ok_status();
}

status syslog_listener::impl::setup_tls() {
  tls_.emplace(asio::ssl::context::tls_server);
  SSL_CTX* ctx = tls_->native_handle();
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  tls_->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_compression |
                    asio::ssl::context::single_dh_use);
  if (const auto failures = load_tls_files(*tls_, cfg_); !failures.empty())
    return error{failures.front().message};
  if (cfg_.tls_verify_client) {
    tls_->set_verify_mode(asio::ssl::verify_peer | asio::ssl::verify_fail_if_no_peer_cert);
    // Tell clients which CAs we accept (clients with several certificates pick by it).
    if (STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(cfg_.tls_ca.c_str()))
      SSL_CTX_set_client_CA_list(ctx, names);
    // Without a session id context, OpenSSL refuses to resume a session of a verified client.
    static constexpr unsigned char sid_ctx[] = "portscand-syslog";
    SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof sid_ctx - 1);
  } else {
    tls_->set_verify_mode(asio::ssl::verify_none);
  }
  return ok_status();
}

status syslog_listener::impl::open_udp(const asio::ip::address& addr) {
  error_code ec;
  udp_.emplace(io_);
  const std::string where = fmt::format("udp://{}:{}", ep_.host, ep_.port);
  if (const int fd = take_inherited_socket(syslog_transport::udp, ep_.port); fd >= 0) {
    udp_->assign(socket_family(fd) == AF_INET6 ? udp::v6() : udp::v4(), fd, ec);
    if (ec) return error{"cannot adopt the inherited socket for " + where + ": " + ec.message()};
    activated_ = true;
  } else {
    udp::endpoint endpoint(addr, ep_.port);
    udp_->open(endpoint.protocol(), ec);
    if (ec && ep_.host.empty()) {  // no IPv6 in this kernel: every IPv4 address instead
      endpoint = udp::endpoint(asio::ip::address_v4::any(), ep_.port);
      udp_->open(endpoint.protocol(), ec);
    }
    if (ec) return error{"cannot open a socket for " + where + ": " + ec.message()};
    if (endpoint.address().is_v6()) udp_->set_option(asio::ip::v6_only(false), ec);
    udp_->bind(endpoint, ec);
    if (ec) return error{"cannot bind " + where + ": " + ec.message()};
  }
  udp_->non_blocking(true, ec);
  const int fd = udp_->native_handle();
  const int on = 1;
  if (::setsockopt(fd, SOL_SOCKET, SO_RXQ_OVFL, &on, sizeof on) != 0)
    spdlog::warn("syslog input {}: SO_RXQ_OVFL unavailable ({}): kernel drops are not counted",
                 name_, std::strerror(errno));
  // SO_RCVBUFFORCE passes net.core.rmem_max when we may (CAP_NET_ADMIN); SO_RCVBUF is capped.
  const int want = static_cast<int>(std::min<std::size_t>(cfg_.receive_buffer_bytes, INT_MAX / 2));
  if (::setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &want, sizeof want) != 0)
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &want, sizeof want);
  int got = 0;
  socklen_t len = sizeof got;
  ::getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &got, &len);
  m_.receive_buffer.set(got);
  if (got / 2 < want)  // the kernel reports twice what it grants for payload
    spdlog::warn("syslog input {}: receive buffer is {} bytes, not {}: raise net.core.rmem_max",
                 name_, got / 2, want);

  slot_bytes_ = std::min(cfg_.max_message_bytes, udp_max_payload);
  udp_buffer_.resize(slot_bytes_ * udp_batch);
  slots_.resize(udp_batch);
  msgs_.resize(udp_batch);
  for (unsigned i = 0; i < udp_batch; ++i) {
    slots_[i].iov = iovec{udp_buffer_.data() + i * slot_bytes_, slot_bytes_};
    msghdr& h = msgs_[i].msg_hdr;
    h = msghdr{};
    h.msg_name = &slots_[i].addr;
    h.msg_iov = &slots_[i].iov;
    h.msg_iovlen = 1;
    h.msg_control = slots_[i].control;
  }
  port_ = udp_->local_endpoint(ec).port();
  return ok_status();
}

status syslog_listener::impl::open_tcp(const asio::ip::address& addr) {
  error_code ec;
  acceptor_.emplace(io_);
  accept_retry_.emplace(io_);
  const std::string where = fmt::format("{}://{}:{}", scheme(ep_.transport), ep_.host, ep_.port);
  if (const int fd = take_inherited_socket(ep_.transport, ep_.port); fd >= 0) {
    acceptor_->assign(socket_family(fd) == AF_INET6 ? tcp::v6() : tcp::v4(), fd, ec);
    if (ec) return error{"cannot adopt the inherited socket for " + where + ": " + ec.message()};
    activated_ = true;
  } else {
    tcp::endpoint endpoint(addr, ep_.port);
    acceptor_->open(endpoint.protocol(), ec);
    if (ec && ep_.host.empty()) {
      endpoint = tcp::endpoint(asio::ip::address_v4::any(), ep_.port);
      acceptor_->open(endpoint.protocol(), ec);
    }
    if (ec) return error{"cannot open a socket for " + where + ": " + ec.message()};
    // Restarting while old connections sit in TIME_WAIT must not fail; a port that another
    // process listens on still fails to bind.
    acceptor_->set_option(tcp::acceptor::reuse_address(true), ec);
    if (endpoint.address().is_v6()) acceptor_->set_option(asio::ip::v6_only(false), ec);
    acceptor_->bind(endpoint, ec);
    if (ec) return error{"cannot bind " + where + ": " + ec.message()};
    acceptor_->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) return error{"cannot listen on " + where + ": " + ec.message()};
  }
  port_ = acceptor_->local_endpoint(ec).port();
  return ok_status();
}

status syslog_listener::impl::start() {
  if (thread_.joinable() || stopping_) return error{"syslog input " + name_ + ": started twice"};
  const auto prefix = [this](const error& e) {
    return error{"syslog input " + name_ + ": " + e.message};
  };
  auto ep = parse_listen_url(cfg_.listen);
  if (!ep) return prefix(error{"listen " + ep.err().message});
  ep_ = std::move(ep).value();
  auto allow = peer_allowlist::parse(cfg_.allow);
  if (!allow) return prefix(allow.err());
  allow_ = std::move(allow).value();
  asio::ip::address addr;
  if (auto st = resolve(ep_, addr); !st) return prefix(st.err());
  if (ep_.transport == syslog_transport::tls)
    if (auto st = setup_tls(); !st) return prefix(st.err());
  const status opened = ep_.transport == syslog_transport::udp ? open_udp(addr) : open_tcp(addr);
  if (!opened) return prefix(opened.err());
  sink_ = make_sink_ ? make_sink_() : nullptr;
  if (!sink_) return error{"syslog input " + name_ + ": no sink"};

  work_.emplace(io_.get_executor());
  if (udp_)
    udp_wait();
  else
    accept();
  thread_ = std::thread(guarded("syslog-listener", [this] { run(); }));
  spdlog::info("syslog input {}: listening on {}://{}:{}{}", name_, scheme(ep_.transport),
               ep_.host.empty() ? "*" : ep_.host, port_,
               activated_ ? " (socket from systemd)" : "");
  return ok_status();
}

void syslog_listener::impl::run() {
  const std::string thread_name = ("syslog-" + name_).substr(0, 15);
  pthread_setname_np(pthread_self(), thread_name.c_str());
  for (;;) {
    try {
      io_.run();
      return;
    } catch (const std::exception& e) {
      // Nothing on the data path throws by design; if something does (bad_alloc), keep the
      // listener alive rather than take the daemon down.
      spdlog::error("syslog input {}: unexpected exception on the io thread: {}", name_, e.what());
    }
  }
}

void syslog_listener::impl::stop() {
  if (!thread_.joinable()) return;
  asio::post(io_, [this] { shutdown_io(); });
  thread_.join();
}

void syslog_listener::impl::shutdown_io() {
  stopping_ = true;
  error_code ignored;
  if (acceptor_) acceptor_->close(ignored);
  if (accept_retry_) accept_retry_->cancel();
  if (udp_) udp_->close(ignored);
  // close() only cancels: each connection goes away when its pending handlers have run.
  for (connection_base* c : std::vector<connection_base*>(conns_.begin(), conns_.end()))
    c->close(close_reason::shutdown);
  work_.reset();  // run() returns once the cancelled handlers are done
}

void syslog_listener::impl::accept() {
  acceptor_->async_accept([this](const error_code& ec, tcp::socket s) {
    if (stopping_ || ec == asio::error::operation_aborted) return;
    if (ec) {
      // EMFILE/ENFILE/ENOBUFS: the connection stays queued; retry shortly instead of spinning.
      warn_limited("accept", "accept failed: {}", ec.message());
      accept_retry_->expires_after(std::chrono::milliseconds(100));
      accept_retry_->async_wait([this](const error_code& wait_ec) {
        if (!wait_ec && !stopping_) accept();
      });
      return;
    }
    on_accepted(std::move(s));
    accept();
  });
}

void syslog_listener::impl::on_accepted(tcp::socket s) {
  error_code ec;
  const tcp::endpoint remote = s.remote_endpoint(ec);
  if (ec) return;  // the peer is already gone
  const ip_address ip = to_ip(remote.address());
  char text[64];
  std::string peer(text, format_peer(ip, remote.port(), text));
  if (!allow_.allows(ip)) {
    refuse(refuse_reason::not_allowed, peer);
    return;  // `s` closes here
  }
  if (cfg_.max_connections_per_peer != 0) {
    const auto it = live_per_peer_.find(ip);
    if (it != live_per_peer_.end() && it->second >= cfg_.max_connections_per_peer) {
      refuse(refuse_reason::max_connections_per_peer, peer);
      return;
    }
  }
  // Refusing the newcomer would let whoever holds every slot (a slowloris) lock all senders
  // out; evicting the least useful connection lets a real sender in.
  if (live_ >= cfg_.max_connections) evict_one(peer);
  ++live_per_peer_[ip];  // after the eviction, which may erase this peer's entry
  ++live_;
  if (tls_) {
    auto tc = std::make_shared<connection<tls_stream>>(*this, tls_stream(std::move(s), *tls_), ip,
                                                       std::move(peer));
    conns_.insert(tc.get());
    tc->start();
  } else {
    auto pc = std::make_shared<connection<tcp::socket>>(*this, std::move(s), ip, std::move(peer));
    conns_.insert(pc.get());
    pc->start();
  }
  m_.open.set(static_cast<double>(conns_.size()));
}

void syslog_listener::impl::evict_one(std::string_view newcomer) {
  connection_base* victim = nullptr;
  connection_base::rank lowest{};
  // O(connections) per eviction, only at the limit: a scan of max_connections (1,024 by
  // default) is cheap next to a TCP accept.
  for (connection_base* c : conns_) {
    if (c->closed()) continue;
    const connection_base::rank r = c->eviction_rank();
    if (victim == nullptr || r < lowest) {
      victim = c;
      lowest = r;
    }
  }
  PORTSCAND_ASSERT(victim != nullptr, "live_ counts a connection that conns_ does not hold");
  const auto since = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::steady_clock::now() - lowest.since)
                         .count();
  warn_limited("evicted", "closing {} to admit {}: max_connections ({}) reached; it {} {} ms ago",
               victim->peer(), newcomer, cfg_.max_connections,
               lowest.delivered ? "last delivered a message" : "was accepted without a message",
               since);
  victim->close(close_reason::evicted);
}

void syslog_listener::impl::release_slot(const ip_address& ip) {
  --live_;
  const auto it = live_per_peer_.find(ip);
  if (it == live_per_peer_.end()) return;
  if (--it->second == 0) live_per_peer_.erase(it);
}

void syslog_listener::impl::on_connection_gone(connection_base* c) {
  conns_.erase(c);
  m_.open.set(static_cast<double>(conns_.size()));
}

void syslog_listener::impl::udp_wait() {
  udp_->async_wait(udp::socket::wait_read, [this](const error_code& ec) {
    if (ec || stopping_) return;
    udp_drain();
    udp_wait();
  });
}

void syslog_listener::impl::udp_drain() {
  const int fd = udp_->native_handle();
  for (unsigned burst = 0; burst < udp_bursts_per_wake;) {
    for (unsigned i = 0; i < udp_batch; ++i) {
      msghdr& h = msgs_[i].msg_hdr;
      h.msg_namelen = sizeof(sockaddr_storage);
      h.msg_controllen = sizeof slots_[i].control;
      h.msg_flags = 0;
    }
    const int n = ::recvmmsg(fd, msgs_.data(), udp_batch, MSG_DONTWAIT, nullptr);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK)
        warn_limited("recv", "receive failed: {}", std::strerror(errno));
      return;
    }
    ++burst;
    const timestamp_us now = clock_.now();
    bool delivered = false;
    for (int i = 0; i < n; ++i)
      delivered |= on_datagram(msgs_[i], udp_buffer_.data() + i * slot_bytes_, now);
    if (delivered) sink_->on_burst_end();
    if (static_cast<unsigned>(n) < udp_batch) return;
  }
}

bool syslog_listener::impl::on_datagram(mmsghdr& mm, char* data, timestamp_us now) {
  const msghdr& h = mm.msg_hdr;
  count_kernel_drops(h);
  m_.bytes.inc(mm.msg_len);
  ip_address ip;
  std::uint16_t port = 0;
  const auto* sa = static_cast<const sockaddr*>(h.msg_name);
  if (sa->sa_family == AF_INET) {
    const auto* in = static_cast<const sockaddr_in*>(h.msg_name);
    ip = ip_address::from_v4(ntohl(in->sin_addr.s_addr));
    port = ntohs(in->sin_port);
  } else if (sa->sa_family == AF_INET6) {
    const auto* in6 = static_cast<const sockaddr_in6*>(h.msg_name);
    std::array<std::uint8_t, 16> b{};
    std::memcpy(b.data(), &in6->sin6_addr, 16);
    ip = ip_address::from_v6(b);
    port = ntohs(in6->sin6_port);
  }
  char text[64];
  const std::string_view peer(text, format_peer(ip, port, text));
  if (!allow_.allows(ip)) {
    reject(reject_reason::not_allowed, peer);
    return false;
  }
  // The slot holds min(max_message_bytes, 65535) bytes: a cut datagram was over the limit.
  if ((h.msg_flags & MSG_TRUNC) != 0) {
    reject(reject_reason::too_large, peer);
    return false;
  }
  std::string_view unit = strip_octet_count(std::string_view(data, mm.msg_len));
  while (!unit.empty() && is_separator(unit.back())) unit.remove_suffix(1);
  if (unit.empty()) {
    reject(reject_reason::empty, peer);
    return false;
  }
  m_.messages.inc();
  sink_->on_unit(unit, unit_meta{now, peer});
  return true;
}

void syslog_listener::impl::count_kernel_drops(const msghdr& h) {
  // The kernel attaches the socket's cumulative drop count to a datagram only once it is
  // nonzero; drops after the last queued datagram show up with the next one.
  for (const cmsghdr* c = CMSG_FIRSTHDR(&h); c != nullptr;
       c = CMSG_NXTHDR(const_cast<msghdr*>(&h), const_cast<cmsghdr*>(c))) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SO_RXQ_OVFL) continue;
    std::uint32_t total = 0;
    std::memcpy(&total, CMSG_DATA(c), sizeof total);
    if (total != last_drops_) {
      m_.kernel_drops.inc(static_cast<std::uint32_t>(total - last_drops_));  // wraps at 2^32
      last_drops_ = total;
    }
  }
}

// ---------------------------------------------------------------------------------------------

syslog_listener::syslog_listener(std::string name, const syslog_input_config& cfg,
                                 std::function<std::unique_ptr<unit_sink>()> make_sink,
                                 metrics_registry& metrics, const clock& clk)
    : impl_(std::make_unique<impl>(std::move(name), cfg, std::move(make_sink), metrics, clk)) {}

syslog_listener::~syslog_listener() {
  stop();
}

status syslog_listener::start() {
  return impl_->start();
}
void syslog_listener::stop() {
  impl_->stop();
}
std::uint16_t syslog_listener::bound_port() const noexcept {
  return impl_->port_;
}
bool syslog_listener::socket_activated() const noexcept {
  return impl_->activated_;
}

}  // namespace portscand
