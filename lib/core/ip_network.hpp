#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/ip_address.hpp"

namespace portscand {

// An address block (CIDR) over the 16-byte form of ip_address: an IPv4 block a.b.c.d/n is
// ::ffff:a.b.c.d/(96+n), so it matches IPv4 sources and their IPv4-mapped spellings alike.
// Plain value type: any thread.
struct ip_network {
  std::array<std::uint8_t, 16> bytes{};  // the network address: host bits are zero
  std::uint8_t bits = 128;               // prefix length over the 16-byte form

  // "203.0.113.0/24", "2001:db8::/32", or a bare address (/32 or /128). Refuses a prefix
  // length beyond the family's, and host bits set ("10.0.0.1/8"): such a typo would
  // otherwise exclude a network nobody meant. `error` says which.
  static std::optional<ip_network> parse(std::string_view text, std::string& error);

  bool contains(const ip_address& ip) const noexcept;
  // Canonical text: "203.0.113.0/24", "2001:db8::/32".
  std::string to_string() const;

  friend bool operator==(const ip_network&, const ip_network&) = default;
};

// `b` with every bit after the first `bits` cleared.
std::array<std::uint8_t, 16> mask_bytes(const std::array<std::uint8_t, 16>& b,
                                        unsigned bits) noexcept;

}  // namespace portscand
