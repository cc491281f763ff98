// Fuzzes the `exclusions:` path of the configuration reader and the block parser: any bytes
// as a YAML document (never a crash or an exception; every entry read is valid: a reason,
// a dimension, blocks without host bits), the entries indexed and matched against a record;
// and the bytes as one block text, whose canonical text must parse back to the same block.
#include <cstdint>
#include <string>

#include "config/config.hpp"
#include "core/ip_network.hpp"
#include "detect/exclusions.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace portscand;
  const std::string text(reinterpret_cast<const char*>(data), size);

  std::string error;
  if (auto n = ip_network::parse(text, error)) {
    std::string again_error;
    const auto again = ip_network::parse(n->to_string(), again_error);
    if (!again || !(*again == *n)) __builtin_trap();
  }

  const auto r = load_config_text(text, {});
  if (r.problems.empty()) {
    for (const auto& e : r.cfg.exclusions) {
      if (e.reason.empty()) __builtin_trap();
      if (e.sources.empty() && e.destinations.empty() && e.ports.empty()) __builtin_trap();
      for (const auto* list : {&e.sources, &e.destinations})
        for (const ip_network& b : *list)
          if (mask_bytes(b.bytes, b.bits) != b.bytes) __builtin_trap();
    }
    const exclusion_set x(r.cfg.exclusions);
    network_session s;
    s.src = *ip_address::parse("203.0.113.7");
    s.dst = *ip_address::parse("2001:db8::1");
    s.has_dst = true;
    s.dst_port = 443;
    const std::size_t m = x.match(s);
    if (m != exclusion_set::none && m >= x.size()) __builtin_trap();
  }
  return 0;
}
