#include "runtime/replay.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <thread>

#include "core/assert.hpp"
#include "core/metrics.hpp"
#include "core/thread_guard.hpp"
#include "ingest/json_documents.hpp"
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

// Read buffers, recycled: a fresh multi-megabyte allocation per chunk costs page faults and
// zeroing on every chunk. Bytes are left uninitialized. All buffers have one capacity, so
// any free one serves any request and the pool never holds more than were in flight at
// once. Any thread.
class buffer_pool {
 public:
  explicit buffer_pool(std::size_t capacity) : capacity_(capacity) {}
  struct buffer {
    std::unique_ptr<char[]> bytes;
    std::size_t capacity = 0;
    char* data() noexcept { return bytes.get(); }
  };
  using handle = std::shared_ptr<buffer>;

  std::size_t capacity() const noexcept { return capacity_; }

  // A buffer of capacity() bytes; it returns to the pool when the last handle goes.
  handle acquire() {
    std::unique_ptr<buffer> b;
    {
      std::lock_guard lock(mu_);
      if (!free_.empty()) {
        b = std::move(free_.back());
        free_.pop_back();
      }
    }
    if (!b) {
      b = std::make_unique<buffer>();
      b->bytes.reset(new char[capacity_]);
      b->capacity = capacity_;
    }
    return handle(b.release(), [this](buffer* released) {
      std::lock_guard lock(mu_);
      free_.emplace_back(released);
    });
  }

 private:
  const std::size_t capacity_;
  std::mutex mu_;
  std::vector<std::unique_ptr<buffer>> free_;
};

// A piece of one file that ends at a line boundary, with unit_padding readable bytes after
// `size` (so JSON formats parse in place).
struct chunk {
  std::size_t file = 0;
  std::size_t seq = 0;
  buffer_pool::handle data;
  std::size_t size = 0;
  // The file is read as JSON documents (see ingest/json_documents.hpp): the chunk ends
  // between units, and its units are found with json_documents::split, not by line.
  bool documents = false;
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

// Reads files into line-aligned chunks. A line longer than max_line is cut into a unit of
// max_line + 1 bytes (which the decoder rejects as too_large) and the rest of it skipped.
// A file whose first non-blank line opens a JSON document that continues on later lines is
// read as documents: chunks end between units (json_documents), and a document longer than
// max_line is cut like an over-long line (reading resumes after the next line break).
class chunk_reader {
 public:
  chunk_reader(buffer_pool& pool, std::size_t chunk_bytes, std::size_t max_line)
      : pool_(pool), chunk_bytes_(chunk_bytes), max_line_(max_line) {
    // The carried tail of a chunk is at most max_line bytes (longer lines are cut).
    PORTSCAND_ASSERT(pool.capacity() >= max_line + chunk_bytes + unit_padding,
                     "replay buffers too small");
  }

