#include "parse_test_util.hpp"

#include <stdexcept>

namespace portscand::test {

collecting_sink parse_with(std::string_view format, std::string_view unit,
                           const parse_context& ctx) {
  unit_decoder decoder(builtin_formats(), format);
  collecting_sink sink;
  decoder.decode(unit, ctx, sink);
  return sink;
}

std::string fixture_text(const std::string& rel) {
  std::ifstream in(std::string(PORTSCAND_FIXTURES) + "/" + rel, std::ios::binary);
  if (!in) throw std::runtime_error("missing fixture " + rel);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> fixture_lines(const std::string& rel) {
  std::istringstream in(fixture_text(rel));
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(line);
  }
  return lines;
}

}  // namespace portscand::test
