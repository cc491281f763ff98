#include "runtime/replay.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "runtime_test_util.hpp"

namespace portscand {
namespace {

std::string write_temp(const std::string& content) {
  char path[] = "/tmp/portscand-replay-XXXXXX";
  const int fd = mkstemp(path);
  EXPECT_GE(fd, 0);
  FILE* f = fdopen(fd, "w");
  std::fwrite(content.data(), 1, content.size(), f);
  std::fclose(f);
  return path;
}

std::string scan_lines(const std::string& src, const std::string& minute, int ports,
                       int first_port = 1) {
  std::string out;
  for (int p = 0; p < ports; ++p)
    out += R"({"TimeGenerated":"2026-01-15T10:)" + minute + ":" + (p % 60 < 10 ? "0" : "") +
           std::to_string(p % 60) + R"(Z","SrcIpAddr":")" + src + R"(","DstPortNumber":)" +
           std::to_string(first_port + p) + "}\n";
  return out;
}

struct replay_run {
  std::vector<nlohmann::json> alerts;
  std::string summary;
};

replay_run replay(std::vector<std::string> files, std::size_t chunk_bytes = 4u << 20,
                  unsigned shards = 2) {
  replay_options opt;
  opt.files = std::move(files);
  opt.shards = shards;
  opt.chunk_bytes = chunk_bytes;
  manual_clock clk(*parse_iso8601("2026-01-15T12:00:00Z"));
  std::ostringstream out, summary;
  run_replay(opt, rule_set::of(default_rule()), clk, out, summary);
  replay_run r;
  r.summary = summary.str();
  std::istringstream lines(out.str());
  for (std::string line; std::getline(lines, line);)
    r.alerts.push_back(nlohmann::json::parse(line));
  return r;
}

// PAN-OS TRAFFIC lines from a firewall in UTC+8: the sample's line 1
// (tests/fixtures/panos, NOTICE.md there) with our source, port and times, 60 ports in one
// minute of device-local time 18:10, i.e. 10:10 UTC.
std::string panos_utc8_scan() {
  std::ifstream in(std::string(PORTSCAND_FIXTURES) +
                   "/panos/test-panw-panos-traffic-sample.first34.log");
  std::string line;
  std::getline(in, line);
  line = line.substr(line.find("PA-220 ") + 7);
  std::vector<std::string> f;
  for (std::size_t p = 0;;) {
    const std::size_t c = line.find(',', p);
    f.push_back(line.substr(p, c == std::string::npos ? std::string::npos : c - p));
    if (c == std::string::npos) break;
    p = c + 1;
  }
  std::string out;
  for (int i = 0; i < 60; ++i) {
    const std::string t =
        std::string("2026/01/15 18:10:") + (i < 10 ? "0" : "") + std::to_string(i);
    f[1] = f[6] = f[21] = t;
    f[7] = "203.0.113.88";
    f[25] = std::to_string(5000 + i);
    for (std::size_t k = 0; k < f.size(); ++k) out += (k ? "," : "") + f[k];
    out += "\n";
  }
  return out;
}

TEST(Replay, TheTimeZoneOptionReadsZoneLessTimesAsTheDevicesWallClock) {
  const std::string file = write_temp(panos_utc8_scan());
  manual_clock clk(*parse_iso8601("2026-01-15T12:00:00Z"));
  auto run = [&](const char* zone_name) {
    replay_options opt;
    opt.files = {file};
    std::string error;
    if (*zone_name) opt.zone = *local_zone::find(zone_name, error);
    std::ostringstream out, summary;
    run_replay(opt, rule_set::of(default_rule()), clk, out, summary);
    return out.str();
  };
  // In UTC the times are six hours ahead of the clock: dropped as future-dated.
  EXPECT_EQ(run(""), "");
  const std::string alerts = run("Asia/Shanghai");
  ASSERT_FALSE(alerts.empty());
  const auto a = nlohmann::json::parse(alerts.substr(0, alerts.find('\n')));
  EXPECT_EQ(a["SrcIpAddr"], "203.0.113.88");
  EXPECT_EQ(a["TimeGenerated"], "2026-01-15T10:10:00Z");
  EXPECT_EQ(a["AttemptedPortsCount"], 60);
}

TEST(Replay, TheModeDecidesWhichSideOfAnInboundWfpEventIsTheSource) {
  const std::string file = write_temp(test::wfp_inbound_scan());
  manual_clock clk(*parse_iso8601("2026-01-15T12:00:00Z"));
  auto run = [&](detection_mode mode) {
    replay_options opt;
    opt.files = {file};
    opt.mode = mode;
    std::ostringstream out, summary;
    run_replay(opt, rule_set::of(default_rule()), clk, out, summary);
    std::vector<nlohmann::json> alerts;
    std::istringstream lines(out.str());
    for (std::string l; std::getline(lines, l);) alerts.push_back(nlohmann::json::parse(l));
    return alerts;
  };
  // default: the remote peer that connected in is the source, the listening ports the ports.
  auto a = run(detection_mode::standard);
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0]["SrcIpAddr"], "203.0.113.50");
  EXPECT_EQ(a[0]["AttemptedPortsCount"], 60);
  // sentinel: as ASIM, SourceAddress is the source: the host "scans" the client's ephemeral
  // ports, which is what the published rule would report for these events.
  a = run(detection_mode::sentinel);
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0]["SrcIpAddr"], "198.51.100.10");
  EXPECT_EQ(a[0]["AttemptedPortsCount"], 60);
  std::remove(file.c_str());
}

