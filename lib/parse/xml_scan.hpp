#pragma once

// A small, strict, bounded XML tag scanner for the event formats that carry Windows-style
// event XML (`<Event><System>...<EventData><Data Name="X">v</Data>...`): Sysmon for Linux
// and Windows Security (WFP) events. It is not a general XML parser: no DTDs, no CDATA, no
// namespaces resolution (a prefixed name is just a name). What it does check: tag and
// attribute syntax, matching end tags, a nesting limit, and (on request) entities in the
// values a parser actually uses. No allocation; views point into the scanned text.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace portscand::xml {

enum class token : std::uint8_t {
  start,  // <name attrs>
  empty,  // <name attrs/>
  end,    // </name>
  done,   // the root element has closed
  error,  // see scanner::error()
};

// Forward-only scanner over one element tree. Text between tags is skipped by next(); an
// element's text content is read with text() right after its start tag.
class scanner {
 public:
  static constexpr int max_depth = 32;

  // `doc` must start at the root element's '<'; whatever follows the root's end is ignored.
  explicit scanner(std::string_view doc) noexcept : doc_(doc) {}

  token next() noexcept;

  // After start/empty/end: the element name. After start/empty: its raw attribute text.
  std::string_view name() const noexcept { return name_; }
  // Depth of the current element (root = 1); after an end token, the depth it closed.
  int depth() const noexcept { return depth_; }

  // Looks up an attribute of the current start/empty tag; the value is raw (entities
  // not decoded). The attribute text was validated when the tag was scanned.
  bool attribute(std::string_view attr, std::string_view& value) const noexcept;

  // Right after a start token: reads the element's text up to its end tag, which must
  // follow without child elements, and consumes that end tag. After an empty token: "".
  // Returns false (and the scanner is in error) on anything else.
  bool text(std::string_view& raw) noexcept;

  // A static snake_case reason once next() or text() failed: "malformed_xml",
  // "truncated_xml", "xml_too_deep", "unsupported_xml".
  const char* error() const noexcept { return error_; }

 private:
  token fail(const char* reason) noexcept;
  bool scan_name(std::string_view& out) noexcept;
  std::size_t skip_space(std::size_t p) const noexcept;
  token scan_tag() noexcept;

  std::string_view doc_;
  std::size_t pos_ = 0;
  std::string_view name_;
  std::string_view attrs_;
  int depth_ = 0;
  int open_ = 0;  // elements open (the stack's size)
  token last_ = token::done;
  bool started_ = false;
  const char* error_ = nullptr;
  std::array<std::string_view, max_depth> stack_{};
};

// Walks an event document (`<Event><System>...</System><EventData>...</EventData></Event>`,
// or a bare `<EventData>` element, as Sentinel's SecurityEvent.EventData column holds it):
// - on_system(scanner&) for each child element of <System> (the callback may read the
//   element's attributes and, for a start tag, its text());
// - on_data(name, raw_value) for each <Data Name="name">raw_value</Data> of <EventData>.
// Either callback returns false to stop the walk early (e.g. an EventID the format skips).
// Returns nullptr when the walk ended (document done or stopped), else the scanner's reason
// or "not_event_xml" when the root is neither Event nor EventData.
template <typename OnSystem, typename OnData>
const char* walk_event(std::string_view doc, OnSystem&& on_system, OnData&& on_data) {
  scanner sc(doc);
  int system_depth = 0, data_depth = 0;  // depth of the open <System>/<EventData>, 0 = none
  for (;;) {
    const token t = sc.next();
    if (t == token::error) return sc.error();
    if (t == token::done) return nullptr;
    const int d = sc.depth();
    if (t == token::end) {
      if (d == system_depth) system_depth = 0;
      if (d == data_depth) data_depth = 0;
      continue;
    }
    const std::string_view name = sc.name();
    if (d == 1 && name != "Event" && name != "EventData") return "not_event_xml";
    if (system_depth != 0 && d == system_depth + 1) {
      if (!on_system(sc)) return nullptr;
      if (sc.error() != nullptr) return sc.error();
      continue;
    }
    if (data_depth != 0 && d == data_depth + 1) {
      if (name != "Data") continue;
      std::string_view key, value;
      if (!sc.attribute("Name", key)) continue;
      if (!sc.text(value)) return sc.error();
      if (!on_data(key, value)) return nullptr;
      continue;
    }
    if (t != token::start) continue;
    if (name == "EventData" && data_depth == 0 && system_depth == 0 && d <= 2)
      data_depth = d;
    else if (name == "System" && system_depth == 0 && data_depth == 0 && d == 2)
      system_depth = d;
  }
}

// Decodes the five predefined entities (&amp; &lt; &gt; &quot; &apos;) and numeric character
// references (&#NN; &#xHH;, encoded as UTF-8) of raw text. Returns `raw` itself when it holds
// no '&', else the decoded text in `scratch` (valid until scratch changes); nullopt on an
// unknown or malformed reference.
std::optional<std::string_view> decode(std::string_view raw, std::string& scratch);

// The position of the first "<Event" start tag (followed by '>', '/', or white space) in
// `text`, or npos. Used to find event XML behind a transport prefix (a syslog header).
std::size_t find_event_element(std::string_view text) noexcept;

}  // namespace portscand::xml
