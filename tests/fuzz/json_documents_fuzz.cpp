// Fuzzes the framing of files of multi-line JSON documents (ingest/json_documents). The
// stream is split twice: whole, and fed in pieces (the first byte picks their size) the way
// ingest/file_reader feeds it, carrying the unconsumed rest. Both runs must give
// the same units: read boundaries carry no meaning. Units are never empty and never start or
// end with a blank or a line break.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ingest/json_documents.hpp"

namespace {

bool is_blank(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

void check(std::string_view unit) {
  if (unit.empty() || is_blank(unit.front()) || is_blank(unit.back())) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  namespace jd = portscand::json_documents;
  const std::size_t step = 1 + data[0] % 64;
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  (void)jd::opens_multiline_document(text.substr(0, text.find('\n')));

  std::vector<std::string> whole;
  const std::size_t used = jd::split(text, true, [&](std::string_view u) {
    check(u);
    whole.emplace_back(u);
  });
  if (used != text.size()) __builtin_trap();

  std::vector<std::string> pieces;
  std::string pending;
  auto collect = [&](std::string_view u) {
    check(u);
    pieces.emplace_back(u);
  };
  for (std::size_t pos = 0; pos < text.size(); pos += step) {
    pending.append(text.substr(pos, step));
    const std::size_t n = jd::split(pending, false, collect);
    if (n > pending.size()) __builtin_trap();
    pending.erase(0, n);
  }
  jd::split(pending, true, collect);
  if (pieces != whole) __builtin_trap();
  return 0;
}
