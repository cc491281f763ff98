#include "window/port_set.hpp"

#include <gtest/gtest.h>

#include <random>
#include <set>

namespace portscand {
namespace {

// Inserting the same sequence into a port_set and a std::set must agree at every size,
// across the inline -> array -> bitmap transitions (4 and 4096 distinct ports).
TEST(PortSet, AgreesWithStdSetAcrossEveryTier) {
  std::mt19937 rng(7);
  port_set ports;
  std::set<std::uint16_t> expected;
  std::vector<std::uint16_t> first;
  for (int i = 0; i < 20000; ++i) {
    const auto p = static_cast<std::uint16_t>(rng() % 9000);
    EXPECT_EQ(ports.insert(p), expected.insert(p).second);
    if (i % 997 == 0 || ports.size() == 4 || ports.size() == 5 || ports.size() == 4096 ||
        ports.size() == 4097) {
      ASSERT_EQ(ports.size(), expected.size());
      ports.first(100, first);
      std::vector<std::uint16_t> want(expected.begin(), expected.end());
      want.resize(std::min<std::size_t>(want.size(), 100));
      ASSERT_EQ(first, want) << "at size " << ports.size();
    }
  }
  EXPECT_GT(ports.size(), 4096u);  // reached the bitmap tier
  for (std::uint16_t p : expected) EXPECT_TRUE(ports.contains(p));
}

TEST(PortSet, ZeroAnd65535AreOrdinaryPorts) {
  port_set ports;
  EXPECT_TRUE(ports.insert(65535));
  EXPECT_TRUE(ports.insert(0));
  EXPECT_FALSE(ports.insert(0));
  std::vector<std::uint16_t> first;
  ports.first(10, first);
  EXPECT_EQ(first, (std::vector<std::uint16_t>{0, 65535}));
}

TEST(PortSet, TheBitmapTierHoldsAllPorts) {
  port_set ports;
  for (int p = 65535; p >= 0; --p) ports.insert(static_cast<std::uint16_t>(p));
  EXPECT_EQ(ports.size(), 65536u);
  EXPECT_EQ(ports.heap_bytes(), 8192u);
  std::vector<std::uint16_t> first;
  ports.first(3, first);
  EXPECT_EQ(first, (std::vector<std::uint16_t>{0, 1, 2}));
}

TEST(PortSet, SmallSetsUseNoHeap) {
  port_set ports;
  for (std::uint16_t p : {443, 22, 80, 8080}) ports.insert(p);
  EXPECT_EQ(ports.heap_bytes(), 0u);
  ports.insert(25);
  EXPECT_GT(ports.heap_bytes(), 0u);
}

TEST(PortSet, MovingTransfersOwnership) {
  port_set a;
  for (int p = 0; p < 100; ++p) a.insert(static_cast<std::uint16_t>(p));
  port_set b(std::move(a));
  EXPECT_EQ(b.size(), 100u);
  EXPECT_EQ(a.size(), 0u);  // NOLINT(bugprone-use-after-move): the moved-from state is specified
}

}  // namespace
}  // namespace portscand
