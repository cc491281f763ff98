#include "runtime/inspect.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

#include "core/ip_address.hpp"
#include "event/label_table.hpp"
#include "event/network_session.hpp"
#include "ingest/json_documents.hpp"
#include "parse/decoder.hpp"
#include "runtime/input_sink.hpp"

namespace portscand {
namespace {

using ordered_json = nlohmann::ordered_json;

// What the file input does with a line (or document) longer than this: skip it, counted.
constexpr std::size_t max_unit = unit_decoder::default_max_unit_bytes;

// Collects the reports of one unit, so that each printed line can carry the format and
// envelope the decoder settled on for the unit.
class collecting_sink final : public parse_sink {
 public:
  struct report {
    enum class kind : std::uint8_t { record, skipped, rejected } what;
    network_session session;
    std::string_view reason;
    std::vector<std::string_view> ignored;  // optional fields passed over before it
  };
  std::vector<report> reports;

  void record(const network_session& s) override {
    reports.push_back({report::kind::record, s, {}, std::move(ignored_)});
    ignored_.clear();
  }
  void skipped(std::string_view reason) override {
    reports.push_back({report::kind::skipped, {}, reason, std::move(ignored_)});
    ignored_.clear();
  }
  void rejected(std::string_view reason) override {
    reports.push_back({report::kind::rejected, {}, reason, std::move(ignored_)});
    ignored_.clear();
  }
  void ignored_field(std::string_view reason) override { ignored_.push_back(reason); }

 private:
  std::vector<std::string_view> ignored_;
};

class inspector {
 public:
  inspector(const inspect_options& opt, const clock& clk, std::ostream& out)
      : opt_(opt),
        clk_(clk),
        out_(out),
        zone_(opt.zone),
        decoder_(builtin_formats(), opt.format, max_unit, to_envelope_options(opt.envelope)) {}

  inspect_result result;

  // Reads one input to its end. False when it cannot be opened or read.
  bool read(const std::string& name, int fd, std::ostream& summary) {
    file_ = name;
    line_ = 1;
    mode_ = mode::undecided;
    buf_.clear();
    skipping_ = false;
    std::string block(std::max<std::size_t>(opt_.read_bytes, 1), '\0');
    for (;;) {
      const ssize_t n = ::read(fd, block.data(), block.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        summary << "portscand parse: " << name << ": " << std::strerror(errno) << "\n";
        return false;
      }
      if (n == 0) break;
      buf_.append(block.data(), static_cast<std::size_t>(n));
      consume(false);
    }
    consume(true);
    return true;
  }

 private:
  enum class mode : std::uint8_t { undecided, lines, documents };

  // Emits the complete units at the front of buf_ (all of it at end of input).
  void consume(bool at_end) {
    std::size_t pos = 0;
    while (pos < buf_.size()) {
      if (skipping_) {  // after an over-long unit: resume after the next line break
        const std::size_t nl = buf_.find('\n', pos);
        if (nl == std::string::npos) {
          pos = buf_.size();
          break;
        }
        ++line_;
        pos = nl + 1;
        skipping_ = false;
        continue;
      }
      if (mode_ == mode::documents) {
        const std::string_view rest = std::string_view(buf_).substr(pos);
        counted_to_ = rest.data();
        const std::size_t used = json_documents::split(rest, at_end, [&](std::string_view u) {
          count_lines_to(u.data());
          unit(u);
        });
        count_lines_to(rest.data() + used);
        pos += used;
        break;
      }
      const std::size_t nl = buf_.find('\n', pos);
      if (nl == std::string::npos && !at_end) break;
      const std::size_t end = nl == std::string::npos ? buf_.size() : nl;
      const std::string_view line = std::string_view(buf_).substr(pos, end - pos);
      if (mode_ == mode::undecided && line.find_first_not_of(" \t\r") != std::string_view::npos) {
        // The first non-blank line decides, as for the file input.
        if (json_documents::opens_multiline_document(line)) {
          mode_ = mode::documents;
          continue;  // split from this line on as documents
        }
        mode_ = mode::lines;
      }
      if (!line.empty() || nl != std::string::npos) unit(line);
      ++line_;
      pos = nl == std::string::npos ? buf_.size() : nl + 1;
    }
    counted_to_ = nullptr;
    buf_.erase(0, pos);
    if (buf_.size() > max_unit) {
      // A unit that never ends within the limit: reported once, skipped to its line's end.
      ++result.units;
      ++result.rejected;
      ordered_json j = head("rejected", false);
      j["reason"] = "too_large";  // the decoder's reason for a unit over the limit
      print(j);
      const std::size_t nl = buf_.find('\n', max_unit);
      if (nl == std::string::npos) {
        line_ += static_cast<std::size_t>(std::count(buf_.begin(), buf_.end(), '\n'));
        skipping_ = true;
        buf_.clear();
      } else {
        const std::string_view skipped(buf_.data(), nl + 1);
        line_ += static_cast<std::size_t>(std::count(skipped.begin(), skipped.end(), '\n'));
        buf_.erase(0, nl + 1);
        consume(at_end);
      }
    }
  }

