#include "parse/decoder.hpp"

#include <stdexcept>

#include "parse/syslog_header.hpp"

namespace portscand {

unit_decoder::unit_decoder(const format_registry& registry, std::string_view format,
                           std::size_t max_unit_bytes)
    : registry_(registry), max_unit_bytes_(max_unit_bytes), parsers_(registry.entries().size()) {
  if (format == "auto") return;
  const auto& entries = registry.entries();
  for (std::size_t i = 0; i < entries.size(); ++i)
    if (entries[i].name == format) fixed_ = static_cast<int>(i);
  if (fixed_ < 0) throw std::invalid_argument("unknown format: " + std::string(format));
}

format_parser& unit_decoder::parser_for(std::size_t index) {
  auto& p = parsers_[index];
  if (!p) p = registry_.entries()[index].make();
  return *p;
}

void unit_decoder::decode(std::string_view unit, const parse_context& ctx, parse_sink& sink) {
  last_format_ = {};
  header_time_ = ctx.header_time;
  while (!unit.empty() && (unit.back() == '\n' || unit.back() == '\r')) unit.remove_suffix(1);
  if (unit.size() > max_unit_bytes_) {
    sink.rejected("too_large");
    return;
  }
  const std::size_t first = unit.find_first_not_of(" \t");
  if (first == std::string_view::npos) {
    sink.skipped("empty");
    return;
  }
  // A syslog header in front of the record: its time, host and tag go into the context and
  // the format (and the probes) see only the body. JSON units (objects, arrays) never carry
  // a header and go to the format as they are.
  parse_context body_ctx = ctx;
  if (unit[first] != '{' && unit[first] != '[') {
    syslog_header h;
    if (parse_syslog_header(unit, ctx.receive_time, h, ctx.zone)) {
      // The body is a suffix of the unit, so whatever padding followed the unit follows it.
      unit = h.body;
      if (h.time != 0) body_ctx.header_time = h.time;
      if (!h.host.empty()) body_ctx.host = h.host;
      if (!h.app.empty()) body_ctx.app = h.app;
      body_ctx.structured_data = h.structured_data;
      header_time_ = body_ctx.header_time;
      if (unit.find_first_not_of(" \t") == std::string_view::npos) {
        sink.skipped("empty");
        return;
      }
    }
  }
  std::size_t index;
  if (fixed_ >= 0) {
    index = static_cast<std::size_t>(fixed_);
  } else {
    const format_entry* e = registry_.detect(unit);
    // A record carried in the structured data beside a message the probes do not know
    // (Check Point's Fields@ element): the format finds it in the context.
    if (e == nullptr && !body_ctx.structured_data.empty())
      e = registry_.detect(body_ctx.structured_data);
    if (e == nullptr) {
      sink.rejected("unknown_format");
      return;
    }
    index = static_cast<std::size_t>(e - registry_.entries().data());
  }
  last_format_ = registry_.entries()[index].name;
  parser_for(index).parse(unit, body_ctx, sink);
}

}  // namespace portscand
