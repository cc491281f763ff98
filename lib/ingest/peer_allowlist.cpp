#include "ingest/peer_allowlist.hpp"

#include <charconv>

namespace portscand {

result<peer_allowlist> peer_allowlist::parse(const std::vector<std::string>& entries) {
  peer_allowlist out;
  for (const std::string& e : entries) {
    const std::size_t slash = e.find('/');
    const std::string_view addr_text = std::string_view(e).substr(0, slash);
    const auto ip = ip_address::parse(addr_text);
    if (!ip) return error{"allow: '" + e + "' is not an address or CIDR"};
    // An IPv4 CIDR is written without ':'; its prefix counts from bit 96 of the mapped form.
    const bool written_v4 = addr_text.find(':') == std::string_view::npos;
    const unsigned family_bits = written_v4 ? 32 : 128;
    unsigned bits = family_bits;
    if (slash != std::string::npos) {
      const char* first = e.data() + slash + 1;
      const char* last = e.data() + e.size();
      const auto [end, ec] = std::from_chars(first, last, bits);
      if (ec != std::errc{} || end != last || first == last || bits > family_bits)
        return error{"allow: '" + e + "' has a bad prefix length"};
    }
    out.nets_.push_back(net{ip->bytes(), written_v4 ? bits + 96 : bits});
  }
  return out;
}

bool peer_allowlist::allows(const ip_address& peer) const noexcept {
  if (nets_.empty()) return true;
  const auto& b = peer.bytes();
  for (const net& n : nets_) {
    const unsigned whole = n.bits / 8;
    const unsigned rest = n.bits % 8;
    bool match = true;
    for (unsigned i = 0; i < whole && match; ++i) match = b[i] == n.bytes[i];
    if (match && rest != 0) {
      const auto mask = static_cast<std::uint8_t>(0xFF << (8 - rest));
      match = (b[whole] & mask) == (n.bytes[whole] & mask);
    }
    if (match) return true;
  }
  return false;
}

}  // namespace portscand
