#include "core/time.hpp"

#include <gtest/gtest.h>

namespace portscand {
namespace {

TEST(Iso8601, ParsesUtcAndOffsetsToTheSameInstant) {
  // 2026-11-28T10:05:00Z = 1795860300 s (date -u -d 2026-11-28T10:05:00Z +%s)
  EXPECT_EQ(*parse_iso8601("2026-11-28T10:05:00Z"), 1795860300LL * us_per_second);
  EXPECT_EQ(*parse_iso8601("2026-11-28T11:05:00+01:00"), 1795860300LL * us_per_second);
  EXPECT_EQ(*parse_iso8601("2026-11-28T05:05:00-0500"), 1795860300LL * us_per_second);
  EXPECT_EQ(*parse_iso8601("2026-11-28 10:05:00"), 1795860300LL * us_per_second);
}

TEST(Iso8601, KeepsMicrosecondsAndTruncatesFinerFractions) {
  EXPECT_EQ(*parse_iso8601("1970-01-01T00:00:00.1234567Z"), 123456);
  EXPECT_EQ(*parse_iso8601("1970-01-01T00:00:01.5Z"), 1500000);
}

TEST(Iso8601, RejectsImpossibleDates) {
  for (const char* bad : {"2026-02-29T00:00:00Z", "2026-13-01T00:00:00Z", "2026-11-28T24:00:00Z",
                          "2026-11-28", "2026-11-28T10:05:00Q", "2026-11-28T10:05:00.Z", ""})
    EXPECT_FALSE(parse_iso8601(bad).has_value()) << bad;
  EXPECT_TRUE(parse_iso8601("2024-02-29T00:00:00Z").has_value());  // leap year
}

TEST(Iso8601, FormatsRoundTrip) {
  EXPECT_EQ(format_iso8601(1795860300LL * us_per_second), "2026-11-28T10:05:00Z");
  EXPECT_EQ(format_iso8601(1795860300LL * us_per_second + 42), "2026-11-28T10:05:00.000042Z");
  EXPECT_EQ(format_iso8601(0), "1970-01-01T00:00:00Z");
}

TEST(FloorTo, FloorsTowardsMinusInfinity) {
  const timestamp_us bin = 300 * us_per_second;
  EXPECT_EQ(floor_to(0, bin), 0);
  EXPECT_EQ(floor_to(bin - 1, bin), 0);
  EXPECT_EQ(floor_to(bin, bin), bin);
  EXPECT_EQ(floor_to(-1, bin), -bin);
}

TEST(Duration, ParsesOneUnit) {
  EXPECT_EQ(*parse_duration("10m"), 600 * us_per_second);
  EXPECT_EQ(*parse_duration("1h"), 3600 * us_per_second);
  EXPECT_EQ(*parse_duration("250ms"), 250000);
  EXPECT_FALSE(parse_duration("10").has_value());
  EXPECT_FALSE(parse_duration("m").has_value());
  EXPECT_FALSE(parse_duration("1h30m").has_value());
  EXPECT_EQ(format_duration(600 * us_per_second), "10m");
}

// parse_iso8601 remembers the last date it converted: a new date, an invalid one, and the
// remembered one again must each be judged on their own.
TEST(Iso8601, ARememberedDateNeverLeaksIntoTheNextString) {
  const auto feb28 = parse_iso8601("2026-02-28T10:00:00Z");
  ASSERT_TRUE(feb28.has_value());
  EXPECT_FALSE(parse_iso8601("2026-02-29T10:00:00Z").has_value()) << "2026 is not a leap year";
  EXPECT_FALSE(parse_iso8601("2026-02-28T24:00:00Z").has_value()) << "same date, bad hour";
  EXPECT_FALSE(parse_iso8601("2026-02-28").has_value()) << "same date, no time";
  EXPECT_EQ(
      parse_iso8601("2024-02-29T10:00:00Z").value() - parse_iso8601("2024-02-28T10:00:00Z").value(),
      86400 * us_per_second);
  EXPECT_EQ(parse_iso8601("2026-02-28T10:00:00Z"), feb28);
  EXPECT_EQ(parse_iso8601("2026-03-01T10:00:00Z").value() - *feb28, 86400 * us_per_second);
}

}  // namespace
}  // namespace portscand
