#include "runtime/inspect.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/clock.hpp"
#include "core/time.hpp"

namespace portscand {
namespace {

using nlohmann::json;

class temp_file {
 public:
  explicit temp_file(const std::string& content) {
    char tmpl[] = "/tmp/portscand-inspect-XXXXXX";
    const int fd = mkstemp(tmpl);
    EXPECT_GE(fd, 0);
    path_ = tmpl;
    FILE* f = fdopen(fd, "w");
    std::fwrite(content.data(), 1, content.size(), f);
    std::fclose(f);
  }
  ~temp_file() { std::remove(path_.c_str()); }
  temp_file(const temp_file&) = delete;
  temp_file& operator=(const temp_file&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

struct inspected {
  std::vector<json> lines;
  std::string summary;
  inspect_result result;
};

const timestamp_us now = *parse_iso8601("2026-01-15T12:00:00Z");

inspected inspect(inspect_options opt) {
  manual_clock clk(now);
  std::ostringstream out, summary;
  inspected r;
  r.result = run_inspect(opt, clk, out, summary);
  r.summary = summary.str();
  std::istringstream lines(out.str());
  for (std::string line; std::getline(lines, line);) r.lines.push_back(json::parse(line));
  return r;
}

inspected inspect_text(const std::string& text, inspect_options opt = {}) {
  temp_file f(text);
  opt.files = {f.path()};
  auto r = inspect(std::move(opt));
  for (auto& l : r.lines) l.erase("file");
  return r;
}

std::string first_line(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

TEST(inspect, a_panos_traffic_line_shows_the_fields_the_vendor_documents) {
  // Line 1 of the PAN-OS sample (tests/fixtures/panos/NOTICE.md). By PAN-OS's TRAFFIC field
  // order: generated time 2018/11/30 16:09:07 (field 7), source 192.168.15.207, destination
  // 175.16.199.1, destination port 443 (field 26), protocol tcp, action allow, device name
  // PA-220. The source is private, so the window engine would not count it.
  const auto r = inspect_text(first_line(std::string(PORTSCAND_FIXTURES) +
                                         "/panos/test-panw-panos-traffic-sample.first34.log") +
                              "\n");
  ASSERT_EQ(r.lines.size(), 1u);
  const json& l = r.lines[0];
  EXPECT_EQ(l["line"], 1);
  EXPECT_EQ(l["format"], "panos");
  EXPECT_EQ(l["result"], "record");
  EXPECT_EQ(l["time"], "2018-11-30T16:09:07Z");
  EXPECT_EQ(l["time_from"], "record");
  EXPECT_EQ(l["src"], "192.168.15.207");
  EXPECT_EQ(l["dst"], "175.16.199.1");
  EXPECT_EQ(l["dst_port"], 443);
  EXPECT_EQ(l["protocol"], "TCP");
  EXPECT_EQ(l["action"], "Allow");
  EXPECT_EQ(l["device"], "PA-220");
  EXPECT_EQ(l["counted"], false);
  EXPECT_EQ(l["not_counted"], "private");
  EXPECT_EQ(r.result.records, 1u);
  EXPECT_EQ(r.result.counted, 0u);
}

TEST(inspect, documents_spanning_lines_are_reported_at_the_line_they_start_on) {
  const std::string text =
      "\n"                                                         // 1
      "{\n"                                                        // 2
      "  \"TimeGenerated\": \"2026-01-15T10:00:00Z\",\n"           // 3
      "  \"SrcIpAddr\": \"203.0.113.5\",\n"                        // 4
      "  \"DstPortNumber\": 22\n"                                  // 5
      "}\n"                                                        // 6
      "\n"                                                         // 7
      "{\"TimeGenerated\": \"2026-01-15T10:00:01Z\",\n"            // 8
      " \"SrcIpAddr\": \"203.0.113.6\", \"DstPortNumber\": 23}\n"  // 9
      "not json\n";                                                // 10
  const auto r = inspect_text(text);
  ASSERT_EQ(r.lines.size(), 4u) << r.summary;
  EXPECT_EQ(r.lines[0]["line"], 1);
  EXPECT_EQ(r.lines[0]["result"], "skipped");  // the blank first line, as the file input sees it
  EXPECT_EQ(r.lines[1]["line"], 2);
  EXPECT_EQ(r.lines[1]["src"], "203.0.113.5");
  EXPECT_EQ(r.lines[1]["dst_port"], 22);
  EXPECT_EQ(r.lines[1]["dst"], nullptr);
  EXPECT_EQ(r.lines[1]["counted"], true);
  EXPECT_EQ(r.lines[2]["line"], 8);
  EXPECT_EQ(r.lines[2]["src"], "203.0.113.6");
  EXPECT_EQ(r.lines[3]["line"], 10);
  EXPECT_EQ(r.lines[3]["result"], "rejected");
  EXPECT_EQ(r.result.units, 4u);
  EXPECT_EQ(r.result.counted, 2u);
  EXPECT_EQ(r.result.rejected, 1u);
  EXPECT_NE(r.summary.find("4 units, 2 records (2 counted), 1 skipped, 1 rejected"),
            std::string::npos)
      << r.summary;
}

TEST(inspect, the_time_comes_from_the_record_then_the_syslog_header_then_the_receive_time) {
  const std::string cef = "CEF:0|Acme|FW|1.0|100|conn|5|src=203.0.113.9 dst=198.51.100.1 dpt=80";
  const std::string text = "<134>1 2026-01-15T10:30:00Z fw1 fwapp - - " + cef + "\n" +  //
                           cef + "\n" +                                                 //
                           cef + " rt=1768471200000\n";  // 2026-01-15T10:00:00Z in ms
  auto r = inspect_text(text);
  ASSERT_EQ(r.lines.size(), 3u) << r.summary;
  EXPECT_EQ(r.lines[0]["time_from"], "header");
  EXPECT_EQ(r.lines[0]["time"], "2026-01-15T10:30:00Z");
  EXPECT_EQ(r.lines[1]["time_from"], "receive");
  EXPECT_EQ(r.lines[1]["time"], format_iso8601(now));
  EXPECT_EQ(r.lines[2]["time_from"], "record");
  EXPECT_EQ(r.lines[2]["time"], "2026-01-15T10:00:00Z");
  for (const auto& l : r.lines) {
    EXPECT_EQ(l["format"], "cef");
    EXPECT_EQ(l["reported_by"], "Acme/FW");
    EXPECT_EQ(l["dst_port"], 80);
  }

  // `event_time: receive` takes the receive time whatever the record says.
  inspect_options opt;
  opt.time_source = event_time_source::receive;
  r = inspect_text(text, opt);
  ASSERT_EQ(r.lines.size(), 3u);
  for (const auto& l : r.lines) {
    EXPECT_EQ(l["time_from"], "receive");
    EXPECT_EQ(l["time"], format_iso8601(now));
  }
}

TEST(inspect, counted_follows_the_source_filter_of_the_mode_and_needs_a_port) {
  auto asim = [](const std::string& src, const std::string& port) {
    return R"({"TimeGenerated":"2026-01-15T10:00:00Z","SrcIpAddr":")" + src + "\"" +
           (port.empty() ? "" : R"(,"DstPortNumber":)" + port) + "}\n";
  };
  const std::string text = asim("203.0.113.1", "80") + asim("10.1.2.3", "80") +
                           asim("127.0.0.1", "80") + asim("2001:db8::1", "80") +
                           asim("203.0.113.1", "");
  auto r = inspect_text(text);
  ASSERT_EQ(r.lines.size(), 5u);
  EXPECT_EQ(r.lines[0]["counted"], true);
  EXPECT_EQ(r.lines[0].count("not_counted"), 0u);
  EXPECT_EQ(r.lines[1]["not_counted"], "private");
  EXPECT_EQ(r.lines[2]["not_counted"], "loopback");
  EXPECT_EQ(r.lines[3]["counted"], true);  // default mode counts IPv6 sources
  EXPECT_EQ(r.lines[4]["not_counted"], "no_port");
  EXPECT_EQ(r.lines[4]["dst_port"], nullptr);
  EXPECT_EQ(r.result.counted, 2u);

  inspect_options sentinel;
  sentinel.mode = detection_mode::sentinel;  // as the Sentinel rule: no IPv6 source counts
  r = inspect_text(text, sentinel);
  ASSERT_EQ(r.lines.size(), 5u);
  EXPECT_EQ(r.lines[3]["counted"], false);
  EXPECT_EQ(r.lines[3]["not_counted"], "ipv6_sentinel");
}

TEST(inspect, an_unreadable_optional_field_is_shown_beside_the_record_it_spared) {
  const auto r = inspect_text(
      "CEF:0|Acme|FW|1.0|100|conn|5|src=203.0.113.9 dst=198.51.100.1 dpt=80 start=yesterday "
      "end=1768471200000\n");
  ASSERT_EQ(r.lines.size(), 1u);
  EXPECT_EQ(r.lines[0]["result"], "record");
  EXPECT_EQ(r.lines[0]["time"], "2026-01-15T10:00:00Z");
  EXPECT_EQ(r.lines[0]["ignored_fields"], json::array({"bad_time_field"}));
  EXPECT_EQ(r.lines[0]["action"], nullptr);  // the record says nothing of it
  EXPECT_EQ(r.lines[0]["protocol"], nullptr);
}

TEST(inspect, a_line_over_the_unit_limit_is_reported_and_reading_resumes_after_it) {
  std::string text = R"({"SrcIpAddr":"203.0.113.1","DstPortNumber":1,"x":")";
  text.append(5u << 20, 'x');
  text += "\"}\n";
  text += R"({"TimeGenerated":"2026-01-15T10:00:00Z","SrcIpAddr":"203.0.113.2","DstPortNumber":2})";
  text += "\n";
  const auto r = inspect_text(text);
  ASSERT_EQ(r.lines.size(), 2u);
  EXPECT_EQ(r.lines[0]["line"], 1);
  EXPECT_EQ(r.lines[0]["result"], "rejected");
  EXPECT_EQ(r.lines[0]["reason"], "too_large");
  EXPECT_EQ(r.lines[0].count("format"), 0u);
  EXPECT_EQ(r.lines[1]["line"], 2);
  EXPECT_EQ(r.lines[1]["src"], "203.0.113.2");
}

TEST(inspect, an_unreadable_file_is_named_and_the_others_are_still_read) {
  temp_file good(
      R"({"TimeGenerated":"2026-01-15T10:00:00Z","SrcIpAddr":"203.0.113.2","DstPortNumber":2})"
      "\n");
  inspect_options opt;
  opt.files = {"/nonexistent/portscand-inspect", good.path()};
  const auto r = inspect(opt);
  EXPECT_EQ(r.result.exit_code, 1);
  EXPECT_NE(r.summary.find("/nonexistent/portscand-inspect: No such file or directory"),
            std::string::npos)
      << r.summary;
  ASSERT_EQ(r.lines.size(), 1u);
  EXPECT_EQ(r.lines[0]["file"], good.path());
}

}  // namespace
}  // namespace portscand
