// Shipper envelopes around device lines (lib/parse/envelope.hpp): every shape the decoder
// knows, the time and host fallbacks, what is never unwrapped, custom paths, and malformed
// envelopes. Field names are the shippers' documented ones (see
// tests/fixtures/envelopes/NOTICE.md); expected values are worked out from the lines by hand.

#include "parse/envelope.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "parse_test_util.hpp"

namespace portscand::test {
namespace {

timestamp_us at(const char* iso) {
  return *parse_iso8601(iso);
}

// A decoder with an envelope setting, and what it made of one unit.
struct decoded {
  collecting_sink sink;
  std::string format, envelope;
  timestamp_us header_time = 0;
};

decoded decode(std::string_view unit, std::string_view format = "auto", envelope_options env = {},
               timestamp_us receive = at("2026-12-06T10:00:30Z"), bool padded = false) {
  unit_decoder d(builtin_formats(), format, unit_decoder::default_max_unit_bytes, std::move(env));
  decoded out;
  parse_context ctx;
  ctx.receive_time = receive;
  std::string buf(unit);
  if (padded) {
    buf.append(unit_padding, '\0');
    ctx.padded = true;
  }
  d.decode(std::string_view(buf.data(), unit.size()), ctx, out.sink);
  out.format = std::string(d.last_format());
  out.envelope = std::string(d.last_envelope());
  out.header_time = d.header_time();
  return out;
}

envelope_options custom(std::string message, std::string time = "", std::string host = "") {
  envelope_options o;
  o.mode = envelope_options::kind::custom;
  o.message = std::move(message);
  o.time = std::move(time);
  o.host = std::move(host);
  return o;
}

const std::string pan_cef =
    "CEF:0|Palo Alto Networks|PAN-OS|10.2|end|TRAFFIC|1|act=deny src=203.0.113.66 "
    "dst=198.51.100.10 spt=40000 proto=TCP dpt=";

std::string filebeat(int port) {
  return R"({"@timestamp":"2026-12-06T10:00:05.000Z","agent":{"type":"filebeat","version":"8.15.0"},)"
         R"("ecs":{"version":"8.0.0"},"host":{"name":"fw1"},"input":{"type":"kafka"},"message":")" +
         pan_cef + std::to_string(port) + "\"}";
}

std::string vector_syslog(int port) {
  return R"({"host":"fw1","message":"<134>Dec  6 10:00:01 fw1 )" + pan_cef + std::to_string(port) +
         R"(","source_type":"syslog","timestamp":"2026-12-06T10:00:01.500Z"})";
}

// The issue's first reproduction: 60 Filebeat-shaped events around CEF from a 60-port scan
// were skipped as ECS records with no_addresses.
TEST(Envelope, FilebeatAroundCefYieldsTheScan) {
  std::set<int> ports;
  for (int port = 1; port <= 60; ++port) {
    auto r = decode(filebeat(port));
    ASSERT_EQ(r.sink.records.size(), 1u) << port;
    EXPECT_TRUE(r.sink.skips.empty());
    EXPECT_EQ(r.envelope, "filebeat");
    EXPECT_EQ(r.format, "cef");
    const auto& s = r.sink.records[0];
    EXPECT_EQ(ip(s.src), "203.0.113.66");
    EXPECT_EQ(label(s.reported_by), "Palo Alto/PanOS");
    EXPECT_EQ(label(s.device), "fw1");  // host.name: no dvchost, no syslog header
    ports.insert(s.dst_port);
    // No rt= and no syslog header: the envelope's @timestamp.
    EXPECT_EQ(r.header_time, at("2026-12-06T10:00:05Z"));
  }
  EXPECT_EQ(ports.size(), 60u);
}

