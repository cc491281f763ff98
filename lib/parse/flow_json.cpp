#include "parse/flow_json.hpp"

#include <array>

#include "event/network_session.hpp"
#include "parse/json_records.hpp"
#include "parse/probe_util.hpp"
#include "parse/tcp_flags.hpp"

namespace portscand {
namespace {

using simdjson::ondemand::object;
using simdjson::ondemand::value;

// No ASIM parser exists for either collector: the labels name the collector projects.
constexpr std::string_view pmacct_vendor = "pmacct";
constexpr std::string_view pmacct_product = "pmacct";
constexpr std::string_view goflow_vendor = "netsampler";
constexpr std::string_view goflow_product = "goflow2";

int b64(char c) noexcept {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

// goflow2 in protobuf-JSON mode (and some v1 builds) writes address fields as base64 of the
// raw 4 or 16 bytes ("fwAAAQ==" = 127.0.0.1). Base64 text always ends in "=" for those
// lengths, which no address text contains, so the two forms cannot be confused.
std::optional<ip_address> decode_base64_ip(std::string_view t) noexcept {
  std::size_t bytes = 0;
  if (t.size() == 8 && t.substr(6) == "==")
    bytes = 4;
  else if (t.size() == 24 && t.substr(22) == "==")
    bytes = 16;
  else
    return std::nullopt;
  std::array<std::uint8_t, 18> out{};
  std::size_t n = 0;
  std::uint32_t acc = 0;
  int bits = 0;
  for (std::size_t i = 0; i + 2 < t.size(); ++i) {
    const int d = b64(t[i]);
    if (d < 0) return std::nullopt;
    acc = (acc << 6) | static_cast<std::uint32_t>(d);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[n++] = static_cast<std::uint8_t>((acc >> bits) & 0xff);
    }
  }
  if (n != bytes) return std::nullopt;
  if (bytes == 4)
    return ip_address::from_v4((std::uint32_t{out[0]} << 24) | (std::uint32_t{out[1]} << 16) |
                               (std::uint32_t{out[2]} << 8) | out[3]);
  std::array<std::uint8_t, 16> v6{};
  std::copy(out.begin(), out.begin() + 16, v6.begin());
  return ip_address::from_v6(v6);
}

// Address as text or base64. Returns false for a value that is there but unreadable.
bool read_flow_ip(value v, ip_address& out, bool& present) noexcept {
  std::string_view text;
  const auto st = json::as_text(v, text);
  present = false;
  if (st == json::field_status::absent || (st == json::field_status::ok && text.empty()))
    return true;
  if (st != json::field_status::ok) return false;
  auto ip = ip_address::parse(text);
  if (!ip) ip = decode_base64_ip(text);
  if (!ip) return false;
  out = *ip;
  present = true;
  return true;
}

// Collectors write 0 (or pmacct "0000-00-00 00:00:00") for a time the exporter did not send.
bool is_zero_time(std::string_view t) noexcept {
  for (char c : t)
    if (c >= '1' && c <= '9') return false;
  return true;
}

enum class flavor : std::uint8_t { unknown, pmacct, goflow };

class flow_json_parser final : public json::record_parser {
 public:
  flow_json_parser() : record_parser(true) {}

