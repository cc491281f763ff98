#include "parse/json_util.hpp"

#include <charconv>
#include <cstring>

#include "parse/port.hpp"
#include "parse/probe_util.hpp"

namespace portscand::json {

simdjson::padded_string_view padded_view(std::string_view unit, const parse_context& ctx,
                                         std::string& scratch) {
  if (ctx.padded)
    return simdjson::padded_string_view(unit.data(), unit.size(),
                                        unit.size() + simdjson::SIMDJSON_PADDING);
  scratch.resize(unit.size() + simdjson::SIMDJSON_PADDING);
  std::memcpy(scratch.data(), unit.data(), unit.size());
  std::memset(scratch.data() + unit.size(), 0, simdjson::SIMDJSON_PADDING);
  return simdjson::padded_string_view(scratch.data(), unit.size(), scratch.size());
}

field_status as_text(simdjson::ondemand::value& v, std::string_view& out) noexcept {
  // Strings are the common case. Their raw token (a peek: it consumes nothing) is the quoted
  // text plus the whitespace up to the next structural character; without a backslash the
  // text between the quotes is the value, no unescaping or copy needed.
  const std::string_view token = v.raw_json_token();
  std::string_view inner;
  if (raw_string(token, inner) && !has_backslash(inner.data(), inner.size())) {
    out = inner;
    return field_status::ok;
  }
  if (!token.empty() && token[0] == '"')
    return v.get_string().get(out) == simdjson::SUCCESS ? field_status::ok : field_status::invalid;
  simdjson::ondemand::json_type t;
  if (v.type().get(t) != simdjson::SUCCESS) return field_status::invalid;
  switch (t) {
    case simdjson::ondemand::json_type::null:
      return field_status::absent;
    case simdjson::ondemand::json_type::number:
    case simdjson::ondemand::json_type::boolean: {
      out = v.raw_json_token();
      while (!out.empty() && is_json_space(out.back())) out.remove_suffix(1);
      return field_status::ok;
    }
    default:
      return field_status::invalid;
  }
}

bool parse_int64(std::string_view s, std::int64_t& out) noexcept {
  if (s.empty()) return false;
  const char* end = s.data() + s.size();
  auto [p, ec] = std::from_chars(s.data(), end, out);
  return ec == std::errc() && p == end;
}

field_status as_int64(simdjson::ondemand::value& v, std::int64_t& out) noexcept {
  std::string_view text;
  const field_status st = as_text(v, text);
  if (st != field_status::ok) return st;
  if (text.empty()) return field_status::absent;
  return parse_int64(text, out) ? field_status::ok : field_status::invalid;
}

field_status as_port(simdjson::ondemand::value& v, std::int32_t& out) noexcept {
  std::string_view text;
  const field_status st = as_text(v, text);
  if (st != field_status::ok) return st;
  switch (read_port(text, out)) {
    case port_status::ok:
      return field_status::ok;
    case port_status::absent:
      return field_status::absent;
    case port_status::invalid:
      break;
  }
  return field_status::invalid;
}

std::optional<timestamp_us> epoch_to_us(std::string_view s) noexcept {
  const std::size_t dot = s.find('.');
  std::int64_t whole = 0;
  if (!parse_int64(s.substr(0, dot), whole) || whole < 0) return std::nullopt;
  std::int64_t frac_us = 0;
  if (dot != std::string_view::npos) {
    std::string_view frac = s.substr(dot + 1);
    if (frac.empty() || frac.size() > 9) return std::nullopt;
    for (std::size_t i = 0; i < 6; ++i) {
      const char c = i < frac.size() ? frac[i] : '0';
      if (c < '0' || c > '9') return std::nullopt;
      frac_us = frac_us * 10 + (c - '0');
    }
    for (std::size_t i = 6; i < frac.size(); ++i)
      if (frac[i] < '0' || frac[i] > '9') return std::nullopt;
  }
  // Seconds until year 5138 are < 1e11; ms of any time after 1973 are >= 1e11, etc.
  if (whole < 100'000'000'000LL) return whole * us_per_second + frac_us;
  if (whole < 100'000'000'000'000LL) return whole * 1000;
  if (whole < 100'000'000'000'000'000LL) return whole;
  return whole / 1000;
}

namespace {

// A `key` (quotes included) followed by optional white space, ':', white space and '{'.
bool has_object_member(std::string_view head, std::string_view key) noexcept {
  for (std::size_t p = probe_find(head, key); p != std::string_view::npos;
       p = probe_find(head, key, p + 1)) {
    std::size_t i = p + key.size();
    while (i < head.size() && is_json_space(head[i])) ++i;
    if (i >= head.size() || head[i] != ':') continue;
    ++i;
    while (i < head.size() && is_json_space(head[i])) ++i;
    if (i < head.size() && head[i] == '{') return true;
  }
  return false;
}

}  // namespace

bool has_ecs_endpoint(std::string_view head) noexcept {
  for (std::string_view k : {"\"source.ip\"", "\"source.address\"", "\"destination.ip\"",
                             "\"destination.address\"", "\"destination.port\""})
    if (probe_has(head, k)) return true;
  return has_object_member(head, "\"source\"") || has_object_member(head, "\"destination\"");
}

}  // namespace portscand::json