// The second: Vector events from its syslog source, rejected as unknown_format.
TEST(Envelope, VectorAroundSyslogCefYieldsTheScanWithTheHeaderTime) {
  std::set<int> ports;
  for (int port = 1; port <= 60; ++port) {
    auto r = decode(vector_syslog(port));
    ASSERT_EQ(r.sink.records.size(), 1u) << port;
    EXPECT_EQ(r.envelope, "vector");
    EXPECT_EQ(r.format, "cef");
    ports.insert(r.sink.records[0].dst_port);
    // The line's own syslog header beats the envelope's timestamp (10:00:01.5).
    EXPECT_EQ(r.header_time, at("2026-12-06T10:00:01Z"));
  }
  EXPECT_EQ(ports.size(), 60u);
}

TEST(Envelope, TheRecordsOwnTimeBeatsHeaderAndEnvelope) {
  auto r =
      decode(R"({"message":"<134>Dec  6 10:00:01 fw1 )" + pan_cef +
             R"(22 rt=1796551200000","source_type":"socket","timestamp":"2026-12-06T10:09:00Z"})");
  ASSERT_EQ(r.sink.records.size(), 1u);
  ASSERT_TRUE(r.sink.records[0].has_time);
  EXPECT_EQ(r.sink.records[0].time, at("2026-12-06T10:00:00Z"));
}

TEST(Envelope, EveryShapeIsRecognisedWithItsTimeAndHost) {
  struct shape_case {
    const char* name;
    std::string unit;
    const char* envelope;
    const char* time;  // expected header_time (an iptables line has no time of its own)
    const char* device;
  };
  const std::string ipt =
      "IN=eth0 OUT= MAC= SRC=203.0.113.66 DST=198.51.100.10 LEN=44 TOS=0x00 PREC=0x00 TTL=49 "
      "ID=1 PROTO=TCP SPT=40000 DPT=22 WINDOW=1024 RES=0x00 SYN URGP=0";
  const shape_case cases[] = {
      {"filebeat event.original beats message",
       R"({"@timestamp":"2026-12-06T10:00:03Z","event":{"original":")" + ipt +
           R"("},"message":"not the line","log":{"syslog":{"hostname":"edge1","appname":"kernel"}},)"
           R"("host":{"name":"beat-host"}})",
       "filebeat", "2026-12-06T10:00:03Z", "edge1"},
      {"filebeat flat keys",
       R"({"@timestamp":"2026-12-06T10:00:03Z","event.original":")" + ipt +
           R"(","host.name":"beat-host","ecs.version":"8.0.0"})",
       "filebeat", "2026-12-06T10:00:03Z", "beat-host"},
      {"logstash host string",
       R"({"@timestamp":"2026-12-06T10:00:04.250Z","@version":"1","host":"edge2","message":")" +
           ipt + R"("})",
       "logstash", "2026-12-06T10:00:04.25Z", "edge2"},
      {"logstash host object (ecs compatibility)",
       R"({"@version":"1","host":{"hostname":"edge3"},"message":")" + ipt +
           R"(","@timestamp":"2026-12-06T10:00:04Z"})",
       "logstash", "2026-12-06T10:00:04Z", "edge3"},
      {"vector hostname beats the peer host",
       R"({"appname":"kernel","host":"192.0.2.9","hostname":"edge4","message":")" + ipt +
           R"(","source_type":"syslog","timestamp":"2026-12-06T10:00:06Z"})",
       "vector", "2026-12-06T10:00:06Z", "edge4"},
      {"fluent bit log and date", R"({"date":1796551207.5,"log":")" + ipt + R"(\n"})", "fluent-bit",
       "2026-12-06T10:00:07.5Z", ""},
      {"rsyslog rawmsg beats msg",
       R"({"msg":" IN=x","rawmsg":"<4>Dec  6 10:00:08 edge5 kernel: )" + ipt +
           R"(","timereported":"2026-12-06T10:00:09+00:00","hostname":"edge5","fromhost-ip":"192.0.2.5"})",
       "rsyslog", "2026-12-06T10:00:08Z", "edge5"},
      {"rsyslog msg only",
       R"({"msg":")" + ipt +
           R"(","timereported":"2026-12-06T11:00:09+01:00","fromhost-ip":"192.0.2.5","programname":"kernel"})",
       "rsyslog", "2026-12-06T10:00:09Z", "192.0.2.5"},
      {"syslog-ng format-json with a BSD DATE",
       R"({"DATE":"Dec  6 10:00:10","FACILITY":"kern","HOST":"edge6","MESSAGE":")" + ipt +
           R"(","PRIORITY":"warning","PROGRAM":"kernel"})",
       "syslog-ng", "2026-12-06T10:00:10Z", "edge6"},
      {"splunk hec event string",
       R"({"time":1796551211,"host":"edge7","source":"udp:514","sourcetype":"linux:iptables","event":")" +
           ipt + R"("})",
       "splunk-hec", "2026-12-06T10:00:11Z", "edge7"},
      {"a bare message object", R"({"message":")" + ipt + R"("})", "message", nullptr, ""},
  };
  for (const auto& c : cases) {
    for (bool padded : {false, true}) {
      SCOPED_TRACE(std::string(c.name) + (padded ? " (padded)" : ""));
      auto r = decode(c.unit, "auto", {}, at("2026-12-06T10:00:30Z"), padded);
      ASSERT_EQ(r.sink.records.size(), 1u) << (r.sink.rejects.empty() ? "" : r.sink.rejects[0])
                                           << (r.sink.skips.empty() ? "" : r.sink.skips[0]);
      EXPECT_EQ(r.envelope, c.envelope);
      EXPECT_EQ(r.format, "iptables");
      const auto& s = r.sink.records[0];
      EXPECT_EQ(ip(s.src), "203.0.113.66");
      EXPECT_EQ(s.dst_port, 22);
      EXPECT_EQ(r.header_time, c.time != nullptr ? at(c.time) : 0);
      EXPECT_EQ(label(s.device), c.device);
      EXPECT_TRUE(r.sink.ignored.empty());
    }
  }
}

