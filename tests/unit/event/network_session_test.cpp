#include "event/network_session.hpp"

#include <gtest/gtest.h>

namespace portscand {
namespace {

// `portscand parse` prints protocol_name: it must be the IANA keyword, the same words the
// alerts' `protocols` list uses (protocol_bit_names), not a spelling only the matcher knows.
TEST(NetworkSession, ProtocolNameIsTheIanaKeyword) {
  EXPECT_EQ(protocol_name(6), "TCP");
  EXPECT_EQ(protocol_name(17), "UDP");
  EXPECT_EQ(protocol_name(1), "ICMP");
  EXPECT_EQ(protocol_name(58), "IPv6-ICMP");
  EXPECT_EQ(protocol_name(2), "IGMP");
  EXPECT_EQ(protocol_name(50), "ESP");
  EXPECT_EQ(protocol_name(132), "SCTP");
  EXPECT_EQ(protocol_name(253), "253");
  EXPECT_EQ(protocol_name(network_session::no_protocol), "");
  ASSERT_EQ(protocol_bit_names(1u << 3).size(), 1u);
  EXPECT_EQ(std::string(protocol_bit_names(1u << 3).front()), protocol_name(58));
}

TEST(NetworkSession, ProtocolFromNameAcceptsEverySpellingOfIcmpv6) {
  for (const char* name :
       {"IPv6-ICMP", "ipv6-icmp", "IPV6-ICMP", "ICMPv6", "icmp6", "ICMP6", "ipv6icmp", "58"})
    EXPECT_EQ(protocol_from_name(name), 58) << name;
  EXPECT_EQ(protocol_from_name(protocol_name(58)), 58);
  EXPECT_EQ(protocol_from_name("tcp"), 6);
  EXPECT_EQ(protocol_from_name("IP"), network_session::no_protocol);
}

}  // namespace
}  // namespace portscand
