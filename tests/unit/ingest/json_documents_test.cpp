#include "ingest/json_documents.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace portscand {
namespace {

struct opener_case {
  const char* line;
  bool opens;
  const char* why;
};

TEST(json_documents, a_file_is_read_as_documents_only_when_its_first_line_opens_one) {
  const opener_case cases[] = {
      {"{", true, "jq / json.tool / PowerShell: the brace alone"},
      {"  {\r", true, "indented, CRLF"},
      {"[", true, "a pretty-printed array"},
      {"{\"records\": [", true, "an object whose first key opens an array"},
      {"[{\"a\": 1,", true, "an array of objects cut after a value"},
      {"{\"a\":1}", false, "NDJSON: closes on its line"},
      {"[{\"a\":1},{\"b\":2}]", false, "a one-line array"},
      {"{\"a\":\"}\"", true, "a brace inside a string does not close"},
      {"{\"a\":\"\\\"}\"", true, "nor does one after an escaped quote"},
      {"[16571.459614] IN=eth0 OUT= SRC=203.0.113.5", false, "a kernel line's uptime stamp"},
      {"[action:\"Drop\"; src:\"203.0.113.5\"", false, "Check Point pairs"},
      {"[Fields@1.3.6.1.4.1.2620 src=\"1.2.3.4\"", false, "Check Point SD"},
      {"<134>1 2020-03-29T13:19:20Z gw CheckPoint 1 - [a:\"b\"", false, "a syslog line"},
      {"{abc", false, "not JSON"},
      {"", false, "empty"},
  };
  for (const auto& c : cases)
    EXPECT_EQ(json_documents::opens_multiline_document(c.line), c.opens) << c.why;
}

std::vector<std::string> units_of(std::string_view text, bool at_end, std::size_t* used = nullptr) {
  std::vector<std::string> out;
  const std::size_t n =
      json_documents::split(text, at_end, [&](std::string_view u) { out.emplace_back(u); });
  if (used != nullptr) *used = n;
  return out;
}

TEST(json_documents, documents_and_lines_between_them_are_units) {
  const std::string text =
      "{\n  \"a\": \"x]}\",\n  \"b\": [1, {\"c\": 2}]\n}\n"
      "\n"
      "{\"ndjson\":1}\n"
      "a text line\n"
      "[\n  {\"d\": \"\\\"\"}\n]   \r\n";
  std::size_t used = 0;
  const auto u = units_of(text, false, &used);
  EXPECT_EQ(used, text.size());
  EXPECT_EQ(
      u, (std::vector<std::string>{"{\n  \"a\": \"x]}\",\n  \"b\": [1, {\"c\": 2}]\n}",
                                   "{\"ndjson\":1}", "a text line", "[\n  {\"d\": \"\\\"\"}\n]"}));
}

TEST(json_documents, an_incomplete_unit_is_left_for_more_bytes_or_emitted_at_the_end) {
  const std::string text = "{\"a\":1}\n{\n  \"b\": 2\n";
  std::size_t used = 0;
  EXPECT_EQ(units_of(text, false, &used), std::vector<std::string>{"{\"a\":1}"});
  EXPECT_EQ(used, 8u);
  // The closing bracket without the end of its line yet: still incomplete.
  EXPECT_TRUE(units_of("{\n}", false, &used).empty());
  EXPECT_EQ(used, 0u);
  // At the end of the input the rest is a unit (an unterminated document: the decoder
  // rejects it), and a last line without a newline counts.
  EXPECT_EQ(units_of(text, true), (std::vector<std::string>{"{\"a\":1}", "{\n  \"b\": 2"}));
  EXPECT_EQ(units_of("x\ny", true), (std::vector<std::string>{"x", "y"}));
  EXPECT_EQ(units_of("{\n}", true), std::vector<std::string>{"{\n}"});
}

TEST(json_documents, text_after_a_closing_bracket_on_its_line_is_a_unit_of_its_own) {
  EXPECT_EQ(units_of("{\n}, trailing\n", false), (std::vector<std::string>{"{\n}", ", trailing"}));
}

}  // namespace
}  // namespace portscand
