#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "ingest/kafka_source.hpp"
#include "parse/decoder.hpp"
#include "runtime/engine.hpp"
#include "schedule/watermark.hpp"

namespace portscand {

// Progress of one non-Kafka input (a syslog listener, a file) for the watermark: written by
// the input's thread after each flush, read by the coordinator.
struct input_progress {
  std::atomic<timestamp_us> max_event{INT64_MIN};
  std::atomic<timestamp_us> last_active{INT64_MIN};
  // True from the first unit of a burst until the burst is handed over whole: also while
  // the input waits for room in full shard queues (a file read faster than the shards keep
  // up, a TCP syslog peer under backpressure).
  std::atomic<bool> busy{false};
  // Set when the input first handed a burst over with nothing more to read (a file at its
  // end): after a restart, the restored watermark waits for it (coordinator::feed_watermark).
  std::atomic<bool> reached_end{false};
};

// Feeds one non-Kafka input's progress to the watermark tracker at wall time `now`. An input
// busy handing a burst to the engine is active now, however long it has waited: its records
// exist, they are only not in the engine yet (the rule Kafka partitions with a backlog
// follow). Returns true then: the wall clock must not advance the watermark meanwhile.
bool observe_progress(watermark_tracker& tracker, watermark_tracker::input_id id,
                      const input_progress& progress, timestamp_us now);

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

  // Units are followed by simdjson's padding (replay's chunks): JSON formats parse them in
  // place.
  void set_padded(bool padded) noexcept { padded_ = padded; }
  // Decodes a header line (a stateful format's layout: Zeek's #fields, an AWS VPC header)
  // that was counted where it was read, so that the units after it parse under it: replay
  // gives each chunk, parsed on any thread, the headers the file had before it.
  void prime(std::string_view header, timestamp_us receive_time);

  void on_unit(std::string_view unit, const unit_meta& meta) override;
  void on_burst_end() override { end_burst(false); }
  void on_burst_continues() override { end_burst(true); }
  bool try_flush() override;
  timestamp_us take_max_event_time() override;

 private:
  // Pushes the partial batches and publishes the progress; `continues`: the input stays busy.
  void end_burst(bool continues);
  parse_context context(timestamp_us receive_time);
  void publish_counts();  // received and unwrapped units, to the shared counters

  unit_decoder decoder_;
  local_zone zone_;
  detection_mode mode_;            // the engine's: some parsers map fields per mode
  event_time_source time_source_;  // the input's `event_time:` (normalize())
  std::unique_ptr<engine::dispatcher> dispatcher_;
  input_progress* progress_;
  counter* received_;
  std::string input_name_;
  metrics_registry* metrics_;
  // portscand_records_unwrapped_total by envelope shape (the decoder's static names), and
  // the units not yet added to it (end_burst adds them, and the received units).
  struct unwrapped_shape {
    const char* name;
    counter* total;
    std::uint64_t pending = 0;
  };
  std::vector<unwrapped_shape> unwrapped_;
  std::uint64_t received_pending_ = 0;
  timestamp_us pending_max_ = INT64_MIN;  // for input_progress, published after a flush
  timestamp_us message_max_ = INT64_MIN;  // for take_max_event_time (Kafka, per message)
  timestamp_us last_receive_ = INT64_MIN;
  bool busy_ = false;  // progress_->busy as this thread last set it
  bool padded_ = false;
};

}  // namespace portscand
