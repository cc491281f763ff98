#include "parse/xml_scan.hpp"

#include <array>
#include <cstring>

namespace portscand::xml {
namespace {

// Character classes by byte, so that the per-character loops are one load and a test.
enum : std::uint8_t { cls_space = 1, cls_name_start = 2, cls_name = 4 };

constexpr std::array<std::uint8_t, 256> make_classes() {
  std::array<std::uint8_t, 256> t{};
  for (int c = 0; c < 256; ++c) {
    std::uint8_t v = 0;
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') v |= cls_space;
    const bool start =
        (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' || c == ':' || c >= 0x80;
    if (start) v |= cls_name_start | cls_name;
    if ((c >= '0' && c <= '9') || c == '-' || c == '.') v |= cls_name;
    t[static_cast<std::size_t>(c)] = v;
  }
  return t;
}
constexpr std::array<std::uint8_t, 256> classes = make_classes();

constexpr bool has(char c, std::uint8_t cls) noexcept {
  return (classes[static_cast<unsigned char>(c)] & cls) != 0;
}
constexpr bool is_space(char c) noexcept {
  return has(c, cls_space);
}
constexpr bool is_name_start(char c) noexcept {
  return has(c, cls_name_start);
}
constexpr bool is_name_char(char c) noexcept {
  return has(c, cls_name);
}

}  // namespace

token scanner::fail(const char* reason) noexcept {
  if (error_ == nullptr) error_ = reason;
  return token::error;
}

bool scanner::scan_name(std::string_view& out) noexcept {
  // Locals, not members, in the loop: the compiler cannot keep pos_ in a register across
  // stores through `out`.
  const char* d = doc_.data();
  const std::size_t n = doc_.size();
  std::size_t p = pos_;
  if (p >= n || !is_name_start(d[p])) return false;
  const std::size_t start = p++;
  while (p < n && is_name_char(d[p])) ++p;
  pos_ = p;
  out = std::string_view(d + start, p - start);
  return true;
}

std::size_t scanner::skip_space(std::size_t p) const noexcept {
  const char* d = doc_.data();
  const std::size_t n = doc_.size();
  while (p < n && is_space(d[p])) ++p;
  return p;
}

// At a '<': scans one markup construct. Comments and processing instructions come back as
// token::done with finished_ unset, which next() treats as "skip".
token scanner::scan_tag() noexcept {
  const std::size_t n = doc_.size();
  ++pos_;  // '<'
  if (pos_ >= n) return fail("truncated_xml");
  const char c = doc_[pos_];
  if (c == '/') {
    ++pos_;
    std::string_view name;
    if (!scan_name(name)) return fail(pos_ >= n ? "truncated_xml" : "malformed_xml");
    pos_ = skip_space(pos_);
    if (pos_ >= n) return fail("truncated_xml");
    if (doc_[pos_] != '>') return fail("malformed_xml");
    ++pos_;
    if (open_ == 0 || stack_[open_ - 1] != name) return fail("malformed_xml");
    depth_ = open_;
    --open_;
    name_ = name;
    attrs_ = {};
    last_ = token::end;
    return token::end;
  }
  if (c == '?' || c == '!') {
    std::string_view close = "?>";
    if (c == '!') {
      if (doc_.substr(pos_, 3) != "!--") {
        return fail(n - pos_ < 3 ? "truncated_xml" : "unsupported_xml");  // CDATA, DOCTYPE
      }
      close = "-->";
      pos_ += 3;
    }
    const std::size_t e = doc_.find(close, pos_ + 1);
    if (e == std::string_view::npos) return fail("truncated_xml");
    pos_ = e + close.size();
    return token::done;  // skip
  }
  std::string_view name;
  if (!scan_name(name)) return fail("malformed_xml");
  const std::size_t attrs_start = pos_;
  for (;;) {
    const std::size_t before_space = pos_;
    pos_ = skip_space(pos_);
    if (pos_ >= n) return fail("truncated_xml");
    const char d = doc_[pos_];
    if (d == '>' || d == '/') {
      attrs_ = doc_.substr(attrs_start, pos_ - attrs_start);
      if (d == '/') {
        if (pos_ + 1 >= n) return fail("truncated_xml");
        if (doc_[pos_ + 1] != '>') return fail("malformed_xml");
        pos_ += 2;
        name_ = name;
        depth_ = open_ + 1;
        last_ = token::empty;
        return token::empty;
      }
      ++pos_;
      if (open_ >= max_depth) return fail("xml_too_deep");
      stack_[open_++] = name;
      depth_ = open_;
      name_ = name;
      last_ = token::start;
      return token::start;
    }
    // An attribute: white space before it, name, '=', a quoted value without '<'.
    if (pos_ == before_space) return fail("malformed_xml");
    std::string_view attr;
    if (!scan_name(attr)) return fail("malformed_xml");
    pos_ = skip_space(pos_);
    if (pos_ >= n) return fail("truncated_xml");
    if (doc_[pos_] != '=') return fail("malformed_xml");
    ++pos_;
    pos_ = skip_space(pos_);
    if (pos_ >= n) return fail("truncated_xml");
    const char q = doc_[pos_];
    if (q != '"' && q != '\'') return fail("malformed_xml");
    const std::size_t e = doc_.find(q, pos_ + 1);
    if (e == std::string_view::npos) return fail("truncated_xml");
    if (doc_.substr(pos_ + 1, e - pos_ - 1).find('<') != std::string_view::npos)
      return fail("malformed_xml");
    pos_ = e + 1;
  }
}

token scanner::next() noexcept {
  if (error_ != nullptr) return token::error;
  for (;;) {
    if (started_ && open_ == 0) {
      last_ = token::done;
      return token::done;
    }
    if (!started_) {
      if (doc_.empty() || doc_[0] != '<') return fail("malformed_xml");
      pos_ = 0;
    } else {
      const void* lt =
          pos_ < doc_.size() ? std::memchr(doc_.data() + pos_, '<', doc_.size() - pos_) : nullptr;
      if (lt == nullptr) return fail("truncated_xml");
      pos_ = static_cast<std::size_t>(static_cast<const char*>(lt) - doc_.data());
    }
    const token t = scan_tag();
    if (t == token::error) return t;
    if (t == token::done) continue;  // comment or processing instruction
    if (!started_) {
      started_ = true;
      if (t == token::end) return fail("malformed_xml");
    }
    return t;
  }
}

bool scanner::attribute(std::string_view attr, std::string_view& value) const noexcept {
  std::size_t i = 0;
  const std::string_view a = attrs_;
  while (i < a.size()) {
    while (i < a.size() && is_space(a[i])) ++i;
    const std::size_t name_start = i;
    while (i < a.size() && a[i] != '=' && !is_space(a[i])) ++i;
    const std::string_view name = a.substr(name_start, i - name_start);
    while (i < a.size() && a[i] != '"' && a[i] != '\'') ++i;
    if (i >= a.size()) return false;
    const char q = a[i];
    const std::size_t e = a.find(q, i + 1);
    if (e == std::string_view::npos) return false;
    if (name == attr) {
      value = a.substr(i + 1, e - i - 1);
      return true;
    }
    i = e + 1;
  }
  return false;
}

bool scanner::text(std::string_view& raw) noexcept {
  if (error_ != nullptr) return false;
  if (last_ == token::empty) {
    raw = {};
    return true;
  }
  if (last_ != token::start) {
    fail("malformed_xml");
    return false;
  }
  const std::size_t lt = doc_.find('<', pos_);
  if (lt == std::string_view::npos) {
    fail("truncated_xml");
    return false;
  }
  const std::size_t text_start = pos_;
  pos_ = lt;
  if (lt + 1 < doc_.size() && doc_[lt + 1] != '/') {
    fail("malformed_xml");  // a child element (or comment) inside a value
    return false;
  }
  if (scan_tag() != token::end) {
    if (error_ == nullptr) fail("malformed_xml");
    return false;
  }
  raw = doc_.substr(text_start, lt - text_start);
  return true;
}

namespace {

void put_utf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xc0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xe0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else {
    out += static_cast<char>(0xf0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  }
}

bool char_ref(std::string_view ref, std::uint32_t& cp) noexcept {
  // ref is what sits between "&#" and ';'.
  unsigned base = 10;
  if (!ref.empty() && ref[0] == 'x') {
    base = 16;
    ref.remove_prefix(1);
  }
  if (ref.empty() || ref.size() > 8) return false;
  std::uint32_t v = 0;
  for (char c : ref) {
    unsigned d;
    if (c >= '0' && c <= '9')
      d = static_cast<unsigned>(c - '0');
    else if (base == 16 && c >= 'a' && c <= 'f')
      d = static_cast<unsigned>(c - 'a' + 10);
    else if (base == 16 && c >= 'A' && c <= 'F')
      d = static_cast<unsigned>(c - 'A' + 10);
    else
      return false;
    v = v * base + d;
    if (v > 0x10ffff) return false;
  }
  if (v == 0 || (v >= 0xd800 && v <= 0xdfff)) return false;
  cp = v;
  return true;
}

}  // namespace

std::optional<std::string_view> decode(std::string_view raw, std::string& scratch) {
  std::size_t amp = raw.find('&');
  if (amp == std::string_view::npos) return raw;
  scratch.clear();
  std::size_t from = 0;
  while (amp != std::string_view::npos) {
    scratch.append(raw.data() + from, amp - from);
    const std::size_t semi = raw.find(';', amp + 1);
    if (semi == std::string_view::npos || semi - amp > 12) return std::nullopt;
    const std::string_view ent = raw.substr(amp + 1, semi - amp - 1);
    if (ent == "amp")
      scratch += '&';
    else if (ent == "lt")
      scratch += '<';
    else if (ent == "gt")
      scratch += '>';
    else if (ent == "quot")
      scratch += '"';
    else if (ent == "apos")
      scratch += '\'';
    else if (!ent.empty() && ent[0] == '#') {
      std::uint32_t cp;
      if (!char_ref(ent.substr(1), cp)) return std::nullopt;
      put_utf8(scratch, cp);
    } else {
      return std::nullopt;
    }
    from = semi + 1;
    amp = raw.find('&', from);
  }
  scratch.append(raw.data() + from, raw.size() - from);
  return std::string_view(scratch);
}

std::size_t find_event_element(std::string_view text) noexcept {
  constexpr std::string_view tag = "<Event";
  std::size_t p = text.find(tag);
  while (p != std::string_view::npos) {
    const std::size_t after = p + tag.size();
    if (after < text.size()) {
      const char c = text[after];
      if (c == '>' || c == '/' || is_space(c)) return p;
    }
    p = text.find(tag, p + 1);
  }
  return std::string_view::npos;
}

}  // namespace portscand::xml