std::string fixture(const std::string& rel) {
  std::ifstream in(std::string(PORTSCAND_FIXTURES) + "/" + rel, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// The corpus' NSG v2 blob pretty-printed as downloaded from storage (69 lines). Its 11 flow
// tuples (nsg-flowtuples-derived.jsonl, read by hand): 8 begin tuples are records, 2 end and
// 1 continuation tuple are skipped. Read line by line, every line was rejected.
TEST(Replay, APrettyPrintedNsgBlobIsReadAsOneDocumentWhateverTheChunking) {
  const std::string pretty = fixture("azure-nsg/sample_logs-testdata.pretty.json");
  ASSERT_GT(std::count(pretty.begin(), pretty.end(), '\n'), 60);
  const std::string file = write_temp(pretty);
  for (std::size_t chunk : {std::size_t{4} << 20, std::size_t{97}, std::size_t{1}}) {
    const auto r = replay({file}, chunk);
    EXPECT_NE(r.summary.find("8 records parsed, 0 rejected, 3 skipped"), std::string::npos)
        << chunk << ": " << r.summary;
  }
  // Two blobs back to back (a concatenation of downloads), the last one without a newline.
  const std::string two = write_temp(pretty + pretty.substr(0, pretty.size() - 1));
  EXPECT_NE(replay({two}, 97).summary.find("16 records parsed, 0 rejected, 6 skipped"),
            std::string::npos);
  std::remove(file.c_str());
  std::remove(two.c_str());
}

TEST(Replay, AnNdjsonFileIsStillReadByLineAndAnUnterminatedDocumentIsOneRejection) {
  // A first line that closes on itself keeps the file in line mode: a later "{" line is a
  // line (rejected), not the start of a document swallowing the scan.
  const std::string lines = write_temp(scan_lines("203.0.113.9", "11", 51) + "{\n" +
                                       scan_lines("203.0.113.10", "11", 51));
  auto r = replay({lines});
  EXPECT_EQ(r.alerts.size(), 2u);
  EXPECT_NE(r.summary.find("102 records parsed, 1 rejected"), std::string::npos) << r.summary;
  // A documents file whose last document never closes: one rejection at the end of input.
  const std::string cut = fixture("azure-nsg/sample_logs-testdata.pretty.json");
  const std::string docs = write_temp(cut + cut.substr(0, cut.size() / 2));
  r = replay({docs}, 64);
  EXPECT_NE(r.summary.find("8 records parsed, 1 rejected, 3 skipped"), std::string::npos)
      << r.summary;
  std::remove(lines.c_str());
  std::remove(docs.c_str());
}

// A document longer than the 4 MiB unit limit is one too_large rejection (bounded memory);
// reading resumes after the next line break, so the records after it still count.
TEST(Replay, ADocumentOverTheUnitLimitIsOneRejectionAndReadingGoesOn) {
  const std::string file = write_temp("{\n  \"pad\": \"" + std::string(5u << 20, 'x') + "\"\n}\n" +
                                      scan_lines("203.0.113.9", "11", 51));
  for (std::size_t chunk : {std::size_t{64} << 10, std::size_t{1} << 20}) {
    const auto r = replay({file}, chunk);
    ASSERT_EQ(r.alerts.size(), 1u) << r.summary;
    // too_large, and the lone "}" line after the cut.
    EXPECT_NE(r.summary.find("51 records parsed, 2 rejected"), std::string::npos) << r.summary;
    EXPECT_NE(r.summary.find("too_large"), std::string::npos) << r.summary;
  }
  std::remove(file.c_str());
}

TEST(Replay, AlertsAreOrderedByBinThenSource) {
  const std::string file =
      write_temp(scan_lines("203.0.113.9", "11", 51) + scan_lines("203.0.113.10", "11", 51) +
                 scan_lines("203.0.113.200", "06", 51));
  const auto r = replay({file});
  ASSERT_EQ(r.alerts.size(), 3u);
  EXPECT_EQ(r.alerts[0]["SrcIpAddr"], "203.0.113.200");
  EXPECT_EQ(r.alerts[1]["SrcIpAddr"], "203.0.113.10");  // byte order of the text
  EXPECT_EQ(r.alerts[2]["SrcIpAddr"], "203.0.113.9");
  std::remove(file.c_str());
}

TEST(Replay, TinyChunksGiveTheSameAlertsAsOneChunk) {
  std::string content;
  for (int s = 0; s < 20; ++s)
    content += scan_lines("198.51.100." + std::to_string(s), "07", 45 + s);
  const std::string file = write_temp(content);
  const auto big = replay({file});
  const auto tiny = replay({file}, 97, 3);  // chunks cut mid-line everywhere
  ASSERT_EQ(big.alerts.size(), 14u);        // 51..64 ports
  EXPECT_EQ(tiny.alerts, big.alerts);
  std::remove(file.c_str());
}

// A line longer than the decoder's limit (4 MiB) is cut into one rejected unit and the rest
// of it skipped, across many chunks; the records around it still count, and the pooled read
// buffers (one size for every chunk) hold the carried tails.
TEST(Replay, AnOverLongLineIsOneRejectionAndTheLinesAroundItStillCount) {
  const std::string huge =
      "{\"SrcIpAddr\":\"203.0.113.9\",\"pad\":\"" + std::string(5u << 20, 'x') + "\"}\n";
  const std::string file = write_temp(scan_lines("203.0.113.9", "11", 30) + huge +
                                      scan_lines("203.0.113.9", "11", 30, 31));
  for (std::size_t chunk : {std::size_t{64} << 10, std::size_t{1} << 20}) {
    const auto r = replay({file}, chunk);
    ASSERT_EQ(r.alerts.size(), 1u) << r.summary;
    EXPECT_EQ(r.alerts[0]["AttemptedPortsCount"], 60);
    EXPECT_NE(r.summary.find("60 records parsed, 1 rejected"), std::string::npos) << r.summary;
    EXPECT_NE(r.summary.find("too_large"), std::string::npos) << r.summary;
  }
  std::remove(file.c_str());
}

TEST(Replay, MalformedLinesAreCountedAndTheRestStillAlerts) {
  const std::string file =
      write_temp("not json\n{\"SrcIpAddr\":\"1.2.3\"}\n\n" + scan_lines("203.0.113.9", "11", 51) +
                 "{\"SrcIpAddr\":\"203.0.113.9\",\"DstPortNumber\":70000}");  // no final newline
  const auto r = replay({file});
  EXPECT_EQ(r.alerts.size(), 1u);
  EXPECT_NE(r.summary.find("51 records parsed, 3 rejected"), std::string::npos) << r.summary;
  std::remove(file.c_str());
}

TEST(Replay, AFileThatCannotBeReadIsReportedNotIgnored) {
  replay_options opt;
  opt.files = {"/nonexistent/portscand-input"};
  manual_clock clk(0);
  std::ostringstream out, summary;
  const auto r = run_replay(opt, rule_set::of(default_rule()), clk, out, summary);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(summary.str().find("cannot read /nonexistent/portscand-input"), std::string::npos);
}

TEST(Replay, TwoFilesCoveringTheSameHourAreOneStream) {
  // Each file alone has 30 ports for the source; together 60. The second file starts
  // earlier than the first one ends: it must not be dropped as late.
  const std::string a =
      write_temp(scan_lines("203.0.113.9", "11", 30) + scan_lines("203.0.113.77", "55", 1));
  const std::string b = write_temp(scan_lines("203.0.113.9", "12", 30, 31));
  const auto r = replay({a, b});
  ASSERT_EQ(r.alerts.size(), 1u);
  EXPECT_EQ(r.alerts[0]["AttemptedPortsCount"], 60);
  std::remove(a.c_str());
  std::remove(b.c_str());
}

}  // namespace
}  // namespace portscand

