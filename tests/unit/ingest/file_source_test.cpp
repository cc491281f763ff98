#include "ingest/file_source.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdio>
#include <fstream>
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
