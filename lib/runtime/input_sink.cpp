#include "runtime/input_sink.hpp"

#include <utility>

#include "ingest/file_reader.hpp"

namespace portscand {

static_assert(chunk_padding == unit_padding,
              "the file reader pads its chunks for the decoder's in-place parsing");

envelope_options to_envelope_options(const envelope_config& c) {
  envelope_options o;
  switch (c.mode) {
    case envelope_config::kind::automatic:
      o.mode = envelope_options::kind::automatic;
      break;
    case envelope_config::kind::none:
      o.mode = envelope_options::kind::none;
      break;
    case envelope_config::kind::custom:
      o.mode = envelope_options::kind::custom;
      break;
  }
  o.message = c.message;
  o.time = c.time;
  o.host = c.host;
  return o;
}

input_sink::input_sink(engine& eng, const std::string& input_name, const std::string& format,
                       event_time_source time_source, input_progress* progress, bool lossy,
                       local_zone zone, const envelope_config& envelope)
    : decoder_(builtin_formats(), format, unit_decoder::default_max_unit_bytes,
               to_envelope_options(envelope)),
      zone_(std::move(zone)),
      mode_(eng.mode()),
      time_source_(time_source),
      dispatcher_(eng.make_dispatcher(input_name)),
      progress_(progress),
      // Counted before parsing: for one-record-per-unit inputs (NDJSON, syslog lines) received
      // = parsed + rejected + skipped, so a unit lost between input and parser shows up.
      received_(&eng.metrics().get_counter(
          "portscand_records_received_total",
          "Units received by an input before parsing (a line, a Kafka message, a syslog message).",
          {{"input", input_name}})),
      input_name_(input_name),
      metrics_(&eng.metrics()) {
  dispatcher_->set_drop_when_full(lossy);
}

namespace {
class null_sink final : public parse_sink {
 public:
  void record(const network_session&) override {}
  void skipped(std::string_view) override {}
  void rejected(std::string_view) override {}
  void ignored_field(std::string_view) override {}
};
}  // namespace

parse_context input_sink::context(timestamp_us receive_time) {
  parse_context ctx;
  ctx.receive_time = receive_time;
  ctx.mode = mode_;
  ctx.time_source = time_source_;
  ctx.padded = padded_;
  if (!zone_.is_utc()) ctx.zone = &zone_;
  return ctx;
}

void input_sink::prime(std::string_view header, timestamp_us receive_time) {
  null_sink ignore;
  parse_context ctx = context(receive_time);
  ctx.padded = false;  // a copy of the line, not followed by the chunk's padding
  decoder_.decode(header, ctx, ignore);
}

void input_sink::on_unit(std::string_view unit, const unit_meta& meta) {
  ++received_pending_;
  if (progress_ != nullptr && !busy_) {
    progress_->busy.store(true, std::memory_order_release);
    busy_ = true;
  }
  const parse_context ctx = context(meta.receive_time);
  dispatcher_->begin_unit(ctx, &decoder_);
  decoder_.decode(unit, ctx, *dispatcher_);
  if (const std::string_view shape = decoder_.last_envelope(); !shape.empty()) {
    // Shapes are a handful of static strings: a short list found by pointer.
    unwrapped_shape* found = nullptr;
    for (auto& u : unwrapped_)
      if (u.name == shape.data()) found = &u;
    if (found == nullptr)
      found = &unwrapped_.emplace_back(unwrapped_shape{
          shape.data(),
          &metrics_->get_counter("portscand_records_unwrapped_total", unwrapped_help,
                                 {{"input", input_name_}, {"envelope", std::string(shape)}})});
    ++found->pending;
  }
  const timestamp_us t = dispatcher_->take_max_event_time();
  pending_max_ = std::max(pending_max_, t);
  message_max_ = std::max(message_max_, t);
  last_receive_ = meta.receive_time;
}

void input_sink::end_burst(bool continues) {
  dispatcher_->flush();
  publish_counts();
  if (progress_ != nullptr) {
    if (pending_max_ != INT64_MIN &&
        pending_max_ > progress_->max_event.load(std::memory_order_relaxed))
      progress_->max_event.store(pending_max_, std::memory_order_release);
    if (last_receive_ != INT64_MIN)
      progress_->last_active.store(last_receive_, std::memory_order_release);
    if (!continues) progress_->reached_end.store(true, std::memory_order_release);
    if (busy_ != continues) {
      progress_->busy.store(continues, std::memory_order_release);
      busy_ = continues;
    }
  }
  pending_max_ = INT64_MIN;
}

bool input_sink::try_flush() {
  publish_counts();
  return dispatcher_->try_flush();
}

void input_sink::publish_counts() {
  // Added here, not per unit: replay's parse threads share a file's counters, and an atomic
  // add per unit on a shared cache line costs them (the dispatcher counts the same way).
  if (received_pending_ != 0) received_->inc(std::exchange(received_pending_, 0));
  for (auto& u : unwrapped_)
    if (u.pending != 0) u.total->inc(std::exchange(u.pending, 0));
}

bool observe_progress(watermark_tracker& tracker, watermark_tracker::input_id id,
                      const input_progress& progress, timestamp_us now) {
  // busy first: a burst that ends between the two loads has published its max_event.
  const bool busy = progress.busy.load(std::memory_order_acquire);
  const timestamp_us t = progress.max_event.load(std::memory_order_acquire);
  if (busy) {
    tracker.observe(id, t, now);
    return true;
  }
  if (t != INT64_MIN) tracker.observe(id, t, progress.last_active.load(std::memory_order_acquire));
  return false;
}

timestamp_us input_sink::take_max_event_time() {
  const timestamp_us t = message_max_;
  message_max_ = INT64_MIN;
  return t;
}

}  // namespace portscand
