#include "fuzz_util.hpp"

// Shipper envelopes: the same input through a decoder with a custom envelope (nested and
// flat dotted paths) and one with `envelope: none`; the `auto` target's seeds carry the
// known shippers' shapes (corpus/auto/envelope_*). Seeds: corpus/envelope/.
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using portscand::envelope_options;
  static portscand::unit_decoder custom = [] {
    envelope_options o;
    o.mode = envelope_options::kind::custom;
    o.message = "payload.line";
    o.time = "meta.ts";
    o.host = "meta.device";
    return portscand::unit_decoder(portscand::builtin_formats(), "auto",
                                   portscand::unit_decoder::default_max_unit_bytes, o);
  }();
  static portscand::unit_decoder none = [] {
    envelope_options o;
    o.mode = envelope_options::kind::none;
    return portscand::unit_decoder(portscand::builtin_formats(), "cef",
                                   portscand::unit_decoder::default_max_unit_bytes, o);
  }();
  portscand::fuzz::checking_sink sink;
  const std::string_view unit(reinterpret_cast<const char*>(data), size);
  custom.decode(unit, portscand::parse_context{}, sink);
  none.decode(unit, portscand::parse_context{}, sink);
  return 0;
}
