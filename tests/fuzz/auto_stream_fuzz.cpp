#include "fuzz_util.hpp"

// A stream through one `auto` decoder, as an input feeds it: the input's lines are units of
// one stream, so the sticky winners (unit_decoder::max_recent) and the header state of
// zeek-conn / aws-vpc carry from line to line. Checks, besides the sinks' invariants:
// - every unit is reported (a record, a skip or a rejection);
// - first-byte dispatch is sound: no probe claims a unit its probe_scope rules out;
// - the format a unit went to claims it: its probe matches the unit (JSON objects, which
//   never carry a syslog header, are the body as it is).
// Seeds: a few lines of several formats per file (corpus/auto_stream).
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace portscand;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const format_registry& registry = builtin_formats();
  unit_decoder decoder(registry, "auto");
  std::size_t pos = 0;
  while (pos <= input.size()) {
    std::size_t nl = input.find('\n', pos);
    if (nl == std::string_view::npos) nl = input.size();
    const std::string_view unit = input.substr(pos, nl - pos);
    pos = nl + 1;

    const std::string_view head = unit.substr(0, probe_window);
    const probe_shape shape = probe_shape::of(head);
    for (const auto& e : registry.entries())
      if (!shape.admits(e) && e.probe(head)) __builtin_trap();

    fuzz::checking_sink sink;
    decoder.decode(unit, parse_context{}, sink);
    if (sink.log().empty()) __builtin_trap();
    const std::string_view name = decoder.last_format();
    if (!decoder.last_envelope().empty() || name.empty() || name == "envelope") continue;
    if (unit.empty() || unit[0] != '{') continue;
    const format_entry* e = registry.find(name);
    if (e == nullptr || !e->probe(head)) __builtin_trap();
  }
  return 0;
}
