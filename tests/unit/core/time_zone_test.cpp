#include "core/time_zone.hpp"

#include <gtest/gtest.h>

#include <string>

namespace portscand {
namespace {

// Seconds since the epoch of a wall-clock time, as if it were UTC.
std::int64_t wall(const char* iso) {
  return parse_iso8601(iso).value() / us_per_second;
}

local_zone zone(const char* name) {
  std::string error;
  auto z = local_zone::find(name, error);
  EXPECT_TRUE(z.has_value()) << name << ": " << error;
  return z.value_or(local_zone{});
}

TEST(LocalZone, UtcIsTheDefaultAndHasNoOffset) {
  local_zone z;
  EXPECT_TRUE(z.is_utc());
  EXPECT_EQ(z.name(), "UTC");
  EXPECT_EQ(z.offset_at_local(wall("2025-01-21T03:39:56Z")), 0);
  EXPECT_TRUE(zone("UTC").is_utc());
  EXPECT_TRUE(zone("Z").is_utc());
}

TEST(LocalZone, FixedOffsetsAreEastOfUtc) {
  EXPECT_EQ(zone("+08:00").offset_at_local(0), 8 * 3600);
  EXPECT_EQ(zone("-0700").offset_at_local(0), -7 * 3600);
  EXPECT_EQ(zone("+05:30").offset_at_local(0), 5 * 3600 + 30 * 60);
  EXPECT_EQ(zone("-03").offset_at_local(0), -3 * 3600);
}

TEST(LocalZone, IanaZonesComeFromTheSystemDatabase) {
  EXPECT_EQ(zone("Asia/Shanghai").offset_at_local(wall("2025-01-21T03:39:55Z")), 8 * 3600);
  auto la = zone("America/Los_Angeles");
  EXPECT_EQ(la.offset_at_local(wall("2025-01-21T03:39:55Z")), -8 * 3600);
  EXPECT_EQ(la.offset_at_local(wall("2025-07-21T03:39:55Z")), -7 * 3600);
  // POSIX-style Etc names count the other way: Etc/GMT+7 is seven hours WEST of UTC.
  EXPECT_EQ(zone("Etc/GMT+7").offset_at_local(0), -7 * 3600);
}

TEST(LocalZone, ToUtcSubtractsTheOffsetAndKeepsMicroseconds) {
  auto z = zone("Asia/Shanghai");
  EXPECT_EQ(format_iso8601(z.to_utc(parse_iso8601("2025-01-21T03:39:56.771Z").value())),
            "2025-01-20T19:39:56.771000Z");
}

TEST(LocalZone, TheSkippedHourTakesTheOffsetBeforeTheChange) {
  // Europe/Berlin, 2024-03-31: 02:00 CET jumps to 03:00 CEST.
  auto z = zone("Europe/Berlin");
  EXPECT_EQ(z.offset_at_local(wall("2024-03-31T01:59:59Z")), 3600);
  EXPECT_EQ(z.offset_at_local(wall("2024-03-31T02:30:00Z")), 3600);
  EXPECT_EQ(z.offset_at_local(wall("2024-03-31T03:00:00Z")), 7200);
}

TEST(LocalZone, TheRepeatedHourIsTheEarlierInstant) {
  // Europe/Berlin, 2024-10-27: 03:00 CEST falls back to 02:00 CET; 02:30 happens twice.
  auto z = zone("Europe/Berlin");
  EXPECT_EQ(z.offset_at_local(wall("2024-10-27T01:59:59Z")), 7200);
  EXPECT_EQ(z.offset_at_local(wall("2024-10-27T02:30:00Z")), 7200);
  EXPECT_EQ(z.offset_at_local(wall("2024-10-27T03:00:00Z")), 3600);
}

TEST(LocalZone, TheCacheAnswersAsAFreshLookupAcrossTransitions) {
  // One object walks the wall clock in 7-minute steps across both 2024 changes of three
  // zones (one with a 30-minute DST shift); a fresh copy per step never uses a cache.
  for (const char* name : {"Europe/Berlin", "America/New_York", "Australia/Lord_Howe"}) {
    SCOPED_TRACE(name);
    const local_zone pristine = zone(name);
    local_zone walker = pristine;
    for (std::int64_t t = wall("2024-03-01T00:00:00Z"); t < wall("2024-12-01T00:00:00Z");
         t += 7 * 60) {
      local_zone fresh = pristine;
      ASSERT_EQ(walker.offset_at_local(t), fresh.offset_at_local(t)) << t;
    }
    // And backwards, so the cache is also left through its lower end.
    for (std::int64_t t = wall("2024-12-01T00:00:00Z"); t > wall("2024-03-01T00:00:00Z");
         t -= 11 * 60) {
      local_zone fresh = pristine;
      ASSERT_EQ(walker.offset_at_local(t), fresh.offset_at_local(t)) << t;
    }
  }
}

TEST(LocalZone, UnknownNamesAndBadOffsetsAreRefusedWithAReason) {
  for (const char* bad : {"Mars/Olympus", "", "+19:00", "+8", "-07:0", "UTC+8", "europe/berlin"}) {
    std::string error;
    EXPECT_FALSE(local_zone::find(bad, error).has_value()) << bad;
    EXPECT_FALSE(error.empty()) << bad;
  }
  std::string error;
  (void)local_zone::find("Mars/Olympus", error);
  EXPECT_NE(error.find("Mars/Olympus"), std::string::npos) << error;
}

}  // namespace
}  // namespace portscand
