#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace portscand {

using metric_labels = std::vector<std::pair<std::string, std::string>>;

// A monotonically increasing count. inc() is a relaxed atomic add: safe from any thread,
// cheap on the data path (each hot counter is touched by one thread, so no line bouncing).
class counter {
 public:
  void inc(std::uint64_t n = 1) noexcept { v_.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t value() const noexcept { return v_.load(std::memory_order_relaxed); }

 private:
  alignas(64) std::atomic<std::uint64_t> v_{0};
};

class gauge {
 public:
  void set(double v) noexcept { v_.store(v, std::memory_order_relaxed); }
  double value() const noexcept { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> v_{0};
};

// Cumulative histogram with fixed upper bounds (seconds or any base unit).
class histogram {
 public:
  explicit histogram(std::vector<double> bounds);
  void observe(double v) noexcept;
  const std::vector<double>& bounds() const noexcept { return bounds_; }
  std::vector<std::uint64_t> bucket_counts() const;  // cumulative, one per bound plus +Inf
  double sum() const noexcept { return sum_.load(std::memory_order_relaxed); }
  std::uint64_t count() const noexcept { return count_.load(std::memory_order_relaxed); }

 private:
  std::vector<double> bounds_;
  std::deque<std::atomic<std::uint64_t>> buckets_;
  std::atomic<double> sum_{0};
  std::atomic<std::uint64_t> count_{0};
};

// Owns every metric of the process and renders the Prometheus text exposition format.
// Creating a metric takes a mutex (startup, or the first time a reason is seen); returned
// references stay valid for the registry's lifetime. Any thread.
class metrics_registry {
 public:
  counter& get_counter(std::string_view name, std::string_view help,
                       const metric_labels& labels = {});
  gauge& get_gauge(std::string_view name, std::string_view help, const metric_labels& labels = {});
  histogram& get_histogram(std::string_view name, std::string_view help, std::vector<double> bounds,
                           const metric_labels& labels = {});

  // The sum of a counter family over all label sets that contain every pair of `match`.
  std::uint64_t counter_sum(std::string_view name, const metric_labels& match = {}) const;

  std::string render() const;

 private:
  enum class kind { counter, gauge, histogram };
  struct family {
    kind k;
    std::string help;
    std::map<metric_labels, counter*> counters;
    std::map<metric_labels, gauge*> gauges;
    std::map<metric_labels, histogram*> histograms;
  };
  family& family_for(std::string_view name, std::string_view help, kind k);

  mutable std::mutex mu_;
  std::map<std::string, family, std::less<>> families_;
  std::deque<counter> counter_store_;
  std::deque<gauge> gauge_store_;
  std::deque<histogram> histogram_store_;
};

}  // namespace portscand
