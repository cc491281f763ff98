#include "event/label_table.hpp"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace portscand {
namespace {

TEST(LabelTable, InterningTwiceGivesTheSameId) {
  label_table t;
  const label_id a = t.intern("Fortinet/Fortigate");
  EXPECT_EQ(t.intern("Fortinet/Fortigate"), a);
  EXPECT_NE(t.intern("Cisco/ASA"), a);
  EXPECT_EQ(t.view(a), "Fortinet/Fortigate");
  EXPECT_EQ(t.view(label_table::empty_id), "");
}

TEST(LabelTable, AFullTableMapsNewStringsToOverflowAndCountsThem) {
  label_table t(4);  // "", "(other)", and two more
  t.intern("a");
  t.intern("b");
  EXPECT_EQ(t.intern("c"), label_table::overflow_id);
  EXPECT_EQ(t.intern("a"), 2u);  // known strings still resolve
  EXPECT_EQ(t.overflows(), 1u);
}

TEST(LabelTable, ConcurrentInternersAgreeOnIds) {
  label_table t;
  std::vector<std::vector<label_id>> ids(4);
  std::vector<std::thread> threads;
  for (int k = 0; k < 4; ++k)
    threads.emplace_back([&t, &ids, k] {
      for (int i = 0; i < 2000; ++i) ids[k].push_back(t.intern("label-" + std::to_string(i)));
    });
  for (auto& th : threads) th.join();
  for (int k = 1; k < 4; ++k) EXPECT_EQ(ids[k], ids[0]);
  EXPECT_EQ(t.view(ids[0][1999]), "label-1999");
}

TEST(LabelCache, JoinsVendorAndProductWithASlash) {
  label_table t;
  label_cache c(t);
  EXPECT_EQ(t.view(c.reported_by("Palo Alto", "PanOS")), "Palo Alto/PanOS");
  EXPECT_EQ(t.view(c.reported_by("", "")), "/");
}

TEST(LabelCache, HitsAndMissesReturnTheTablesIds) {
  label_table t;
  label_cache c(t);
  // More labels than the cache has slots, each asked twice in two orders: every answer must
  // be the table's own id, whether it came from the cache or not.
  for (int round = 0; round < 2; ++round)
    for (int i = 0; i < 1000; ++i) {
      const int k = round == 0 ? i : 999 - i;
      const std::string v = "vendor" + std::to_string(k % 37), p = "product" + std::to_string(k);
      EXPECT_EQ(t.view(c.reported_by(v, p)), v + "/" + p);
      EXPECT_EQ(t.view(c.get("device-" + std::to_string(k))), "device-" + std::to_string(k));
    }
  // Different splits of one joined text are one label.
  EXPECT_EQ(c.reported_by("a/b", "c"), c.reported_by("a", "b/c"));
  EXPECT_EQ(c.reported_by("a", "b/c"), t.intern("a/b/c"));
  EXPECT_NE(c.reported_by("ab", ""), c.reported_by("a", "b"));
}

}  // namespace
}  // namespace portscand
