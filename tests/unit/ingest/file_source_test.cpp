#include "ingest/file_source.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "ingest/ingest_test_util.hpp"

namespace portscand {
namespace {

using test::collected;
using test::collecting_sink;
using test::temp_dir;

void append(const std::string& path, std::string_view text) {
  std::ofstream(path, std::ios::app | std::ios::binary) << text;
}

struct file_input {
  explicit file_input(const std::string& path) {
    file_input_config cfg;
    cfg.path = path;
    source = std::make_unique<file_source>("f", cfg, std::make_unique<collecting_sink>(out),
                                           metrics, clk);
    source->start();
  }
  ~file_input() { source->stop(); }
  file_input(const file_input&) = delete;
  file_input& operator=(const file_input&) = delete;

  std::shared_ptr<collected> out = std::make_shared<collected>();
  metrics_registry metrics;
  system_clock clk;
  std::unique_ptr<file_source> source;
};

// A file several reads long is one burst for the watermark until its end: the reader says
// after each read that it goes on (on_burst_continues), so the input stays busy and a reader
// the scheduler keeps waiting is not taken for idle while records wait in the file.
TEST(file_source, a_file_is_one_burst_until_its_end_is_reached) {
  temp_dir dir;
  const std::string path = dir.file("big.log");
  std::string text;
  const std::string line(199, 'x');
  constexpr std::size_t lines = 20'000;  // about 4 MiB: four reads of 1 MiB
  for (std::size_t i = 0; i < lines; ++i) text += line + "\n";
  append(path, text);
  file_input in(path);
  ASSERT_TRUE(in.out->wait_for_count(lines, std::chrono::seconds(20)));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (in.out->units_before_first_end() == SIZE_MAX &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_GE(in.out->bursts(), 4u);
  EXPECT_EQ(in.out->units_before_first_end(), lines);
}

TEST(file_source, lines_appended_just_before_a_rotation_are_read_from_the_old_file) {
  temp_dir dir;
  const std::string path = dir.file("fw.log");
  test::write_file(path, "a\nb\nc\n");
  file_input in(path);
  ASSERT_TRUE(in.out->wait_for_count(3));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the source waits at the end
  // The writer appends, then logrotate renames the file and a new one starts: all within
  // one of the source's 200 ms polls. Closing the old file without reading it to its end
  // lost d and e.
  append(path, "d\ne\n");
  ASSERT_EQ(std::rename(path.c_str(), dir.file("fw.log.1").c_str()), 0);
  test::write_file(path, "f\n");
  ASSERT_TRUE(in.out->wait_for_count(6)) << in.out->size();
  EXPECT_EQ(in.out->units(), (std::vector<std::string>{"a", "b", "c", "d", "e", "f"}));
}

TEST(file_source, the_last_line_of_a_rotated_file_without_newline_is_not_lost) {
  temp_dir dir;
  const std::string path = dir.file("fw.log");
  test::write_file(path, "a\nb");
  file_input in(path);
  ASSERT_TRUE(in.out->wait_for_count(1));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  ASSERT_EQ(std::rename(path.c_str(), dir.file("fw.log.1").c_str()), 0);
  test::write_file(path, "c\n");
  ASSERT_TRUE(in.out->wait_for_count(3)) << in.out->size();
  EXPECT_EQ(in.out->units(), (std::vector<std::string>{"a", "b", "c"}));
}

TEST(file_source, a_truncated_file_is_read_again_from_its_start) {
  temp_dir dir;
  const std::string path = dir.file("fw.log");
  test::write_file(path, "first line\nsecond line\n");
  file_input in(path);
  ASSERT_TRUE(in.out->wait_for_count(2));
  test::write_file(path, "new\n");  // truncated and rewritten, same inode
  ASSERT_TRUE(in.out->wait_for_count(3)) << in.out->size();
  EXPECT_EQ(in.out->units().back(), "new");
}

TEST(file_source, a_read_error_is_counted_not_taken_for_the_end_of_the_file) {
  temp_dir dir;
  // A directory opens, but read() fails with EISDIR: before, the source treated that as the
  // end of the file forever, with no metric and no log line.
  ::mkdir(dir.file("not-a-file").c_str(), 0700);
  file_input in(dir.file("not-a-file"));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (in.metrics.counter_sum("portscand_file_read_errors_total") == 0 &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_GT(in.metrics.counter_sum("portscand_file_read_errors_total"), 0u);
  EXPECT_EQ(in.out->size(), 0u);
}

}  // namespace
}  // namespace portscand

namespace portscand {
namespace {

std::string fixture(const std::string& rel) {
  std::ifstream in(std::string(PORTSCAND_FIXTURES) + "/" + rel, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// The corpus' NSG blob pretty-printed as downloaded from storage: once 69 units (every line
// rejected by the decoder), now one document; lines after it are still units of their own.
TEST(file_source, a_file_that_starts_with_a_multi_line_json_document_is_read_by_document) {
  temp_dir dir;
  const std::string path = dir.file("nsg.json");
  const std::string blob = fixture("azure-nsg/sample_logs-testdata.pretty.json");
  ASSERT_GT(std::count(blob.begin(), blob.end(), '\n'), 60);
  // Written in two pieces, the cut inside the document: the first read sees half of it.
  test::write_file(path, blob.substr(0, blob.size() / 2));
  file_input in(path);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(in.out->size(), 0u);
  append(path, blob.substr(blob.size() / 2) + "{\"ndjson\":1}\nplain text\n");
  ASSERT_TRUE(in.out->wait_for_count(3)) << in.out->size();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(in.out->units(),
            (std::vector<std::string>{trimmed(blob), "{\"ndjson\":1}", "plain text"}));
}

TEST(file_source, an_ndjson_file_stays_line_by_line_whatever_comes_later) {
  temp_dir dir;
  const std::string path = dir.file("a.jsonl");
  test::write_file(path, "{\"a\":1}\n{\n\"b\":2}\n");
  file_input in(path);
  ASSERT_TRUE(in.out->wait_for_count(3));
  EXPECT_EQ(in.out->units(), (std::vector<std::string>{"{\"a\":1}", "{", "\"b\":2}"}));
}

// Bounded memory: a document over 4 MiB is cut, its first 4 MiB + 1 bytes delivered (the
// decoder rejects the unit as too_large, as replay and `portscand parse` do: before, the file
// input dropped it with only its own metric to show, and a user comparing replay with the
// daemon saw a rejection in one and none in the other), counted, and the rest of it skipped
// up to the next line break; what follows is read.
TEST(file_source, a_document_over_the_limit_is_cut_counted_and_reading_goes_on) {
  temp_dir dir;
  const std::string path = dir.file("big.json");
  test::write_file(path,
                   "{\n  \"pad\": \"" + std::string(5u << 20, 'x') + "\"\n}\n{\"after\":1}\n");
  file_input in(path);
  ASSERT_TRUE(in.out->wait_for_count(3)) << in.out->size();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const auto units = in.out->units();
  ASSERT_EQ(units.size(), 3u);
  EXPECT_GT(units[0].size(), 4u << 20);
  EXPECT_EQ(units[0].substr(0, 10), "{\n  \"pad\":");
  EXPECT_EQ(units[1], "}");
  EXPECT_EQ(units[2], "{\"after\":1}");
  EXPECT_EQ(in.metrics.counter_sum("portscand_file_lines_too_long_total"), 1u);
}

// The same for a line.
TEST(file_source, a_line_over_the_limit_is_cut_counted_and_reading_goes_on) {
  temp_dir dir;
  const std::string path = dir.file("big.log");
  test::write_file(path, "before\n" + std::string(5u << 20, 'y') + "\nafter\n");
  file_input in(path);
  ASSERT_TRUE(in.out->wait_for_count(3)) << in.out->size();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(in.out->units(),
            (std::vector<std::string>{"before", std::string((4u << 20) + 1, 'y'), "after"}));
  EXPECT_EQ(in.metrics.counter_sum("portscand_file_lines_too_long_total"), 1u);
}

}  // namespace
}  // namespace portscand
