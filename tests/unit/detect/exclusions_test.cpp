// exclusion_set: which entry takes a record, worked out by hand from the README's rules.
#include "detect/exclusions.hpp"

#include <gtest/gtest.h>

#include "config/config.hpp"
#include "core/time.hpp"

namespace portscand {
namespace {

ip_network net(const char* text) {
  std::string error;
  auto n = ip_network::parse(text, error);
  EXPECT_TRUE(n) << text << ": " << error;
  return n.value_or(ip_network{});
}

network_session rec(const char* src, const char* dst, int port, const char* time) {
  network_session r;
  r.src = *ip_address::parse(src);
  if (dst != nullptr) {
    r.dst = *ip_address::parse(dst);
    r.has_dst = true;
  }
  r.dst_port = port;
  r.time = *parse_iso8601(time);
  r.has_time = true;
  return r;
}

exclusion_config entry(std::string name) {
  exclusion_config e;
  e.name = std::move(name);
  e.reason = "test";
  return e;
}

constexpr const char* t = "2026-01-15T10:00:00Z";

TEST(IpNetwork, ParsesBothFamiliesAndRefusesHostBits) {
  std::string error;
  EXPECT_EQ(net("203.0.113.0/24").to_string(), "203.0.113.0/24");
  EXPECT_EQ(net("203.0.113.0/24").bits, 120);
  EXPECT_EQ(net("2001:db8::/32").to_string(), "2001:db8::/32");
  EXPECT_EQ(net("198.51.100.7").bits, 128);
  EXPECT_FALSE(ip_network::parse("10.0.0.1/8", error));
  EXPECT_NE(error.find("host bits"), std::string::npos) << error;
  EXPECT_NE(error.find("10.0.0.0/8"), std::string::npos) << error;
  EXPECT_FALSE(ip_network::parse("10.0.0.0/33", error));
  EXPECT_FALSE(ip_network::parse("2001:db8::/129", error));
  EXPECT_FALSE(ip_network::parse("10.0.0.0/", error));
  EXPECT_FALSE(ip_network::parse("300.0.0.0/8", error));
  EXPECT_TRUE(net("0.0.0.0/0").contains(*ip_address::parse("8.8.8.8")));
  EXPECT_FALSE(net("0.0.0.0/0").contains(*ip_address::parse("2001:db8::1")));
  EXPECT_TRUE(net("10.0.0.0/8").contains(*ip_address::parse("::ffff:10.1.2.3")));
}

TEST(Exclusions, AnEmptySetMatchesNothing) {
  const exclusion_set x;
  EXPECT_TRUE(x.empty());
  EXPECT_EQ(x.match(rec("203.0.113.7", "198.18.0.1", 22, t)), exclusion_set::none);
}

TEST(Exclusions, EveryDimensionGivenMustMatch) {
  auto a = entry("scanner");
  a.sources = {net("203.0.113.0/24")};
  auto b = entry("lb-https");
  b.destinations = {net("198.18.0.0/16")};
  b.ports = {{443, 443}};
  auto c = entry("rdp");
  c.ports = {{3389, 3389}, {8000, 8100}};
  const exclusion_set x({a, b, c});
  EXPECT_EQ(x.match(rec("203.0.113.7", nullptr, -1, t)), 0u);
  EXPECT_EQ(x.match(rec("203.0.114.7", "198.18.3.4", 443, t)), 1u);
  EXPECT_EQ(x.match(rec("203.0.114.7", "198.18.3.4", 444, t)), exclusion_set::none);
  EXPECT_EQ(x.match(rec("203.0.114.7", "198.19.3.4", 443, t)), exclusion_set::none);
  EXPECT_EQ(x.match(rec("203.0.114.7", nullptr, 443, t)), exclusion_set::none);  // no destination
  EXPECT_EQ(x.match(rec("203.0.114.7", nullptr, 3389, t)), 2u);
  EXPECT_EQ(x.match(rec("203.0.114.7", nullptr, 8000, t)), 2u);
  EXPECT_EQ(x.match(rec("203.0.114.7", nullptr, 8100, t)), 2u);
  EXPECT_EQ(x.match(rec("203.0.114.7", nullptr, 8101, t)), exclusion_set::none);
  EXPECT_EQ(x.match(rec("203.0.114.7", nullptr, -1, t)), exclusion_set::none);  // no port
}

TEST(Exclusions, TheFirstMatchingEntryInConfigurationOrderTakesTheRecord) {
  auto ports = entry("ssh");  // found by scanning, listed first
  ports.ports = {{22, 22}};
  auto wide = entry("wide");
  wide.sources = {net("2001:db8::/32")};
  auto narrow = entry("narrow");
  narrow.sources = {net("2001:db8:1::/48")};
  const exclusion_set x({ports, wide, narrow});
  EXPECT_EQ(x.match(rec("2001:db8:1::5", nullptr, 22, t)), 0u);
  EXPECT_EQ(x.match(rec("2001:db8:1::5", nullptr, 23, t)), 1u);
  const exclusion_set y({narrow, wide});
  EXPECT_EQ(y.match(rec("2001:db8:1::5", nullptr, 23, t)), 0u);
  EXPECT_EQ(y.match(rec("2001:db8:2::5", nullptr, 23, t)), 1u);
}

TEST(Exclusions, SourceAndPortTogether) {
  auto e = entry("partner-low");
  e.sources = {net("203.0.113.0/24"), net("198.51.100.7")};
  e.ports = {{1, 30}};
  const exclusion_set x({e});
  EXPECT_EQ(x.match(rec("198.51.100.7", nullptr, 30, t)), 0u);
  EXPECT_EQ(x.match(rec("198.51.100.7", nullptr, 31, t)), exclusion_set::none);
  EXPECT_EQ(x.match(rec("198.51.100.8", nullptr, 30, t)), exclusion_set::none);
  EXPECT_EQ(x.match(rec("203.0.113.255", nullptr, 1, t)), 0u);
  EXPECT_EQ(x.match(rec("203.0.113.255", nullptr, 0, t)), exclusion_set::none);
}

TEST(Exclusions, AnEntryStopsApplyingAtItsExpiry) {
  auto e = entry("until-noon");
  e.sources = {net("203.0.113.7")};
  e.expires = parse_iso8601("2026-01-15T12:00:00Z");
  const exclusion_set x({e});
  EXPECT_EQ(x.match(rec("203.0.113.7", nullptr, 1, "2026-01-15T11:59:59.999999Z")), 0u);
  EXPECT_EQ(x.match(rec("203.0.113.7", nullptr, 1, "2026-01-15T12:00:00Z")), exclusion_set::none);
  EXPECT_EQ(x.covers_source(*ip_address::parse("203.0.113.7"), 128,
                            *parse_iso8601("2026-01-15T11:55:00Z")),
            0u);
  EXPECT_EQ(x.covers_source(*ip_address::parse("203.0.113.7"), 128,
                            *parse_iso8601("2026-01-15T12:00:00Z")),
            exclusion_set::none);
}

TEST(Exclusions, OnlySourceOnlyEntriesCoveringTheWholeKeyCoverASource) {
  auto with_port = entry("with-port");
  with_port.sources = {net("203.0.113.0/24")};
  with_port.ports = {{22, 22}};
  auto host = entry("host");
  host.sources = {net("2001:db8:1::7")};
  auto block = entry("block");
  block.sources = {net("2001:db8:2::/48")};
  const exclusion_set x({with_port, host, block});
  EXPECT_EQ(x.covers_source(*ip_address::parse("203.0.113.7"), 128, 0), exclusion_set::none);
  EXPECT_EQ(x.covers_source(*ip_address::parse("2001:db8:1::7"), 128, 0), 1u);
  // A /64 key is not covered by one of its addresses, but is by a /48 around it.
  EXPECT_EQ(x.covers_source(*ip_address::parse("2001:db8:1::"), 64, 0), exclusion_set::none);
  EXPECT_EQ(x.covers_source(*ip_address::parse("2001:db8:2:5::"), 64, 0), 2u);
}

TEST(Exclusions, AThousandEntriesFindTheRightOne) {
  std::vector<exclusion_config> entries;
  for (int i = 0; i < 1000; ++i) {
    auto e = entry("e" + std::to_string(i));
    // Alternately /32 hosts in 198.18.0.0/16 and /24 blocks in 100.64.0.0/10.
    const std::string text =
        i % 2 == 0
            ? "198.18." + std::to_string(i / 256) + "." + std::to_string(i % 256)
            : "100." + std::to_string(64 + i / 256) + "." + std::to_string(i % 256) + ".0/24";
    e.sources = {net(text.c_str())};
    entries.push_back(std::move(e));
  }
  const exclusion_set x(entries);
  EXPECT_EQ(x.match(rec("198.18.3.0", nullptr, 1, t)), 768u);
  EXPECT_EQ(x.match(rec("198.18.3.1", nullptr, 1, t)), exclusion_set::none);  // odd: not a host
  EXPECT_EQ(x.match(rec("100.67.231.99", nullptr, 1, t)), 999u);
  EXPECT_EQ(x.match(rec("100.64.1.200", nullptr, 1, t)), 1u);
  EXPECT_EQ(x.match(rec("100.64.0.200", nullptr, 1, t)), exclusion_set::none);  // 0 is even
}

}  // namespace
}  // namespace portscand
