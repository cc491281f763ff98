#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "../test_names.hpp"
#include "parse_test_util.hpp"

namespace portscand::test {
namespace {

// Parses the lines of one input in order with ONE parser instance (as an input does), so a
// header line sets the layout of the lines after it. Returns one sink per line.
std::vector<collecting_sink> parse_lines(const std::vector<std::string>& lines,
                                         std::string_view format = "aws-vpc") {
  unit_decoder decoder(builtin_formats(), format);
  std::vector<collecting_sink> out;
  for (const auto& l : lines) {
    collecting_sink s;
    decoder.decode(l, parse_context{}, s);
    out.push_back(std::move(s));
  }
  return out;
}

bool same_record(const network_session& a, const network_session& b) {
  return a.time == b.time && a.has_time == b.has_time && a.src == b.src && a.dst == b.dst &&
         a.has_dst == b.has_dst && a.dst_port == b.dst_port && a.protocol == b.protocol &&
         a.action == b.action && a.side == b.side && a.reported_by == b.reported_by &&
         a.device == b.device;
}

std::string iso_from_ecs(const std::string& ecs) {  // "2016-10-31T11:35:08.000Z" -> ours
  return format_iso8601(*parse_iso8601(ecs));
}

// Walks a sample file and Elastic's expected ECS documents side by side: each data line
// (header lines have no expected document) must give what Elastic's pipeline extracted.
void check_against_expected(const std::string& log) {
  const auto lines = fixture_lines("aws-vpc/" + log);
  const auto expected =
      nlohmann::json::parse(fixture_text("aws-vpc/" + log + "-expected.json"))["expected"];
  const auto results = parse_lines(lines);
  std::size_t e = 0;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    SCOPED_TRACE(log + " line " + std::to_string(i + 1));
    const auto& r = results[i];
    EXPECT_TRUE(r.rejects.empty());
    if (lines[i].starts_with("version ")) {
      EXPECT_EQ(r.skips, std::vector<std::string>{"header"});
      continue;
    }
    ASSERT_LT(e, expected.size());
    const auto& x = expected[e++];
    EXPECT_EQ(x["event"]["original"], lines[i]);
    const auto& vpc = x["aws"]["vpcflow"];
    if (!x.contains("source")) {
      // NODATA / SKIPDATA: no addresses; ASIM keeps only LogStatus OK.
      std::string status = vpc["log_status"];
      for (auto& c : status) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      EXPECT_TRUE(r.records.empty());
      EXPECT_EQ(r.skips, std::vector<std::string>{status});
      continue;
    }
    ASSERT_EQ(r.records.size(), 1u);
    const auto& s = r.records[0];
    EXPECT_EQ(ip(s.src), x["source"]["ip"].get<std::string>());
    ASSERT_TRUE(s.has_dst);
    EXPECT_EQ(ip(s.dst), x["destination"]["ip"].get<std::string>());
    const int proto = std::stoi(x["network"]["iana_number"].get<std::string>());
    EXPECT_EQ(s.protocol, proto);
    if (proto == 1) {
      // Elastic keeps the 0 AWS writes in ICMP rows' port columns; it is a placeholder,
      // not a probed port, so the record carries no port.
      EXPECT_EQ(x["destination"]["port"], 0);
      EXPECT_FALSE(s.has_port());
    } else {
      EXPECT_EQ(s.dst_port, x["destination"]["port"].get<int>());
    }
    // Our time is `start` (Elastic's event.start; its @timestamp is `end`).
    ASSERT_TRUE(s.has_time);
    EXPECT_EQ(format_iso8601(s.time), iso_from_ecs(x["event"]["start"]));
    EXPECT_EQ(s.action, vpc["action"] == "ACCEPT" ? dvc_action::allow : dvc_action::deny);
    EXPECT_EQ(label(s.reported_by), "AWS/VPC");
  }
  EXPECT_EQ(e, expected.size());
}

TEST(AwsVpc, DefaultV2LinesMatchElasticsExpectedOutput) {
  check_against_expected("test-extra-samples.log");
}

TEST(AwsVpc, CustomV3LinesAfterTheirHeaderMatchElasticsExpectedOutput) {
  check_against_expected("test-tcp-flag-sequence.log");
}

TEST(AwsVpc, AV5LineWithoutHeaderIsReadByItsV2Prefix) {
  check_against_expected("test-v5-all-fields.log");
}

TEST(AwsVpc, TheV5SamplesTruncatedStartIsKeptAsIs) {
  // `start` is 164000066 upstream (a data error): 1975-03-14, as Elastic's event.start says.
  auto s = parse_with("aws-vpc", fixture_lines("aws-vpc/test-v5-all-fields.log").at(0));
  ASSERT_EQ(s.records.size(), 1u);
  EXPECT_EQ(format_iso8601(s.records[0].time), "1975-03-14T03:34:26Z");
}

TEST(AwsVpc, AV5LineKeepsSrcaddrAsTheSourceNotThePacketSource) {
  // pkt-dstaddr 10.200.0.80 differs from dstaddr 10.200.0.0: ASIM maps pkt-* to NAT fields.
  auto s = parse_with("aws-vpc", fixture_lines("aws-vpc/test-v5-all-fields.log").at(0));
  ASSERT_EQ(s.records.size(), 1u);
  EXPECT_EQ(ip(s.records[0].src), "89.160.20.156");
  EXPECT_EQ(ip(s.records[0].dst), "10.200.0.0");
  EXPECT_EQ(s.records[0].dst_port, 33004);
  EXPECT_EQ(s.records[0].protocol, 17);
  EXPECT_EQ(s.records[0].action, dvc_action::deny);
}

TEST(AwsVpc, AHeaderReordersTheFieldsOfTheLinesAfterIt) {
  auto r = parse_lines({"srcaddr dstaddr dstport protocol action start log-status vpc-id",
                        "203.0.113.7 10.0.0.5 8443 6 REJECT 1700000000 OK vpc-0abc",
                        "203.0.113.8 10.0.0.5 - 17 ACCEPT - OK -"});
  EXPECT_EQ(r[0].skips, std::vector<std::string>{"header"});
  ASSERT_EQ(r[1].records.size(), 1u);
  const auto& a = r[1].records[0];
  EXPECT_EQ(ip(a.src), "203.0.113.7");
  EXPECT_EQ(a.dst_port, 8443);
  EXPECT_EQ(a.protocol, 6);
  EXPECT_EQ(a.action, dvc_action::deny);
  EXPECT_EQ(format_iso8601(a.time), "2023-11-14T22:13:20Z");
  EXPECT_EQ(label(a.device), "vpc-0abc");
  ASSERT_EQ(r[2].records.size(), 1u);
  const auto& b = r[2].records[0];
  EXPECT_FALSE(b.has_port());
  EXPECT_FALSE(b.has_time);
  EXPECT_EQ(b.device, label_table::empty_id);
}

TEST(AwsVpc, UnderscoreFieldNamesInAHeaderAreAccepted) {
  auto r = parse_lines({"version vpc_id srcaddr dstaddr srcport dstport protocol log_status",
                        "3 vpc-1 198.51.100.4 10.0.0.1 40000 25 6 OK"});
  ASSERT_EQ(r[1].records.size(), 1u);
  EXPECT_EQ(r[1].records[0].dst_port, 25);
  EXPECT_EQ(label(r[1].records[0].device), "vpc-1");
}

TEST(AwsVpc, ALineWhoseFieldCountDiffersFromItsHeaderIsRejected) {
  auto r = parse_lines({"version srcaddr dstaddr dstport", "2 1.2.3.4 5.6.7.8 80 extra"});
  EXPECT_EQ(r[1].rejects, std::vector<std::string>{"field_count_mismatch"});
}

TEST(AwsVpc, WithoutAHeaderALineNotStartingWithAVersionIsAnUnknownLayout) {
  auto s = parse_with("aws-vpc",
                      "vpc-1 subnet-1 i-1 eni-1 123456789010 IPv4 1.2.3.4 5.6.7.8 1 2 3 4 5 6");
  EXPECT_EQ(s.rejects, std::vector<std::string>{"unknown_layout"});
}

TEST(AwsVpc, ExtraSpacesBetweenFieldsDoNotShiftColumns) {
  auto s = parse_with(
      "aws-vpc",
      "2  123456789010 eni-1\t203.0.113.9 10.0.0.7 5555 23 6 1 40 1700000000 1700000060 REJECT OK");
  ASSERT_EQ(s.records.size(), 1u);
  EXPECT_EQ(s.records[0].dst_port, 23);
}

TEST(AwsVpc, IcmpV6RowsCarryNoPort) {
  auto s = parse_with(
      "aws-vpc", "2 1 eni-1 2001:db8::1 2001:db8::2 0 0 58 1 64 1700000000 1700000060 ACCEPT OK");
  ASSERT_EQ(s.records.size(), 1u);
  EXPECT_FALSE(s.records[0].has_port());
  EXPECT_EQ(s.records[0].protocol, 58);
}

TEST(AwsVpc, TheSyslogHostNamesTheDeviceWhenThereIsNoVpcId) {
  parse_context ctx;
  ctx.host = "collector-1";
  auto s = parse_with(
      "aws-vpc", "2 1 eni-1 203.0.113.9 10.0.0.7 5555 23 6 1 40 1700000000 1700000060 REJECT OK",
      ctx);
  ASSERT_EQ(s.records.size(), 1u);
  EXPECT_EQ(label(s.records[0].device), "collector-1");
}

struct malformed_case {
  const char* why;
  std::string input;
  const char* reason;
};

class AwsVpcMalformed : public ::testing::TestWithParam<malformed_case> {};

TEST_P(AwsVpcMalformed, IsRejectedWithItsReasonAndNeverYieldsARecord) {
  const auto& c = GetParam();
  auto s = parse_with("aws-vpc", c.input);
  EXPECT_TRUE(s.records.empty()) << c.why;
  ASSERT_EQ(s.rejects.size(), 1u) << c.why;
  EXPECT_EQ(s.rejects[0], c.reason) << c.why;
}

const std::string ok_tail = " 1 40 1700000000 1700000060 ACCEPT OK";

INSTANTIATE_TEST_SUITE_P(
    Cases, AwsVpcMalformed,
    ::testing::Values(
        malformed_case{"too few fields", "2 1 eni-1 1.2.3.4 5.6.7.8 1 2 6", "too_few_fields"},
        malformed_case{"source is not an address", "2 1 eni-1 1.2.3.999 5.6.7.8 1 22 6" + ok_tail,
                       "bad_src_ip"},
        malformed_case{"source is missing on an OK row", "2 1 eni-1 - 5.6.7.8 1 22 6" + ok_tail,
                       "missing_src_ip"},
        malformed_case{"port is too large", "2 1 eni-1 1.2.3.4 5.6.7.8 1 65536 6" + ok_tail,
                       "bad_dst_port"},
        malformed_case{"port is negative", "2 1 eni-1 1.2.3.4 5.6.7.8 1 -1 6" + ok_tail,
                       "bad_dst_port"},
        malformed_case{"port is not a number", "2 1 eni-1 1.2.3.4 5.6.7.8 1 http 6" + ok_tail,
                       "bad_dst_port"},
        malformed_case{"protocol is a name", "2 1 eni-1 1.2.3.4 5.6.7.8 1 22 tcp" + ok_tail,
                       "bad_protocol"},
        malformed_case{"protocol is above 255", "2 1 eni-1 1.2.3.4 5.6.7.8 1 22 256" + ok_tail,
                       "bad_protocol"},
        malformed_case{"start is not a number",
                       "2 1 eni-1 1.2.3.4 5.6.7.8 1 22 6 1 40 soon 1700000060 ACCEPT OK",
                       "bad_time"},
        malformed_case{"start overflows",
                       "2 1 eni-1 1.2.3.4 5.6.7.8 1 22 6 1 40 99999999999999999 1 ACCEPT OK",
                       "bad_time"},
        malformed_case{"log status is unknown",
                       "2 1 eni-1 1.2.3.4 5.6.7.8 1 22 6 1 40 1700000000 1700000060 ACCEPT MAYBE",
                       "bad_log_status"},
        malformed_case{
            "a JSON object",
            R"({"srcaddr":"1.2.3.4","a":1,"b":2,"c":3,"d":4,"e":5,"f":6,"g":7,"h":8,"i":9,"j":10,"k":11,"l":12,"m":13})",
            "too_few_fields"},
        malformed_case{"more than 64 fields",
                       "2" +
                           [] {
                             std::string s;
                             for (int i = 0; i < 70; ++i) s += " x";
                             return s;
                           }(),
                       "too_many_fields"}),
    why_name{});

TEST(AwsVpc, TheProbeRecognisesEverySampleLineAndHeader) {
  const auto& formats = builtin_formats();
  for (const char* f :
       {"test-extra-samples.log", "test-tcp-flag-sequence.log", "test-v5-all-fields.log"})
    for (const auto& l : fixture_lines(std::string("aws-vpc/") + f)) {
      const format_entry* e = formats.detect(l);
      ASSERT_NE(e, nullptr) << l;
      EXPECT_EQ(e->name, "aws-vpc") << l;
    }
}

TEST(AwsVpc, TheProbeDoesNotClaimOtherFormatsUnits) {
  const auto* e = builtin_formats().find("aws-vpc");
  ASSERT_NE(e, nullptr);
  for (const std::string& unit :
       {fixture_lines("asim/sample.jsonl").at(0), fixture_lines("azure-nsg/test-nsg.log").at(0),
        fixture_lines("mde/test-device.DeviceNetworkEvents-subset.log").at(0),
        std::string("1 1380653443.857790 MX84 flows allow src=10.0.0.1 dst=8.8.8.8 protocol=udp "
                    "sport=1 dport=53"),
        std::string(
            "CEF:0|Check Point|VPN-1 & FireWall-1|R81|Accept|Accept|3|src=1.2.3.4 dst=5.6.7.8"),
        std::string("1331901000.000000\tCHEbvX3\t192.168.202.79\t50465\t192.168.229.251\t80\ttcp"),
        std::string("2 of the rules ACCEPT nothing"), std::string("hello world")})
    EXPECT_FALSE(e->probe(unit.substr(0, probe_window))) << unit;
}

TEST(AwsVpc, AutoDetectionYieldsTheSameRecordsAsTheFixedFormat) {
  for (const char* f :
       {"test-extra-samples.log", "test-tcp-flag-sequence.log", "test-v5-all-fields.log"}) {
    const auto lines = fixture_lines(std::string("aws-vpc/") + f);
    const auto fixed = parse_lines(lines);
    const auto detected = parse_lines(lines, "auto");
    for (std::size_t i = 0; i < lines.size(); ++i) {
      ASSERT_EQ(fixed[i].records.size(), detected[i].records.size()) << lines[i];
      EXPECT_EQ(fixed[i].skips, detected[i].skips);
      for (std::size_t j = 0; j < fixed[i].records.size(); ++j)
        EXPECT_TRUE(same_record(fixed[i].records[j], detected[i].records[j])) << lines[i];
    }
  }
}

}  // namespace
}  // namespace portscand::test