TEST(Envelope, TheEnvelopeTagStandsInForTheSyslogTag) {
  // iptables reads its action from a log prefix; arriving as a TAG it is the app.
  auto r = decode(
      R"({"appname":"DROP","source_type":"syslog","message":"IN=eth0 OUT= SRC=203.0.113.66 DST=198.51.100.10 PROTO=TCP SPT=1 DPT=23"})");
  ASSERT_EQ(r.sink.records.size(), 1u);
  EXPECT_EQ(r.sink.records[0].action, dvc_action::drop);
}

TEST(Envelope, AnEcsEventThatNamesItsEndpointsIsStillEcs) {
  auto r = decode(
      R"({"@timestamp":"2026-12-06T10:00:00Z","message":"CEF:0|x|y|1|1|n|1|src=192.0.2.1 dpt=1",)"
      R"("source":{"ip":"203.0.113.9"},"destination":{"ip":"198.51.100.1","port":3389},)"
      R"("network":{"transport":"tcp"}})");
  ASSERT_EQ(r.sink.records.size(), 1u);
  EXPECT_EQ(r.format, "ecs");
  EXPECT_EQ(r.envelope, "");
  EXPECT_EQ(ip(r.sink.records[0].src), "203.0.113.9");
  EXPECT_EQ(r.sink.records[0].dst_port, 3389);
  // Flat keys, and an endpoint after the message.
  r = decode(R"({"@timestamp":"2026-12-06T10:00:00Z","message":"x","source.ip":"203.0.113.9",)"
             R"("destination.ip":"198.51.100.1","destination.port":25})");
  ASSERT_EQ(r.sink.records.size(), 1u);
  EXPECT_EQ(r.format, "ecs");
}

TEST(Envelope, AClassifiedEcsEventIsNotUnwrapped) {
  auto r = decode(
      R"({"@timestamp":"2026-12-06T10:00:00Z","event":{"category":["process"]},"message":"sshd started"})");
  EXPECT_EQ(r.format, "ecs");
  EXPECT_EQ(r.envelope, "");
  EXPECT_EQ(r.sink.skips, std::vector<std::string>{"not_network_event"});
}

TEST(Envelope, AnEcsDocumentWithoutAMessageStaysEcs) {
  auto r = decode(R"({"@timestamp":"2026-12-06T10:00:00Z","agent":{"type":"filebeat"}})");
  EXPECT_EQ(r.format, "ecs");
  EXPECT_TRUE(r.sink.rejects.empty());
}

