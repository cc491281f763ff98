// Table tests of the RFC 6587 framer. Every case is fed three ways (one segment, byte by
// byte, and cut at every position into two segments) and must give the same frames and
// errors each time: TCP segment boundaries carry no meaning.
#include "ingest/syslog_framing.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "../test_names.hpp"

using namespace std::string_literals;

namespace portscand {
namespace {

// Records frames as "hello" and errors as "!garbage", in order.
class collecting_handler final : public frame_handler {
 public:
  void on_frame(std::string_view frame) override { events.emplace_back(frame); }
  void on_frame_error(frame_error e) override { events.push_back("!" + std::string(to_string(e))); }
  std::vector<std::string> events;
};

struct framing_case {
  std::string why;
  std::string stream;
  std::vector<std::string> expected;  // frames, and "!reason" for errors, in order
  framing_mode mode = framing_mode::unknown;
  std::size_t max = 64;
};

class framing_table : public ::testing::TestWithParam<framing_case> {};

TEST_P(framing_table, frames_in_one_segment) {
  const framing_case& c = GetParam();
  syslog_framer f(c.max);
  collecting_handler h;
  f.feed(c.stream, h);
  EXPECT_EQ(f.mode(), c.mode);
  f.finish(h);
  EXPECT_EQ(h.events, c.expected);
}

TEST_P(framing_table, frames_fed_byte_by_byte) {
  const framing_case& c = GetParam();
  syslog_framer f(c.max);
  collecting_handler h;
  for (char ch : c.stream) f.feed(std::string_view(&ch, 1), h);
  f.finish(h);
  EXPECT_EQ(h.events, c.expected);
}

TEST_P(framing_table, frames_cut_at_every_position) {
  const framing_case& c = GetParam();
  for (std::size_t cut = 0; cut <= c.stream.size(); ++cut) {
    syslog_framer f(c.max);
    collecting_handler h;
    f.feed(std::string_view(c.stream).substr(0, cut), h);
    f.feed(std::string_view(c.stream).substr(cut), h);
    f.finish(h);
    EXPECT_EQ(h.events, c.expected) << "cut at " << cut;
  }
}

using m = framing_mode;

INSTANTIATE_TEST_SUITE_P(
    syslog_framer, framing_table,
    ::testing::Values(
        framing_case{
            "one octet counted message", "11 hello world", {"hello world"}, m::octet_counting},
        framing_case{"many octet counted messages in one segment",
                     "1 a2 bc3 def10 0123456789",
                     {"a", "bc", "def", "0123456789"},
                     m::octet_counting},
        framing_case{"many LF terminated messages in one segment",
                     "a\nbc\ndef\n",
                     {"a", "bc", "def"},
                     m::non_transparent},
        framing_case{"CRLF terminates a message and the CR is not content",
                     "<13>one\r\n<13>two\r\n",
                     {"<13>one", "<13>two"},
                     m::non_transparent},
        framing_case{"NUL terminates a message",
                     "<13>one\0<13>two\0"s,
                     {"<13>one", "<13>two"},
                     m::non_transparent},
        framing_case{"a CR inside a line is content", "a\rb\n", {"a\rb"}, m::non_transparent},
        framing_case{"empty lines are separators not messages",
                     "\n\r\n\na\n\n\nb\n",
                     {"a", "b"},
                     m::non_transparent},
        framing_case{"trailing LF after an octet frame is tolerated",
                     "5 hello\n5 world\n",
                     {"hello", "world"},
                     m::octet_counting},
        framing_case{"trailing CRLF and NUL after octet frames are tolerated",
                     "5 hello\r\n5 world\0"s,
                     {"hello", "world"},
                     m::octet_counting},
        framing_case{"an LF counted inside the frame is not content",
                     "6 hello\n6 world\n",
                     {"hello", "world"},
                     m::octet_counting},
        framing_case{"octet count larger than the limit skips exactly LEN bytes and resyncs",
                     "20 aaaaaaaaaaaaaaaaaaaa5 hello",
                     {"!too_large", "hello"},
                     m::octet_counting,
                     10},
        framing_case{"octet count exactly at the limit is delivered",
                     "10 0123456789",
                     {"0123456789"},
                     m::octet_counting,
                     10},
        framing_case{"a huge octet count is skipped without buffering",
                     "9999999999 abc",
                     {"!too_large"},
                     m::octet_counting,
                     10},
        framing_case{"garbage between octet frames is counted and skipped to the next LF",
                     "5 hellojunk 3 x\n5 world",
                     {"hello", "!garbage", "world"},
                     m::octet_counting},
        framing_case{"digits without a space between octet frames are garbage",
                     "5 hello12x\n5 world",
                     {"hello", "!garbage", "world"},
                     m::octet_counting},
        framing_case{"a zero length between octet frames is garbage",
                     "5 hello0 \n5 world",
                     {"hello", "!garbage", "world"},
                     m::octet_counting},
        framing_case{"an eleven digit length between octet frames is garbage",
                     "5 hello12345678901 x\n5 world",
                     {"hello", "!garbage", "world"},
                     m::octet_counting},
        framing_case{"garbage running to the end of the stream is counted once",
                     "5 hello<13>not counted",
                     {"hello", "!garbage"},
                     m::octet_counting},
        framing_case{"a first line starting with digits but no space is LF framed",
                     "2023-01-01 boot\nnext\n",
                     {"2023-01-01 boot", "next"},
                     m::non_transparent},
        framing_case{
            "a first line starting with zero is LF framed", "0 x\n", {"0 x"}, m::non_transparent},
        framing_case{"a first line of eleven digits is LF framed",
                     "12345678901 x\n",
                     {"12345678901 x"},
                     m::non_transparent},
        framing_case{
            "a first line of digits alone is LF framed", "123\n", {"123"}, m::non_transparent},
        framing_case{"in LF mode a later line that looks octet counted is still a line",
                     "<13>a\n5 hello\n",
                     {"<13>a", "5 hello"},
                     m::non_transparent},
        framing_case{"an LF line over the limit is counted and discarded to the next LF",
                     "0123456789abc\nok\n",
                     {"!too_large", "ok"},
                     m::non_transparent,
                     10},
        framing_case{"an LF line exactly at the limit with CRLF is delivered",
                     "0123456789\r\nok\n",
                     {"0123456789", "ok"},
                     m::non_transparent,
                     10},
        framing_case{"an LF line one over the limit is rejected even when the extra byte is not CR",
                     "0123456789a\nok\n",
                     {"!too_large", "ok"},
                     m::non_transparent,
                     10},
        framing_case{"partial octet frame at disconnect is truncated",
                     "5 hello10 abc",
                     {"hello", "!truncated"},
                     m::octet_counting},
        framing_case{"a length header alone at disconnect is truncated",
                     "5 hello10",
                     {"hello", "!truncated"},
                     m::octet_counting},
        framing_case{"a complete header without body at disconnect is truncated",
                     "5 hello3 ",
                     {"hello", "!truncated"},
                     m::octet_counting},
        framing_case{"an unterminated LF line at disconnect is truncated",
                     "a\nbc",
                     {"a", "!truncated"},
                     m::non_transparent},
        framing_case{"digits alone on a fresh connection at disconnect are truncated",
                     "12",
                     {"!truncated"},
                     m::unknown},
        framing_case{"separators alone are nothing", "\n\n\r\n", {}, m::unknown},
        framing_case{"an octet frame of only an LF is not a message",
                     "1 \n5 hello",
                     {"hello"},
                     m::octet_counting}),
    test::why_name{});

TEST(syslog_framer, lf_and_octet_counting_on_separate_connections_do_not_interfere) {
  // Each connection owns its framer; the mode of one is not the mode of the other.
  syslog_framer octet(64), lf(64);
  collecting_handler ho, hl;
  octet.feed("5 hel", ho);
  lf.feed("<13>li", hl);
  octet.feed("lo6 world\n", ho);
  lf.feed("ne\n5 x\n", hl);
  EXPECT_EQ(octet.mode(), framing_mode::octet_counting);
  EXPECT_EQ(lf.mode(), framing_mode::non_transparent);
  EXPECT_EQ(ho.events, (std::vector<std::string>{"hello", "world"}));
  EXPECT_EQ(hl.events, (std::vector<std::string>{"<13>line", "5 x"}));
}

TEST(syslog_framer, buffers_at_most_one_frame) {
  // A frame spanning segments is copied; the copy never exceeds the limit plus one byte.
  syslog_framer f(1000);
  collecting_handler h;
  f.feed("1000 ", h);
  const std::string chunk(999, 'x');
  f.feed(chunk, h);
  EXPECT_EQ(f.buffered_bytes(), 999u);
  f.feed("y", h);
  EXPECT_EQ(f.buffered_bytes(), 0u);
  ASSERT_EQ(h.events.size(), 1u);
  EXPECT_EQ(h.events[0].size(), 1000u);

  syslog_framer lf(1000);
  lf.feed("<", h);
  for (int i = 0; i < 100; ++i) lf.feed(chunk, h);  // 99,900 bytes without an LF
  EXPECT_LE(lf.buffered_bytes(), 1001u);
  lf.feed("\n<13>next\n", h);
  EXPECT_EQ(h.events.back(), "<13>next");
  EXPECT_EQ(h.events[h.events.size() - 2], "!too_large");
}

TEST(syslog_framer, a_frame_inside_one_segment_is_delivered_without_copy) {
  syslog_framer f(64);
  struct pointer_handler final : frame_handler {
    const char* seen = nullptr;
    void on_frame(std::string_view frame) override { seen = frame.data(); }
    void on_frame_error(frame_error) override {}
  } h;
  const std::string stream = "5 hello";
  f.feed(stream, h);
  EXPECT_EQ(h.seen, stream.data() + 2);
}

}  // namespace
}  // namespace portscand
