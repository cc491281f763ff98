#include "parse/port.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "../test_names.hpp"
#include "parse_test_util.hpp"

namespace portscand::test {
namespace {

struct port_case {
  const char* why;
  std::string text;
  port_status status;
  std::int32_t port;  // when ok
};

class ReadPort : public ::testing::TestWithParam<port_case> {};

TEST_P(ReadPort, ReadsOnlyPlainDigitsInRange) {
  const auto& c = GetParam();
  std::int32_t out = -7;
  EXPECT_EQ(read_port(c.text, out), c.status) << c.why;
  EXPECT_EQ(out, c.status == port_status::ok ? c.port : -7) << c.why;
  EXPECT_EQ(parse_port(c.text, out), c.status == port_status::ok) << c.why;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, ReadPort,
    ::testing::Values(
        port_case{"the lowest port", "0", port_status::ok, 0},
        port_case{"a common port", "443", port_status::ok, 443},
        port_case{"the highest port", "65535", port_status::ok, 65535},
        port_case{"leading zeros", "0080", port_status::ok, 80},
        port_case{"more leading zeros than five digits", "00000022", port_status::ok, 22},
        port_case{"nothing", "", port_status::absent, 0},
        port_case{"one past the highest", "65536", port_status::invalid, 0},
        port_case{"a value that overflows 32 bits", "99999999999", port_status::invalid, 0},
        port_case{"a minus sign", "-1", port_status::invalid, 0},
        port_case{"minus zero", "-0", port_status::invalid, 0},
        port_case{"a plus sign", "+80", port_status::invalid, 0},
        port_case{"a leading space", " 80", port_status::invalid, 0},
        port_case{"a trailing space", "80 ", port_status::invalid, 0},
        port_case{"a fraction", "80.0", port_status::invalid, 0},
        port_case{"an exponent", "8e1", port_status::invalid, 0},
        port_case{"hex", "0x50", port_status::invalid, 0},
        port_case{"a service name", "https", port_status::invalid, 0}),
    why_name{});

// Formats read ports through read_port: the JSON ones from a number's raw text or a string.
TEST(JsonPort, ANegativeZeroIsNotAPort) {
  auto s = parse_with("asim", R"({"SrcIpAddr":"1.2.3.4","DstPortNumber":-0})");
  EXPECT_TRUE(s.records.empty());
  EXPECT_EQ(s.rejects, std::vector<std::string>{"bad_dst_port"});
}

TEST(JsonPort, AZeroPaddedStringIsThePort) {
  auto s = parse_with("asim", R"({"SrcIpAddr":"1.2.3.4","DstPortNumber":"000022"})");
  ASSERT_EQ(s.records.size(), 1u);
  EXPECT_EQ(s.records[0].dst_port, 22);
}

TEST(TextPort, AZeroPaddedPortIsThePortInEveryTextFormat) {
  auto s = parse_with("iptables",
                      "kernel: IN=eth0 OUT= SRC=10.0.0.1 DST=10.0.0.2 PROTO=TCP SPT=4000 "
                      "DPT=000022 SYN");
  ASSERT_EQ(s.records.size(), 1u);
  EXPECT_EQ(s.records[0].dst_port, 22);
}

}  // namespace
}  // namespace portscand::test
