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

}  // namespace
}  // namespace portscand
