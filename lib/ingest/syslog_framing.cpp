#include "ingest/syslog_framing.hpp"

#include <algorithm>
#include <cstring>

namespace portscand {
namespace {

constexpr bool is_separator(char c) noexcept {
  return c == '\n' || c == '\r' || c == '\0';
}
constexpr bool is_digit(char c) noexcept {
  return c >= '0' && c <= '9';
}
constexpr bool is_nonzero_digit(char c) noexcept {
  return c >= '1' && c <= '9';
}

// Ten digits already exceed any configurable limit (16 MiB) and still fit in 64 bits; a longer
// run is not a length header.
constexpr unsigned max_length_digits = 10;

// Position of the first LF or NUL (the non-transparent terminators), or npos.
std::size_t find_terminator(std::string_view in) noexcept {
  const void* lf = std::memchr(in.data(), '\n', in.size());
  const std::size_t limit =
      lf == nullptr ? in.size()
                    : static_cast<std::size_t>(static_cast<const char*>(lf) - in.data());
  // NUL framing is rare; it is only looked for before the LF, so the scan stays one line long.
  const void* nul = std::memchr(in.data(), '\0', limit);
  if (nul != nullptr) return static_cast<std::size_t>(static_cast<const char*>(nul) - in.data());
  return lf == nullptr ? std::string_view::npos : limit;
}

}  // namespace

std::string_view to_string(frame_error e) noexcept {
  switch (e) {
    case frame_error::too_large:
      return "too_large";
    case frame_error::garbage:
      return "garbage";
    case frame_error::truncated:
      return "truncated";
  }
  return "unknown";
}

syslog_framer::syslog_framer(std::size_t max_message_bytes) noexcept : max_(max_message_bytes) {}

void syslog_framer::feed(std::string_view bytes, frame_handler& out) {
  while (!bytes.empty()) {
    std::size_t n = 0;
    switch (state_) {
      case state::frame_start:
        n = on_frame_start(bytes, out);
        break;
      case state::length:
        n = on_length(bytes, out);
        break;
      case state::body:
        n = on_body(bytes, out);
        break;
      case state::line:
        n = on_line(bytes, out);
        break;
      case state::skip:
        n = on_skip(bytes);
        break;
      case state::discard:
        n = on_discard(bytes);
        break;
    }
    bytes.remove_prefix(n);
  }
}

void syslog_framer::finish(frame_handler& out) {
  const bool in_frame = state_ == state::length || state_ == state::body ||
                        (state_ == state::line && !partial_.empty());
  if (in_frame) out.on_frame_error(frame_error::truncated);
  partial_.clear();
  state_ = state::frame_start;
  remaining_ = 0;
}

std::size_t syslog_framer::on_frame_start(std::string_view in, frame_handler& out) {
  const char c = in.front();
  if (is_separator(c)) return 1;
  switch (mode_) {
    case framing_mode::unknown:
      if (is_nonzero_digit(c)) {
        state_ = state::length;
      } else {
        mode_ = framing_mode::non_transparent;
        state_ = state::line;
      }
      break;
    case framing_mode::octet_counting:
      if (is_nonzero_digit(c)) {
        state_ = state::length;
      } else {
        out.on_frame_error(frame_error::garbage);
        state_ = state::discard;
      }
      break;
    case framing_mode::non_transparent:
      state_ = state::line;
      break;
  }
  length_ = 0;
  length_digits_ = 0;
  return 0;
}

std::size_t syslog_framer::on_length(std::string_view in, frame_handler& out) {
  for (std::size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (is_digit(c) && length_digits_ < max_length_digits) {
      length_ = length_ * 10 + static_cast<unsigned>(c - '0');
      ++length_digits_;
      // Until the mode is known the digits may turn out to be the start of a line.
      if (mode_ == framing_mode::unknown) partial_.push_back(c);
      continue;
    }
    if (c == ' ') {
      if (mode_ == framing_mode::unknown) {
        mode_ = framing_mode::octet_counting;
        partial_.clear();
      }
      remaining_ = length_;
      if (length_ > max_) {
        out.on_frame_error(frame_error::too_large);
        state_ = state::skip;
      } else {
        state_ = state::body;
      }
      return i + 1;
    }
    // Not a length header. `c` is left for the next state: it may be the terminator.
    if (mode_ == framing_mode::unknown) {
      mode_ = framing_mode::non_transparent;
      state_ = state::line;
    } else {
      out.on_frame_error(frame_error::garbage);
      state_ = state::discard;
    }
    return i;
  }
  return in.size();
}

std::size_t syslog_framer::on_body(std::string_view in, frame_handler& out) {
  const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, in.size()));
  if (partial_.empty() && n == remaining_) {
    deliver(in.substr(0, n), out);  // the common case: the whole frame is in this segment
  } else {
    partial_.append(in.data(), n);
    remaining_ -= n;
    if (remaining_ != 0) return n;
    deliver(partial_, out);
    partial_.clear();
  }
  remaining_ = 0;
  state_ = state::frame_start;
  return n;
}

std::size_t syslog_framer::on_line(std::string_view in, frame_handler& out) {
  const std::size_t p = find_terminator(in);
  // One byte over the limit is allowed while reading: it may be the CR of a CRLF.
  const std::size_t take = p == std::string_view::npos ? in.size() : p;
  if (partial_.size() + take > max_ + 1) {
    out.on_frame_error(frame_error::too_large);
    partial_.clear();
    if (p == std::string_view::npos) {
      state_ = state::discard;
      return in.size();
    }
    state_ = state::frame_start;
    return p + 1;
  }
  if (p == std::string_view::npos) {
    partial_.append(in.data(), in.size());
    return in.size();
  }
  std::string_view line = in.substr(0, p);
  if (!partial_.empty()) {
    partial_.append(line.data(), line.size());
    line = partial_;
  }
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (line.size() > max_) {
    out.on_frame_error(frame_error::too_large);
  } else {
    deliver(line, out);
  }
  partial_.clear();
  state_ = state::frame_start;
  return p + 1;
}

std::size_t syslog_framer::on_skip(std::string_view in) {
  const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, in.size()));
  remaining_ -= n;
  if (remaining_ == 0) state_ = state::frame_start;
  return n;
}

std::size_t syslog_framer::on_discard(std::string_view in) {
  const std::size_t p = find_terminator(in);
  if (p == std::string_view::npos) return in.size();
  state_ = state::frame_start;
  return p + 1;
}

void syslog_framer::deliver(std::string_view frame, frame_handler& out) {
  // A counted frame may carry the sender's LF (or CRLF) inside LEN; it is never content.
  while (!frame.empty() && is_separator(frame.back())) frame.remove_suffix(1);
  if (frame.empty()) return;  // nothing but separators: not a message
  out.on_frame(frame);
}

}  // namespace portscand