namespace portscand::test {
namespace {

// The side of a v3+ flow from `tcp-flags`. The lines follow the AWS VPC Flow Logs
// documentation's "TCP flag sequence" example (client 52.213.180.42:43416, server
// 10.0.0.62:5001): the client's flow carries SYN (2), the server's SYN-ACK (18); a later
// interval carries 0 or FIN (1). AWS records FIN 1, SYN 2, RST 4, SYN-ACK 18, ORed per
// aggregation interval (its examples: 19 = SYN-ACK + FIN, 3 = SYN + FIN).
TEST(AwsVpc, TcpFlagsTellTheInitiatorFromTheReply) {
  const std::string head =
      "3 vpc-abcdefab012345678 subnet-aaaaaaaa012345678 i-01234567890123456 "
      "eni-1235b8ca123456789 123456789010 IPv4 ";
  const std::string client = "52.213.180.42 10.0.0.62 43416 5001 52.213.180.42 10.0.0.62 6 ";
  const std::string server = "10.0.0.62 52.213.180.42 5001 43416 10.0.0.62 52.213.180.42 6 ";
  auto r = parse_lines(
      {fixture_lines("aws-vpc/test-tcp-flag-sequence.log").at(0),
       head + client + "568 8 1566848875 1566848933 ACCEPT 2 OK",
       head + server + "376 7 1566848875 1566848933 ACCEPT 18 OK",
       head + client + "100701 70 1566848875 1566848933 ACCEPT 0 OK",
       head + server + "63388 1219 1566848933 1566849113 ACCEPT 1 OK",
       head + server + "632 12 1566848933 1566849113 ACCEPT 19 OK",
       head + client + "632 12 1566848933 1566849113 ACCEPT 3 OK",
       head + client + "40 1 1566848933 1566849113 REJECT 4 OK",
       head + client + "40 1 1566848933 1566849113 ACCEPT x OK",
       head + "52.213.180.42 10.0.0.62 43416 53 52.213.180.42 10.0.0.62 17 40 1 1566848933 "
              "1566849113 ACCEPT 2 OK"});
  ASSERT_EQ(r.size(), 10u);
  const flow_side expected[] = {flow_side::initiator, flow_side::reply,   flow_side::unknown,
                                flow_side::unknown,   flow_side::reply,   flow_side::initiator,
                                flow_side::unknown,   flow_side::unknown, flow_side::unknown};
  for (std::size_t i = 1; i < r.size(); ++i) {
    SCOPED_TRACE("line " + std::to_string(i));
    ASSERT_EQ(r[i].records.size(), 1u);
    EXPECT_EQ(r[i].records[0].side, expected[i - 1]);
  }
  // The reply is the server's SYN-ACK: its "destination port" is the client's source port.
  EXPECT_EQ(r[2].records[0].dst_port, 43416);
  // An unreadable value costs only the side, and is counted.
  EXPECT_EQ(r[8].ignored, std::vector<std::string>{"bad_tcp_flags"});
  // The default v2 layout has no tcp-flags column.
  auto v2 =
      parse_lines({"2 123456789010 eni-1235b8ca123456789 10.0.0.62 52.213.180.42 5001 "
                   "43416 6 7 376 1566848875 1566848933 ACCEPT OK"});
  ASSERT_EQ(v2[0].records.size(), 1u);
  EXPECT_EQ(v2[0].records[0].side, flow_side::unknown);
}

}  // namespace
}  // namespace portscand::test