  // Advances line_ over the newlines between the last counted position and p (both in buf_).
  void count_lines_to(const char* p) {
    const char* from = counted_to_ != nullptr ? counted_to_ : buf_.data();
    for (; from < p; ++from)
      if (*from == '\n') ++line_;
    counted_to_ = p;
  }

  void unit(std::string_view u) {
    ++result.units;
    sink_.reports.clear();
    parse_context ctx;
    ctx.receive_time = clk_.now();
    ctx.zone = &zone_;
    ctx.mode = opt_.mode;
    ctx.time_source = opt_.time_source;
    decoder_.decode(u, ctx, sink_);
    for (const auto& r : sink_.reports) {
      switch (r.what) {
        case collecting_sink::report::kind::record:
          emit_record(r);
          break;
        case collecting_sink::report::kind::skipped:
          ++result.skipped;
          emit_simple("skipped", r.reason, r.ignored);
          break;
        case collecting_sink::report::kind::rejected:
          ++result.rejected;
          emit_simple("rejected", r.reason, r.ignored);
          break;
      }
    }
  }

  // The fields every line starts with; `decoded`: the unit went through the decoder (so the
  // format and envelope it settled on are the unit's).
  ordered_json head(std::string_view result_name, bool decoded = true) const {
    ordered_json j;
    j["file"] = file_;
    j["line"] = line_;
    if (decoded && !decoder_.last_format().empty()) j["format"] = decoder_.last_format();
    if (decoded && !decoder_.last_envelope().empty()) j["envelope"] = decoder_.last_envelope();
    j["result"] = result_name;
    return j;
  }

  void print(const ordered_json& j) {
    out_ << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
  }

  void emit_simple(std::string_view what, std::string_view reason,
                   const std::vector<std::string_view>& ignored) {
    ordered_json j = head(what);
    j["reason"] = reason;
    add_ignored(j, ignored);
    print(j);
  }

  static void add_ignored(ordered_json& j, const std::vector<std::string_view>& ignored) {
    if (ignored.empty()) return;
    auto& a = j["ignored_fields"] = ordered_json::array();
    for (auto r : ignored) a.push_back(r);
  }

  void emit_record(const collecting_sink::report& r) {
    ++result.records;
    const network_session& s = r.session;
    ordered_json j = head("record");
    j["time"] = format_iso8601(s.time);
    j["time_from"] = to_string(s.time_from());
    j["src"] = s.src.to_string();
    j["dst"] = s.has_dst ? ordered_json(s.dst.to_string()) : ordered_json();
    j["dst_port"] = s.has_port() ? ordered_json(s.dst_port) : ordered_json();
    j["protocol"] = s.protocol != network_session::no_protocol
                        ? ordered_json(protocol_name(s.protocol))
                        : ordered_json();
    j["action"] =
        s.action != dvc_action::unknown ? ordered_json(to_string(s.action)) : ordered_json();
    j["side"] = s.side != flow_side::unknown ? ordered_json(to_string(s.side)) : ordered_json();
    const auto& labels = label_table::global();
    j["reported_by"] = labels.view(s.reported_by);
    const std::string_view device = labels.view(s.device);
    j["device"] = device.empty() ? ordered_json() : ordered_json(device);
    const source_class c = classify_source(s.src, opt_.mode);
    if (s.side == flow_side::reply && skips_reply_flows(opt_.reply_flows, opt_.mode)) {
      j["counted"] = false;
      j["not_counted"] = "reply_flow";
    } else if (c != source_class::candidate) {
      j["counted"] = false;
      j["not_counted"] = to_string(c);
    } else if (s.port_not_counted()) {
      j["counted"] = false;
      j["not_counted"] = "portless_protocol";
    } else if (!s.has_port()) {
      j["counted"] = false;
      j["not_counted"] = "no_port";
    } else {
      j["counted"] = true;
      ++result.counted;
    }
    add_ignored(j, r.ignored);
    print(j);
  }

  const inspect_options& opt_;
  const clock& clk_;
  std::ostream& out_;
  local_zone zone_;  // this thread's copy (its offset cache is per thread)
  unit_decoder decoder_;
  collecting_sink sink_;
  std::string file_;
  std::size_t line_ = 1;  // of the next unread byte of buf_ (of counted_to_ in documents mode)
  mode mode_ = mode::undecided;
  std::string buf_;
  const char* counted_to_ = nullptr;
  bool skipping_ = false;
};

}  // namespace

inspect_result run_inspect(const inspect_options& opt, const clock& clk, std::ostream& out,
                           std::ostream& summary) {
  inspector in(opt, clk, out);
  for (const auto& f : opt.files) {
    const bool stdin_input = f == "-";
    const int fd = stdin_input ? STDIN_FILENO : ::open(f.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      summary << "portscand parse: " << f << ": " << std::strerror(errno) << "\n";
      in.result.exit_code = 1;
      continue;
    }
    if (!in.read(stdin_input ? "-" : f, fd, summary)) in.result.exit_code = 1;
    if (!stdin_input) ::close(fd);
  }
  out.flush();
  const auto& r = in.result;
  summary << "parse: " << r.units << " units, " << r.records << " records (" << r.counted
          << " counted), " << r.skipped << " skipped, " << r.rejected << " rejected\n";
  return in.result;
}

}  // namespace portscand