  // Calls emit(chunk) for each chunk of the file; returns false on a read error.
  template <typename Emit>
  bool read_file(std::size_t file_index, int fd, Emit emit, std::size_t& chunks,
                 std::string& error) {
    std::vector<char> carry;
    bool skipping = false;  // inside an over-long line, looking for its end
    bool decided = false;   // whether the file is read as lines or as documents
    bool documents = false;
    std::size_t seq = 0;
    // One unit of max_line + 1 bytes from `from`, which the decoder rejects as too_large. In
    // a documents file the cut document holds line breaks: its chunk is split as documents,
    // which keeps it one unit.
    auto emit_too_large = [&](const char* from) {
      auto unit = pool_.acquire();
      std::memcpy(unit->data(), from, max_line_ + 1);
      unit->data()[max_line_ + 1] = '\n';
      const std::size_t size = max_line_ + 2;
      std::memset(unit->data() + size, ' ', unit_padding);
      emit(chunk{file_index, seq++, std::move(unit), size, documents});
    };
    while (true) {
      auto buf = pool_.acquire();
      char* const data = buf->data();
      if (!carry.empty()) std::memcpy(data, carry.data(), carry.size());
      const std::size_t start = carry.size();
      carry.clear();
      ssize_t n;
      do {
        n = ::read(fd, data + start, chunk_bytes_);
      } while (n < 0 && errno == EINTR);
      if (n < 0) {
        error = std::strerror(errno);
        chunks = seq;
        return false;
      }
      const std::size_t filled = start + static_cast<std::size_t>(n);
      const bool eof = n == 0;
      std::size_t begin = 0;
      if (skipping) {
        const void* nl = std::memchr(data, '\n', filled);
        if (nl == nullptr) {
          if (eof) break;
          continue;
        }
        begin = static_cast<std::size_t>(static_cast<const char*>(nl) - data) + 1;
        skipping = false;
      }
      if (!decided) {
        // The first non-blank line decides, once it is complete (or the file ends).
        std::size_t first = begin;
        while (first < filled && (data[first] == '\n' || data[first] == '\r' ||
                                  data[first] == ' ' || data[first] == '\t'))
          ++first;
        if (first < filled) {
          const void* nl = std::memchr(data + first, '\n', filled - first);
          if (nl != nullptr || eof || filled - first > max_line_) {
            const std::size_t line_end =
                nl != nullptr ? static_cast<std::size_t>(static_cast<const char*>(nl) - data)
                              : filled;
            documents = json_documents::opens_multiline_document(
                std::string_view(data + first, line_end - first));
            decided = true;
          }
        }
      }
      if (documents) {
        const std::string_view text(data + begin, filled - begin);
        const std::size_t end = begin + json_documents::split(text, eof, [](std::string_view) {});
        const std::size_t rest = filled - end;
        const bool too_large = !eof && rest > max_line_;
        // The carried tail is copied before the units' padding overwrites its first bytes.
        if (!too_large && !eof) carry.assign(data + end, data + filled);
        if (end > begin) {
          const std::size_t size = end - begin;
          if (too_large) {
            // The over-long tail stays in this buffer: the units go out in a copy.
            auto units = pool_.acquire();
            std::memcpy(units->data(), data + begin, size);
            std::memset(units->data() + size, ' ', unit_padding);
            emit(chunk{file_index, seq++, std::move(units), size, true});
          } else {
            if (begin != 0) std::memmove(data, data + begin, size);
            std::memset(data + size, ' ', unit_padding);
            emit(chunk{file_index, seq++, std::move(buf), size, true});
          }
        }
        if (too_large) {
          char* tail = data + end;
          emit_too_large(tail);
          carry.assign(tail + max_line_ + 1, data + filled);
          skipping = true;
        }
        if (eof) break;
        continue;
      }
      std::size_t end = filled;
      if (!eof) {
        // Cut after the last newline; the tail is carried into the next chunk.
        const void* nl = ::memrchr(data + begin, '\n', filled - begin);
        if (nl == nullptr) {
          // No newline at all since `begin`: a line longer than what we hold.
          if (filled - begin > max_line_) {
            emit_too_large(data + begin);
            skipping = true;
          } else {
            carry.assign(data + begin, data + filled);
          }
          continue;
        }
        end = static_cast<std::size_t>(static_cast<const char*>(nl) - data) + 1;
        carry.assign(data + end, data + filled);
      }
      if (end > begin) {
        const std::size_t size = end - begin;
        if (begin != 0) std::memmove(data, data + begin, size);
        std::memset(data + size, ' ', unit_padding);
        emit(chunk{file_index, seq++, std::move(buf), size});
      }
      if (eof) break;
    }
    chunks = seq;
    return true;
  }

 private:
  buffer_pool& pool_;
  std::size_t chunk_bytes_;
  std::size_t max_line_;
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
  buffer_pool buffers(opt.chunk_bytes + unit_decoder::default_max_unit_bytes + unit_padding);
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
        const char* p = c->data->data();
        const char* end = p + c->size;
        auto decode_unit = [&](std::string_view unit) { sink->on_unit(unit, meta); };
        if (c->documents) {
          json_documents::split(std::string_view(p, c->size), true, decode_unit);
          p = end;
        }
        while (p < end) {
          const char* nl =
              static_cast<const char*>(std::memchr(p, '\n', static_cast<std::size_t>(end - p)));
          const char* line_end = nl != nullptr ? nl : end;
          decode_unit(std::string_view(p, static_cast<std::size_t>(line_end - p)));
          p = line_end + 1;
        }
        sink->on_burst_end();
        done.push(chunk_done{c->file, c->seq, sink->take_max_event_time()});
      }
    }));
  }

  std::thread reader(guarded("replay-reader", [&] {
    chunk_reader rd(buffers, opt.chunk_bytes, unit_decoder::default_max_unit_bytes);
    header_tracker headers(builtin_formats(), opt.format);
    for (std::size_t i = 0; i < opt.files.size(); ++i) {
      headers.reset();
      const std::string& path = opt.files[i];
      const int fd = path == "-" ? 0 : ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
      std::size_t n = 0;
      std::string error;
      bool ok = fd >= 0;
      if (!ok)
        error = std::strerror(errno);
      else
        ok = rd.read_file(
            i, fd,
            [&chunks, &headers](chunk c) {
              c.preamble = headers.preamble_for(c.data->data(), c.size);
              chunks.push(std::move(c));
            },
            n, error);
      if (fd > 0) ::close(fd);
      if (!ok) summary << "portscand replay: cannot read " << path << ": " << error << '\n';
      done.push(chunk_done{i, n, INT64_MIN, true, !ok});
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
