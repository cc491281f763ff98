#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "parse/registry.hpp"

namespace portscand {

// ArcSight CEF ("CEF:0|Vendor|Product|Version|SignatureID|Name|Severity|k=v ..."), the text
// behind Sentinel's CommonSecurityLog. Vendor/product labels and row selection follow the
// ASIM parser of each connector (PAN-OS, FortiGate, Check Point, Zscaler, Cisco ASA); other
// vendors get "<Device Vendor>/<Device Product>".
format_entry cef_format();

// One CEF message split by the same code as the format's parser: the seven header fields and
// every extension pair in order, escapes undone. For readers of CEF other than the record
// parser (the syslog output's round-trip tests); nullopt when there is no valid header.
struct cef_message {
  std::string version, vendor, product, device_version, signature, name, severity;
  std::vector<std::pair<std::string, std::string>> extension;
};
std::optional<cef_message> parse_cef_message(std::string_view unit);

}  // namespace portscand
