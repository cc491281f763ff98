#include "runtime/replay.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <thread>

#include "core/metrics.hpp"
#include "core/thread_guard.hpp"
#include "ingest/file_reader.hpp"
#include "parse/decoder.hpp"
#include "runtime/engine.hpp"
#include "runtime/input_sink.hpp"
#include "schedule/schedule.hpp"
#include "schedule/watermark.hpp"

namespace portscand {
namespace {

class collecting_alert_sink final : public alert_sink {
 public:
  void publish(std::vector<alert>&& alerts) override {
    std::lock_guard lock(mu_);
    for (auto& a : alerts) alerts_.push_back(std::move(a));
  }
  std::vector<alert> take() {
    std::lock_guard lock(mu_);
    return std::move(alerts_);
  }

 private:
  std::mutex mu_;
  std::vector<alert> alerts_;
};

// A chunk of one file (see ingest/file_reader.hpp), in the order the file was read.
struct chunk {
  std::size_t file = 0;
  std::size_t seq = 0;
  file_chunk units;
  // The file's latest header lines before this chunk (stateful formats, see
  // format_entry::is_header): replayed silently into the parsing thread's decoder first.
  std::shared_ptr<const std::vector<std::string>> preamble;
};

// Tracks the header lines of stateful formats while the reader walks a file in order, so
// that a chunk parsed on any thread starts with the layout its lines were written under.
class header_tracker {
 public:
  header_tracker(const format_registry& registry, const std::string& format) {
    for (const auto& e : registry.entries())
      if (e.is_header && (format == "auto" || e.name == format)) probes_.push_back(&e.is_header);
  }
  bool active() const noexcept { return !probes_.empty(); }

  // The header lines seen so far (nullptr when none), then takes note of the chunk's own.
  std::shared_ptr<const std::vector<std::string>> preamble_for(const char* data, std::size_t size) {
    auto before = current_;
    if (probes_.empty()) return before;
    const char* p = data;
    const char* end = data + size;
    while (p < end) {
      const char* nl =
          static_cast<const char*>(std::memchr(p, '\n', static_cast<std::size_t>(end - p)));
      const char* line_end = nl != nullptr ? nl : end;
      std::string_view line(p, static_cast<std::size_t>(line_end - p));
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      for (const auto* probe : probes_) {
        if ((*probe)(line)) {
          note(line);
          break;
        }
      }
      p = line_end + 1;
    }
    return before;
  }
  void reset() { current_.reset(); }

 private:
  // Keeps the latest line per header keyword ("#fields", "version", ...), in first-seen order.
  void note(std::string_view line) {
    auto next = current_ ? std::make_shared<std::vector<std::string>>(*current_)
                         : std::make_shared<std::vector<std::string>>();
    const std::string_view key = line.substr(0, line.find_first_of(" \t"));
    bool replaced = false;
    for (auto& h : *next) {
      if (std::string_view(h).substr(0, h.find_first_of(" \t")) == key) {
        h.assign(line);
        replaced = true;
      }
    }
    if (!replaced && next->size() < 64) next->emplace_back(line);
    current_ = std::move(next);
  }

