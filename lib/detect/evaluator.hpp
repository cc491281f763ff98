#pragma once

#include <array>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "detect/rule.hpp"
#include "event/alert.hpp"
#include "event/label_table.hpp"
#include "window/shard_state.hpp"

namespace portscand {

// The id of a sliding-window alert: a UUIDv5 over rule id, source, the interval's start
// (ISO 8601) and the word "sliding". `source` is the alert's source text (alert::source_text).
std::string make_sliding_alert_id(std::string_view rule_id, std::string_view source,
                                  timestamp_us interval_start);

// The id of an early alert (README "Early alerts"): a UUIDv5 over rule id, source, bin start
// (ISO 8601) and the word "early"; never the id of the bin's final alert.
std::string make_early_alert_id(std::string_view rule_id, std::string_view source,
                                timestamp_us bin_start);

// The rule applied to closed bins: pure logic, no I/O. One per shard thread.
class evaluator {
 public:
  explicit evaluator(const label_table& labels = label_table::global()) : labels_(labels) {}

  // Evaluates every bin of `state` that closed before `close_before` (bin end <= it) and has
  // not been evaluated since it last changed; appends an alert for each key over the
  // threshold that has never alerted, and marks it alerted. `now` stamps detected_at.
  // Returns the number of bins evaluated. A port-sweep rule evaluates the state's sweep
  // keys; each rule keeps its own alert history (suppression, incidents).
  std::size_t evaluate(shard_state& state, const rule_definition& rule, timestamp_us close_before,
                       timestamp_us now, std::vector<alert>& out);

  // Early alerts: called (through shard_state's crossing handler) when key `k` has just
  // crossed the threshold. Appends its early alert to `out` (the evidence so far, marked
  // early, the final alert's id beside its own) unless an exclusion covers the source or
  // suppression would hold the bin's final alert back. Marks nothing: the bin's final alert
  // is decided by evaluate() exactly as without early alerts. Returns whether it appended
  // one. With `out` null (a crossing announced before, met again while a partition is
  // re-read) it only keeps the history later early alerts depend on (suppression,
  // incidents) as that announcement left it, counting nothing.
  bool early(const rule_definition& rule, key_view k, timestamp_us now, std::vector<alert>* out);
  // The same for a sweep key of the port-sweep rule.
  bool early(const rule_definition& rule, sweep_view k, timestamp_us now, std::vector<alert>* out);

  struct counters {
    // Keys over the threshold not alerted because an exclusion covers their source (one
    // added by a reload while their bin was open). They stay unmarked: if the exclusion is
    // gone when the bin is evaluated again, they alert.
    std::uint64_t excluded = 0;
    // Keys over the threshold not alerted because of `suppression` (marked alerted).
    std::uint64_t suppressed = 0;
    // Early alerts sent, and crossings not announced (an exclusion; suppression).
    std::uint64_t early_sent = 0;
    std::uint64_t early_excluded = 0;
    std::uint64_t early_suppressed = 0;
  };
  const counters& stats() const noexcept { return stats_; }

  // IPv6 keys are prefixes of this length (the dispatcher masked them): alerts say so.
  void set_ipv6_prefix(unsigned bits) noexcept { ipv6_prefix_ = static_cast<std::uint8_t>(bits); }

  // The alert history: per source, the bin start of its latest alert (suppression) and of
  // its current incident's first alert (incident ids). Checkpointed with the shard (a
  // restart must not alert again within the suppression, nor open a new incident).
  // deserialize returns false, leaving the history empty, on bytes that are not a valid
  // encoding.
  void serialize_history(std::string& out) const;
  bool deserialize_history(std::string_view in);
  std::size_t history_entries() const noexcept {
    return histories_[0].last_alert.size() + histories_[0].incidents.size() +
           histories_[1].last_alert.size() + histories_[1].incidents.size();
  }

 private:
  // One rule's alert history, per source (suppression and incident ids).
  struct history {
    // The bin start of its latest alert (suppression).
    std::unordered_map<ip_address, timestamp_us> last_alert;
    // The start of its current incident (incident ids).
    std::unordered_map<ip_address, timestamp_us> incidents;
    // The bin start of its latest early alert (suppression of early alerts whose final
    // alerts are still to come). Not checkpointed: after a restart the final alerts'
    // history alone decides.
    std::unordered_map<ip_address, timestamp_us> last_early;
    // The incident start its latest early alert named (so that a second early alert names
    // the incident the first one's final alert will open).
    std::unordered_map<ip_address, timestamp_us> early_incidents;
    bool empty() const noexcept {
      return last_alert.empty() && incidents.empty() && last_early.empty() &&
             early_incidents.empty();
    }
  };
  history& history_of(const rule_definition& rule) noexcept {
    return histories_[rule.kind == rule_kind::sweep ? 1 : 0];
  }

  // Sliding mode (lib/detect/README.md): one alert per crossing the window reports.
  std::size_t evaluate_sliding(shard_state& state, const rule_definition& rule,
                               timestamp_us close_before, timestamp_us now,
                               std::vector<alert>& out);
  // The port-sweep rule over the state's sweep keys.
  std::size_t evaluate_sweeps(shard_state& state, const rule_definition& rule,
                              timestamp_us close_before, timestamp_us now, std::vector<alert>& out);
  // Whether an exclusion covers a key's source (counted when `counter` is non-null).
  bool excluded(const rule_definition& rule, const ip_address& src, timestamp_us bin_start,
                std::uint64_t* counter) const;
  // The final alert's suppression decision for a key: true = suppressed (counted), else
  // its bin is noted as the source's latest alert.
  bool suppress(const rule_definition& rule, const ip_address& src, timestamp_us bin_start);
  // Whether a crossing of (src, bin_start) is to be sent as an early alert: not when an
  // exclusion or suppression holds it back (counted when `send`); without `send` (met
  // again in a re-read) only the history is kept. The shared part of both early()s.
  bool announce_early(const rule_definition& rule, const ip_address& src, timestamp_us bin_start,
                      bool send);
  // The early alert's suppression decision (see early()); notes the early alert if not.
  bool suppress_early(const rule_definition& rule, const ip_address& src, timestamp_us bin_start);
  // Completes an early alert built as the final one would be (id, final id, incident).
  void finish_early(const rule_definition& rule, alert& a, std::string early_id);

  // Early alerts: the start of the incident an early alert of (src, bin_start) names, noted
  // in the history's early_incidents.
  timestamp_us note_early_incident(const rule_definition& rule, const ip_address& src,
                                   timestamp_us bin_start);
  // The alert of key k as the rule sees it now (the final alert's fields and id).
  alert key_alert(const rule_definition& rule, key_view k, unsigned key_bits, timestamp_us now);
  alert sweep_alert(const rule_definition& rule, sweep_view k, unsigned key_bits, timestamp_us now);
  // Sets a.incident_id (rule.incident_grouping; the rule's incidents).
  void assign_incident(const rule_definition& rule, alert& a);
  // Drops the history no bin that can still be evaluated needs.
  void prune(const shard_state& state, const rule_definition& rule);
  unsigned key_bits(const ip_address& src) const noexcept {
    return src.is_v4() ? 128 : ipv6_prefix_;
  }

  const label_table& labels_;
  counters stats_;
  std::uint8_t ipv6_prefix_ = 128;
  std::array<history, 2> histories_;         // the vertical rule's, the sweep rule's
  std::vector<target_set::target> targets_;  // scratch of evaluate()
};

}  // namespace portscand
