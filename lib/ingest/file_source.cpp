#include "core/thread_guard.hpp"
#include "ingest/file_source.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <vector>

namespace portscand {

namespace {
constexpr std::size_t max_line = 4u << 20;
}

file_source::file_source(std::string name, const file_input_config& cfg, std::unique_ptr<unit_sink> sink,
                         metrics_registry& metrics, const clock& clk)
    : name_(std::move(name)), cfg_(cfg), sink_(std::move(sink)), clock_(clk) {
  lines_ = &metrics.get_counter("portscand_file_lines_total", "Lines read by file inputs.", {{"input", name_}});
  too_long_ = &metrics.get_counter("portscand_file_lines_too_long_total",
                                   "Lines longer than 4 MiB, skipped by file inputs.", {{"input", name_}});
}

file_source::~file_source() { stop(); }

void file_source::start() { thread_ = std::thread(guarded("file-input", [this] { run(); })); }

void file_source::stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void file_source::run() {
  int fd = -1;
  ino_t inode = 0;
  off_t offset = 0;
  std::string pending;
  bool skipping = false;
  std::vector<char> buf(1u << 20);
  bool warned = false;
  while (!stop_.load(std::memory_order_relaxed)) {
    if (fd < 0) {
      fd = cfg_.path == "-" ? ::dup(0) : ::open(cfg_.path.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) {
        if (!warned) spdlog::warn("input {}: cannot open {}: {} (retrying)", name_, cfg_.path, std::strerror(errno));
        warned = true;
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
        continue;
      }
      warned = false;
      struct stat st {};
      ::fstat(fd, &st);
      inode = st.st_ino;
      offset = 0;
      pending.clear();
    }
    const ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n > 0) {
      offset += n;
      const timestamp_us now = clock_.now();
      std::size_t start = 0;
      for (std::size_t i = 0; i < static_cast<std::size_t>(n); ++i) {
        if (buf[i] != '\n') continue;
        if (skipping) {
          skipping = false;
        } else if (pending.empty()) {
          sink_->on_unit(std::string_view(buf.data() + start, i - start), unit_meta{now, {}});
          lines_->inc();
        } else {
          pending.append(buf.data() + start, i - start);
          sink_->on_unit(pending, unit_meta{now, {}});
          lines_->inc();
          pending.clear();
        }
        start = i + 1;
      }
      if (!skipping) pending.append(buf.data() + start, static_cast<std::size_t>(n) - start);
      if (pending.size() > max_line) {
        too_long_->inc();
        pending.clear();
        skipping = true;
      }
      sink_->on_burst_end();
      continue;
    }
    // End of the file: wait for more, and notice rotation or truncation.
    sink_->on_burst_end();
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    if (cfg_.path == "-") continue;
    struct stat st {};
    if (::stat(cfg_.path.c_str(), &st) != 0 || st.st_ino != inode || st.st_size < offset) {
      ::close(fd);
      fd = -1;
    }
  }
  if (fd >= 0) ::close(fd);
  sink_->on_burst_end();
}

}  // namespace portscand
