// Fuzzes the RFC 6587 TCP framer. The first byte picks the size limit (small limits reach the
// oversize paths), the rest is the stream. The stream is framed twice, whole and cut into
// pieces whose sizes come from the input, and both runs must report the same frames and
// errors: segment boundaries carry no meaning. Also checked: frames are non-empty, within the
// limit, without a trailing terminator, and the framer never buffers more than one frame.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ingest/syslog_framing.hpp"

namespace {

class recording_handler final : public portscand::frame_handler {
 public:
  explicit recording_handler(std::size_t max) : max_(max) {}
  void on_frame(std::string_view frame) override {
    if (frame.empty() || frame.size() > max_) __builtin_trap();
    const char last = frame.back();
    if (last == '\n' || last == '\r' || last == '\0') __builtin_trap();
    events.emplace_back(frame);
  }
  void on_frame_error(portscand::frame_error e) override {
    if (portscand::to_string(e) == "unknown") __builtin_trap();
    events.push_back(std::string(1, '\xff') + std::string(portscand::to_string(e)));
  }
  std::vector<std::string> events;

 private:
  std::size_t max_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t max = 1 + static_cast<std::size_t>(data[0]) * 4;
  const std::string_view stream(reinterpret_cast<const char*>(data + 1), size - 1);
  const std::size_t bound = max + 1 > 10 ? max + 1 : 10;  // see syslog_framer "Memory"

  portscand::syslog_framer whole(max);
  recording_handler a(max);
  whole.feed(stream, a);
  if (whole.buffered_bytes() > bound) __builtin_trap();
  whole.finish(a);

  portscand::syslog_framer pieces(max);
  recording_handler b(max);
  std::size_t pos = 0;
  std::uint32_t seed = static_cast<std::uint32_t>(size) * 2654435761u;
  while (pos < stream.size()) {
    seed = seed * 1664525u + 1013904223u;
    const std::size_t n = 1 + (seed >> 24) % 17;  // 1..17 bytes: many boundaries
    pieces.feed(stream.substr(pos, n), b);
    if (pieces.buffered_bytes() > bound) __builtin_trap();
    pos += n;
  }
  pieces.finish(b);

  if (a.events != b.events) __builtin_trap();
  return 0;
}
