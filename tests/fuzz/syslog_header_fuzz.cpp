// Fuzzes the syslog header splitter directly (not through a format): any bytes, any receive
// time, with and without an input time zone. Checks that every view it returns lies inside
// the unit and that the body is a suffix of it, which the decoder's padding promise depends
// on; that structured data, when split off, is one well-formed run of SD elements the grammar
// reads back whole, followed by the end or a blank; and that the SD grammar alone never
// claims more than it is given.
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "core/time_zone.hpp"
#include "parse/syslog_header.hpp"

namespace {

bool inside(std::string_view part, std::string_view whole) {
  if (part.empty()) return true;
  return part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // A leading 0xFF byte makes the next 8 bytes the receive time, so year inference runs
  // against arbitrary clocks (0, negative, far future) while the seeds stay plain lines.
  portscand::timestamp_us received = 1'700'000'000'000'000;
  if (size > 9 && data[0] == 0xFF) {
    std::memcpy(&received, data + 1, 8);
    data += 9;
    size -= 9;
  }
  const std::string_view unit(reinterpret_cast<const char*>(data), size);
  // Every other input is read in a zone with daylight saving time, so BSD times also go
  // through the zone's offset lookup and cache.
  static portscand::local_zone berlin = [] {
    std::string error;
    auto z = portscand::local_zone::find("Europe/Berlin", error);
    if (!z) __builtin_trap();
    return *z;
  }();
  portscand::local_zone* zone = (size & 1) != 0 ? &berlin : nullptr;
  portscand::syslog_header h;
  const bool is_header = portscand::parse_syslog_header(unit, received, h, zone);
  if (!inside(h.body, unit) || !inside(h.host, unit) || !inside(h.app, unit) ||
      !inside(h.structured_data, unit))
    __builtin_trap();
  if (!h.structured_data.empty()) {
    const std::string_view sd = h.structured_data;
    if (sd.front() != '[' || sd.back() != ']') __builtin_trap();
    if (portscand::structured_data_length(sd) != sd.size()) __builtin_trap();
    const char* after = sd.data() + sd.size();
    const char* end = unit.data() + unit.size();
    if (after != end && *after != ' ' && *after != '\r' && *after != '\n') __builtin_trap();
  }
  if (portscand::structured_data_length(unit) > unit.size()) __builtin_trap();
  std::string_view trimmed = unit;
  while (!trimmed.empty() && (trimmed.back() == '\n' || trimmed.back() == '\r'))
    trimmed.remove_suffix(1);
  if (h.body.data() + h.body.size() != trimmed.data() + trimmed.size() && !h.body.empty())
    __builtin_trap();
  if (!is_header && (h.body.size() != trimmed.size() || h.pri != -1 || h.time != 0))
    __builtin_trap();
  if (h.pri < -1 || h.pri > 191) __builtin_trap();
  return 0;
}
