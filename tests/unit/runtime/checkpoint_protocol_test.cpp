#include "runtime/checkpoint_protocol.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

namespace portscand {
namespace {

using outcome = checkpoint_protocol::outcome;
using stage = checkpoint_protocol::stage;

// Participants whose every step answers only when the test says so, and which log the order
// in which the protocol asked for each step.
class fake_participants final : public checkpoint_participants {
 public:
  void begin_offsets() override { log.push_back("begin_offsets"); }
  std::optional<input_offsets> poll_offsets() override {
    if (!offsets_ready) return std::nullopt;
    log.push_back("offsets");
    return offsets;
  }
  void begin_snapshot() override {
    log.push_back("begin_snapshot");
    handed_at_snapshot = handed;
  }
  std::optional<std::vector<std::string>> poll_snapshot() override {
    if (!snapshot_ready) return std::nullopt;
    log.push_back("snapshot");
    return std::vector<std::string>{"shard0", "shard1"};
  }
  void begin_drain() override { drain_target = handed; }
  bool drained() const override { return confirmed >= drain_target; }
  result<input_offsets> write(const checkpoint_data& data) override {
    log.push_back("write");
    written.push_back(data);
    if (!write_ok) return error{"disk full"};
    return safe_to_commit ? *safe_to_commit : data.offsets;
  }
  void commit(const input_offsets& o) override {
    log.push_back("commit");
    committed.push_back(o);
  }
  void abandoned() override { log.push_back("abandoned"); }

