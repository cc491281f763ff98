#include "ingest/file_source.hpp"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <vector>

#include "core/thread_guard.hpp"
#include "ingest/json_documents.hpp"

namespace portscand {

namespace {
constexpr std::size_t max_line = 4u << 20;
}

file_source::file_source(std::string name, const file_input_config& cfg,
                         std::unique_ptr<unit_sink> sink, metrics_registry& metrics,
                         const clock& clk)
    : name_(std::move(name)), cfg_(cfg), sink_(std::move(sink)), clock_(clk), buf_(1u << 20) {
  lines_ = &metrics.get_counter("portscand_file_lines_total",
                                "Lines (or multi-line JSON documents) read by file inputs.",
                                {{"input", name_}});
  too_long_ = &metrics.get_counter(
      "portscand_file_lines_too_long_total",
      "Lines (or JSON documents) longer than 4 MiB, skipped by file inputs.", {{"input", name_}});
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
    const ssize_t n = ::read(fd, buf_.data(), buf_.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      count_error("cannot read", errno);
      sink_->on_burst_end();  // not busy while it waits to reopen
      return false;
    }
    if (n == 0) return true;  // the caller ends the burst
    offset_ += n;
    consume(std::string_view(buf_.data(), static_cast<std::size_t>(n)), clock_.now());
    sink_->on_burst_continues();
  }
  return true;
}

void file_source::consume(std::string_view data, timestamp_us now) {
  if (mode_ == read_mode::documents) {
    consume_documents(data, now);
    return;
  }
  std::size_t start = 0;
  for (std::size_t i = 0; i < data.size(); ++i) {
    if (data[i] != '\n') continue;
    if (skipping_) {
      skipping_ = false;
      start = i + 1;
      continue;
    }
    std::string_view line = data.substr(start, i - start);
    if (!pending_.empty()) {
      pending_.append(line);
      line = pending_;
    }
    if (mode_ == read_mode::undecided &&
        line.find_first_not_of(" \t\r") != std::string_view::npos) {
      // The file's first non-blank line decides how the whole file is read.
      if (json_documents::opens_multiline_document(line)) {
        mode_ = read_mode::documents;
        std::string first(line);
        first += '\n';
        pending_.clear();
        consume_documents(first, now);
        consume_documents(data.substr(i + 1), now);
        return;
      }
      mode_ = read_mode::lines;
    }
    sink_->on_unit(line, unit_meta{now, {}});
    lines_->inc();
    pending_.clear();
    start = i + 1;
  }
  if (!skipping_) pending_.append(data.substr(start));
  if (pending_.size() > max_line) {
    too_long_->inc();
    pending_.clear();
    skipping_ = true;
  }
}

void file_source::consume_documents(std::string_view data, timestamp_us now) {
  if (skipping_) {
    // After a document longer than the limit: reading resumes after the next line break.
    const std::size_t nl = data.find('\n');
    if (nl == std::string_view::npos) return;
    skipping_ = false;
    data.remove_prefix(nl + 1);
  }
  pending_.append(data);
  const std::size_t used = json_documents::split(pending_, false, [&](std::string_view unit) {
    sink_->on_unit(unit, unit_meta{now, {}});
    lines_->inc();
  });
  pending_.erase(0, used);
  if (pending_.size() > max_line) {
    too_long_->inc();
    const std::size_t nl = pending_.find('\n', max_line);
    std::string rest = nl == std::string::npos ? std::string() : pending_.substr(nl + 1);
    skipping_ = nl == std::string::npos;
    pending_.clear();
    if (!rest.empty()) consume_documents(rest, now);
  }
}

void file_source::flush_partial_line() {
  if (mode_ == read_mode::documents && !skipping_) {
    json_documents::split(pending_, true, [&](std::string_view unit) {
      sink_->on_unit(unit, unit_meta{clock_.now(), {}});
      lines_->inc();
    });
  } else if (!pending_.empty() && !skipping_) {
    sink_->on_unit(pending_, unit_meta{clock_.now(), {}});
    lines_->inc();
  }
  pending_.clear();
  skipping_ = false;
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
      pending_.clear();
      skipping_ = false;
      mode_ = read_mode::undecided;
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
      flush_partial_line();
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
      pending_.clear();
      skipping_ = false;
      mode_ = read_mode::undecided;
    }
  }
  // A last line without newline at shutdown may still be being written: it is left out.
  close_fd();
  sink_->on_burst_end();
}

}  // namespace portscand
