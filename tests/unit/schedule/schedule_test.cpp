#include "schedule/schedule.hpp"

#include <gtest/gtest.h>

namespace portscand {
namespace {

constexpr timestamp_us m = us_per_minute;
constexpr timestamp_us h = 60 * m;

TEST(OnClose, EvaluatesAsSoonAsTheWatermarkPassesTheLateness) {
  evaluation_schedule s(schedule_kind::on_close, h, 10 * m);
  EXPECT_EQ(s.due(100 * m, 0), 90 * m);
  EXPECT_FALSE(s.due(100 * m, 1).has_value()) << "nothing new";
  EXPECT_EQ(s.due(101 * m, 2), 91 * m);
}

// Simulates a day of hourly ticks in a loop: evaluations happen exactly at the top of each
// hour, each covering what closed by then.
TEST(Hourly, TicksOncePerHourAndCoversWhatClosedByThen) {
  evaluation_schedule s(schedule_kind::hourly, h, 10 * m);
  int evaluations = 0;
  timestamp_us last_close = INT64_MIN;
  const timestamp_us start = 1000 * h + 17 * m;
  for (timestamp_us wall = start; wall < start + 24 * h; wall += m) {
    const timestamp_us watermark = wall - 2 * m;  // data two minutes behind the wall clock
    if (auto close = s.due(watermark, wall)) {
      ++evaluations;
      EXPECT_EQ(wall % h, 0) << "an hourly evaluation off the hour";
      EXPECT_EQ(*close, watermark - 10 * m);
      EXPECT_GT(*close, last_close);
      last_close = *close;
    }
  }
  EXPECT_EQ(evaluations, 24);
}

TEST(Hourly, TheFirstTickIsOneFrequencyAfterStart) {
  evaluation_schedule s(schedule_kind::hourly, h, 10 * m);
  EXPECT_FALSE(s.due(5 * h, 5 * h + 59 * m).has_value());
  EXPECT_TRUE(s.due(6 * h, 6 * h).has_value());
  EXPECT_EQ(s.next_tick(6 * h + 1), 7 * h);
}

}  // namespace
}  // namespace portscand
