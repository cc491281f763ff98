#include "parse/normalize.hpp"

#include <gtest/gtest.h>

#include "core/time.hpp"
#include "parse_test_util.hpp"

namespace portscand::test {
namespace {

constexpr timestamp_us t_record = 1'700'000'000'000'000;
constexpr timestamp_us t_header = t_record + 5 * us_per_second;
constexpr timestamp_us t_receive = t_record + 60 * us_per_second;

network_session tcp_record(bool with_time) {
  network_session r;
  r.src = *ip_address::parse("203.0.113.9");
  r.dst = *ip_address::parse("198.51.100.1");
  r.has_dst = true;
  r.dst_port = 443;
  r.protocol = 6;
  if (with_time) {
    r.time = t_record;
    r.has_time = true;
  }
  return r;
}

record_origin origin(event_time_source source = event_time_source::record) {
  record_origin o;
  o.header_time = t_header;
  o.receive_time = t_receive;
  o.time_source = source;
  return o;
}

// Rule 1, event time: the record's own, else the header's (or envelope's), else the
// receive time; `event_time: receive` always takes the receive time.
TEST(Normalize, TheRecordsOwnTimeWins) {
  network_session r = tcp_record(true);
  normalize(r, origin());
  EXPECT_EQ(r.time, t_record);
  EXPECT_EQ(r.time_from(), time_origin::record);
}

TEST(Normalize, ARecordWithoutATimeTakesTheHeadersThenTheReceiveTime) {
  network_session r = tcp_record(false);
  normalize(r, origin());
  EXPECT_TRUE(r.has_time);
  EXPECT_EQ(r.time, t_header);
  EXPECT_EQ(r.time_from(), time_origin::header);

  network_session bare = tcp_record(false);
  record_origin o = origin();
  o.header_time = 0;
  normalize(bare, o);
  EXPECT_EQ(bare.time, t_receive);
  EXPECT_EQ(bare.time_from(), time_origin::receive);
}

TEST(Normalize, EventTimeReceiveTakesTheReceiveTimeOverTheRecordsAndTheHeaders) {
  network_session r = tcp_record(true);
  normalize(r, origin(event_time_source::receive));
  EXPECT_EQ(r.time, t_receive);
  EXPECT_EQ(r.time_from(), time_origin::receive);
}

TEST(Normalize, WithoutAnyTimeKnownTheRecordStaysWithoutOne) {
  network_session r = tcp_record(false);
  normalize(r, record_origin{});
  EXPECT_FALSE(r.has_time);
}

// Rule 2, device: the record's own name, else the header's host.
TEST(Normalize, TheHostNamesTheDeviceOnlyWhenTheRecordDoesNot) {
  const label_id host = label_table::global().intern("relay-1");
  const label_id own = label_table::global().intern("fw-1");
  record_origin o = origin();
  o.host = host;
  network_session without = tcp_record(true);
  normalize(without, o);
  EXPECT_EQ(without.device, host);
  network_session with = tcp_record(true);
  with.device = own;
  normalize(with, o);
  EXPECT_EQ(with.device, own);
}

// Rule 3, ports: by protocol in default mode, as the record says in sentinel mode.
TEST(Normalize, PortsOfProtocolsWithoutPortsDoNotCountInDefaultMode) {
  // ICMP, IPv6-ICMP, GRE, ESP
  for (const std::uint16_t proto : std::initializer_list<std::uint16_t>{1, 58, 47, 50}) {
    SCOPED_TRACE(proto);
    network_session r = tcp_record(true);
    r.protocol = proto;
    r.dst_port = 0;
    normalize(r, origin());
    EXPECT_FALSE(r.has_port());
    EXPECT_TRUE(r.port_not_counted());
  }
}

TEST(Normalize, PortsOfTransportProtocolsAndOfUnknownProtocolsCount) {
  for (const std::uint16_t proto :
       std::initializer_list<std::uint16_t>{6, 17, 33, 132, 136, network_session::no_protocol}) {
    SCOPED_TRACE(proto);
    network_session r = tcp_record(true);
    r.protocol = proto;
    normalize(r, origin());
    EXPECT_EQ(r.dst_port, 443);
    EXPECT_FALSE(r.port_not_counted());
  }
}

TEST(Normalize, SentinelModeKeepsThePortAsTheRecordCarriesIt) {
  network_session r = tcp_record(true);
  r.protocol = 1;
  r.dst_port = 0;
  record_origin o = origin();
  o.mode = detection_mode::sentinel;
  normalize(r, o);
  EXPECT_EQ(r.dst_port, 0);
  EXPECT_FALSE(r.port_not_counted());
}

// The same rule for every format, through the decoder: the formats only extract. Each
// case is an ICMP record whose vendor writes a number where a port would be.
struct icmp_case {
  const char* format;
  const char* unit;
  std::int32_t vendor_port;  // what ASIM's parser maps to DstPortNumber
};

const icmp_case icmp_cases[] = {
    {"asim",
     R"({"TimeGenerated":"2026-01-15T10:00:00Z","SrcIpAddr":"203.0.113.9","DstIpAddr":"198.51.100.1","DstPortNumber":0,"NetworkProtocol":"ICMP"})",
     0},
    // Zeek puts the ICMP code in id.resp_p (the training capture's line 4: type 3, code 3).
    {"zeek-conn",
     R"({"ts":1551399000.57855,"uid":"Cc6NJ3GRlfjE44I3h","id.orig_h":"192.168.2.205","id.orig_p":3,"id.resp_h":"89.160.20.156","id.resp_p":3,"proto":"icmp","conn_state":"OTH"})",
     3},
    // AWS writes 0 in an ICMP row's port columns (v2 default order).
    {"aws-vpc",
     "2 123456789012 eni-0a1b2c3d 203.0.113.9 198.51.100.1 0 0 1 1 84 1700000000 1700000060 REJECT "
     "OK",
     0},
    // PAN-OS writes port 0 for an ICMP session (the PAN-OS fixture's line 2, a ping).
    {"panos",
     "Nov 30 16:09:10 PA-220 1,2018/11/30 16:09:09,012801096514,TRAFFIC,end,2049,2018/11/30 "
     "16:09:09,192.168.15.224,175.16.199.1,192.168.1.63,175.16.199.1,new_outbound_from_trust,,,"
     "ping,vsys1,trust,untrust,ethernet1/2,ethernet1/1,send_to_mac,2018/11/30 "
     "16:09:09,24223,6,0,0,0,0,0x500019,icmp,allow,1176,588,588,12,2018/11/30 "
     "16:08:55,0,any,0,32091113,0x0,192.168.0.0-192.168.255.255,United "
     "States,0,6,6,aged-out,0,0,0,0,,PA-220,from-policy,,,0,,0,,N/A,0,0,0,0",
     0},
};

TEST(Normalize, EveryFormatsIcmpPortIsDroppedInDefaultModeAndKeptInSentinelMode) {
  for (const auto& c : icmp_cases) {
    SCOPED_TRACE(c.format);
    const collecting_sink standard = parse_with(c.format, c.unit);
    ASSERT_EQ(standard.records.size(), 1u);
    EXPECT_FALSE(standard.records[0].has_port());
    EXPECT_TRUE(standard.records[0].port_not_counted());

    parse_context ctx;
    ctx.mode = detection_mode::sentinel;
    const collecting_sink sentinel = parse_with(c.format, c.unit, ctx);
    ASSERT_EQ(sentinel.records.size(), 1u);
    EXPECT_EQ(sentinel.records[0].dst_port, c.vendor_port);
  }
}

// A JSON record in a shipper's envelope: the envelope's host is the device when the record
// names none (as the syslog host is for a line).
TEST(Normalize, AnEnvelopesHostIsTheDeviceOfARecordThatNamesNone) {
  const std::string unit =
      R"({"@timestamp":"2026-01-15T10:00:05Z","host":{"name":"collector-7"},"message":"{\"TimeGenerated\":\"2026-01-15T10:00:00Z\",\"SrcIpAddr\":\"203.0.113.9\",\"DstIpAddr\":\"198.51.100.1\",\"DstPortNumber\":22,\"NetworkProtocol\":\"TCP\"}"})";
  const collecting_sink s = parse_with("auto", unit);
  ASSERT_EQ(s.records.size(), 1u);
  EXPECT_EQ(label(s.records[0].device), "collector-7");
  EXPECT_EQ(s.records[0].time_from(), time_origin::record);
}

// iptables lines have no time of their own: the syslog header's is theirs, and says so.
TEST(Normalize, ALineWithoutItsOwnTimeTakesTheHeadersAndSaysSo) {
  parse_context ctx;
  ctx.receive_time = t_receive;
  const collecting_sink s = parse_with(
      "iptables",
      "<4>Jan 15 10:00:00 gw kernel: [UFW BLOCK] IN=eth0 OUT= SRC=203.0.113.9 DST=198.51.100.1 "
      "PROTO=TCP SPT=40000 DPT=22",
      ctx);
  ASSERT_EQ(s.records.size(), 1u);
  EXPECT_EQ(s.records[0].time_from(), time_origin::header);
  EXPECT_EQ(label(s.records[0].device), "gw");
}

}  // namespace
}  // namespace portscand::test
