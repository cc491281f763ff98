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
  EXPECT_TRUE(s.load_all().empty());
}

TEST_F(CheckpointStore, WhatIsWrittenIsReadBackNewestFirst) {
  checkpoint_store s(dir_);
  ASSERT_TRUE(s.prepare().ok());
  ASSERT_TRUE(s.write(sample(1)).ok());
  ASSERT_TRUE(s.write(sample(2)).ok());
  auto all = s.load_all();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].data.epoch, 2u);
  EXPECT_EQ(all[1].data.epoch, 1u);
  EXPECT_EQ(all[0].data.shards, sample(2).shards);
  EXPECT_EQ(all[0].data.offsets, sample(2).offsets);
  EXPECT_EQ(all[0].intact, (std::vector<bool>{true, true}));
  EXPECT_TRUE(all[0].problems.empty());
}

TEST_F(CheckpointStore, SuppressionStateIsOptionalAndChecked) {
  checkpoint_store s(dir_);
  ASSERT_TRUE(s.prepare().ok());
  ASSERT_TRUE(s.write(sample(1)).ok());  // without: as earlier versions wrote them
  auto with = sample(2);
  with.suppression = {"", std::string("sup\0one", 7)};
  ASSERT_TRUE(s.write(with).ok());
  auto all = s.load_all();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].data.suppression, with.suppression);
  EXPECT_EQ(all[0].suppression_intact, (std::vector<bool>{true, true}));
  EXPECT_EQ(all[1].data.suppression, (std::vector<std::string>{"", ""}));
  EXPECT_EQ(all[1].suppression_intact, (std::vector<bool>{true, true}));
  // Earlier versions read the manifest's known keys only: the new one must not be required.
  std::ifstream m(dir_ + "/ckpt-1/manifest.json");
  const std::string text((std::istreambuf_iterator<char>(m)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text.find("suppression"), std::string::npos);
  // A damaged suppression file is a problem of that shard's suppression only.
  std::ofstream(dir_ + "/ckpt-2/suppression-1.bin", std::ios::trunc) << "x";
  all = s.load_all();
  EXPECT_EQ(all[0].intact, (std::vector<bool>{true, true}));
  EXPECT_EQ(all[0].suppression_intact, (std::vector<bool>{true, false}));
  EXPECT_EQ(all[0].problems.size(), 1u);
}

TEST_F(CheckpointStore, KeepsTheConfiguredGenerationsAndCommitsOnlyAsFarAsTheOldest) {
  checkpoint_store s(dir_, 3);
  ASSERT_TRUE(s.prepare().ok());
  for (std::uint64_t e = 1; e <= 5; ++e) {
    auto d = sample(e);
    d.offsets["kafka-0"]["asim/0"] = static_cast<std::int64_t>(100 * e);
    auto safe = s.write(d);
    ASSERT_TRUE(safe.ok()) << safe.err().message;
    // The oldest kept generation is max(1, e - 2): committing further would leave nothing
    // to re-read when the newer ones turn out damaged.
    const std::uint64_t oldest = e > 2 ? e - 2 : 1;
    EXPECT_EQ(safe.value().at("kafka-0").at("asim/0"), static_cast<std::int64_t>(100 * oldest))
        << e;
  }
  EXPECT_FALSE(fs::exists(dir_ + "/ckpt-2"));
  EXPECT_TRUE(fs::exists(dir_ + "/ckpt-3"));
  EXPECT_EQ(s.load_all().size(), 3u);
}

TEST_F(CheckpointStore, ACorruptShardFileMarksOnlyThatShardOfThatGeneration) {
  checkpoint_store s(dir_);
  ASSERT_TRUE(s.prepare().ok());
  ASSERT_TRUE(s.write(sample(2)).ok());
  ASSERT_TRUE(s.write(sample(3)).ok());
  // One byte changed, same size: only the checksum can tell.
  std::ofstream(dir_ + "/ckpt-3/shard-0.bin", std::ios::binary | std::ios::trunc)
      << "shard zero bytez";
  auto all = s.load_all();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].intact, (std::vector<bool>{false, true}));
  EXPECT_EQ(all[0].data.shards[1], sample(3).shards[1])
      << "the intact shard of the damaged generation";
  ASSERT_EQ(all[0].problems.size(), 1u);
  EXPECT_NE(all[0].problems[0].find("corrupt"), std::string::npos) << all[0].problems[0];
  EXPECT_EQ(all[1].intact, (std::vector<bool>{true, true}))
      << "the older generation to fall back to";
}

TEST_F(CheckpointStore, AMissingCurrentFileLosesNothing) {
  checkpoint_store s(dir_);
  ASSERT_TRUE(s.prepare().ok());
  ASSERT_TRUE(s.write(sample(4)).ok());
  fs::remove(dir_ + "/CURRENT");
  auto all = s.load_all();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].data.epoch, 4u);
}

TEST_F(CheckpointStore, AManifestOfAnotherVersionIsReportedAndSkipped) {
  checkpoint_store s(dir_);
  ASSERT_TRUE(s.prepare().ok());
  ASSERT_TRUE(s.write(sample(3)).ok());
  ASSERT_TRUE(s.write(sample(4)).ok());
  std::ofstream(dir_ + "/ckpt-4/manifest.json", std::ios::trunc) << R"({"version": 99})";
  std::vector<std::string> problems;
  auto all = s.load_all(&problems);
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].data.epoch, 3u);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].find("version 99"), std::string::npos) << problems[0];
}

TEST_F(CheckpointStore, AnUnfinishedWriteIsIgnored) {
  checkpoint_store s(dir_);
  ASSERT_TRUE(s.prepare().ok());
  ASSERT_TRUE(s.write(sample(5)).ok());
  fs::create_directories(dir_ + "/ckpt-6.tmp");  // a crash mid-write
  std::ofstream(dir_ + "/ckpt-6.tmp/shard-0.bin") << "partial";
  auto all = s.load_all();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].data.epoch, 5u);
}

TEST(merge_offsets, takes_the_smallest_offset_and_leaves_out_partitions_not_in_every_generation) {
  const input_offsets newer{{"in", {{"t/0", 50}, {"t/1", 70}, {"t/2", 9}}}};
  const input_offsets older{{"in", {{"t/0", 40}, {"t/1", 80}}}};
  EXPECT_EQ(merge_offsets({&newer, &older}), (input_offsets{{"in", {{"t/0", 40}, {"t/1", 70}}}}));
  EXPECT_EQ(merge_offsets({&newer}), newer);
  EXPECT_TRUE(merge_offsets({}).empty());
}

}  // namespace
}  // namespace portscand
