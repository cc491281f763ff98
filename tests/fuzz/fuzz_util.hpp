#pragma once

#include <string_view>

#include "parse/decoder.hpp"

namespace portscand::fuzz {

// Counts what the parser reports and checks the invariants every parser must keep on any
// input: records have a source address and ports in range.
class checking_sink final : public parse_sink {
 public:
  void record(const network_session& s) override {
    if (s.dst_port < network_session::no_port || s.dst_port > 65535) __builtin_trap();
    (void)s.src.to_string();
  }
  void skipped(std::string_view reason) override {
    if (reason.empty()) __builtin_trap();
  }
  void rejected(std::string_view reason) override {
    if (reason.empty()) __builtin_trap();
  }
  void ignored_field(std::string_view reason) override {
    if (reason.empty()) __builtin_trap();
  }
};

// Runs one input through a fixed-format decoder (unpadded: the parser must copy).
inline void run_format(std::string_view format, const std::uint8_t* data, std::size_t size) {
  static unit_decoder decoder(builtin_formats(), format);
  checking_sink sink;
  const std::string_view unit(reinterpret_cast<const char*>(data), size);
  decoder.decode(unit, parse_context{}, sink);
}

}  // namespace portscand::fuzz