TEST(Envelope, NativeRecordsOfJsonFormatsAreNeverUnwrapped) {
  // An ASIM row with a message column.
  auto r =
      decode(R"({"SrcIpAddr":"203.0.113.7","DstPortNumber":22,"message":")" + pan_cef + R"(80"})");
  ASSERT_EQ(r.sink.records.size(), 1u);
  EXPECT_EQ(r.format, "asim");
  EXPECT_EQ(r.envelope, "");
  EXPECT_EQ(r.sink.records[0].dst_port, 22);
  // A Winlogbeat document: Beats-shaped, with a message, but windows-wfp's own record.
  const std::string wlb =
      R"({"@timestamp":"2026-12-06T10:00:00Z","agent":{"type":"winlogbeat"},"message":"The Windows Filtering Platform has permitted a connection.",)"
      R"("winlog":{"provider_name":"Microsoft-Windows-Security-Auditing","event_id":"5156","computer_name":"ws1",)"
      R"("event_data":{"Direction":"%%14593","SourceAddress":"10.0.0.5","SourcePort":"50000","DestAddress":"203.0.113.80","DestPort":"443","Protocol":"6"}}})";
  for (const char* format : {"auto", "windows-wfp"}) {
    r = decode(wlb, format);
    ASSERT_EQ(r.sink.records.size(), 1u) << format;
    EXPECT_EQ(r.format, "windows-wfp");
    EXPECT_EQ(r.envelope, "");
  }
}

TEST(Envelope, ShipperFieldsAloneMakeAnEnvelopeWhateverTheMessageQuotes) {
  // A one-line Windows event XML (a WFP 5156, as the windows-wfp fixture holds it) in a
  // Filebeat event: the windows-wfp probe would find its provider name in the message text,
  // but the object has only shipper fields, so the line is unwrapped and read as XML.
  const auto lines = fixture_lines("windows-wfp/oneline.log");
  std::string xml;
  for (const auto& l : lines)
    if (l.rfind("<Event", 0) == 0 && l.find("<EventID>5156<") != std::string::npos) xml = l;
  ASSERT_FALSE(xml.empty());
  std::string escaped;
  for (char c : xml) {
    if (c == '"' || c == '\\') escaped += '\\';
    escaped += c;
  }
  auto r =
      decode(R"({"@timestamp":"2026-12-06T10:00:00Z","agent":{"type":"filebeat"},"message":")" +
             escaped + R"("})");
  ASSERT_EQ(r.sink.records.size(), 1u);
  EXPECT_EQ(r.envelope, "filebeat");
  EXPECT_EQ(r.format, "windows-wfp");
  // A field no shipper documents sends the object through the probes first; nothing claims
  // it, so it is still unwrapped.
  r = decode(R"({"pipeline_id":7,"source_type":"socket","message":")" + pan_cef + R"(22"})");
  ASSERT_EQ(r.sink.records.size(), 1u);
  EXPECT_EQ(r.envelope, "vector");
}

TEST(Envelope, AFixedTextFormatStillUnwraps) {
  auto r = decode(filebeat(443), "cef");
  ASSERT_EQ(r.sink.records.size(), 1u);
  EXPECT_EQ(r.envelope, "filebeat");
  EXPECT_EQ(r.sink.records[0].dst_port, 443);
}

TEST(Envelope, NoneReadsJsonUnitsAsRecords) {
  envelope_options none;
  none.mode = envelope_options::kind::none;
  auto r = decode(vector_syslog(22), "auto", none);
  EXPECT_TRUE(r.sink.records.empty());
  EXPECT_EQ(r.sink.rejects, std::vector<std::string>{"unknown_format"});
  r = decode(filebeat(22), "auto", none);
  EXPECT_EQ(r.sink.skips, std::vector<std::string>{"no_addresses"});
  EXPECT_EQ(r.envelope, "");
}

