// Auto-detection over one stream that mixes every format's line-oriented samples
// (tests/fixtures/mixed-stream.list): each line, decoded by ONE `auto` decoder as an input
// would, must give exactly what the fixed-format decoder of the file's own format gives
// when that file is read on its own: the same records (every field), the same skip and
// reject reasons in the same order, and no line may be claimed by another format.

#include <gtest/gtest.h>

#include <filesystem>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "parse_test_util.hpp"

namespace portscand::test {
namespace {

struct source_file {
  std::string format;
  std::string path;  // under tests/fixtures
};

struct listing {
  std::vector<source_file> sources;
  std::set<std::string> skipped;
};

listing read_listing() {
  listing out;
  for (const auto& line : fixture_lines("mixed-stream.list")) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream in(line);
    std::string first, path;
    in >> first >> path;
    if (first == "skip")
      out.skipped.insert(path);
    else
      out.sources.push_back({first, path});
  }
  return out;
}

// What a decoder reported for one unit, in order, as comparable text. A record lists every
// field of network_session (labels by their interned id: equal ids are equal strings).
class transcript_sink final : public parse_sink {
 public:
  void record(const network_session& s) override {
    std::ostringstream o;
    o << "record time=" << s.time << " has_time=" << s.has_time << " src=" << s.src.to_string()
      << " has_dst=" << s.has_dst << " dst=" << (s.has_dst ? s.dst.to_string() : "-")
      << " dst_port=" << s.dst_port << " protocol=" << s.protocol
      << " action=" << to_string(s.action) << " reported_by=" << label(s.reported_by)
      << " device=" << label(s.device);
    events.push_back(o.str());
  }
  void skipped(std::string_view reason) override {
    events.push_back("skipped " + std::string(reason));
  }
  void rejected(std::string_view reason) override {
    events.push_back("rejected " + std::string(reason));
  }
  void ignored_field(std::string_view reason) override {
    events.push_back("ignored_field " + std::string(reason));
  }
  std::vector<std::string> events;
};

// Lines that auto-detection leaves on purpose (no probe claims them: rejected as
// unknown_format), which their file's format rejects for its own reason. Both are rejects,
// so replay's totals agree; only the reason differs.
struct unclaimed_line {
  const char* path;
  std::size_t line;  // 1-based
  const char* why;
};
constexpr unclaimed_line unclaimed[] = {
    {"fortigate/test-fortinet.log", 47,
     "FortiClient EMS 'date= desc=...' without logid/type/devid: not FortiGate traffic "
     "(lib/parse/README.md, fortigate: traps)"},
    {"fortigate/test-fortinet.log", 48, "the same EMS message without its PRI"},
};

const unclaimed_line* find_unclaimed(const std::string& path, std::size_t line) {
  for (const auto& u : unclaimed)
    if (path == u.path && line == u.line) return &u;
  return nullptr;
}

// Checks one line: the same transcript, claimed by its own format (or, for a listed line,
// by none, and rejected by its own format).
void expect_same(const source_file& src, std::size_t line_no, const transcript_sink& want,
                 const transcript_sink& got, std::string_view fixed_format,
                 std::string_view auto_format) {
  if (const unclaimed_line* u = find_unclaimed(src.path, line_no)) {
    SCOPED_TRACE(u->why);
    EXPECT_EQ(got.events, std::vector<std::string>{"rejected unknown_format"});
    ASSERT_EQ(want.events.size(), 1u);
    EXPECT_EQ(want.events[0].rfind("rejected ", 0), 0u) << want.events[0];
    EXPECT_EQ(auto_format, "");
    return;
  }
  EXPECT_EQ(got.events, want.events);
  if (fixed_format.empty()) {
    // Nothing for any format to parse (a blank line).
    EXPECT_EQ(auto_format, "");
    EXPECT_EQ(want.events, std::vector<std::string>{"skipped empty"});
  } else {
    EXPECT_EQ(auto_format, src.format);
  }
}

// A receive time after every sample, so that year-less syslog times resolve and the
// header times take part in the comparison.
parse_context context() {
  parse_context ctx;
  ctx.receive_time = *parse_iso8601("2026-11-28T12:00:00Z");
  return ctx;
}

TEST(MixedStream, TheListNamesEveryFixtureFileOnce) {
  const listing l = read_listing();
  std::set<std::string> named = l.skipped;
  for (const auto& s : l.sources) {
    EXPECT_TRUE(named.insert(s.path).second) << s.path << " is listed twice";
    EXPECT_NE(builtin_formats().find(s.format), nullptr) << s.format << " is not a format";
    EXPECT_EQ(s.path.substr(0, s.path.find('/')), s.format)
        << s.path << " is not in its format's folder";
  }
  namespace fs = std::filesystem;
  for (const auto& dir : fs::directory_iterator(PORTSCAND_FIXTURES)) {
    if (!dir.is_directory()) continue;
    for (const auto& f : fs::directory_iterator(dir.path())) {
      const std::string name = f.path().filename().string();
      if (name == "NOTICE.md" || name.find("expected") != std::string::npos ||
          name.find("derived") != std::string::npos)
        continue;
      const std::string rel = dir.path().filename().string() + "/" + name;
      EXPECT_TRUE(named.count(rel) == 1)
          << rel
          << " is neither in the mixed stream nor skipped (tests/fixtures/mixed-stream.list)";
    }
  }
}

TEST(MixedStream, AutoDetectionGivesEveryLineWhatItsOwnFormatGives) {
  const listing l = read_listing();
  ASSERT_GE(l.sources.size(), 30u);
  const parse_context ctx = context();

  unit_decoder autod(builtin_formats(), "auto");
  std::map<std::string, std::size_t> lines_per_format, records_per_format;
  std::size_t lines = 0, records = 0, skips = 0, rejects = 0;
  for (const auto& src : l.sources) {
    // The reference: the file on its own, through a fresh decoder of its own format (what
    // `portscand replay --format <name> <file>` does).
    unit_decoder fixed(builtin_formats(), src.format);
    const auto file_lines = fixture_lines(src.path);
    for (std::size_t i = 0; i < file_lines.size(); ++i) {
      const std::string& line = file_lines[i];
      SCOPED_TRACE(src.path + ":" + std::to_string(i + 1) + ": " + line.substr(0, 100));
      transcript_sink want, got;
      fixed.decode(line, ctx, want);
      autod.decode(line, ctx, got);
      expect_same(src, i + 1, want, got, fixed.last_format(), autod.last_format());
      ++lines;
      ++lines_per_format[src.format];
      for (const auto& e : want.events) {
        if (e.rfind("record", 0) == 0) ++records, ++records_per_format[src.format];
        if (e.rfind("skipped", 0) == 0) ++skips;
        if (e.rfind("rejected", 0) == 0) ++rejects;
      }
    }
  }
  // Every format that has a line-oriented sample takes part, and yields sessions.
  for (const auto& name : builtin_formats().names()) {
    EXPECT_GT(lines_per_format[name], 0u) << name << " has no line in the stream";
    EXPECT_GT(records_per_format[name], 0u) << name << " yields no record in the stream";
  }
  std::cout << "mixed stream: " << l.sources.size() << " files, " << lines << " lines, " << records
            << " records, " << skips << " skipped, " << rejects << " rejected\n";
}

// The same stream with the files in reverse order: state kept by one format's parser
// must not leak into another format's lines whatever comes first. Reversed, aws-vpc's
// header file (a custom layout) comes before its header-less files, which the aws-vpc
// parser instance then reads with that layout (field_count_mismatch), as it would in any
// stream: those lines are only checked to be claimed by aws-vpc. zeek-conn's TSV header
// file also comes first, and its JSON lines must not care.
TEST(MixedStream, TheOrderOfTheFilesDoesNotMatterToOtherFormats) {
  listing l = read_listing();
  std::vector<source_file> reversed(l.sources.rbegin(), l.sources.rend());
  const parse_context ctx = context();
  unit_decoder autod(builtin_formats(), "auto");
  std::set<std::string> seen;
  for (const auto& src : reversed) {
    const bool stateful_follower = src.format == "aws-vpc" && seen.count(src.format) == 1;
    seen.insert(src.format);
    unit_decoder fixed(builtin_formats(), src.format);
    const auto file_lines = fixture_lines(src.path);
    for (std::size_t i = 0; i < file_lines.size(); ++i) {
      SCOPED_TRACE(src.path + ":" + std::to_string(i + 1));
      transcript_sink want, got;
      fixed.decode(file_lines[i], ctx, want);
      autod.decode(file_lines[i], ctx, got);
      if (stateful_follower) {
        EXPECT_EQ(autod.last_format(), src.format);
      } else {
        expect_same(src, i + 1, want, got, fixed.last_format(), autod.last_format());
      }
    }
  }
}

}  // namespace
}  // namespace portscand::test
