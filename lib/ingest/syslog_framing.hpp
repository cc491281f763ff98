#pragma once

// Stream framing of syslog over TCP and TLS (RFC 6587, RFC 5425): splits a byte stream into
// messages. Pure: no I/O, no clock, no allocation beyond one bounded partial-frame buffer, so
// it can be table-tested and fuzzed on its own. One instance per connection; the thread that
// owns the connection calls it.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace portscand {

// Why bytes of a stream were not delivered as a message. Each value is a metric label.
enum class frame_error : std::uint8_t {
  too_large,  // a frame longer than max_message_bytes (skipped, not cut)
  garbage,    // octet-counting stream: bytes where a frame header should be
  truncated,  // the stream ended inside a frame
};
std::string_view to_string(frame_error e) noexcept;

enum class framing_mode : std::uint8_t {
  unknown,         // nothing but separators seen yet
  octet_counting,  // "LEN SP MSG" (RFC 6587 3.4.1, the only framing of RFC 5425)
  non_transparent  // MSG terminated by LF, CRLF or NUL (RFC 6587 3.4.2)
};

class frame_handler {
 public:
  virtual ~frame_handler() = default;
  // `frame` is valid only during the call. A trailing LF/CR/NUL is never part of it.
  virtual void on_frame(std::string_view frame) = 0;
  virtual void on_frame_error(frame_error e) = 0;
};

// The mode is detected once per stream, on its first frame: a nonzero digit followed by digits
// and a space is octet counting, anything else is non-transparent framing (the heuristic of
// RFC 6587 3.4.2 and rsyslog; a syslog message starts with '<', never with "digits SP").
//
// Octet counting: LF, CR and NUL between frames are tolerated (senders that append LF after
// the counted frame), a frame whose LEN exceeds the limit is reported once and exactly LEN
// bytes are skipped, so the stream resynchronises on the next header. Anything else where a
// header should start is garbage: reported once and discarded through the next LF or NUL
// (the only resynchronisation point a broken octet-counted stream has).
//
// Non-transparent: a line longer than the limit is reported once and discarded through the
// next terminator. Empty lines (consecutive terminators) are separators, not messages.
//
// Memory: at most max(max_message_bytes + 1, 10) bytes are buffered (10: the digits of a
// first header that may still turn out to be a line), and only for a frame that spans two
// feed() calls; frames inside one call are delivered as views of the caller's bytes.
class syslog_framer {
 public:
  explicit syslog_framer(std::size_t max_message_bytes) noexcept;

  void feed(std::string_view bytes, frame_handler& out);
  // End of stream: a frame in progress is reported as truncated and never delivered.
  void finish(frame_handler& out);

  framing_mode mode() const noexcept { return mode_; }
  // True between the first byte of a frame (or of bytes being skipped or discarded) and its
  // end; separators between frames are not part of one. The listener's frame deadline.
  bool in_frame() const noexcept { return state_ != state::frame_start; }
  std::size_t buffered_bytes() const noexcept { return partial_.size(); }

 private:
  enum class state : std::uint8_t { frame_start, length, body, skip, line, discard };

  // Each returns the number of bytes of `in` it consumed (possibly 0 after a state change).
  std::size_t on_frame_start(std::string_view in, frame_handler& out);
  std::size_t on_length(std::string_view in, frame_handler& out);
  std::size_t on_body(std::string_view in, frame_handler& out);
  std::size_t on_line(std::string_view in, frame_handler& out);
  std::size_t on_skip(std::string_view in);
  std::size_t on_discard(std::string_view in);
  void deliver(std::string_view frame, frame_handler& out);

  std::size_t max_;
  framing_mode mode_ = framing_mode::unknown;
  state state_ = state::frame_start;
  std::uint64_t remaining_ = 0;  // body bytes still expected, or bytes still to skip
  std::uint64_t length_ = 0;     // LEN being read
  unsigned length_digits_ = 0;
  std::string partial_;  // a frame (or, in unknown mode, a header) spanning feed() calls
};

}  // namespace portscand
