#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "parse/decoder.hpp"

namespace portscand::fuzz {

// Records what the parser reports for one unit and checks, as it goes, the invariants every
// parser keeps on any input (lib/parse/README.md): a record's addresses are canonical (their
// text parses back to the same address), ports are 0..65535 or absent, the action is a known
// one, the side a known one, the vendor/product label is set, and reasons are non-empty snake_case
// literals.
class checking_sink final : public parse_sink {
 public:
  void record(const network_session& s) override {
    if (s.dst_port < network_session::no_port || s.dst_port > 65535) __builtin_trap();
    if (static_cast<unsigned>(s.action) > static_cast<unsigned>(dvc_action::decrypt))
      __builtin_trap();
    if (static_cast<unsigned>(s.side) > static_cast<unsigned>(flow_side::reply)) __builtin_trap();
    if (s.reported_by == label_table::empty_id) __builtin_trap();
    const std::string src = s.src.to_string();
    const auto again = ip_address::parse(src);
    if (!again || !(*again == s.src)) __builtin_trap();
    std::string dst;
    if (s.has_dst) {
      dst = s.dst.to_string();
      const auto d = ip_address::parse(dst);
      if (!d || !(*d == s.dst)) __builtin_trap();
    }
    log_ += "record " + src + ' ' + dst + ' ' + std::to_string(s.dst_port) + ' ' +
            std::to_string(s.protocol) + ' ' + std::to_string(static_cast<int>(s.action)) + ' ' +
            std::to_string(static_cast<int>(s.side)) + ' ' + std::to_string(s.reported_by) + ' ' +
            std::to_string(s.device) + ' ' +
            (s.has_time ? std::to_string(s.time) : std::string("-")) + '\n';
  }
  void skipped(std::string_view reason) override { note("skipped", reason); }
  void rejected(std::string_view reason) override { note("rejected", reason); }
  void ignored_field(std::string_view reason) override { note("ignored", reason); }

  // Everything reported, one line per call, in order.
  const std::string& log() const noexcept { return log_; }

 private:
  void note(const char* kind, std::string_view reason) {
    if (reason.empty()) __builtin_trap();
    for (const char c : reason)
      if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) __builtin_trap();
    log_ += kind;
    log_ += ' ';
    log_ += reason;
    log_ += '\n';
  }
  std::string log_;
};

// Runs one input through a decoder made for it alone (so that a crash reproduces from the
// input by itself, with no state left by earlier inputs), unpadded (the parser must copy).
// Then checks what parsers promise beyond not crashing:
// - every unit ends in at least one report (a record, a skip or a rejection);
// - decoding is a function of the unit: decoding it in place with padding after it reports
//   exactly the same. (Not "the same decoder again": formats with header lines, zeek TSV's
//   #fields or an aws-vpc header, rightly carry what a unit declared to the next one.)
inline void run_format(std::string_view format, const std::uint8_t* data, std::size_t size) {
  const std::string_view unit(reinterpret_cast<const char*>(data), size);
  unit_decoder decoder(builtin_formats(), format);
  checking_sink first;
  decoder.decode(unit, parse_context{}, first);
  if (first.log().empty()) __builtin_trap();

  std::vector<char> padded(size + unit_padding, '\0');
  if (size != 0) std::memcpy(padded.data(), data, size);
  parse_context ctx;
  ctx.padded = true;
  checking_sink in_place;
  unit_decoder fresh(builtin_formats(), format);
  fresh.decode(std::string_view(padded.data(), size), ctx, in_place);
  if (in_place.log() != first.log()) __builtin_trap();
}

}  // namespace portscand::fuzz
