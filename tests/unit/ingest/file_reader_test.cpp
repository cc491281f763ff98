#include "ingest/file_reader.hpp"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

namespace portscand {
namespace {

// What a reader made of a file: its units with the line each starts on (when counting).
struct read_out {
  std::vector<std::string> units;
  std::vector<std::size_t> lines;
  std::size_t chunks = 0;
  std::size_t cut = 0;
  bool padded = true;  // every chunk had chunk_padding readable bytes after it
};

// A memfd holding `text`, positioned at its start.
class mem_file {
 public:
  explicit mem_file(std::string_view text) : fd_(::memfd_create("file_reader_test", 0)) {
    EXPECT_GE(fd_, 0);
    EXPECT_EQ(::write(fd_, text.data(), text.size()), static_cast<ssize_t>(text.size()));
    ::lseek(fd_, 0, SEEK_SET);
  }
  ~mem_file() { ::close(fd_); }
  mem_file(const mem_file&) = delete;
  mem_file& operator=(const mem_file&) = delete;
  int fd() const noexcept { return fd_; }

 private:
  int fd_;
};

file_reader::emit_fn collector(read_out& out) {
  return [&out](file_chunk&& c) {
    ++out.chunks;
    const char* pad = c.data->data() + c.size;
    out.padded =
        out.padded && std::all_of(pad, pad + chunk_padding, [](char b) { return b == ' '; });
    std::size_t line = c.first_line;
    const char* counted = c.data->data();
    for_each_unit(c, [&](std::string_view u) {
      line += static_cast<std::size_t>(std::count(counted, u.data(), '\n'));
      counted = u.data();
      out.units.emplace_back(u);
      out.lines.push_back(line);
    });
  };
}

// A reader of units up to 1 KiB and its collected output, for tests that drive it by hand.
struct harness {
  explicit harness(std::size_t read_bytes, bool count_lines = false)
      : pool(file_reader::buffer_bytes(read_bytes, 1024)),
        reader(pool, read_bytes, 1024, count_lines),
        emit(collector(out)) {}
  // Reads f to its current end.
  void drain(const mem_file& f) {
    while (reader.read_some(f.fd(), emit) > 0) {
    }
  }