TEST(Envelope, CustomPathsNestedOrFlat) {
  const auto opt = custom("payload.line", "meta.ts", "origin.name");
  for (
      const std::string unit :
      {R"({"meta":{"ts":"2026-12-06T10:00:12Z"},"origin":{"name":"fw9"},"payload":{"line":")" +
           pan_cef + R"(8080"}})",
       R"({"payload.line":")" + pan_cef +
           R"(8080","meta.ts":1796551212000,"origin.name":"fw9","other":{"payload":1}})",
       R"({"meta":{"ts":"2026-12-06T10:00:12Z"},"origin.name":"fw9","payload":{"x":[1,{"line":"no"}],"line":")" +
           pan_cef + R"(8080"}})"}) {
    SCOPED_TRACE(unit);
    auto r = decode(unit, "auto", opt);
    ASSERT_EQ(r.sink.records.size(), 1u);
    EXPECT_EQ(r.envelope, "custom");
    EXPECT_EQ(r.sink.records[0].dst_port, 8080);
    EXPECT_EQ(label(r.sink.records[0].device), "fw9");
    EXPECT_EQ(r.header_time, at("2026-12-06T10:00:12Z"));
  }
  // A custom envelope is taken at its word: a Filebeat document without payload.line is an
  // envelope without a message.
  auto r = decode(filebeat(1), "auto", opt);
  EXPECT_EQ(r.sink.rejects, std::vector<std::string>{"envelope_without_message"});
  EXPECT_EQ(r.format, "envelope");
  r = decode(R"({"payload":{"line":["x"]}})", "auto", opt);
  EXPECT_EQ(r.sink.rejects, std::vector<std::string>{"envelope_message_not_text"});
  r = decode(R"({"payload":{"line":{"a":"b"}}})", "auto", opt);
  EXPECT_EQ(r.sink.rejects, std::vector<std::string>{"envelope_message_not_text"});
  // Lines that are not JSON are still bare lines.
  r = decode(pan_cef + "22", "auto", opt);
  ASSERT_EQ(r.sink.records.size(), 1u);
  EXPECT_EQ(r.envelope, "");
}

TEST(Envelope, ACustomEnvelopeNeedsAValidMessagePath) {
  EXPECT_THROW(envelope_reader(custom("")), std::invalid_argument);
  EXPECT_THROW(envelope_reader(custom("a..b")), std::invalid_argument);
  EXPECT_THROW(envelope_reader(custom("a.b.c.d.e.f")), std::invalid_argument);
  EXPECT_THROW(envelope_reader(custom("m", ".t")), std::invalid_argument);
  EXPECT_NO_THROW(envelope_reader(custom("a.b.c.d.e", "t", "h")));
}

TEST(Envelope, MalformedEnvelopesAreCountedRejections) {
  struct bad_case {
    std::string unit;
    const char* reason;
  };
  const bad_case cases[] = {
      {R"({"source_type":"kafka","timestamp":"2026-12-06T10:00:00Z","host":"fw1"})",
       "envelope_without_message"},
      {R"({"timereported":"2026-12-06T10:00:00Z","hostname":"fw1","fromhost-ip":"192.0.2.1"})",
       "envelope_without_message"},
      {R"({"source_type":"socket","message":12345})", "envelope_message_not_text"},
      {R"({"message":{"text":"CEF:0|a|b|1|1|n|1|src=203.0.113.1 dpt=1"},"@version":"1"})",
       "envelope_message_not_text"},
      {R"({"agent":{"type":"filebeat"},"event":{"original":["x"]}})", "envelope_message_not_text"},
      {R"({"MESSAGE":true,"HOST":"fw1"})", "envelope_message_not_text"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.unit);
    auto r = decode(c.unit);
    EXPECT_TRUE(r.sink.records.empty());
    EXPECT_EQ(r.sink.rejects, std::vector<std::string>{c.reason});
    EXPECT_EQ(r.format, "envelope");
  }
  // A broken object is invalid JSON to whichever format reads it, or of unknown format.
  auto r = decode(R"({"message":"CEF:0|a|b|1|1|n|1|src=203.0.113.1 dpt=1","source_type":)");
  EXPECT_EQ(r.sink.rejects.size(), 1u);
  EXPECT_TRUE(r.sink.records.empty());
}

