#include "core/ip_address.hpp"

#include <arpa/inet.h>

#include <bit>

namespace portscand {
namespace {

constexpr std::array<std::uint8_t, 12> v4_mapped_prefix{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

// One decimal octet at p (1-3 digits, no leading zero, <= 255), appended to v.
inline bool octet(const char*& p, const char* end, std::uint32_t& v) noexcept {
  auto digit = [end](const char* q, unsigned& d) {
    if (q == end) return false;
    d = static_cast<unsigned>(static_cast<unsigned char>(*q)) - '0';
    return d <= 9;
  };
  unsigned x, d;
  if (!digit(p, x)) return false;
  ++p;
  if (digit(p, d)) {
    if (x == 0) return false;  // no octal-looking octets
    x = x * 10 + d;
    ++p;
    if (digit(p, d)) {
      x = x * 10 + d;
      ++p;
      if (x > 255) return false;
    }
  }
  v = (v << 8) | x;
  return true;
}

std::optional<std::uint32_t> parse_v4(std::string_view s) noexcept {
  if (s.size() < 7 || s.size() > 15) return std::nullopt;
  const char* p = s.data();
  const char* const end = p + s.size();
  std::uint32_t v = 0;
  for (int part = 0; part < 4; ++part) {
    if (part > 0) {
      if (p == end || *p != '.') return std::nullopt;
      ++p;
    }
    if (!octet(p, end, v)) return std::nullopt;
  }
  if (p != end) return std::nullopt;
  return v;
}

}  // namespace

ip_address ip_address::from_v4(std::uint32_t host_order) noexcept {
  ip_address ip;
  std::memcpy(ip.bytes_.data(), v4_mapped_prefix.data(), 12);
  ip.bytes_[12] = static_cast<std::uint8_t>(host_order >> 24);
  ip.bytes_[13] = static_cast<std::uint8_t>(host_order >> 16);
  ip.bytes_[14] = static_cast<std::uint8_t>(host_order >> 8);
  ip.bytes_[15] = static_cast<std::uint8_t>(host_order);
  ip.v4_ = true;
  return ip;
}

ip_address ip_address::from_v6(const std::array<std::uint8_t, 16>& bytes) noexcept {
  ip_address ip;
  ip.bytes_ = bytes;
  ip.v4_ = std::memcmp(bytes.data(), v4_mapped_prefix.data(), 12) == 0;
  return ip;
}

std::optional<ip_address> ip_address::parse(std::string_view text) noexcept {
  ip_address ip;
  if (!parse(text, ip)) return std::nullopt;
  return ip;
}

bool ip_address::parse(std::string_view text, ip_address& out) noexcept {
  if (text.empty() || text.size() > 45) return false;
  if (auto v4 = parse_v4(text)) {  // the common case, and never has a ':'
    // Two 8-byte stores: no byte-wise writes for a wide copy to stall on.
    static_assert(std::endian::native == std::endian::little,
                  "the byte layout below is little endian");
    const std::uint64_t low = 0;
    const std::uint64_t high = 0xffff0000ull | (std::uint64_t{__builtin_bswap32(*v4)} << 32);
    std::memcpy(out.bytes_.data(), &low, 8);
    std::memcpy(out.bytes_.data() + 8, &high, 8);
    out.v4_ = true;
    return true;
  }
  if (text.find(':') == std::string_view::npos) return false;
  char buf[46];
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  if (inet_pton(AF_INET6, buf, out.bytes_.data()) != 1) return false;
  out.v4_ = std::memcmp(out.bytes_.data(), v4_mapped_prefix.data(), 12) == 0;
  return true;
}

std::uint32_t ip_address::v4() const noexcept {
  return (std::uint32_t{bytes_[12]} << 24) | (std::uint32_t{bytes_[13]} << 16) |
         (std::uint32_t{bytes_[14]} << 8) | std::uint32_t{bytes_[15]};
}

std::size_t ip_address::format(char* out) const noexcept {
  char* p = out;
  if (v4_) {
    for (int i = 12; i < 16; ++i) {
      if (i > 12) *p++ = '.';
      unsigned v = bytes_[i];
      if (v >= 100) *p++ = static_cast<char>('0' + v / 100);
      if (v >= 10) *p++ = static_cast<char>('0' + (v / 10) % 10);
      *p++ = static_cast<char>('0' + v % 10);
    }
    return static_cast<std::size_t>(p - out);
  }
  // RFC 5952: lower-case hex, no leading zeros, the longest run (first on a tie) of two or
  // more zero groups becomes "::".
  std::uint16_t groups[8];
  for (int i = 0; i < 8; ++i)
    groups[i] = static_cast<std::uint16_t>(bytes_[2 * i] << 8 | bytes_[2 * i + 1]);
  int best_start = -1, best_len = 0;
  for (int i = 0; i < 8;) {
    if (groups[i] != 0) {
      ++i;
      continue;
    }
    int j = i;
    while (j < 8 && groups[j] == 0) ++j;
    if (j - i > best_len && j - i >= 2) {
      best_start = i;
      best_len = j - i;
    }
    i = j;
  }
  static constexpr char hex[] = "0123456789abcdef";
  for (int i = 0; i < 8; ++i) {
    if (i == best_start) {
      *p++ = ':';
      *p++ = ':';
      i += best_len - 1;
      continue;
    }
    if (i > 0 && i != best_start + best_len) *p++ = ':';
    bool started = false;
    for (int shift = 12; shift >= 0; shift -= 4) {
      unsigned nibble = (groups[i] >> shift) & 0xf;
      if (nibble != 0 || started || shift == 0) {
        *p++ = hex[nibble];
        started = true;
      }
    }
  }
  return static_cast<std::size_t>(p - out);
}

std::string ip_address::to_string() const {
  char buf[48];
  return std::string(buf, format(buf));
}

std::size_t ip_address::hash() const noexcept {
  std::uint64_t a, b;
  std::memcpy(&a, bytes_.data(), 8);
  std::memcpy(&b, bytes_.data() + 8, 8);
  // 128 -> 64 bit mix (a Murmur3-style finalizer over both halves): cheap and well spread,
  // so that shard = hash % N and the window tables see uniform keys.
  std::uint64_t h = a * 0x9e3779b97f4a7c15ULL ^ (b + 0x632be59bd9b4e019ULL);
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  return static_cast<std::size_t>(h);
}

source_class classify_source(const ip_address& ip, detection_mode mode) noexcept {
  if (ip.is_v4()) {
    const std::uint32_t v = ip.v4();
    if ((v >> 24) == 10 || (v >> 20) == (172u << 4 | 1u) || (v >> 16) == (192u << 8 | 168u))
      return source_class::private_v4;
    if (v == 0x7f000001u) return source_class::loopback;
    return source_class::candidate;
  }
  if (mode == detection_mode::sentinel) return source_class::ipv6_sentinel;
  const auto& b = ip.bytes();
  static constexpr std::array<std::uint8_t, 16> loopback6{0, 0, 0, 0, 0, 0, 0, 0,
                                                          0, 0, 0, 0, 0, 0, 0, 1};
  if (b == loopback6) return source_class::loopback;
  if ((b[0] & 0xfe) == 0xfc) return source_class::private_v6;                  // fc00::/7
  if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) return source_class::private_v6;  // fe80::/10
  return source_class::candidate;
}

std::string_view to_string(source_class c) noexcept {
  switch (c) {
    case source_class::candidate:
      return "candidate";
    case source_class::private_v4:
      return "private";
    case source_class::loopback:
      return "loopback";
    case source_class::private_v6:
      return "private_v6";
    case source_class::ipv6_sentinel:
      return "ipv6_sentinel";
  }
  return "unknown";
}

}  // namespace portscand
