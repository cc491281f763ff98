// Syslog ingest throughput: the RFC 6587 framer alone, a real loopback TCP listener into a
// counting sink (1 and 8 connections), and UDP loss at increasing send rates. Messages are
// CEF lines of ~500 bytes, the typical firewall record. The sink only counts, so these are
// the listener's own limits, not the decoder's.
#include <arpa/inet.h>
#include <benchmark/benchmark.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "ingest/syslog_framing.hpp"
#include "ingest/syslog_listener.hpp"

namespace {

using namespace portscand;
using namespace std::chrono_literals;

std::string cef_message(int i) {
  std::string m =
      "<134>Nov 28 10:00:00 fw01 CEF:0|Fortinet|FortiGate|7.2.5|13|traffic:forward deny|5|"
      "src=203.0.113." +
      std::to_string(i % 250) + " dst=198.51.100." + std::to_string((i / 250) % 250) +
      " spt=" + std::to_string(1024 + i % 60000) + " dpt=" + std::to_string(i % 1024) +
      " proto=6 act=deny deviceInboundInterface=port1 deviceOutboundInterface=port2 "
      "cs1Label=policyname cs1=deny-all cn1Label=policyid cn1=42 "
      "deviceExternalId=FG100FTK00000000 ";
  while (m.size() < 500) m += "x";
  return m;
}

std::string octet_frame(const std::string& m) {
  return std::to_string(m.size()) + " " + m;
}

class counting_handler final : public frame_handler {
 public:
  void on_frame(std::string_view f) override {
    bytes += f.size();
    ++frames;
  }
  void on_frame_error(frame_error) override { ++errors; }
  std::size_t frames = 0, bytes = 0, errors = 0;
};

// Feeds the stream in 16 KiB pieces, as the listener's read buffer does.
void frame_stream(benchmark::State& state, const std::string& stream, std::size_t messages) {
  for (auto _ : state) {
    syslog_framer f(64 * 1024);
    counting_handler h;
    for (std::size_t pos = 0; pos < stream.size(); pos += 16384)
      f.feed(std::string_view(stream).substr(pos, 16384), h);
    if (h.frames != messages) state.SkipWithError("lost frames");
    benchmark::DoNotOptimize(h.bytes);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * messages));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * stream.size()));
}

void BM_framer_octet_counted(benchmark::State& state) {
  std::string stream;
  constexpr int n = 20000;
  for (int i = 0; i < n; ++i) stream += octet_frame(cef_message(i));
  frame_stream(state, stream, n);
}
BENCHMARK(BM_framer_octet_counted);

void BM_framer_lf(benchmark::State& state) {
  std::string stream;
  constexpr int n = 20000;
  for (int i = 0; i < n; ++i) stream += cef_message(i) + "\n";
  frame_stream(state, stream, n);
}
BENCHMARK(BM_framer_lf);

// ---- through a real listener ----------------------------------------------------------------

struct shared_count {
  std::atomic<std::uint64_t> units{0};
};

// Counts units; `cost` busy-waits per unit to stand in for a decoder of that speed.
class counting_sink final : public unit_sink {
 public:
  counting_sink(shared_count& c, std::chrono::nanoseconds cost) : c_(c), cost_(cost) {}
  void on_unit(std::string_view unit, const unit_meta&) override {
    benchmark::DoNotOptimize(unit.data());
    if (cost_.count() > 0) {
      const auto until = std::chrono::steady_clock::now() + cost_;
      while (std::chrono::steady_clock::now() < until) {
      }
    }
    ++pending_;
  }
  void on_burst_end() override {
    c_.units.fetch_add(pending_, std::memory_order_relaxed);
    pending_ = 0;
  }

 private:
  shared_count& c_;
  std::chrono::nanoseconds cost_;
  std::uint64_t pending_ = 0;
};

struct bench_listener {
  explicit bench_listener(const std::string& url, std::size_t rcvbuf = 8u << 20,
                          std::chrono::nanoseconds sink_cost = {}) {
    cfg.listen = url;
    cfg.receive_buffer_bytes = rcvbuf;
    listener = std::make_unique<syslog_listener>(
        "bench", cfg,
        [this, sink_cost] { return std::make_unique<counting_sink>(count, sink_cost); }, metrics,
        clk);
    ok = listener->start().ok();
  }
  syslog_input_config cfg;
  metrics_registry metrics;
  system_clock clk;
  shared_count count;
  std::unique_ptr<syslog_listener> listener;
  bool ok = false;
};

sockaddr_in loopback(std::uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

bool wait_count(const shared_count& c, std::uint64_t want, std::chrono::seconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (c.units.load(std::memory_order_relaxed) < want) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(20us);
  }
  return true;
}

