#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "parse/registry.hpp"

namespace portscand {

// Turns one input unit into records: strips a syslog header when the unit has one (its
// time and host go into the parse_context), then hands the body to a fixed format or, for
// "auto", to the format whose probe matches. One per thread (owns parser instances).
class unit_decoder {
 public:
  // format: a registered name or "auto". Throws std::invalid_argument for an unknown name
  // (startup only; config validation reports it before this).
  unit_decoder(const format_registry& registry, std::string_view format,
               std::size_t max_unit_bytes = default_max_unit_bytes);

  static constexpr std::size_t default_max_unit_bytes = 4u << 20;

  void decode(std::string_view unit, const parse_context& ctx, parse_sink& sink);

  // The format that parsed the last unit ("" when none did): for per-format metrics.
  std::string_view last_format() const noexcept { return last_format_; }

  // The syslog header time of the last unit, else the one its context brought, else 0: the
  // time of its records that carry none of their own (before the receive time).
  timestamp_us header_time() const noexcept { return header_time_; }

 private:
  format_parser& parser_for(std::size_t index);

  const format_registry& registry_;
  std::size_t max_unit_bytes_;
  int fixed_ = -1;                                       // index into registry entries, -1 = auto
  std::vector<std::unique_ptr<format_parser>> parsers_;  // lazily built, by entry index
  std::string_view last_format_;
  timestamp_us header_time_ = 0;
};

}  // namespace portscand
