#include "publish/http_spool.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <stdexcept>
#include <system_error>

namespace portscand {
namespace {

// Compaction is worth a rewrite only past this much dead weight.
constexpr std::uint64_t min_dead_bytes_to_compact = 1u << 20;

std::uint64_t fnv1a64(std::string_view s) {
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  return h;
}

std::string hex16(std::uint64_t v) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i) {
    out[static_cast<std::size_t>(i)] = digits[v & 0xf];
    v >>= 4;
  }
  return out;
}

std::string with_check(std::string body) {
  const std::string check = hex16(fnv1a64(body));
  body += ' ';
  body += check;
  body += '\n';
  return body;
}

// Decimal without sign or leading zeros: one encoding per number.
bool parse_u64(std::string_view s, std::uint64_t& out) {
  if (s.empty() || s.size() > 20 || (s.size() > 1 && s.front() == '0')) return false;
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

std::string read_whole(int fd) {
  std::string out;
  char buf[65536];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw std::system_error(errno, std::generic_category());
    if (n == 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

std::string directory_of(const std::string& path) {
  const auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

}  // namespace

std::optional<spool_line> parse_spool_line(std::string_view line) {
  // "<body> <16 hex>"
  if (line.size() < 17 + 3 || line[line.size() - 17] != ' ') return std::nullopt;
  const std::string_view body = line.substr(0, line.size() - 17);
  const std::string_view check = line.substr(line.size() - 16);
  if (check != hex16(fnv1a64(body))) return std::nullopt;
  if (body.size() < 3 || body[1] != ' ') return std::nullopt;
  spool_line out;
  out.kind = body[0];
  std::string_view rest = body.substr(2);
  const auto sp = rest.find(' ');
  if (out.kind == 'D') {
    if (sp != std::string_view::npos || !parse_u64(rest, out.seq)) return std::nullopt;
    return out;
  }
  if (out.kind != 'A' || sp == std::string_view::npos || !parse_u64(rest.substr(0, sp), out.seq))
    return std::nullopt;
  rest = rest.substr(sp + 1);
  const auto sp2 = rest.find(' ');
  if (sp2 == std::string_view::npos || sp2 == 0) return std::nullopt;
  out.alert_id = rest.substr(0, sp2);
  out.element = rest.substr(sp2 + 1);
  if (out.element.empty() || out.element.find('\n') != std::string_view::npos) return std::nullopt;
  return out;
}

std::string encode_spool_added(std::uint64_t seq, std::string_view alert_id,
                               std::string_view element) {
  std::string body = "A ";
  body += std::to_string(seq);
  body += ' ';
  body += alert_id;
  body += ' ';
  body += element;
  return with_check(std::move(body));
}

std::string encode_spool_done(std::uint64_t seq) {
  return with_check("D " + std::to_string(seq));
}

http_spool::http_spool(std::string path) : path_(std::move(path)) {
  const auto fail = [this](const char* what, int err) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    throw std::runtime_error("spool '" + path_ + "': " + what + ": " + std::strerror(err));
  };
  fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd_ < 0) fail("cannot open", errno);
  std::string content;
  try {
    content = read_whole(fd_);
  } catch (const std::system_error& e) {
    fail("cannot read", e.code().value());
  }
  // Replay: added minus done, in order of addition.
  std::map<std::uint64_t, spooled_alert> live;
  std::size_t pos = 0;
  while (pos < content.size()) {
    auto nl = content.find('\n', pos);
    const bool torn = nl == std::string::npos;
    if (torn) nl = content.size();
    const std::string_view line(content.data() + pos, nl - pos);
    pos = nl + 1;
    const auto rec = torn ? std::nullopt : parse_spool_line(line);
    if (!rec) {
      if (!line.empty() || torn) ++damaged_;
      continue;
    }
    next_seq_ = std::max(next_seq_, rec->seq + 1);
    if (rec->kind == 'A')
      live[rec->seq] = {rec->seq, std::string(rec->alert_id), std::string(rec->element)};
    else
      live.erase(rec->seq);
  }
  std::string compacted;
  for (auto& [seq, a] : live) {
    std::string line = encode_spool_added(seq, a.alert_id, a.element);
    live_bytes_[seq] = line.size();
    compacted += line;
    recovered_.push_back(std::move(a));
  }
  if (const int err = rewrite(compacted); err != 0) fail("cannot rewrite", err);
}

http_spool::~http_spool() {
  if (fd_ >= 0) ::close(fd_);
}

int http_spool::write_all(int fd, std::string_view bytes) {
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return n < 0 ? errno : EIO;
    done += static_cast<std::size_t>(n);
  }
  return 0;
}

