#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/time.hpp"
#include "event/network_session.hpp"

namespace portscand {

// The records of the scale-out topic (README "Scale-out"): one Kafka message per normalized
// network session, keyed by the canonical text of its source address, so that Kafka's
// default partitioner (murmur2) sends every record of a source to one partition; and the
// ticks an owner appends to its partitions to tell whoever reads them when the watermark
// moved and which bins to evaluate. Version 1, little-endian:
//
//   session: 0x01 | flags | time i64 (µs since the epoch) | [port u16] | [dst 4|16 bytes]
//            | [protocol u8] | action u8 | reported_by (len u8 + bytes) | [device (len u8 +
//            bytes)]
//            flags: 1 port, 2 dst, 4 dst is IPv6, 8 protocol, 16 device
//   tick:    0x02 | flags (1: evaluate) | watermark i64 | evaluate_before i64
//   mark:    0x03 | flags (1: final) | watermark i64 | producer (len u8 + bytes)
//            | covered count u16 | covered input partitions (len u8 + "topic/partition")
//   note:    0x04 | flags (1: IPv6 source) | writer u64 | seq u64 | next_allowed i64
//            | source (4|16 bytes)
//
// Notes carry the sliding window's alert history through the log (lib/runtime/README.md,
// "Sliding windows"): when an owner's evaluation moves a source's next allowed crossing, it
// appends (source, next_allowed) to the partition; a task applies a note where it reads it
// (the larger value wins), so a new owner re-reading the log learns what the previous one
// decided. `writer` names the task that wrote it (random per task), `seq` counts its notes.
//
// Marks are how stage 1 tells stage 2 how far it has read: each instance appends its own
// input watermark to every partition, with the Kafka input partitions it reads, and an
// owner takes the minimum over the instances once every input partition is covered (as a
// stream processor carries watermarks through a shuffle). "final": the instance stops
// producing (it has no input left); owners stop waiting for it.
//
// A reader refuses any other first byte (a later version) and any record that is short,
// long or inconsistent: counted, never a crash.
inline constexpr std::uint8_t session_record_v1 = 0x01;
inline constexpr std::uint8_t tick_record_v1 = 0x02;
inline constexpr std::uint8_t mark_record_v1 = 0x03;
inline constexpr std::uint8_t note_record_v1 = 0x04;

// The message key of a session: the canonical text of the source (dotted quad, RFC 5952).
std::string session_record_key(const ip_address& src);
// Appends the value of a session record to out. Labels longer than 255 bytes are cut.
void encode_session_record(const network_session& s, std::string_view reported_by,
                           std::string_view device, std::string& out);

struct decoded_session {
  network_session session;  // labels are not set: the caller interns the strings below
  std::string_view reported_by;
  std::string_view device;
};
// Decodes a session (key and value); nullopt with `why` set when either is not a valid v1
// session record. The views point into `value`.
std::optional<decoded_session> decode_session_record(std::string_view key, std::string_view value,
                                                     std::string_view* why = nullptr);

struct tick_record {
  timestamp_us watermark = INT64_MIN;
  std::optional<timestamp_us> evaluate_before;
  bool operator==(const tick_record&) const = default;
};
std::string encode_tick_record(const tick_record& t);
std::optional<tick_record> decode_tick_record(std::string_view value);

struct mark_record {
  std::string producer;  // the instance's id (at most 255 bytes)
  timestamp_us watermark = INT64_MIN;
  bool final = false;
  std::vector<std::string> covered;  // "topic/partition" of the Kafka inputs it reads
  bool operator==(const mark_record&) const = default;
};
std::string encode_mark_record(const mark_record& m);
std::optional<mark_record> decode_mark_record(std::string_view value);

// What an owner commits with the offset of a scale-out partition, so that the next owner
// rebuilds exactly the state it had: read from the committed offset, start from
// `watermark` (in force at that offset), and below `end` (the owner's position when it
// committed) take only the records of `bins` (the bins it held then); from `end` on, every
// record. Text: "psd1 wm=<µs> end=<offset> bins=<µs>,<µs>,...".
struct note_record {
  std::uint64_t writer = 0;
  std::uint64_t seq = 0;
  ip_address source;
  timestamp_us next_allowed = INT64_MIN;
  bool operator==(const note_record&) const = default;
};
std::string encode_note_record(const note_record& n);
std::optional<note_record> decode_note_record(std::string_view value);

struct partition_resume {
  timestamp_us watermark = INT64_MIN;
  std::int64_t end = 0;
  std::vector<timestamp_us> bins;  // ascending
  // Sliding windows: crossings before it are not the new owner's to decide (their history
  // is before the resume offset). INT64_MIN (tumbling, or nothing evaluated yet): none.
  timestamp_us floor = INT64_MIN;
  bool operator==(const partition_resume&) const = default;
};
std::string encode_partition_resume(const partition_resume& r);
std::optional<partition_resume> decode_partition_resume(std::string_view text);

}  // namespace portscand
