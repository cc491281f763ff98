#include "core/ip_address.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <random>
#include <string>

#include "../test_names.hpp"

namespace portscand {
namespace {

using test::why_name;

struct canon_case {
  const char* input;
  const char* canonical;  // RFC 5952 (cross-checked with Python's ipaddress module)
};

class IpCanonical : public ::testing::TestWithParam<canon_case> {};

TEST_P(IpCanonical, PrintsTheRfc5952Form) {
  auto ip = ip_address::parse(GetParam().input);
  ASSERT_TRUE(ip.has_value()) << GetParam().input;
  EXPECT_EQ(ip->to_string(), GetParam().canonical);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, IpCanonical,
    ::testing::Values(canon_case{"203.0.113.7", "203.0.113.7"}, canon_case{"0.0.0.0", "0.0.0.0"},
                      canon_case{"255.255.255.255", "255.255.255.255"},
                      canon_case{"2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"},  // first longest run
                      canon_case{"2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"},
                      canon_case{"2001:DB8::1", "2001:db8::1"},  // lower case
                      canon_case{"2001:db8:0:1:1:1:1:1",
                                 "2001:db8:0:1:1:1:1:1"},  // one zero group stays
                      canon_case{"::", "::"}, canon_case{"1::", "1::"},
                      canon_case{"fe80:0:0:0:0:0:0:1", "fe80::1"},
                      canon_case{"::ffff:1.2.3.4", "1.2.3.4"}));  // mapped -> IPv4

TEST(IpParse, RejectsWhatIsNotStrictlyAnAddress) {
  for (const char* bad : {"", " 1.2.3.4", "1.2.3.4 ", "1.2.3", "1.2.3.4.5", "256.1.1.1", "01.2.3.4",
                          "1.2.3.-4", "1..2.3", "abc", "1:2:3:4:5:6:7:8:9", "fe80::1%eth0", "[::1]",
                          "12345::", "1.2.3.4/24", "0x7f.0.0.1"})
    EXPECT_FALSE(ip_address::parse(bad).has_value()) << '"' << bad << '"';
}

// The dotted-quad parser against glibc's inet_pton(AF_INET), which is strict in the same way
// (four decimal octets, no leading zeros): random strings over the characters that matter.
TEST(IpParse, DottedQuadsAgreeWithInetPton) {
  std::mt19937 rng(42);
  const std::string alphabet = "0123456789.......5 x";
  int valid_cases = 0;
  for (int i = 0; i < 200000; ++i) {
    std::string text;
    if (i % 2 == 0) {  // near-quads: 1-3 digit groups, some leading zeros or > 255, some edits
      for (int part = 0; part < 4; ++part) {
        if (part > 0) text += '.';
        const int n = 1 + static_cast<int>(rng() % 3);
        for (int k = 0; k < n; ++k)
          text += static_cast<char>('0' + rng() % (k == 0 && rng() % 4 == 0 ? 3 : 10));
      }
      if (rng() % 4 == 0) text[rng() % text.size()] = alphabet[rng() % alphabet.size()];
    } else {
      text.assign(rng() % 17, ' ');
      for (char& c : text) c = alphabet[rng() % alphabet.size()];
    }
    in_addr reference{};
    const bool valid = inet_pton(AF_INET, text.c_str(), &reference) == 1;
    const auto ip = ip_address::parse(text);
    ASSERT_EQ(ip.has_value(), valid) << '"' << text << '"';
    if (valid) EXPECT_EQ(ip->v4(), ntohl(reference.s_addr)) << text;
    valid_cases += valid;
  }
  EXPECT_GT(valid_cases, 20000) << "the generator must produce real addresses too";
}

TEST(IpParse, MappedAndPlainIpv4AreTheSameKey) {
  EXPECT_EQ(*ip_address::parse("::ffff:203.0.113.7"), *ip_address::parse("203.0.113.7"));
  EXPECT_EQ(ip_address::parse("::ffff:203.0.113.7")->hash(),
            ip_address::parse("203.0.113.7")->hash());
}

struct class_case {
  const char* why;
  const char* ip;
  detection_mode mode;
  source_class expected;
};

class SourceFilter : public ::testing::TestWithParam<class_case> {};

TEST_P(SourceFilter, ClassifiesAsTheRuleDoes) {
  const auto& c = GetParam();
  EXPECT_EQ(classify_source(*ip_address::parse(c.ip), c.mode), c.expected) << c.why;
}

constexpr auto std_mode = detection_mode::standard;
constexpr auto sen_mode = detection_mode::sentinel;

INSTANTIATE_TEST_SUITE_P(
    Spec, SourceFilter,
    ::testing::Values(
        class_case{"just below 172.16/12 is public", "172.15.255.255", std_mode,
                   source_class::candidate},
        class_case{"first of 172.16/12 is private", "172.16.0.0", std_mode,
                   source_class::private_v4},
        class_case{"last of 172.16/12 is private", "172.31.255.255", std_mode,
                   source_class::private_v4},
        class_case{"just above 172.16/12 is public", "172.32.0.0", std_mode,
                   source_class::candidate},
        class_case{"10/8 first", "10.0.0.0", std_mode, source_class::private_v4},
        class_case{"10/8 last", "10.255.255.255", std_mode, source_class::private_v4},
        class_case{"just above 10/8", "11.0.0.0", std_mode, source_class::candidate},
        class_case{"just below 10/8", "9.255.255.255", std_mode, source_class::candidate},
        class_case{"192.168/16", "192.168.1.1", std_mode, source_class::private_v4},
        class_case{"192.169 is public", "192.169.0.0", std_mode, source_class::candidate},
        class_case{"192.167.255.255 is public", "192.167.255.255", std_mode,
                   source_class::candidate},
        class_case{"127.0.0.1 is the excluded literal", "127.0.0.1", std_mode,
                   source_class::loopback},
        class_case{"127.0.0.2 is a candidate, as in the rule", "127.0.0.2", std_mode,
                   source_class::candidate},
        class_case{"CGNAT 100.64/10 is a candidate, as in the rule", "100.64.0.1", std_mode,
                   source_class::candidate},
        class_case{"link-local 169.254/16 is a candidate, as in the rule", "169.254.1.1", std_mode,
                   source_class::candidate},
        class_case{"mapped private IPv4 is private", "::ffff:10.1.2.3", std_mode,
                   source_class::private_v4},
        class_case{"mapped public IPv4 is a candidate in sentinel mode too", "::ffff:8.8.8.8",
                   sen_mode, source_class::candidate},
        class_case{"public IPv4 in sentinel mode", "8.8.8.8", sen_mode, source_class::candidate},
        class_case{"::1 is loopback", "::1", std_mode, source_class::loopback},
        class_case{"fc00::/7 (fd..) is private", "fd12:3456::1", std_mode,
                   source_class::private_v6},
        class_case{"fc00::/7 (fc..) is private", "fc00::1", std_mode, source_class::private_v6},
        class_case{"fe80::/10 is private", "fe80::1", std_mode, source_class::private_v6},
        class_case{"febf:: is still fe80::/10", "febf::1", std_mode, source_class::private_v6},
        class_case{"fec0:: is outside fe80::/10", "fec0::1", std_mode, source_class::candidate},
        class_case{"global IPv6 is a candidate", "2001:db8::7", std_mode, source_class::candidate},
        class_case{"every IPv6 is dropped in sentinel mode", "2001:db8::7", sen_mode,
                   source_class::ipv6_sentinel},
        class_case{"::1 in sentinel mode is dropped as IPv6", "::1", sen_mode,
                   source_class::ipv6_sentinel}),
    why_name{});

}  // namespace
}  // namespace portscand
