#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace portscand {

// An IPv4 or IPv6 address held in 16 bytes. IPv4 addresses (and IPv4-mapped IPv6
// addresses, ::ffff:a.b.c.d, which parse() folds into IPv4) are stored as the mapped form
// so that one byte layout serves hashing and comparison for both families.
// Plain value type: any thread.
class ip_address {
 public:
  ip_address() = default;

  // Strict parse: dotted quad without leading zeros, or RFC 4291 text (no zone id, no
  // brackets). Surrounding white space is not accepted.
  static std::optional<ip_address> parse(std::string_view text) noexcept;
  // The same, written in place (false leaves `out` unspecified). For the parsers' hot path:
  // returning the 17-byte value through an optional costs a store-forwarding stall per call.
  static bool parse(std::string_view text, ip_address& out) noexcept;
  static ip_address from_v4(std::uint32_t host_order) noexcept;
  static ip_address from_v6(const std::array<std::uint8_t, 16>& bytes) noexcept;

  bool is_v4() const noexcept { return v4_; }
  std::uint32_t v4() const noexcept;  // host order; only when is_v4()
  const std::array<std::uint8_t, 16>& bytes() const noexcept { return bytes_; }

  // Canonical text: dotted quad, or RFC 5952 for IPv6.
  std::string to_string() const;
  // Writes the canonical text to out (at least 46 bytes), returns its length.
  std::size_t format(char* out) const noexcept;

  friend bool operator==(const ip_address& a, const ip_address& b) noexcept {
    return a.bytes_ == b.bytes_;
  }
  // Byte order, which sorts IPv4 (::ffff:0:0/96) after most IPv6 and numerically within a family.
  friend bool operator<(const ip_address& a, const ip_address& b) noexcept {
    return std::memcmp(a.bytes_.data(), b.bytes_.data(), 16) < 0;
  }

  std::size_t hash() const noexcept;

 private:
  std::array<std::uint8_t, 16> bytes_{};
  bool v4_ = false;
};

// Why a source address is or is not a candidate of the rule (SPEC §1 "source filter").
enum class source_class : std::uint8_t {
  candidate,
  private_v4,     // 10/8, 172.16/12, 192.168/16
  loopback,       // exactly 127.0.0.1, or ::1
  private_v6,     // fc00::/7, fe80::/10 (default mode)
  ipv6_sentinel,  // any IPv6 source in sentinel mode
};

enum class detection_mode : std::uint8_t { standard, sentinel };

source_class classify_source(const ip_address& ip, detection_mode mode) noexcept;
std::string_view to_string(source_class c) noexcept;

}  // namespace portscand

template <>
struct std::hash<portscand::ip_address> {
  std::size_t operator()(const portscand::ip_address& ip) const noexcept { return ip.hash(); }
};
