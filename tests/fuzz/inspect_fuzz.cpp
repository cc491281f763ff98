// Fuzzes `portscand parse` (runtime/inspect): how it cuts a file into units with the file
// input's reader, ingest/file_reader (lines, or JSON documents spanning lines, the unit limit) and
// numbers their lines, with every format detected under auto. The file is read twice, with reads of
// 1 MiB and of a small size the first byte picks: the output must be the same (where reads end
// carries no meaning). Every output line is a JSON object whose line number lies within the file,
// never going back; there is one output line per record, skip and rejection, and at least one per
// unit.
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "core/clock.hpp"
#include "runtime/inspect.hpp"

namespace {

std::string inspect(const std::string& path, std::size_t read_bytes, portscand::inspect_result& r) {
  portscand::inspect_options opt;
  opt.files = {path};
  opt.read_bytes = read_bytes;
  portscand::manual_clock clk(1'768'471'200'000'000);
  std::ostringstream out, summary;
  r = portscand::run_inspect(opt, clk, out, summary);
  return out.str();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t step = 1 + data[0] % 97;
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  const int fd = memfd_create("inspect_fuzz", MFD_CLOEXEC);
  if (fd < 0) return 0;
  if (::write(fd, text.data(), text.size()) != static_cast<ssize_t>(text.size())) {
    ::close(fd);
    return 0;
  }
  const std::string path = "/proc/self/fd/" + std::to_string(fd);
  portscand::inspect_result big, small;
  const std::string whole = inspect(path, 1u << 20, big);
  const std::string pieces = inspect(path, step, small);
  ::close(fd);
  if (whole != pieces || big.units != small.units) __builtin_trap();

  std::size_t newlines = 0;
  for (char c : text) newlines += c == '\n' ? 1 : 0;
  std::istringstream lines(whole);
  std::size_t count = 0, last = 1;
  for (std::string line; std::getline(lines, line); ++count) {
    const auto j = nlohmann::json::parse(line, nullptr, false);
    if (!j.is_object() || !j.contains("line") || !j["line"].is_number_unsigned()) __builtin_trap();
    const auto n = j["line"].get<std::size_t>();
    if (n < last || n > newlines + 1) __builtin_trap();
    last = n;
  }
  if (count != big.records + big.skipped + big.rejected || count < big.units) __builtin_trap();
  if (big.counted > big.records) __builtin_trap();
  return 0;
}