  bool offsets_ready = true, snapshot_ready = true, write_ok = true;
  std::uint64_t handed = 0, confirmed = 0, handed_at_snapshot = 0, drain_target = 0;
  input_offsets offsets{{"in", {{"t/0", 42}}}};
  std::optional<input_offsets> safe_to_commit;
  std::vector<std::string> log;
  std::vector<checkpoint_data> written;
  std::vector<input_offsets> committed;
};

constexpr timestamp_us s = us_per_second;

checkpoint_timing timing() {
  return {30 * s, 10 * s};
}

TEST(checkpoint_protocol, runs_offsets_snapshot_drain_write_commit_in_that_order) {
  fake_participants p;
  checkpoint_protocol cp(p, timing(), "rule", 300 * s);
  cp.restored(7, 0);
  EXPECT_EQ(cp.tick(29 * s), outcome::none) << "not due before the interval";
  EXPECT_EQ(cp.tick(30 * s), outcome::written);
  EXPECT_EQ(p.log, (std::vector<std::string>{"begin_offsets", "offsets", "begin_snapshot",
                                             "snapshot", "write", "commit"}));
  ASSERT_EQ(p.written.size(), 1u);
  EXPECT_EQ(p.written[0].epoch, 8u);
  EXPECT_EQ(p.written[0].offsets, p.offsets);
  EXPECT_EQ(p.written[0].shards, (std::vector<std::string>{"shard0", "shard1"}));
  EXPECT_EQ(p.written[0].rule_id, "rule");
  EXPECT_EQ(p.committed, std::vector<input_offsets>{p.offsets});
  EXPECT_EQ(cp.epoch(), 8u);
}

TEST(checkpoint_protocol, the_snapshot_is_not_taken_before_every_input_named_its_offsets) {
  fake_participants p;
  p.offsets_ready = false;
  checkpoint_protocol cp(p, timing(), "rule", 300 * s);
  EXPECT_EQ(cp.tick(30 * s, true), outcome::started);
  EXPECT_EQ(cp.tick(31 * s), outcome::none);
  EXPECT_EQ(p.log, std::vector<std::string>{"begin_offsets"});
  p.offsets_ready = true;
  EXPECT_EQ(cp.tick(32 * s), outcome::written);
}

TEST(checkpoint_protocol,
     nothing_is_written_before_the_outputs_confirmed_the_alerts_of_the_snapshot) {
  fake_participants p;
  p.handed = 5;
  p.confirmed = 3;
  checkpoint_protocol cp(p, timing(), "rule", 300 * s);
  EXPECT_EQ(cp.tick(0, true), outcome::started);
  EXPECT_EQ(cp.current_stage(), stage::drain);
  // Alerts handed over after the snapshot do not hold it back...
  p.handed = 9;
  p.confirmed = 4;
  EXPECT_EQ(cp.tick(1 * s), outcome::none);
  EXPECT_TRUE(p.written.empty());
  // ...but every one handed before it does.
  p.confirmed = 5;
  EXPECT_EQ(cp.tick(2 * s), outcome::written);
}

TEST(checkpoint_protocol,
     an_output_outage_abandons_the_checkpoint_without_blocking_and_commits_nothing) {
  fake_participants p;
  p.handed = 1;
  checkpoint_protocol cp(p, timing(), "rule", 300 * s);
  cp.restored(3, 0);
  EXPECT_EQ(cp.tick(30 * s), outcome::started);
  EXPECT_EQ(cp.tick(39 * s), outcome::none);
  EXPECT_EQ(cp.tick(40 * s), outcome::abandoned);
  EXPECT_EQ(cp.last_problem_step(), "drain");
  EXPECT_EQ(p.log.back(), "abandoned") << "the inputs held for the cut must be released";
  EXPECT_TRUE(p.written.empty());
  EXPECT_TRUE(p.committed.empty());
  EXPECT_EQ(cp.epoch(), 3u);
  EXPECT_EQ(cp.current_stage(), stage::idle);
  // Retried sooner than a whole interval, with a fresh snapshot.
  EXPECT_EQ(cp.tick(40 * s + timing().interval / 4 - 1), outcome::none);
  p.confirmed = 1;
  EXPECT_EQ(cp.tick(40 * s + timing().interval / 4), outcome::written);
  EXPECT_EQ(std::count(p.log.begin(), p.log.end(), "begin_snapshot"), 2);
  EXPECT_EQ(cp.epoch(), 4u);
}

TEST(checkpoint_protocol, inputs_or_shards_that_do_not_answer_abandon_at_their_step) {
  fake_participants p;
  p.offsets_ready = false;
  checkpoint_protocol cp(p, timing(), "rule", 300 * s);
  cp.tick(0, true);
  EXPECT_EQ(cp.tick(10 * s), outcome::abandoned);
  EXPECT_EQ(cp.last_problem_step(), "offsets");
  p.offsets_ready = true;
  p.snapshot_ready = false;
  cp.tick(20 * s, true);
  EXPECT_EQ(cp.tick(30 * s), outcome::abandoned);
  EXPECT_EQ(cp.last_problem_step(), "snapshot");
  EXPECT_TRUE(p.written.empty());
}

TEST(checkpoint_protocol, commits_what_the_store_says_is_safe_not_the_newest_offsets) {
  fake_participants p;
  p.safe_to_commit = input_offsets{{"in", {{"t/0", 17}}}};  // an older generation's
  checkpoint_protocol cp(p, timing(), "rule", 300 * s);
  EXPECT_EQ(cp.tick(0, true), outcome::written);
  EXPECT_EQ(p.committed, std::vector<input_offsets>{*p.safe_to_commit});
}

TEST(checkpoint_protocol, a_failed_write_commits_no_offsets_and_keeps_the_epoch) {
  fake_participants p;
  p.write_ok = false;
  checkpoint_protocol cp(p, timing(), "rule", 300 * s);
  cp.restored(2, 0);
  EXPECT_EQ(cp.tick(0, true), outcome::write_failed);
  EXPECT_EQ(cp.last_problem(), "disk full");
  EXPECT_TRUE(p.committed.empty());
  EXPECT_EQ(cp.epoch(), 2u);
}

TEST(checkpoint_protocol, cancel_drops_a_checkpoint_in_progress) {
  fake_participants p;
  p.handed = 1;
  checkpoint_protocol cp(p, timing(), "rule", 300 * s);
  cp.restored(0, 0);
  cp.tick(0, true);
  ASSERT_EQ(cp.current_stage(), stage::drain);
  cp.cancel();
  EXPECT_EQ(cp.current_stage(), stage::idle);
  EXPECT_EQ(p.log.back(), "abandoned");
  p.confirmed = 1;
  EXPECT_EQ(cp.tick(1 * s), outcome::none) << "the cancelled one must not be written later";
  EXPECT_TRUE(p.written.empty());
}

}  // namespace
}  // namespace portscand
