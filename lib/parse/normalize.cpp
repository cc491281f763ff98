#include "parse/normalize.hpp"

namespace portscand {

void normalize(network_session& r, const record_origin& origin) noexcept {
  if (origin.time_source == event_time_source::receive || !r.has_time) {
    if (origin.time_source == event_time_source::record && origin.header_time != 0) {
      r.time = origin.header_time;
      r.set_time_from(time_origin::header);
      r.has_time = true;
    } else if (origin.receive_time != 0) {
      r.time = origin.receive_time;
      r.set_time_from(time_origin::receive);
      r.has_time = true;
    }
  }
  if (r.device == label_table::empty_id) r.device = origin.host;
  if (r.has_port() && origin.mode != detection_mode::sentinel && !carries_ports(r.protocol)) {
    r.dst_port = network_session::no_port;
    r.set_port_not_counted();
  }
}

}  // namespace portscand
