#pragma once

#include <cstddef>
#include <string_view>

namespace portscand::json_documents {

// Files of JSON documents that span lines (an Azure NSG flow-log blob as downloaded from
// storage, `jq .` output, pretty-printed exports). The file and replay inputs read a file
// line by line unless its first non-blank line opens such a document; then the whole file
// is read as a sequence of units, each a top-level JSON document however many lines it
// takes, or a line outside any document. The choice is made once per file (and again after
// a rotation or truncation), so an NDJSON or text file pays one check of its first line.

// Whether a file starting with `line` (its first non-blank line, without the newline) is
// read as documents: the line's first non-blank byte opens an object (`{` then the line end, a
// blank, `"` or `}`) or an array (`[` then nothing, a blank, `{`, `[`, `"` or `]`), and the
// brackets it opens are not all closed on the line itself. Text lines that start with a
// bracket (`[16571.4] IN=...`, Check Point's `[action:"Drop"; ...]`) are not documents.
bool opens_multiline_document(std::string_view line) noexcept;

// Where the unit starting at text[0] ends: the offset just past it, or npos when `text`
// ends before the unit does (a document not closed yet, a line without its newline).
// A document unit ends at its closing bracket, plus the rest of that line when it is blank
// (the newline included); a line unit ends after its newline (excluded from the unit by
// unit_view below). Brackets inside JSON strings (with backslash escapes) do not count.
std::size_t unit_end(std::string_view text) noexcept;

// The unit within text[0, end): a line unit without its line terminator.
std::string_view unit_view(std::string_view text, std::size_t end) noexcept;

// Calls emit(unit) for every complete unit of `text` (blank lines between units are passed
// over) and returns how many bytes were consumed; the rest is an incomplete unit. With
// at_end, the rest is emitted too (a last line without a newline; an unterminated document,
// which the decoder then rejects) and everything is consumed.
template <typename Emit>
std::size_t split(std::string_view text, bool at_end, Emit&& emit) {
  std::size_t pos = 0;
  while (pos < text.size()) {
    const char c = text[pos];
    if (c == '\n' || c == '\r' || c == ' ' || c == '\t') {
      ++pos;
      continue;
    }
    const std::string_view rest = text.substr(pos);
    const std::size_t end = unit_end(rest);
    if (end == std::string_view::npos) {
      if (!at_end) return pos;
      emit(unit_view(rest, rest.size()));
      return text.size();
    }
    emit(unit_view(rest, end));
    pos += end;
  }
  return pos;
}

}  // namespace portscand::json_documents
