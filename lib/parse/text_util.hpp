#pragma once

// Small, allocation-free text helpers shared by the line formats (key=value, XML values).

#include <cstdint>
#include <string_view>

#include "event/network_session.hpp"
#include "parse/port.hpp"

namespace portscand::text {

constexpr bool is_space(char c) noexcept {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

constexpr std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

constexpr char ascii_upper(char c) noexcept {
  return c >= 'a' && c <= 'z' ? static_cast<char>(c - 32) : c;
}

// Case-insensitive equality against an upper-case ASCII literal.
constexpr bool iequals_upper(std::string_view s, std::string_view upper) noexcept {
  if (s.size() != upper.size()) return false;
  for (std::size_t i = 0; i < s.size(); ++i)
    if (ascii_upper(s[i]) != upper[i]) return false;
  return true;
}

// Case-insensitive search for an upper-case ASCII literal.
constexpr bool icontains_upper(std::string_view s, std::string_view upper) noexcept {
  if (upper.empty()) return true;
  if (s.size() < upper.size()) return false;
  for (std::size_t i = 0; i + upper.size() <= s.size(); ++i) {
    std::size_t j = 0;
    while (j < upper.size() && ascii_upper(s[i + j]) == upper[j]) ++j;
    if (j == upper.size()) return true;
  }
  return false;
}

}  // namespace portscand::text
