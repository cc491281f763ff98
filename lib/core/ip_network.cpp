#include "core/ip_network.hpp"

#include <charconv>

namespace portscand {

std::array<std::uint8_t, 16> mask_bytes(const std::array<std::uint8_t, 16>& b,
                                        unsigned bits) noexcept {
  std::array<std::uint8_t, 16> out{};
  const unsigned whole = bits / 8;
  for (unsigned i = 0; i < whole && i < 16; ++i) out[i] = b[i];
  if (whole < 16 && bits % 8 != 0)
    out[whole] = static_cast<std::uint8_t>(b[whole] & (0xFF << (8 - bits % 8)));
  return out;
}

std::optional<ip_network> ip_network::parse(std::string_view text, std::string& error) {
  const std::size_t slash = text.find('/');
  const std::string_view addr_text = text.substr(0, slash);
  ip_address ip;
  if (!ip_address::parse(addr_text, ip)) {
    error = "'" + std::string(text) + "' is not an address or CIDR";
    return std::nullopt;
  }
  // Written without ':' is IPv4: its prefix counts from bit 96 of the mapped form.
  const bool written_v4 = addr_text.find(':') == std::string_view::npos;
  const unsigned family_bits = written_v4 ? 32 : 128;
  unsigned bits = family_bits;
  if (slash != std::string_view::npos) {
    const char* first = text.data() + slash + 1;
    const char* last = text.data() + text.size();
    const auto [end, ec] = std::from_chars(first, last, bits);
    if (ec != std::errc{} || end != last || first == last || bits > family_bits) {
      error = "'" + std::string(text) + "' has a bad prefix length (0 to " +
              std::to_string(family_bits) + ")";
      return std::nullopt;
    }
  }
  ip_network n;
  n.bits = static_cast<std::uint8_t>(written_v4 ? bits + 96 : bits);
  n.bytes = mask_bytes(ip.bytes(), n.bits);
  if (n.bytes != ip.bytes()) {
    error = "'" + std::string(text) + "' has host bits set (the network is " + n.to_string() + ")";
    return std::nullopt;
  }
  return n;
}

bool ip_network::contains(const ip_address& ip) const noexcept {
  return mask_bytes(ip.bytes(), bits) == bytes;
}

std::string ip_network::to_string() const {
  const ip_address a = ip_address::from_v6(bytes);
  const bool v4 = a.is_v4() && bits >= 96;
  return a.to_string() + "/" + std::to_string(v4 ? bits - 96 : bits);
}

}  // namespace portscand
