// Fuzzes the scale-out topic's decoders: the session record (key and value), the tick, the
// mark, the note and the committed resume metadata. The first byte says where the key ends, the
// rest is the value; whatever decodes must encode back to the same bytes (the format has one
// encoding).
#include <cstdint>
#include <string>
#include <string_view>

#include "event/session_record.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view all(reinterpret_cast<const char*>(data) + 1, size - 1);
  const std::size_t key_len = std::min<std::size_t>(data[0], all.size());
  const std::string_view key = all.substr(0, key_len), value = all.substr(key_len);
  if (const auto d = portscand::decode_session_record(key, value)) {
    if (!d->session.has_time) __builtin_trap();
    std::string again;
    portscand::encode_session_record(d->session, d->reported_by, d->device, again);
    if (again != value) __builtin_trap();
  }
  if (const auto t = portscand::decode_tick_record(value)) {
    const std::string again = portscand::encode_tick_record(*t);
    // A tick without evaluation may carry any evaluate_before bytes; the rest is exact.
    if (again.size() != value.size() || again.substr(0, 10) != value.substr(0, 10))
      __builtin_trap();
  }
  if (const auto m = portscand::decode_mark_record(value)) {
    if (portscand::encode_mark_record(*m) != value) __builtin_trap();
  }
  if (const auto n = portscand::decode_note_record(value)) {
    if (portscand::encode_note_record(*n) != value) __builtin_trap();
  }
  if (const auto r = portscand::decode_partition_resume(all)) {
    if (portscand::decode_partition_resume(portscand::encode_partition_resume(*r)) != r)
      __builtin_trap();
  }
  return 0;
}