  buffer_pool pool;
  file_reader reader;
  read_out out;
  file_reader::emit_fn emit;
};

read_out read_all(std::string_view text, std::size_t read_bytes, std::size_t max_unit = 1u << 20) {
  buffer_pool pool(file_reader::buffer_bytes(read_bytes, max_unit));
  file_reader reader(pool, read_bytes, max_unit, /*count_lines=*/true);
  read_out out;
  const auto emit = collector(out);
  mem_file f(text);
  while (reader.read_some(f.fd(), emit) > 0) {
  }
  reader.finish(emit);
  out.cut = reader.cut_units();
  return out;
}

// Every read size gives the same units and lines: where reads end carries no meaning.
void expect_read_sizes_agree(std::string_view text, std::size_t max_unit = 1u << 20) {
  const read_out whole = read_all(text, 1u << 16, max_unit);
  for (std::size_t step : {1u, 2u, 3u, 7u, 16u, 61u}) {
    const read_out pieces = read_all(text, step, max_unit);
    EXPECT_EQ(pieces.units, whole.units) << "reads of " << step;
    EXPECT_EQ(pieces.lines, whole.lines) << "reads of " << step;
    EXPECT_EQ(pieces.cut, whole.cut) << "reads of " << step;
    EXPECT_TRUE(pieces.padded);
  }
}

TEST(file_reader, lines_with_their_line_numbers_a_last_line_without_a_break_included) {
  const std::string text = "a\n\nccc\r\nlast";
  const read_out r = read_all(text, 1u << 16);
  EXPECT_EQ(r.units, (std::vector<std::string>{"a", "", "ccc\r", "last"}));
  EXPECT_EQ(r.lines, (std::vector<std::size_t>{1, 2, 3, 4}));
  EXPECT_TRUE(r.padded);
  EXPECT_EQ(r.cut, 0u);
  expect_read_sizes_agree(text);
}

TEST(file_reader, a_last_line_without_a_break_waits_for_finish) {
  harness h(64);
  mem_file f("one\ntwo");
  h.drain(f);
  // A file followed as it grows: "two" may still be being written.
  EXPECT_EQ(h.out.units, std::vector<std::string>{"one"});
  h.reader.finish(h.emit);
  EXPECT_EQ(h.out.units, (std::vector<std::string>{"one", "two"}));
}

// A line over the limit goes out cut to limit + 1 bytes (the decoder rejects it as
// too_large), the rest of it is skipped, and the next line is read; whether the line came
// whole in one read or over several.
TEST(file_reader, a_line_over_the_limit_is_cut_and_reading_resumes_after_it) {
  const std::string text =
      "short\n" + std::string(40, 'x') + "\n" + std::string(20, 'z') + "\r\nafter\n";
  const read_out r = read_all(text, 1u << 16, 16);
  EXPECT_EQ(r.units, (std::vector<std::string>{"short", std::string(17, 'x'), std::string(17, 'z'),
                                               "after"}));
  EXPECT_EQ(r.lines, (std::vector<std::size_t>{1, 2, 3, 4}));
  EXPECT_EQ(r.cut, 2u);
  expect_read_sizes_agree(text, 16);
}

TEST(file_reader, a_line_of_exactly_the_limit_is_whole) {
  const std::string text = std::string(16, 'y') + "\nz\n";
  const read_out r = read_all(text, 5, 16);
  EXPECT_EQ(r.units, (std::vector<std::string>{std::string(16, 'y'), "z"}));
  EXPECT_EQ(r.cut, 0u);
}

// A file whose first non-blank line opens a JSON document that goes on is read as
// documents; a line after them is still a unit of its own. The blank lines before the first
// document are lines (the decoder skips them as empty) however the reads fall.
TEST(file_reader, documents_that_span_lines_are_one_unit_each) {
  const std::string text = "\n{\n  \"a\": \"}\\\"{\",\n  \"b\": [1,\n 2]\n}\n{\"c\": 3}\n\nplain\n";
  const read_out r = read_all(text, 1u << 16);
  ASSERT_EQ(r.units.size(), 4u);
  EXPECT_EQ(r.units[0], "");
  EXPECT_EQ(r.units[1], "{\n  \"a\": \"}\\\"{\",\n  \"b\": [1,\n 2]\n}");
  EXPECT_EQ(r.units[2], "{\"c\": 3}");
  EXPECT_EQ(r.units[3], "plain");
  EXPECT_EQ(r.lines, (std::vector<std::size_t>{1, 2, 7, 9}));
  expect_read_sizes_agree(text);
}

TEST(file_reader, an_ndjson_file_stays_line_by_line) {
  const std::string text = "{\"a\":1}\n{\n\"b\":2}\n";
  EXPECT_EQ(read_all(text, 4).units, (std::vector<std::string>{"{\"a\":1}", "{", "\"b\":2}"}));
}

// A document over the limit is cut like a line; reading resumes after the next line break.
TEST(file_reader, a_document_over_the_limit_is_cut_and_reading_resumes_on_the_next_line) {
  const std::string text = "{\n \"pad\": \"" + std::string(40, 'p') + "\"\n}\n{\"after\": 1}\n";
  const read_out r = read_all(text, 1u << 16, 16);
  ASSERT_EQ(r.units.size(), 3u);
  EXPECT_EQ(r.units[0].substr(0, 17), text.substr(0, 17));
  EXPECT_GT(r.units[0].size(), 16u);  // the decoder rejects it as too_large
  EXPECT_EQ(r.units[1], "}");
  EXPECT_EQ(r.units[2], "{\"after\": 1}");
  EXPECT_EQ(r.lines, (std::vector<std::size_t>{1, 3, 4}));
  EXPECT_EQ(r.cut, 1u);
  expect_read_sizes_agree(text, 16);
}

TEST(file_reader, an_unterminated_document_goes_out_at_the_end_for_the_decoder_to_reject) {
  const std::string text = "{\n \"a\": 1,\n";
  const read_out r = read_all(text, 3);
  EXPECT_EQ(r.units, std::vector<std::string>{text.substr(0, text.size() - 1)});
}

// After reset() the next file decides its own mode and counts its lines from 1.
TEST(file_reader, reset_starts_a_new_file) {
  harness h(8, /*count_lines=*/true);
  mem_file docs("{\n\"a\": 1\n}\n");
  mem_file lines("x\ny\n");
  h.drain(docs);
  h.reader.reset();
  h.drain(lines);
  h.reader.finish(h.emit);
  EXPECT_EQ(h.out.units, (std::vector<std::string>{"{\n\"a\": 1\n}", "x", "y"}));
  EXPECT_EQ(h.out.lines, (std::vector<std::size_t>{1, 1, 2}));
}

// A failed read is reported, and what was read before it is kept.
TEST(file_reader, a_read_error_is_reported_and_keeps_what_was_read) {
  harness h(64);
  mem_file f("a\npartial");
  h.drain(f);
  EXPECT_EQ(h.reader.read_some(-1, h.emit), -1);
  EXPECT_EQ(errno, EBADF);
  h.reader.finish(h.emit);
  EXPECT_EQ(h.out.units, (std::vector<std::string>{"a", "partial"}));
}

}  // namespace
}  // namespace portscand
