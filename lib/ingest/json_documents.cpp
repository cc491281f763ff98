#include "ingest/json_documents.hpp"

#include <cstdint>
#include <cstring>

namespace portscand::json_documents {
namespace {

bool is_blank(char c) noexcept {
  return c == ' ' || c == '\t' || c == '\r';
}

// Scans a document from its opening bracket at text[0]: the offset of the bracket that
// closes it, or npos when text ends first. JSON strings are stepped over with their escapes.
std::size_t closing_bracket(std::string_view text) noexcept {
  std::uint32_t depth = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\')
        ++i;  // the escaped byte, whatever it is
      else if (c == '"')
        in_string = false;
      continue;
    }
    switch (c) {
      case '"':
        in_string = true;
        break;
      case '{':
      case '[':
        ++depth;
        break;
      case '}':
      case ']':
        if (--depth == 0) return i;
        break;
      default:
        break;
    }
  }
  return std::string_view::npos;
}

bool opens_document(std::string_view s) noexcept {
  if (s.empty()) return false;
  const char open = s[0];
  if (open != '{' && open != '[') return false;
  if (s.size() == 1) return true;
  const char next = s[1];
  if (next == ' ' || next == '\t' || next == '\r' || next == '\n' || next == '"') return true;
  if (open == '{') return next == '}';
  return next == '{' || next == '[' || next == ']';
}

}  // namespace

bool opens_multiline_document(std::string_view line) noexcept {
  std::size_t first = 0;
  while (first < line.size() && is_blank(line[first])) ++first;
  line.remove_prefix(first);
  if (!opens_document(line)) return false;
  return closing_bracket(line) == std::string_view::npos;
}

std::size_t unit_end(std::string_view text) noexcept {
  if (text.empty()) return std::string_view::npos;
  if (opens_document(text)) {
    const std::size_t close = closing_bracket(text);
    if (close == std::string_view::npos) return std::string_view::npos;
    std::size_t i = close + 1;
    while (i < text.size() && is_blank(text[i])) ++i;
    if (i == text.size()) return std::string_view::npos;  // the line's end is still to come
    if (text[i] == '\n') return i + 1;
    return close + 1;  // text after the bracket on its line is a unit of its own
  }
  const void* nl = std::memchr(text.data(), '\n', text.size());
  if (nl == nullptr) return std::string_view::npos;
  return static_cast<std::size_t>(static_cast<const char*>(nl) - text.data()) + 1;
}

std::string_view unit_view(std::string_view text, std::size_t end) noexcept {
  std::string_view unit = text.substr(0, end);
  while (!unit.empty() && (unit.back() == '\n' || is_blank(unit.back()))) unit.remove_suffix(1);
  return unit;
}

}  // namespace portscand::json_documents
