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
#include "ingest/file_reader.hpp"
#include "parse/decoder.hpp"
#include "runtime/input_sink.hpp"

namespace portscand {
namespace {

using ordered_json = nlohmann::ordered_json;

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
        decoder_(builtin_formats(), opt.format, max_unit, to_envelope_options(opt.envelope)),
        buffers_(file_reader::buffer_bytes(opt.read_bytes, max_unit)),
        reader_(buffers_, opt.read_bytes, max_unit, /*count_lines=*/true) {}

  inspect_result result;

  // Reads one input to its end, as the file and replay inputs do. False when it cannot be
  // read.
  bool read(const std::string& name, int fd, std::ostream& summary) {
    file_ = name;
    reader_.reset();
    const file_reader::emit_fn emit = [this](file_chunk&& c) { units_of(c); };
    ssize_t n = 0;
    while ((n = reader_.read_some(fd, emit)) > 0) {
    }
    if (n < 0) {
      const int err = errno;
      reader_.reset();
      summary << "portscand parse: " << name << ": " << std::strerror(err) << "\n";
      return false;
    }
    reader_.finish(emit);
    return true;
  }

 private:
  void units_of(const file_chunk& c) {
    line_ = c.first_line;
    const char* counted = c.data->data();
    for_each_unit(c, [&](std::string_view u) {
      line_ += static_cast<std::size_t>(std::count(counted, u.data(), '\n'));
      counted = u.data();
      unit(u);
    });
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
  buffer_pool buffers_;
  file_reader reader_;
  std::string file_;
  std::size_t line_ = 1;  // of the unit being decoded
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