void BM_tcp_loopback(benchmark::State& state) {
  const int connections = static_cast<int>(state.range(0));
  bench_listener l("tcp://127.0.0.1:0");
  if (!l.ok) return state.SkipWithError("listener did not start");
  constexpr int per_iteration = 40000;  // messages, split over the connections
  const int per_conn = per_iteration / connections;
  std::string payload;
  for (int i = 0; i < per_conn; ++i) payload += octet_frame(cef_message(i));
  std::vector<int> fds;
  for (int c = 0; c < connections; ++c) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    const sockaddr_in a = loopback(l.listener->bound_port());
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0)
      return state.SkipWithError("connect failed");
    fds.push_back(fd);
  }
  std::uint64_t expected = 0;
  for (auto _ : state) {
    std::vector<std::thread> senders;
    for (int fd : fds)
      senders.emplace_back([fd, &payload] {
        std::string_view rest = payload;
        while (!rest.empty()) {
          const ssize_t n = ::send(fd, rest.data(), rest.size(), MSG_NOSIGNAL);
          if (n <= 0) return;
          rest.remove_prefix(static_cast<std::size_t>(n));
        }
      });
    for (auto& t : senders) t.join();
    expected += static_cast<std::uint64_t>(per_conn) * connections;
    if (!wait_count(l.count, expected, 30s)) return state.SkipWithError("messages missing");
  }
  for (int fd : fds) ::close(fd);
  state.SetItemsProcessed(static_cast<std::int64_t>(expected));
  state.SetBytesProcessed(
      static_cast<std::int64_t>(state.iterations() * payload.size() * connections));
}
BENCHMARK(BM_tcp_loopback)->Arg(1)->Arg(8)->UseRealTime()->Unit(benchmark::kMillisecond);

// One sender paces datagrams at range(0) per second (0 = as fast as it can) for 0.5 s,
// with sendmmsg() batches of up to 32 so that the sender is not the bottleneck; the counters
// report how many arrived and what the kernel dropped (SO_RXQ_OVFL). range(1) is the sink's
// cost per unit in ns: 0 measures the listener alone, 10000 a consumer of 100k units/s, so
// the loss and its accounting (received + kernel_drops = sent) become visible.
void BM_udp_loss(benchmark::State& state) {
  const std::int64_t rate = state.range(0);
  bench_listener l("udp://127.0.0.1:0", 4u << 20, std::chrono::nanoseconds(state.range(1)));
  if (!l.ok) return state.SkipWithError("listener did not start");
  const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  const sockaddr_in a = loopback(l.listener->bound_port());
  ::connect(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a);
  const std::string msg = cef_message(7);
  constexpr unsigned batch = 32;
  std::vector<iovec> iov(batch, iovec{const_cast<char*>(msg.data()), msg.size()});
  std::vector<mmsghdr> msgs(batch);
  for (unsigned i = 0; i < batch; ++i) {
    msgs[i].msg_hdr = msghdr{};
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
  }
  std::uint64_t sent = 0;
  for (auto _ : state) {
    const auto start = std::chrono::steady_clock::now();
    const auto end = start + 500ms;
    for (auto now = start; now < end; now = std::chrono::steady_clock::now()) {
      std::uint64_t n = batch;
      if (rate > 0) {
        const auto due = static_cast<std::uint64_t>(
            std::chrono::duration<double>(now - start).count() * static_cast<double>(rate));
        if (sent >= due) continue;  // busy-wait pacing: sleeping is far too coarse
        n = std::min<std::uint64_t>(batch, due - sent);
      }
      const int k = ::sendmmsg(fd, msgs.data(), static_cast<unsigned>(n), 0);
      if (k > 0) sent += static_cast<std::uint64_t>(k);
    }
  }
  std::this_thread::sleep_for(300ms);  // let the listener drain its socket
  // One more datagram carries the final drop count (SO_RXQ_OVFL rides on the next packet).
  ::send(fd, msg.data(), msg.size(), 0);
  ++sent;
  wait_count(l.count, 1, 1s);
  std::this_thread::sleep_for(100ms);
  ::close(fd);
  const auto received = l.count.units.load();
  const auto drops = l.metrics.counter_sum("portscand_syslog_kernel_drops_total");
  state.counters["sent_per_s"] =
      benchmark::Counter(static_cast<double>(sent), benchmark::Counter::kIsRate);
  state.counters["received"] = static_cast<double>(received);
  state.counters["kernel_drops"] = static_cast<double>(drops);
  state.counters["loss_pct"] =
      sent == 0 ? 0.0 : 100.0 * static_cast<double>(sent - received) / static_cast<double>(sent);
}
BENCHMARK(BM_udp_loss)
    ->ArgsProduct({{50'000, 100'000, 200'000, 400'000, 0}, {0, 10'000}})
    ->Iterations(1)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
