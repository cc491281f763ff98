#pragma once

#include "parse/registry.hpp"

namespace portscand {

// ArcSight CEF ("CEF:0|Vendor|Product|Version|SignatureID|Name|Severity|k=v ..."), the text
// behind Sentinel's CommonSecurityLog. Vendor/product labels and row selection follow the
// ASIM parser of each connector (PAN-OS, FortiGate, Check Point, Zscaler, Cisco ASA); other
// vendors get "<Device Vendor>/<Device Product>".
format_entry cef_format();

}  // namespace portscand