int http_spool::append(const std::vector<spooled_alert>& alerts) {
  std::string bytes;
  std::vector<std::pair<std::uint64_t, std::uint64_t>> sizes;
  for (const auto& a : alerts) {
    std::string line = encode_spool_added(a.seq, a.alert_id, a.element);
    sizes.emplace_back(a.seq, line.size());
    bytes += line;
  }
  int err = write_all(fd_, bytes);
  if (err == 0 && ::fsync(fd_) != 0) err = errno;
  if (err != 0) {
    // Whatever part was written goes: the next append must start on a clean line.
    if (::ftruncate(fd_, static_cast<off_t>(size_)) == 0)
      ::lseek(fd_, static_cast<off_t>(size_), SEEK_SET);
    return err;
  }
  size_ += bytes.size();
  for (const auto& [seq, n] : sizes) {
    live_bytes_[seq] = n;
    next_seq_ = std::max(next_seq_, seq + 1);
  }
  return 0;
}

int http_spool::mark_done(const std::vector<std::uint64_t>& seqs) {
  std::string bytes;
  for (std::uint64_t seq : seqs) {
    const auto it = live_bytes_.find(seq);
    if (it == live_bytes_.end()) continue;
    dead_bytes_ += it->second;
    live_bytes_.erase(it);
    bytes += encode_spool_done(seq);
  }
  if (bytes.empty()) return 0;
  if (live_bytes_.empty()) {
    // Nothing pending: start over with an empty file. Not synced either: a crash before the
    // truncation reaches the disk only means duplicates.
    if (::ftruncate(fd_, 0) != 0) return errno;
    ::lseek(fd_, 0, SEEK_SET);
    size_ = 0;
    dead_bytes_ = 0;
    return 0;
  }
  if (const int err = write_all(fd_, bytes); err != 0) {
    if (::ftruncate(fd_, static_cast<off_t>(size_)) == 0)
      ::lseek(fd_, static_cast<off_t>(size_), SEEK_SET);
    return err;
  }
  size_ += bytes.size();
  dead_bytes_ += bytes.size();
  if (dead_bytes_ >= min_dead_bytes_to_compact && dead_bytes_ > size_ - dead_bytes_)
    return compact();
  return 0;
}

int http_spool::compact() {
  if (::lseek(fd_, 0, SEEK_SET) < 0) return errno;
  std::string content;
  try {
    content = read_whole(fd_);
  } catch (const std::system_error& e) {
    ::lseek(fd_, 0, SEEK_END);
    return e.code().value();
  }
  std::string kept;
  std::size_t pos = 0;
  while (pos < content.size()) {
    auto nl = content.find('\n', pos);
    if (nl == std::string::npos) nl = content.size();
    const std::string_view line(content.data() + pos, nl - pos);
    pos = nl + 1;
    const auto rec = parse_spool_line(line);
    if (rec && rec->kind == 'A' && live_bytes_.count(rec->seq) != 0) {
      kept.append(line);
      kept += '\n';
    }
  }
  return rewrite(kept);
}

int http_spool::rewrite(const std::string& content) {
  const std::string tmp = path_ + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return errno;
  int err = write_all(fd, content);
  if (err == 0 && ::fsync(fd) != 0) err = errno;
  if (err == 0 && ::rename(tmp.c_str(), path_.c_str()) != 0) err = errno;
  if (err != 0) {
    ::close(fd);
    ::unlink(tmp.c_str());
    ::lseek(fd_, 0, SEEK_END);
    return err;
  }
  const int dir = ::open(directory_of(path_).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
  // The old file's descriptor goes; the new file is reopened read-write (compaction reads
  // it) and appended to from its end.
  ::close(fd_);
  ::close(fd);
  fd_ = ::open(path_.c_str(), O_RDWR | O_CLOEXEC);
  if (fd_ < 0) return errno;
  ::lseek(fd_, 0, SEEK_END);
  size_ = content.size();
  dead_bytes_ = 0;
  return 0;
}

}  // namespace portscand
