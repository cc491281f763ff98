#include "ingest/file_source.hpp"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "core/thread_guard.hpp"

namespace portscand {

namespace {
constexpr std::size_t read_bytes = 1u << 20;
constexpr std::size_t max_unit = 4u << 20;  // the decoder's default_max_unit_bytes
}  // namespace

file_source::file_source(std::string name, const file_input_config& cfg,
                         std::unique_ptr<unit_sink> sink, metrics_registry& metrics,
                         const clock& clk)
    : name_(std::move(name)),
      cfg_(cfg),
      sink_(std::move(sink)),
      clock_(clk),
      buffers_(file_reader::buffer_bytes(read_bytes, max_unit)),
      reader_(buffers_, read_bytes, max_unit),
      deliver_([this](file_chunk&& c) { deliver(c); }) {
  lines_ = &metrics.get_counter("portscand_file_lines_total",
                                "Lines (or multi-line JSON documents) read by file inputs.",
                                {{"input", name_}});
  too_long_ = &metrics.get_counter(
      "portscand_file_lines_too_long_total",
      "Lines (or JSON documents) longer than 4 MiB, cut by file inputs (rejected too_large).",
      {{"input", name_}});
  errors_ = &metrics.get_counter("portscand_file_read_errors_total",
                                 "Read or stat errors of file inputs (the file is reopened).",
                                 {{"input", name_}});
}

file_source::~file_source() {
  stop();
}

void file_source::start() {
  thread_ = std::thread(guarded("file-input", [this] { run(); }));
}

void file_source::stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void file_source::count_error(const char* what, int err) {
  errors_->inc();
  spdlog::warn("input {}: {} {}: {}; reopening", name_, what, cfg_.path, std::strerror(err));
}

bool file_source::drain(int fd) {
  while (!stop_.load(std::memory_order_relaxed)) {
    const ssize_t n = reader_.read_some(fd, deliver_);
    if (n < 0) {
      count_error("cannot read", errno);
      sink_->on_burst_end();  // not busy while it waits to reopen
      return false;
    }
    if (n == 0) return true;  // the caller ends the burst
    offset_ += n;
    sink_->on_burst_continues();
  }
  return true;
}

void file_source::deliver(const file_chunk& chunk) {
  const unit_meta meta{clock_.now(), {}};
  std::uint64_t units = 0;
  for_each_unit(chunk, [&](std::string_view unit) {
    sink_->on_unit(unit, meta);
    ++units;
  });
  lines_->inc(units);
  if (const std::size_t cut = reader_.cut_units(); cut != cut_seen_) {
    too_long_->inc(cut - cut_seen_);
    cut_seen_ = cut;
  }
}

void file_source::run() {
  int fd = -1;
  ino_t inode = 0;
  dev_t device = 0;
  bool warned = false;
  auto close_fd = [&fd] {
    if (fd >= 0) ::close(fd);
    fd = -1;
  };
  auto pause = [this](std::chrono::milliseconds d) {
    for (auto waited = std::chrono::milliseconds(0); waited < d && !stop_.load();
         waited += std::chrono::milliseconds(50))
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
  };
  while (!stop_.load(std::memory_order_relaxed)) {
    if (fd < 0) {
      fd = cfg_.path == "-" ? ::dup(0) : ::open(cfg_.path.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) {
        if (!warned)
          spdlog::warn("input {}: cannot open {}: {} (retrying)", name_, cfg_.path,
                       std::strerror(errno));
        warned = true;
        pause(std::chrono::milliseconds(500));
        continue;
      }
      warned = false;
      struct stat st {};
      if (::fstat(fd, &st) != 0) {
        count_error("cannot stat", errno);
        close_fd();
        pause(std::chrono::seconds(1));
        continue;
      }
      inode = st.st_ino;
      device = st.st_dev;
      offset_ = 0;
      reader_.reset();
    }
    if (!drain(fd)) {
      close_fd();
      pause(std::chrono::seconds(1));
      continue;
    }
    // End of the file: wait for more, and notice rotation or truncation.
    sink_->on_burst_end();
    pause(std::chrono::milliseconds(200));
    if (cfg_.path == "-") continue;
    struct stat st {};
    const bool replaced =
        ::stat(cfg_.path.c_str(), &st) != 0 || st.st_ino != inode || st.st_dev != device;
    if (replaced) {
      // Rotated (renamed or removed): what the writer appended to the old file before it
      // moved is still to be read through the open descriptor, then its last line.
      drain(fd);
      reader_.finish(deliver_);
      sink_->on_burst_end();
      close_fd();
    } else if (st.st_size < offset_) {
      spdlog::info("input {}: {} was truncated; reading it again from its start", name_, cfg_.path);
      if (::lseek(fd, 0, SEEK_SET) != 0) {
        count_error("cannot rewind", errno);
        close_fd();
        continue;
      }
      offset_ = 0;
      reader_.reset();
    }
  }
  // A last line without newline at shutdown may still be being written: it is left out.
  close_fd();
  sink_->on_burst_end();
}

}  // namespace portscand
