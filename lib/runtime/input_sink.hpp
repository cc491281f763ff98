#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "ingest/kafka_source.hpp"
#include "parse/decoder.hpp"
#include "runtime/engine.hpp"

namespace portscand {

// Progress of one non-Kafka input (a syslog listener, a file) for the watermark: written by
// the input's thread after each flush, read by the coordinator.
struct input_progress {
  std::atomic<timestamp_us> max_event{INT64_MIN};
  std::atomic<timestamp_us> last_active{INT64_MIN};
};

inline constexpr const char* unwrapped_help =
    "Units that arrived in a shipper's JSON envelope and were unwrapped, by input and envelope "
    "shape.";

// The parse layer's form of an input's `envelope:`.
envelope_options to_envelope_options(const envelope_config& c);

// The unit_sink the runtime gives to inputs: decodes units with a decoder (fixed format or
// auto) on the input's own thread and routes records through an engine dispatcher.
class input_sink final : public kafka_unit_sink {
 public:
  // zone: the input's `timezone:`; this sink keeps its own copy (its offset cache is per
  // thread). envelope: the input's `envelope:`.
  input_sink(engine& eng, const std::string& input_name, const std::string& format,
             event_time_source time_source, input_progress* progress, bool lossy,
             local_zone zone = {}, const envelope_config& envelope = {});

  void on_unit(std::string_view unit, const unit_meta& meta) override;
  void on_burst_end() override;
  bool try_flush() override;
  timestamp_us take_max_event_time() override;

 private:
  unit_decoder decoder_;
  local_zone zone_;
  std::unique_ptr<engine::dispatcher> dispatcher_;
  input_progress* progress_;
  counter* received_;
  std::string input_name_;
  metrics_registry* metrics_;
  // portscand_records_unwrapped_total by envelope shape (the decoder's static names).
  std::vector<std::pair<const char*, counter*>> unwrapped_;
  timestamp_us pending_max_ = INT64_MIN;  // for input_progress, published after a flush
  timestamp_us message_max_ = INT64_MIN;  // for take_max_event_time (Kafka, per message)
  timestamp_us last_receive_ = INT64_MIN;
};

}  // namespace portscand
