#include "window/target_set.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <string>
#include <vector>

namespace portscand {
namespace {

ip_address ip(const char* text) {
  return *ip_address::parse(text);
}

std::vector<std::pair<std::string, std::uint32_t>> listed(const target_set& t) {
  std::vector<target_set::target> list;
  t.list(list);
  std::vector<std::pair<std::string, std::uint32_t>> out;
  for (const auto& x : list) out.emplace_back(ip_address::from_v6(x.address).to_string(), x.count);
  return out;
}

// Worked out by hand: byte order of the 16-byte form puts 198.51.100.3 before .20 (numeric,
// not text order) and every IPv4 address (::ffff:0:0/96) before 2001:db8::/32.
TEST(TargetSet, KeepsTheSmallestAddressesWithTheirCounts) {
  target_set t;
  for (const char* a : {"198.51.100.20", "2001:db8::1", "198.51.100.20", "198.51.100.3",
                        "198.51.100.20", "2001:db8::1"})
    t.add(ip(a), 10);
  using v = std::vector<std::pair<std::string, std::uint32_t>>;
  EXPECT_EQ(listed(t), (v{{"198.51.100.3", 1}, {"198.51.100.20", 3}, {"2001:db8::1", 2}}));
  EXPECT_FALSE(t.truncated());
  EXPECT_EQ(t.size(), 3u);
}

// A limit of 2: the third address is larger than both kept ones and stays out; a smaller
// one later pushes the largest out; an address pushed out never comes back.
TEST(TargetSet, ALimitKeepsTheSmallestAndSaysSomethingIsMissing) {
  target_set t;
  t.add(ip("192.0.2.5"), 2);
  t.add(ip("192.0.2.9"), 2);
  EXPECT_FALSE(t.truncated());
  t.add(ip("192.0.2.7"), 2);  // pushes .9 out
  t.add(ip("192.0.2.9"), 2);  // larger than both kept: stays out
  t.add(ip("192.0.2.5"), 2);
  using v = std::vector<std::pair<std::string, std::uint32_t>>;
  EXPECT_EQ(listed(t), (v{{"192.0.2.5", 2}, {"192.0.2.7", 1}}));
  EXPECT_TRUE(t.truncated());
}

TEST(TargetSet, LimitZeroKeepsNothingAndOneStaysInline) {
  target_set none;
  none.add(ip("192.0.2.1"), 0);
  EXPECT_EQ(none.size(), 0u);
  EXPECT_TRUE(none.truncated());
  EXPECT_EQ(none.heap_bytes(), 0u);

  target_set one;
  for (int i = 0; i < 1000; ++i) one.add(ip("192.0.2.1"), 10);
  EXPECT_EQ(one.heap_bytes(), 0u);  // one IPv4 target: inline
  using v = std::vector<std::pair<std::string, std::uint32_t>>;
  EXPECT_EQ(listed(one), (v{{"192.0.2.1", 1000}}));
  one.add(ip("192.0.2.0"), 1);  // limit 1: the smaller replaces it
  EXPECT_EQ(listed(one), (v{{"192.0.2.0", 1}}));
  EXPECT_TRUE(one.truncated());
}

// The point of keeping the smallest: the list depends on the records, not their order, so
// every copy of an alert names the same targets.
TEST(TargetSet, AnyOrderOfTheSameRecordsGivesTheSameList) {
  std::mt19937 rng(11);
  std::vector<ip_address> records;
  for (int i = 0; i < 400; ++i) {
    const auto host = static_cast<std::uint32_t>(rng() % 60);
    records.push_back(i % 7 == 0 ? ip(("2001:db8::" + std::to_string(host)).c_str())
                                 : ip_address::from_v4(0xC0000200u + host));
  }
  std::map<ip_address, std::uint32_t> reference;
  for (const auto& r : records) ++reference[r];
  for (std::uint32_t limit : {1u, 5u, 16u, 255u}) {
    std::vector<std::pair<std::string, std::uint32_t>> want;
    for (const auto& [a, n] : reference)
      if (want.size() < limit) want.emplace_back(a.to_string(), n);
    for (int round = 0; round < 5; ++round) {
      std::shuffle(records.begin(), records.end(), rng);
      target_set t;
      for (const auto& r : records) t.add(r, limit);
      EXPECT_EQ(listed(t), want) << "limit " << limit << " round " << round;
      EXPECT_EQ(t.truncated(), reference.size() > limit);
    }
  }
}

TEST(TargetSet, RestoreRebuildsTheSameSetAndMovesFreeOnce) {
  target_set t;
  for (const char* a : {"192.0.2.1", "2001:db8::9", "192.0.2.1", "198.51.100.1"}) t.add(ip(a), 3);
  std::vector<target_set::target> list;
  t.list(list);
  target_set back;
  for (const auto& x : list) back.restore(x.address, x.count, 3);
  EXPECT_EQ(listed(back), listed(t));
  target_set moved(std::move(back));
  target_set assigned;
  assigned = std::move(moved);
  EXPECT_EQ(listed(assigned), listed(t));
  EXPECT_EQ(moved.size(), 0u);  // NOLINT(bugprone-use-after-move): moved-from is empty
}

TEST(TargetSet, CountsSaturate) {
  target_set t;
  t.restore(ip("192.0.2.1").bytes(), UINT32_MAX - 1, 4);
  t.add(ip("192.0.2.1"), 4);
  t.add(ip("192.0.2.1"), 4);
  EXPECT_EQ(listed(t).at(0).second, UINT32_MAX);
}

}  // namespace
}  // namespace portscand
