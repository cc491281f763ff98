#include "publish/file_output.hpp"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <thread>

namespace portscand {
namespace {

// Big enough that a backlog goes out in few syscalls and fsyncs, small enough that the
// batch copy does not double a large backlog's memory.
constexpr std::size_t max_batch_bytes = 4u << 20;

std::string errno_name(int err) {
  const char* n = strerrorname_np(err);
  return n != nullptr ? n : "errno_" + std::to_string(err);
}

timestamp_us steady_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

file_output::file_output(std::string name, output_schema schema, const file_output_config& cfg,
                         metrics_registry& metrics, std::size_t max_pending_alerts)
    : name_(std::move(name)),
      schema_(schema == output_schema::ocsf ? alert_schema::ocsf : alert_schema::native),
      path_(cfg.path),
      stdout_(cfg.path == "-"),
      fsync_(cfg.fsync && cfg.path != "-"),
      max_pending_(std::max<std::size_t>(max_pending_alerts, 1)),
      metrics_(metrics),
      delivered_(metrics.get_counter("portscand_alerts_delivered_total",
                                     "Alerts confirmed written by an output.",
                                     {{"output", name_}})),
      pending_gauge_(metrics.get_gauge("portscand_alerts_pending",
                                       "Alerts handed to an output and not yet confirmed.",
                                       {{"output", name_}})) {
  if (path_.empty()) throw std::runtime_error("output '" + name_ + "': path is required");
  if (stdout_) {
    fd_ = STDOUT_FILENO;
    struct stat st {};
    regular_ = ::fstat(fd_, &st) == 0 && S_ISREG(st.st_mode);
    return;
  }
  if (!open_file()) {
    const int err = errno;
    throw std::runtime_error("output '" + name_ + "': cannot open '" + path_ +
                             "' for appending: " + std::strerror(err));
  }
}

file_output::~file_output() {
  if (pending() > 0)
    spdlog::warn("output '{}': closing with {} alert(s) not written to '{}'", name_, pending(),
                 path_);
  close_fd();
}

void file_output::close_fd() {
  if (fd_ >= 0 && !stdout_) ::close(fd_);
  fd_ = -1;
}

bool file_output::open_file() {
  const int fd = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
  if (fd < 0) return false;
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    errno = err;
    return false;
  }
  fd_ = fd;
  regular_ = S_ISREG(st.st_mode);
  needs_newline_ = false;
  if (regular_ && st.st_size > 0) {
    // A crash in the middle of a batch leaves a torn last line; the next line must not be
    // glued to it. Read through a second descriptor: ours is write-only.
    const int rfd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    char last = '\n';
    if (rfd >= 0) {
      if (::pread(rfd, &last, 1, st.st_size - 1) == 1 && last != '\n') needs_newline_ = true;
      ::close(rfd);
    }
  }
  return true;
}

bool file_output::reopen_if_moved() {
  if (stdout_) return true;
  if (fd_ < 0) {
    if (open_file()) return true;
    fail("open", errno);
    return false;
  }
  if (!regular_) return true;
  struct stat at_path {
  }, ours{};
  const bool exists = ::stat(path_.c_str(), &at_path) == 0;
  if (::fstat(fd_, &ours) != 0) return true;  // cannot tell; the write will report trouble
  if (exists && at_path.st_dev == ours.st_dev && at_path.st_ino == ours.st_ino) return true;
  spdlog::info("output '{}': '{}' was moved or removed; appending to a new file at that path",
               name_, path_);
  close_fd();
  if (open_file()) return true;
  fail("open", errno);
  return false;
}

bool file_output::publish(const std::vector<alert>& alerts) {
  if (alerts.empty()) return true;
  if (pending() > 0 && pending() + alerts.size() > max_pending_) return false;
  for (const alert& a : alerts) {
    std::string line = render_alert(a, schema_);
    line += '\n';
    queue_.push_back(std::move(line));
  }
  pending_gauge_.set(static_cast<double>(pending()));
  return true;
}

void file_output::poll() {
  while (pending() > 0) {
    if (batch_count_ == 0) {
      if (!reopen_if_moved()) break;
      batch_.clear();
      batch_prefix_ = 0;
      if (needs_newline_) {
        batch_ = "\n";
        batch_prefix_ = 1;
        needs_newline_ = false;
      }
      while (!queue_.empty() && (batch_count_ == 0 || batch_.size() < max_batch_bytes)) {
        batch_ += queue_.front();
        queue_.pop_front();
        ++batch_count_;
      }
      written_ = 0;
    }
    if (!write_batch()) break;
  }
  pending_gauge_.set(static_cast<double>(pending()));
}

bool file_output::write_batch() {
  while (written_ < batch_.size()) {
    const ssize_t n = ::write(fd_, batch_.data() + written_, batch_.size() - written_);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      // written_ keeps the bytes already in the file: the next attempt completes the
      // line instead of starting it again.
      fail("write", n < 0 ? errno : EIO);
      return false;
    }
    written_ += static_cast<std::size_t>(n);
  }
  if (fsync_ && regular_ && ::fsync(fd_) != 0) {
    fail("fsync", errno);
    written_ = batch_prefix_;  // see the class comment: write the lines again, then sync
    return false;
  }
  delivered_.inc(batch_count_);
  batch_count_ = 0;
  batch_.clear();
  written_ = 0;
  if (failing_) {
    spdlog::info("output '{}': writing to '{}' works again after {} failed attempt(s)", name_,
                 path_, failures_in_a_row_);
    failing_ = false;
    failures_in_a_row_ = 0;
  }
  return true;
}

void file_output::fail(const char* operation, int err) {
  failing_ = true;
  ++failures_in_a_row_;
  const std::string reason = std::string(operation) + ":" + errno_name(err);
  delivery_failures(metrics_, name_, reason).inc();
  std::uint64_t suppressed = 0;
  if (log_limit_.allow(reason, steady_us(), suppressed))
    spdlog::warn("output '{}': {} '{}' failed: {}; {} alert(s) kept and retried on the next poll{}",
                 name_, operation, path_, std::strerror(err), pending(),
                 suppressed == 0
                     ? std::string()
                     : " (" + std::to_string(suppressed) + " similar lines suppressed)");
}

bool file_output::flush(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  poll();
  while (pending() > 0) {
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return false;
    std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(
        deadline - now, std::chrono::milliseconds(20)));
    poll();
  }
  return true;
}

}  // namespace portscand
