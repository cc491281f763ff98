#include "runtime/input_sink.hpp"

namespace portscand {

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

void input_sink::on_unit(std::string_view unit, const unit_meta& meta) {
  received_->inc();
  if (progress_ != nullptr && !busy_) {
    progress_->busy.store(true, std::memory_order_release);
    busy_ = true;
  }
  parse_context ctx;
  ctx.receive_time = meta.receive_time;
  ctx.mode = mode_;
  ctx.time_source = time_source_;
  if (!zone_.is_utc()) ctx.zone = &zone_;
  dispatcher_->begin_unit(ctx, &decoder_);
  decoder_.decode(unit, ctx, *dispatcher_);
  if (const std::string_view shape = decoder_.last_envelope(); !shape.empty()) {
    // Shapes are a handful of static strings: a short list found by pointer.
    counter* c = nullptr;
    for (const auto& [name, ctr] : unwrapped_)
      if (name == shape.data()) c = ctr;
    if (c == nullptr) {
      c = &metrics_->get_counter("portscand_records_unwrapped_total", unwrapped_help,
                                 {{"input", input_name_}, {"envelope", std::string(shape)}});
      unwrapped_.emplace_back(shape.data(), c);
    }
    c->inc();
  }
  const timestamp_us t = dispatcher_->take_max_event_time();
  pending_max_ = std::max(pending_max_, t);
  message_max_ = std::max(message_max_, t);
  last_receive_ = meta.receive_time;
}

void input_sink::end_burst(bool continues) {
  dispatcher_->flush();
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
  return dispatcher_->try_flush();
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
