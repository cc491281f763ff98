#pragma once

#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "event/label_table.hpp"
#include "parse/decoder.hpp"
#include "parse/parser.hpp"
#include "parse/registry.hpp"

namespace portscand::test {

// Collects everything a parser reports, for assertions.
class collecting_sink final : public parse_sink {
 public:
  void record(const network_session& s) override { records.push_back(s); }
  void skipped(std::string_view reason) override { skips.emplace_back(reason); }
  void rejected(std::string_view reason) override { rejects.emplace_back(reason); }
  void ignored_field(std::string_view reason) override { ignored.emplace_back(reason); }

  std::vector<network_session> records;
  std::vector<std::string> skips;
  std::vector<std::string> rejects;
  std::vector<std::string> ignored;
};

// Parses `unit` with the named format (or "auto"), no syslog context.
collecting_sink parse_with(std::string_view format, std::string_view unit,
                           const parse_context& ctx = {});

// Reads every line of a fixture file (tests/fixtures/<rel>), without line terminators.
std::vector<std::string> fixture_lines(const std::string& rel);
std::string fixture_text(const std::string& rel);

inline std::string label(label_id id) {
  return std::string(label_table::global().view(id));
}
inline std::string ip(const ip_address& a) {
  return a.to_string();
}

}  // namespace portscand::test
