#include "schedule/watermark.hpp"

#include <gtest/gtest.h>

namespace portscand {
namespace {

constexpr timestamp_us s = us_per_second;

TEST(Watermark, IsTheMinimumOverActiveInputsOfTheirLargestEventTime) {
  watermark_tracker w({60 * s, true});
  const auto a = w.add_input("p0"), b = w.add_input("p1");
  w.observe(a, 1000 * s, 0);
  w.observe(b, 900 * s, 0);
  EXPECT_EQ(w.current(1 * s), 900 * s);
  w.observe(b, 800 * s, 2 * s);  // a smaller report does not move an input back
  EXPECT_EQ(w.current(2 * s), 900 * s);
}

TEST(Watermark, AnIdleInputStopsHoldingItBack) {
  watermark_tracker w({60 * s, true});
  const auto a = w.add_input("busy"), b = w.add_input("quiet");
  w.observe(a, 1000 * s, 0);
  w.observe(b, 100 * s, 0);
  EXPECT_EQ(w.current(30 * s), 100 * s);
  w.observe(a, 1100 * s, 61 * s);
  EXPECT_EQ(w.current(61 * s), 1100 * s);  // b idle for 61 s
}

TEST(Watermark, WhenEveryInputIsIdleTheWallClockAdvancesIt) {
  watermark_tracker w({60 * s, true});
  const auto a = w.add_input("p0");
  w.observe(a, 1000 * s, 0);
  EXPECT_EQ(w.current(5000 * s), 5000 * s);
}

TEST(Watermark, BeforeAnyInputHasDeliveredTheWallClockDoesNotMoveIt) {
  // A daemon catching up on a Kafka backlog: while the group is joining, nothing arrived;
  // the wall clock must not close (and make late) every bin of the backlog.
  watermark_tracker w({60 * s, true});
  EXPECT_EQ(w.current(5000 * s), INT64_MIN);
  w.add_input("p0");
  EXPECT_EQ(w.current(6000 * s), INT64_MIN);
}

TEST(Watermark, ARestoredWatermarkLetsTheWallClockCloseBinsWithoutNewData) {
  // After a restart from a checkpoint taken at the end of the data, no partition delivers
  // again: the bins the checkpoint left open must still close.
  watermark_tracker w({60 * s, true});
  w.add_input("p0");
  w.seed(1000 * s);
  EXPECT_EQ(w.current(1001 * s), 1001 * s);
}

TEST(Watermark, AHeldWatermarkDoesNotFollowTheWallClock) {
  // A Kafka input in a rebalance or cut off from its broker is silent but not idle: its
  // backlog must not become late because the wall clock moved on.
  watermark_tracker w({60 * s, true});
  const auto a = w.add_input("p0");
  w.observe(a, 1000 * s, 0);
  w.hold_wall_clock(true);
  EXPECT_EQ(w.current(5000 * s), 1000 * s);
  w.hold_wall_clock(false);
  EXPECT_EQ(w.current(5000 * s), 5000 * s);
}

TEST(Watermark, NeverMovesBack) {
  watermark_tracker w({60 * s, true});
  const auto a = w.add_input("p0");
  w.observe(a, 1000 * s, 0);
  EXPECT_EQ(w.current(0), 1000 * s);
  const auto b = w.add_input("late joiner");
  w.observe(b, 10 * s, 1 * s);
  EXPECT_EQ(w.current(1 * s), 1000 * s);
}

TEST(Watermark, InReplayAnUnfinishedInputHoldsItBackWhateverTheWallClock) {
  watermark_tracker w({60 * s, false});
  const auto a = w.add_input("file1"), b = w.add_input("file2");
  w.observe(a, 1000 * s, 0);
  EXPECT_EQ(w.current(1'000'000 * s), INT64_MIN);  // file2 has not started
  w.observe(b, 500 * s, 0);
  EXPECT_EQ(w.current(1'000'000 * s), 500 * s);
  w.finish(b);
  EXPECT_EQ(w.current(1'000'000 * s), 1000 * s);
  w.finish(a);
  EXPECT_EQ(w.current(1'000'000 * s), 1000 * s);
}

}  // namespace
}  // namespace portscand
