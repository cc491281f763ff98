#pragma once

// Which peers a syslog listener accepts. Immutable after construction: any thread.

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "core/ip_address.hpp"
#include "core/result.hpp"

namespace portscand {

class peer_allowlist {
 public:
  // Each entry is an address or a CIDR, IPv4 or IPv6 ("10.0.0.0/8", "2001:db8::/32", "::1").
  // An empty list allows everyone. The error names the first bad entry.
  static result<peer_allowlist> parse(const std::vector<std::string>& entries);

  // Addresses are compared in their 16-byte IPv6 form, with IPv4 as ::ffff:a.b.c.d, so an
  // IPv4-mapped peer of a dual-stack socket matches an IPv4 CIDR (and an IPv6 CIDR written
  // as ::ffff:10.0.0.0/104 matches a plain IPv4 peer).
  bool allows(const ip_address& peer) const noexcept;
  bool allows_everyone() const noexcept { return nets_.empty(); }

 private:
  struct net {
    std::array<std::uint8_t, 16> bytes;
    unsigned bits;  // prefix length over the 16-byte form
  };
  std::vector<net> nets_;
};

}  // namespace portscand
