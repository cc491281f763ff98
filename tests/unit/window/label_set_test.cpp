#include "window/label_set.hpp"

#include <gtest/gtest.h>

#include <algorithm>

namespace portscand {
namespace {

TEST(LabelSet, KeepsDistinctLabelsInAscendingByteOrder) {
  label_table t;
  label_set s;
  for (const char* l :
       {"Zscaler/ZIA Firewall", "AWS/VPC", "Fortinet/Fortigate", "AWS/VPC", "aws/vpc", "/"})
    s.insert(t.intern(l), t);
  std::vector<std::string> out;
  s.first(20, t, out);
  // Byte order: '/' < upper case < lower case.
  EXPECT_EQ(out, (std::vector<std::string>{"/", "AWS/VPC", "Fortinet/Fortigate",
                                           "Zscaler/ZIA Firewall", "aws/vpc"}));
}

TEST(LabelSet, ReportsTheFirstTwentyOfManyWhateverTheArrivalOrder) {
  label_table t;
  label_set s;
  std::vector<std::string> all;
  for (int i = 99; i >= 0; --i) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "v%02d/p", i);
    all.emplace_back(buf);
    s.insert(t.intern(buf), t);
  }
  std::sort(all.begin(), all.end());
  std::vector<std::string> out;
  s.first(20, t, out);
  EXPECT_EQ(out, std::vector<std::string>(all.begin(), all.begin() + 20));
  EXPECT_EQ(s.size(), label_set::max_kept);
}

}  // namespace
}  // namespace portscand
