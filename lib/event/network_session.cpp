#include "event/network_session.hpp"

#include <array>
#include <cctype>
#include <string>

namespace portscand {

static_assert(sizeof(network_session) == 64,
              "network_session moves through the shard queues by value");

std::string_view to_string(dvc_action a) noexcept {
  switch (a) {
    case dvc_action::unknown:
      return "";
    case dvc_action::allow:
      return "Allow";
    case dvc_action::deny:
      return "Deny";
    case dvc_action::drop:
      return "Drop";
    case dvc_action::drop_icmp:
      return "Drop ICMP";
    case dvc_action::reset:
      return "Reset";
    case dvc_action::reset_source:
      return "Reset Source";
    case dvc_action::reset_destination:
      return "Reset Destination";
    case dvc_action::encrypt:
      return "Encrypt";
    case dvc_action::decrypt:
      return "Decrypt";
  }
  return "";
}

std::string_view to_string(flow_side s) noexcept {
  switch (s) {
    case flow_side::unknown:
      return "";
    case flow_side::initiator:
      return "initiator";
    case flow_side::reply:
      return "reply";
  }
  return "";
}

namespace {
struct proto_name {
  std::string_view name;
  std::uint16_t number;
};
// The first entry of a number is its IANA keyword, what protocol_name prints; the others
// are matched too. Matching ignores case only against the upper-case entries, so the
// mixed-case keyword "IPv6-ICMP" also has its upper-case twin.
constexpr proto_name protocols[] = {
    {"ICMP", 1},  {"IGMP", 2},   {"TCP", 6},        {"UDP", 17},      {"GRE", 47},
    {"ESP", 50},  {"AH", 51},    {"IPv6-ICMP", 58}, {"ICMPV6", 58},   {"IPV6-ICMP", 58},
    {"OSPF", 89}, {"SCTP", 132}, {"ICMP6", 58},     {"IPV6ICMP", 58},
};

// `b` is upper case ASCII. No locale: protocol names are ASCII, and std::toupper is a call.
bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const char c = a[i] >= 'a' && a[i] <= 'z' ? static_cast<char>(a[i] - 'a' + 'A') : a[i];
    if (c != b[i]) return false;
  }
  return true;
}
}  // namespace

std::uint16_t protocol_from_name(std::string_view name) noexcept {
  if (name.empty()) return network_session::no_protocol;
  if (name.size() <= 3 && std::isdigit(static_cast<unsigned char>(name[0]))) {
    unsigned v = 0;
    for (char c : name) {
      if (c < '0' || c > '9') return network_session::no_protocol;
      v = v * 10 + static_cast<unsigned>(c - '0');
    }
    return v <= 255 ? static_cast<std::uint16_t>(v) : network_session::no_protocol;
  }
  for (const auto& p : protocols)  // the usual spelling first
    if (name == p.name) return p.number;
  for (const auto& p : protocols)
    if (iequals(name, p.name)) return p.number;
  return network_session::no_protocol;
}

std::string protocol_name(std::uint16_t number) {
  if (number == network_session::no_protocol) return {};
  for (const auto& p : protocols)
    if (p.number == number) return std::string(p.name);
  return std::to_string(number);
}

std::vector<std::string_view> protocol_bit_names(std::uint8_t bits) {
  static constexpr std::array<std::string_view, protocol_bit_count> names = {
      "TCP", "UDP", "ICMP", "IPv6-ICMP", "SCTP", "other"};
  std::vector<std::string_view> out;
  for (std::size_t i = 0; i < names.size(); ++i)
    if (bits & (1u << i)) out.push_back(names[i]);
  return out;
}

}  // namespace portscand