TEST(Envelope, UnreadableTimeAndHostAreIgnoredFieldsNotLostRecords) {
  auto r = decode(R"({"source_type":"socket","timestamp":"yesterday","host":["fw1"],"message":")" +
                  pan_cef + R"(22"})");
  ASSERT_EQ(r.sink.records.size(), 1u);
  EXPECT_EQ(r.sink.ignored, (std::vector<std::string>{"envelope_bad_time", "envelope_bad_host"}));
  EXPECT_EQ(r.header_time, 0);
  EXPECT_EQ(r.format, "cef");
}

TEST(Envelope, AnEmptyMessageIsAnEmptyUnit) {
  auto r = decode(R"({"source_type":"socket","message":"\r\n"})");
  EXPECT_EQ(r.sink.skips, std::vector<std::string>{"empty"});
}

TEST(Envelope, AHugeMessageIsReadAndAnOversizedUnitRefused) {
  std::string pad(1 << 20, 'a');
  auto r = decode(R"({"source_type":"socket","message":")" + pan_cef + "22 cs1Label=x cs1=" + pad +
                  R"("})");
  ASSERT_EQ(r.sink.records.size(), 1u);
  EXPECT_EQ(r.sink.records[0].dst_port, 22);
  unit_decoder small(builtin_formats(), "auto", 4096);
  collecting_sink s;
  small.decode(R"({"source_type":"socket","message":")" + pad + R"("})", parse_context{}, s);
  EXPECT_EQ(s.rejects, std::vector<std::string>{"too_large"});
}

TEST(Envelope, AMessageThatIsJsonIsReadByItsFormat) {
  // Escaped: unescaped into the reader's buffer, then parsed from a padded copy.
  for (bool padded : {false, true}) {
    auto r = decode(
        R"({"source_type":"kafka","message":"{\"SrcIpAddr\":\"203.0.113.7\",\"DstPortNumber\":22}"})",
        "auto", {}, at("2026-12-06T10:00:30Z"), padded);
    ASSERT_EQ(r.sink.records.size(), 1u);
    EXPECT_EQ(r.format, "asim");
    EXPECT_EQ(r.envelope, "vector");
    // NDJSON in one message: each line is a record.
    r = decode(
        R"({"log":"{\"id.orig_h\":\"203.0.113.8\",\"id.resp_h\":\"198.51.100.1\",\"id.resp_p\":80,\"proto\":\"tcp\",\"ts\":1796551200.0}\n{\"id.orig_h\":\"203.0.113.8\",\"id.resp_h\":\"198.51.100.1\",\"id.resp_p\":81,\"proto\":\"tcp\",\"ts\":1796551201.0}\n"})",
        "auto", {}, at("2026-12-06T10:00:30Z"), padded);
    ASSERT_EQ(r.sink.records.size(), 2u);
    EXPECT_EQ(r.format, "zeek-conn");
    EXPECT_EQ(r.sink.records[1].dst_port, 81);
  }
}

TEST(Envelope, AnEnvelopeInsideAnEnvelopeIsNotUnwrappedTwice) {
  auto r = decode(
      R"({"source_type":"kafka","message":"{\"source_type\":\"socket\",\"message\":\"CEF:0|a|b|1|1|n|1|src=203.0.113.1 dpt=1\"}"})");
  EXPECT_TRUE(r.sink.records.empty());
  EXPECT_EQ(r.sink.rejects, std::vector<std::string>{"unknown_format"});
}

TEST(Envelope, BareLinesAreUntouched) {
  auto r = decode("<134>Dec  6 10:00:01 fw1 " + pan_cef + "22");
  ASSERT_EQ(r.sink.records.size(), 1u);
  EXPECT_EQ(r.envelope, "");
  EXPECT_EQ(r.header_time, at("2026-12-06T10:00:01Z"));
}

}  // namespace
}  // namespace portscand::test
