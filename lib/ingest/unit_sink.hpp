#pragma once

#include <cstdint>
#include <memory>
#include <string_view>

#include "core/time.hpp"

namespace portscand {

// What an input knows about a unit besides its bytes.
struct unit_meta {
  timestamp_us receive_time = 0;
  std::string_view peer;  // "ip:port" of a syslog sender, "" when unknown
  // Kafka messages: the message key, partition and offset (-1 for other inputs).
  std::string_view key;
  std::int32_t partition = -1;
  std::int64_t offset = -1;
};

// Where an input delivers the units it receives (datagrams, framed TCP messages, Kafka
// payloads, file lines). ingest/ is I/O only: the runtime implements this with a decoder and
// an engine dispatcher. One instance per input thread; not thread-safe.
//
// Backpressure: on_unit() may block while the engine's queues are full (a TCP listener then
// stops reading, which is the backpressure the peer sees). A sink made for a lossy input
// (UDP) never blocks: it counts what it cannot queue as dropped.
class unit_sink {
 public:
  virtual ~unit_sink() = default;
  virtual void on_unit(std::string_view unit, const unit_meta& meta) = 0;
  // Called after each burst of units (one read from a socket): the sink pushes its
  // partial batches and publishes the input's progress for the watermark.
  virtual void on_burst_end() = 0;
  // on_burst_end() for a burst the input knows is not its last: it reads on right away (a
  // file not yet read to its end). The sink keeps the input busy for the watermark, so a
  // reader that the scheduler leaves waiting (a loaded machine) is never taken for idle
  // while records wait in its file. The input calls on_burst_end() when it reaches the end.
  virtual void on_burst_continues() { on_burst_end(); }
};

}  // namespace portscand