  std::vector<const std::function<bool(std::string_view)>*> probes_;
  std::shared_ptr<const std::vector<std::string>> current_;
};

struct chunk_done {
  std::size_t file = 0;
  std::size_t seq = 0;
  timestamp_us max_event = INT64_MIN;
  bool end_of_file = false;  // sent by the reader: `seq` chunks in all
  bool read_error = false;
};

}  // namespace

replay_result run_replay(const replay_options& opt, const rule_set& rules, const clock& clk,
                         std::ostream& out, std::ostream& summary) {
  const rule_definition& rule = rules.lead();
  replay_result result;
  metrics_registry metrics;
  collecting_alert_sink alerts;
  engine_options eo;
  eo.shards = std::max(1u, opt.shards);
  eo.window.bin_width = rule.bin_width;
  eo.window.retention = rule.query_period + opt.evaluation.allowed_lateness;
  eo.window.max_keys = opt.max_keys_per_shard;
  eo.window.max_targets = opt.max_targets;
  eo.window.sliding = opt.evaluation.window == window_kind::sliding;
  eo.mode = opt.mode;
  eo.ipv6_prefix = opt.ipv6_prefix;
  eo.skip_reply_flows = skips_reply_flows(opt.reply_flows, opt.mode);
  eo.max_future_skew = opt.evaluation.max_future_skew;
  engine eng(eo, std::make_shared<const rule_set>(rules), clk, alerts, metrics);

  watermark_tracker tracker({opt.evaluation.idle_timeout, /*wall_clock_idleness=*/false});
  for (const auto& f : opt.files) tracker.add_input(f);
  evaluation_schedule schedule(schedule_kind::on_close, rule.query_frequency,
                               opt.evaluation.allowed_lateness);

  const unsigned workers = opt.parse_threads != 0
                               ? opt.parse_threads
                               : std::max(1u, std::thread::hardware_concurrency());
  // Declared before the queue: queued chunks return their buffers to it.
  buffer_pool buffers(
      file_reader::buffer_bytes(opt.chunk_bytes, unit_decoder::default_max_unit_bytes));
  bounded_queue<chunk> chunks(workers * 2);
  bounded_queue<chunk_done> done(1u << 20);

  std::vector<std::thread> pool;
  for (unsigned w = 0; w < workers; ++w) {
    pool.emplace_back(guarded("replay-parse", [&] {
      // Per file an input_sink, as a daemon input has (the file is the input label): its
      // decoder keeps the header state of that file only, its dispatcher routes to the shards.
      std::map<std::size_t, std::unique_ptr<input_sink>> sinks;
      while (auto c = chunks.pop()) {
        auto& sink = sinks[c->file];
        if (!sink) {
          sink = std::make_unique<input_sink>(
              eng, opt.files[c->file] == "-" ? "stdin" : opt.files[c->file], opt.format,
              event_time_source::record, nullptr, false, opt.zone, opt.envelope);
          sink->set_padded(true);
        }
        unit_meta meta;
        meta.receive_time = clk.now();
        if (c->preamble)
          for (const auto& h : *c->preamble) sink->prime(h, meta.receive_time);
        for_each_unit(c->units, [&](std::string_view unit) { sink->on_unit(unit, meta); });
        sink->on_burst_end();
        done.push(chunk_done{c->file, c->seq, sink->take_max_event_time()});
      }
    }));
  }

  std::thread reader(guarded("replay-reader", [&] {
    file_reader rd(buffers, opt.chunk_bytes, unit_decoder::default_max_unit_bytes);
    header_tracker headers(builtin_formats(), opt.format);
    for (std::size_t i = 0; i < opt.files.size(); ++i) {
      headers.reset();
      const std::string& path = opt.files[i];
      const int fd = path == "-" ? 0 : ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
      std::size_t seq = 0;
      const file_reader::emit_fn emit = [&](file_chunk&& units) {
        chunk c{i, seq++, std::move(units), nullptr};
        c.preamble = headers.preamble_for(c.units.data->data(), c.units.size);
        chunks.push(std::move(c));
      };
      std::string error;
      bool ok = fd >= 0;
      if (!ok) {
        error = std::strerror(errno);
      } else {
        ssize_t n = 0;
        while ((n = rd.read_some(fd, emit)) > 0) {
        }
        ok = n == 0;
        if (ok) {
          rd.finish(emit);
        } else {
          error = std::strerror(errno);
          rd.reset();
        }
      }
      if (fd > 0) ::close(fd);
      if (!ok) summary << "portscand replay: cannot read " << path << ": " << error << '\n';
      done.push(chunk_done{i, seq, INT64_MIN, true, !ok});
    }
    chunks.close();
  }));

  // Coordinator: per file, the contiguous prefix of finished chunks defines its progress.
  struct file_progress {
    std::size_t next = 0;                          // first chunk not yet accounted
    std::size_t total = SIZE_MAX;                  // known at end of file
    std::map<std::size_t, timestamp_us> finished;  // out-of-order completions
    bool closed = false;
  };
  std::vector<file_progress> progress(opt.files.size());
  std::size_t open_files = opt.files.size();
  timestamp_us last_watermark = INT64_MIN;
  while (open_files > 0) {
    auto d = done.pop();
    if (!d) break;
    file_progress& fp = progress[d->file];
    if (d->end_of_file) {
      fp.total = d->seq;
      if (d->read_error) result.exit_code = 1;
    } else {
      fp.finished[d->seq] = d->max_event;
    }
    while (!fp.finished.empty() && fp.finished.begin()->first == fp.next) {
      const timestamp_us t = fp.finished.begin()->second;
      if (t != INT64_MIN) tracker.observe(d->file, t, clk.now());
      fp.finished.erase(fp.finished.begin());
      ++fp.next;
    }
    if (!fp.closed && fp.next == fp.total) {
      fp.closed = true;
      tracker.finish(d->file);
      --open_files;
    }
    const timestamp_us wm = tracker.current(clk.now());
    if (wm != last_watermark && open_files > 0) {
      last_watermark = wm;
      eng.advance(wm, schedule.due(wm, clk.now()));
    }
  }
  reader.join();
  for (auto& t : pool) t.join();
  // End of input: every bin is evaluated.
  eng.advance(INT64_MAX, INT64_MAX).wait();
  const engine::totals totals = eng.snapshot();
  eng.stop();

  std::vector<alert> all = alerts.take();
  std::vector<std::pair<std::string, std::size_t>> order;
  order.reserve(all.size());
  for (std::size_t i = 0; i < all.size(); ++i) order.emplace_back(all[i].source_text(), i);
  // By bin, then source; a source's scan alert before its sweep alerts, those by port; an
  // early alert right before its final alert.
  std::sort(order.begin(), order.end(), [&all](const auto& a, const auto& b) {
    const alert& x = all[a.second];
    const alert& y = all[b.second];
    if (x.bin_start != y.bin_start) return x.bin_start < y.bin_start;
    if (a.first != b.first) return a.first < b.first;
    if (x.swept_port != y.swept_port) return x.swept_port < y.swept_port;
    return x.early && !y.early;
  });
  const alert_schema schema =
      opt.schema == output_schema::ocsf ? alert_schema::ocsf : alert_schema::native;
  for (const auto& [src, i] : order) out << render_alert(all[i], schema) << '\n';
  out.flush();
  result.alerts = all.size();

  // Summary: what happened to every unit.
  auto sum = [&metrics](const char* name, const metric_labels& match = {}) {
    return metrics.counter_sum(name, match);
  };
  summary << "portscand replay: " << sum("portscand_records_parsed_total") << " records parsed, "
          << sum("portscand_records_rejected_total") << " rejected, "
          << sum("portscand_records_skipped_total") << " skipped (not a session), "
          << sum("portscand_records_filtered_total") << " filtered, " << totals.late << " late, "
          << totals.shed << " shed, " << all.size() << " alerts\n";
  const std::string text = metrics.render();
  for (const char* family :
       {"portscand_records_rejected_total", "portscand_records_skipped_total",
        "portscand_records_filtered_total", "portscand_records_unwrapped_total",
        "portscand_records_excluded_total"}) {
    std::size_t pos = 0;
    const std::string prefix = std::string(family) + "{";
    while ((pos = text.find(prefix, pos)) != std::string::npos) {
      const std::size_t eol = text.find('\n', pos);
      const std::string line = text.substr(pos, eol - pos);
      if (line.substr(line.rfind(' ') + 1) != "0") summary << "  " << line << '\n';
      pos = eol;
    }
  }
  for (const char* family :
       {"portscand_alerts_excluded_total", "portscand_alerts_suppressed_total"})
    if (const auto n = sum(family); n != 0) summary << "  " << family << " " << n << '\n';
  return result;
}

}  // namespace portscand
