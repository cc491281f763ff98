#pragma once

#include "parse/registry.hpp"

namespace portscand {

// Cisco ASA (and FTD's ASA engine) native syslog messages "%ASA-6-302013: Built inbound ..."
// after the syslog header: access-list denies/permits (106xxx), connection builds (302013,
// 302015, 302020) and 710xxx to-the-box access, plus FTD's 4300xx connection events.
format_entry cisco_asa_format();

}  // namespace portscand
