#include "parse/sysmon_linux.hpp"

#include <string>

#include "event/network_session.hpp"
#include "parse/field_table.hpp"
#include "parse/json_util.hpp"
#include "parse/port.hpp"
#include "parse/text_util.hpp"
#include "parse/xml_scan.hpp"

namespace portscand {
namespace {

constexpr std::string_view provider_name = "Linux-Sysmon";

// Raw (entity-encoded) views into the unit, filled by one walk over the event.
struct sysmon_fields {
  std::string_view provider, event_id, system_time, computer;
  std::string_view utc_time, protocol, src_ip, dst_ip, dst_port;
  bool have_provider = false, have_event_id = false, have_system_time = false,
       have_computer = false;
  bool have_utc_time = false, have_protocol = false, have_src_ip = false, have_dst_ip = false,
       have_dst_port = false;
  const char* reject = nullptr;
  bool skip = false;
};

// Stores a <Data> value once; a second value for a field the record uses is ambiguous.
void set_once(std::string_view value, std::string_view& slot, bool& have, const char*& reject) {
  if (have) {
    reject = "duplicate_field";
    return;
  }
  slot = value;
  have = true;
}

// The <Data Name="..."> elements the record reads.
enum class data_field : std::uint8_t { other, utc_time, protocol, src_ip, dst_ip, dst_port };

constexpr auto data_fields =
    make_field_table(data_field::other, {{"UtcTime", data_field::utc_time},
                                         {"Protocol", data_field::protocol},
                                         {"SourceIp", data_field::src_ip},
                                         {"DestinationIp", data_field::dst_ip},
                                         {"DestinationPort", data_field::dst_port}});

class sysmon_linux_parser final : public format_parser {
 public:
  void parse(std::string_view unit, const parse_context& /*ctx*/, parse_sink& sink) override {
    const std::size_t at = xml::find_event_element(unit);
    if (at == std::string_view::npos) {
      sink.rejected("no_event_xml");
      return;
    }
    sysmon_fields f;
    const char* err = xml::walk_event(
        unit.substr(at),
        [&f](xml::scanner& sc) {
          const std::string_view name = sc.name();
          if (name == "Provider") {
            f.have_provider = sc.attribute("Name", f.provider);
          } else if (name == "EventID") {
            if (!sc.text(f.event_id)) return false;
            f.have_event_id = true;
            // Only Event ID 3 is a session: stop before reading the rest of the event.
            std::int64_t id = 0;
            if (!json::parse_int64(text::trim(f.event_id), id)) {
              f.reject = "bad_event_id";
              return false;
            }
            if (!f.have_provider || f.provider != provider_name) {
              f.reject = "not_linux_sysmon";
              return false;
            }
            if (id != 3) {
              f.skip = true;
              return false;
            }
          } else if (name == "TimeCreated") {
            f.have_system_time = sc.attribute("SystemTime", f.system_time);
          } else if (name == "Computer") {
            if (!sc.text(f.computer)) return false;
            f.have_computer = true;
          }
          return true;
        },
        [&f](std::string_view name, std::string_view value) {
          switch (data_fields.find(name)) {
            case data_field::utc_time:
              set_once(value, f.utc_time, f.have_utc_time, f.reject);
              break;
            case data_field::protocol:
              set_once(value, f.protocol, f.have_protocol, f.reject);
              break;
            case data_field::src_ip:
              set_once(value, f.src_ip, f.have_src_ip, f.reject);
              break;
            case data_field::dst_ip:
              set_once(value, f.dst_ip, f.have_dst_ip, f.reject);
              break;
            case data_field::dst_port:
              set_once(value, f.dst_port, f.have_dst_port, f.reject);
              break;
            case data_field::other:
              break;
          }
          return f.reject == nullptr;
        });
    if (f.skip) {
      sink.skipped("not_network_connection");
      return;
    }
    if (f.reject != nullptr) {
      sink.rejected(f.reject);
      return;
    }
    if (err != nullptr) {
      sink.rejected(err);
      return;
    }
    if (!f.have_event_id) {
      sink.rejected("missing_event_id");
      return;
    }
    emit(f, sink);
  }

 private:
  void emit(const sysmon_fields& f, parse_sink& sink) {
    network_session s;
    if (!f.have_src_ip || f.src_ip.empty()) {
      sink.rejected("missing_src_ip");
      return;
    }
    auto v = xml::decode(f.src_ip, scratch_);
    auto ip = v ? ip_address::parse(*v) : std::nullopt;
    if (!ip) {
      sink.rejected("bad_src_ip");
      return;
    }
    s.src = *ip;
    if (f.have_dst_ip && !f.dst_ip.empty()) {
      v = xml::decode(f.dst_ip, scratch_);
      ip = v ? ip_address::parse(*v) : std::nullopt;
      if (!ip) {
        sink.rejected("bad_dst_ip");
        return;
      }
      s.dst = *ip;
      s.has_dst = true;
    }
    if (f.have_protocol) {
      v = xml::decode(f.protocol, scratch_);
      if (!v) {
        sink.rejected("bad_xml_entity");
        return;
      }
      s.protocol = protocol_from_name(*v);
    }
    if (f.have_dst_port && !f.dst_port.empty()) {
      v = xml::decode(f.dst_port, scratch_);
      if (!v || !parse_port(*v, s.dst_port)) {
        sink.rejected("bad_dst_port");
        return;
      }
    }
    // UtcTime is the event's own time (UTC, milliseconds); TimeCreated is when Sysmon wrote
    // the record. The syslog header's time is local and has no year: the last resort.
    const std::string_view time_raw = f.have_utc_time      ? f.utc_time
                                      : f.have_system_time ? f.system_time
                                                           : std::string_view{};
    if (f.have_utc_time || f.have_system_time) {
      v = xml::decode(time_raw, scratch_);
      auto t = v ? parse_iso8601(*v) : std::nullopt;
      if (!t) {
        sink.rejected("bad_time");
        return;
      }
      s.time = *t;
      s.has_time = true;
    }
    if (f.have_computer && !f.computer.empty()) {
      v = xml::decode(f.computer, scratch_);
      if (!v) {
        sink.rejected("bad_xml_entity");
        return;
      }
      s.device = labels_.get(*v);
    }
    s.reported_by = labels_.reported_by("Microsoft", "Sysmon for Linux");
    sink.record(s);
  }

  std::string scratch_;
  label_cache labels_;
};

bool probe_sysmon_linux(std::string_view head) noexcept {
  const std::size_t at = xml::find_event_element(head);
  return at != std::string_view::npos && head.find(provider_name, at) != std::string_view::npos;
}

}  // namespace

format_entry sysmon_linux_format() {
  return {"sysmon-linux",
          "Sysmon for Linux events (XML in syslog); Event ID 3 NetworkConnect is a session",
          [] { return std::make_unique<sysmon_linux_parser>(); }, probe_sysmon_linux};
}

}  // namespace portscand