namespace portscand {
namespace {

TEST(Replay, AHeaderLineAppliesToEveryLaterChunkWhateverThreadParsesIt) {
  // Zeek TSV: the #fields header is only at the top; with tiny chunks and three parse
  // threads, most data lines are parsed by a thread that never saw the header itself.
  std::string content =
      "#separator "
      "\\x09\n#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tconn_state\n";
  for (int p = 0; p < 60; ++p)
    content += "1768471800.0" + std::to_string(10 + p) + "\tC" + std::to_string(p) +
               "\t203.0.113.9\t40000\t198.51.100.1\t" + std::to_string(1000 + p) + "\ttcp\tS0\n";
  const std::string file = write_temp(content);
  replay_options opt;
  opt.files = {file};
  opt.format = "zeek-conn";
  opt.chunk_bytes = 150;
  opt.parse_threads = 3;
  manual_clock clk(*parse_iso8601("2026-01-15T12:00:00Z"));
  std::ostringstream out, summary;
  run_replay(opt, rule_set::of(default_rule()), clk, out, summary);
  EXPECT_NE(summary.str().find("60 records parsed, 0 rejected"), std::string::npos)
      << summary.str();
  EXPECT_NE(out.str().find("\"AttemptedPortsCount\":60"), std::string::npos);
  std::remove(file.c_str());
}

}  // namespace
}  // namespace portscand
