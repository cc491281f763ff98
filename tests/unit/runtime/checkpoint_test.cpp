#include "runtime/checkpoint.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace portscand {
namespace {

namespace fs = std::filesystem;

class CheckpointStore : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/portscand-ckpt-XXXXXX";
    dir_ = mkdtemp(tmpl);
  }
  void TearDown() override { fs::remove_all(dir_); }
  checkpoint_data sample(std::uint64_t epoch) {
    checkpoint_data d;
    d.epoch = epoch;
    d.created = 1'768'471'500LL * us_per_second;
    d.rule_id = "r";
    d.bin_width = 5 * us_per_minute;
    d.shards = {"shard zero bytes", std::string("\0\1\2", 3)};
    d.offsets["kafka-0"]["asim/0"] = 42;
    d.offsets["kafka-0"]["asim/1"] = 7;
    return d;
  }
  std::string dir_;
};

TEST_F(CheckpointStore, AnEmptyDirectoryHasNoCheckpoint) {
  checkpoint_store s(dir_);
  ASSERT_TRUE(s.prepare().ok());
  EXPECT_FALSE(s.load().has_value());
}

TEST_F(CheckpointStore, WhatIsWrittenIsReadBackAndOnlyTheNewestIsKept) {
  checkpoint_store s(dir_);
  ASSERT_TRUE(s.prepare().ok());
  ASSERT_TRUE(s.write(sample(1)).ok());
  ASSERT_TRUE(s.write(sample(2)).ok());
  auto loaded = s.load();
  ASSERT_TRUE(loaded.has_value());
  ASSERT_TRUE(loaded->ok()) << loaded->err().message;
  EXPECT_EQ(loaded->value().epoch, 2u);
  EXPECT_EQ(loaded->value().shards, sample(2).shards);
  EXPECT_EQ(loaded->value().offsets, sample(2).offsets);
  EXPECT_FALSE(fs::exists(dir_ + "/ckpt-1"));
}

TEST_F(CheckpointStore, ACorruptShardFileIsReportedClearly) {
  checkpoint_store s(dir_);
  ASSERT_TRUE(s.prepare().ok());
  ASSERT_TRUE(s.write(sample(3)).ok());
  std::ofstream(dir_ + "/ckpt-3/shard-0.bin", std::ios::binary | std::ios::trunc) << "shard zero bytez";
  auto loaded = s.load();
  ASSERT_TRUE(loaded.has_value());
  ASSERT_FALSE(loaded->ok());
  EXPECT_NE(loaded->err().message.find("corrupt"), std::string::npos) << loaded->err().message;
}

TEST_F(CheckpointStore, AManifestOfAnotherVersionIsReportedClearly) {
  checkpoint_store s(dir_);
  ASSERT_TRUE(s.prepare().ok());
  ASSERT_TRUE(s.write(sample(4)).ok());
  std::ofstream(dir_ + "/ckpt-4/manifest.json", std::ios::trunc) << R"({"version": 99})";
  auto loaded = s.load();
  ASSERT_TRUE(loaded.has_value());
  ASSERT_FALSE(loaded->ok());
  EXPECT_NE(loaded->err().message.find("version 99"), std::string::npos) << loaded->err().message;
}

TEST_F(CheckpointStore, AnUnfinishedWriteLeavesThePreviousCheckpointCurrent) {
  checkpoint_store s(dir_);
  ASSERT_TRUE(s.prepare().ok());
  ASSERT_TRUE(s.write(sample(5)).ok());
  fs::create_directories(dir_ + "/ckpt-6.tmp");  // a crash mid-write
  std::ofstream(dir_ + "/ckpt-6.tmp/shard-0.bin") << "partial";
  auto loaded = s.load();
  ASSERT_TRUE(loaded.has_value() && loaded->ok());
  EXPECT_EQ(loaded->value().epoch, 5u);
}

}  // namespace
}  // namespace portscand