 protected:
  bool on_object(object obj, const parse_context& ctx, parse_sink& sink) override {
    network_session s;
    flavor kind = flavor::unknown;
    std::string_view event_type, proto, exporter_text;
    // Times by preference: the flow's start (rank 3 = ns, 2 = ms, 1 = s or text), else when
    // the collector received it.
    std::string_view start, received;
    int start_rank = 0, received_rank = 0;
    bool has_event_type = false, has_src = false, has_exporter_ip = false;
    ip_address exporter_ip;
    std::int64_t forwarding_status = -1;
    std::int64_t tcp_flags = -1;
    const char* reject = nullptr;
    // The probe's keys (parse_sink::claim): pmacct's ip_src, peer_ip_src or writer_id;
    // goflow2's SamplerAddress, TimeFlowStart*, SrcAddr with DstAddr, or v2's snake_case ones.
    bool signature = false, src_addr_key = false, dst_addr_key = false;
    auto time_candidate = [](value v, std::string_view& slot, int& slot_rank, int rank) {
      std::string_view text;
      if (rank > slot_rank && json::as_text(v, text) == json::field_status::ok &&
          !is_zero_time(text)) {
        slot = text;
        slot_rank = rank;
      }
    };
    for (auto field : obj) {
      std::string_view key;
      value* const v_at = json::field_value(field, key, sink);
      if (v_at == nullptr) return false;
      value& v = *v_at;
      if (!signature) {
        src_addr_key = src_addr_key || key == "SrcAddr";
        dst_addr_key = dst_addr_key || key == "DstAddr";
        signature = key == "ip_src" || key == "peer_ip_src" || key == "writer_id" ||
                    key == "SamplerAddress" || key.starts_with("TimeFlowStart") ||
                    (src_addr_key && dst_addr_key) || key == "sampler_address" ||
                    key == "time_flow_start_ns" || key == "time_received_ns";
      }
      if (reject != nullptr) continue;
      std::string_view text;
      // pmacct
      if (key == "ip_src") {
        kind = flavor::pmacct;
        if (!read_flow_ip(v, s.src, has_src)) reject = "bad_src_ip";
      } else if (key == "ip_dst") {
        bool present = false;
        // The rule does not use the destination: an unreadable one leaves it unset.
        if (read_flow_ip(v, s.dst, present)) s.has_dst = present;
      } else if (key == "port_dst") {
        const auto st = json::as_port(v, s.dst_port);
        if (st == json::field_status::invalid)
          reject = "bad_dst_port";
        else if (st == json::field_status::absent)
          s.dst_port = network_session::no_port;
      } else if (key == "ip_proto") {
        if (json::as_text(v, text) == json::field_status::ok) proto = text;
      } else if (key == "event_type") {
        kind = flavor::pmacct;
        has_event_type = json::as_text(v, event_type) == json::field_status::ok;
      } else if (key == "peer_ip_src") {
        kind = flavor::pmacct;
        if (json::as_text(v, text) == json::field_status::ok) exporter_text = text;
      } else if (key == "timestamp_start") {
        time_candidate(v, start, start_rank, 1);
      } else if (key == "timestamp_arrival") {
        time_candidate(v, received, received_rank, 1);
        // goflow2 v1 (CamelCase)
      } else if (key == "SrcAddr" || key == "src_addr") {
        kind = flavor::goflow;
        if (!read_flow_ip(v, s.src, has_src)) reject = "bad_src_ip";
      } else if (key == "DstAddr" || key == "dst_addr") {
        bool present = false;
        if (read_flow_ip(v, s.dst, present)) s.has_dst = present;
      } else if (key == "DstPort" || key == "dst_port") {
        const auto st = json::as_port(v, s.dst_port);
        if (st == json::field_status::invalid)
          reject = "bad_dst_port";
        else if (st == json::field_status::absent)
          s.dst_port = network_session::no_port;
      } else if (key == "Proto" || key == "proto") {
        if (json::as_text(v, text) == json::field_status::ok) proto = text;
      } else if (key == "SamplerAddress" || key == "sampler_address") {
        kind = flavor::goflow;
        bool present = false;
        if (read_flow_ip(v, exporter_ip, present)) has_exporter_ip = present;
      } else if (key == "TimeFlowStartNs" || key == "time_flow_start_ns") {
        time_candidate(v, start, start_rank, 3);
      } else if (key == "TimeFlowStartMs") {
        time_candidate(v, start, start_rank, 2);
      } else if (key == "TimeFlowStart") {
        time_candidate(v, start, start_rank, 1);
      } else if (key == "TimeReceivedNs" || key == "time_received_ns") {
        time_candidate(v, received, received_rank, 3);
      } else if (key == "TimeReceived") {
        time_candidate(v, received, received_rank, 1);
      } else if (key == "tcp_flags" || key == "TCPFlags") {
        // pmacct (text or number), goflow2 v2 / v1: the OR of the flow's TCP flags.
        std::int64_t n = 0;
        if (json::as_int64(v, n) == json::field_status::ok) tcp_flags = n;
      } else if (key == "ForwardingStatus" || key == "forwarding_status") {
        std::int64_t n = 0;
        if (json::as_int64(v, n) == json::field_status::ok) forwarding_status = n;
      }
    }
    if (signature) sink.claim();
    // pmacct writes BGP/BMP/telemetry messages and purge_init/purge_close markers to the
    // same kind of topic: only "purge" (and an event_type-less print record) is a flow.
    if (kind == flavor::pmacct && has_event_type && event_type != "purge") {
      sink.skipped("not_flow_record");
      return true;
    }
    if (reject != nullptr) {
      sink.rejected(reject);
      return true;
    }
    if (!has_src) {
      sink.rejected("missing_src_ip");
      return true;
    }
    s.protocol = protocol_from_name(proto);
    const std::string_view when = start_rank > 0 ? start : received;
    if (!when.empty()) {
      auto t = json::time_from_text(when, ctx.zone);
      if (!t) {
        sink.rejected("bad_time");
        return true;
      }
      s.time = *t;
      s.has_time = true;
    }
    if (s.protocol == 6 && tcp_flags >= 0 && tcp_flags <= 0xffff)
      s.side = side_from_ored_tcp_flags(static_cast<std::uint32_t>(tcp_flags));
    // IPFIX forwardingStatus (RFC 7270): the two high bits say forwarded / dropped.
    if (forwarding_status >= 0 && forwarding_status <= 255) {
      const auto status = forwarding_status >> 6;
      if (status == 1)
        s.action = dvc_action::allow;
      else if (status == 2)
        s.action = dvc_action::drop;
    }
    if (kind == flavor::pmacct) {
      s.reported_by = labels_.reported_by(pmacct_vendor, pmacct_product);
    } else {
      s.reported_by = labels_.reported_by(goflow_vendor, goflow_product);
    }
    // The exporter (router/switch that sent the NetFlow) is the device.
    if (has_exporter_ip) {
      std::array<char, 48> buf{};
      const std::size_t n = exporter_ip.format(buf.data());
      s.device = labels_.get(std::string_view(buf.data(), n));
    } else if (!exporter_text.empty()) {
      s.device = labels_.get(exporter_text);
    }
    sink.record(s);
    return true;
  }

 private:
  label_cache labels_;
};

bool probe_flow_json(std::string_view head) noexcept {
  if (!probe_json_start(head)) return false;
  auto has = [head](std::string_view s) { return probe_has(head, s); };
  return has("\"ip_src\"") || has("\"peer_ip_src\"") || has("\"writer_id\"") ||  // pmacct
         has("\"SamplerAddress\"") || has("\"TimeFlowStart") ||                  // goflow2 v1
         (has("\"SrcAddr\"") && has("\"DstAddr\"")) ||                           // goflow2 v1
         has("\"sampler_address\"") || has("\"time_flow_start_ns\"") ||          // goflow2 v2
         has("\"time_received_ns\"");
}

}  // namespace

format_entry flow_json_format() {
  format_entry e{"flow-json", "NetFlow/IPFIX/sFlow collector JSON (pmacct, goflow2)",
                 [] { return std::make_unique<flow_json_parser>(); }, probe_flow_json};
  e.claims = true;
  return e;
}

}  // namespace portscand
