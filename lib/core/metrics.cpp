#include "core/metrics.hpp"

#include <algorithm>
#include <cmath>

#include "core/assert.hpp"

namespace portscand {
namespace {

void append_escaped(std::string& out, std::string_view v) {
  for (char c : v) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
}

void append_labels(std::string& out, const metric_labels& labels, const char* extra_key = nullptr,
                   const std::string& extra_value = {}) {
  if (labels.empty() && extra_key == nullptr) return;
  out += '{';
  bool first = true;
  for (const auto& [k, v] : labels) {
    if (!first) out += ',';
    first = false;
    out += k;
    out += "=\"";
    append_escaped(out, v);
    out += '"';
  }
  if (extra_key != nullptr) {
    if (!first) out += ',';
    out += extra_key;
    out += "=\"";
    out += extra_value;
    out += '"';
  }
  out += '}';
}

std::string format_number(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == std::floor(v) && std::fabs(v) < 1e15) return std::to_string(static_cast<long long>(v));
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

}  // namespace

histogram::histogram(std::vector<double> bounds) : bounds_(std::move(bounds)) {
  std::sort(bounds_.begin(), bounds_.end());
  for (std::size_t i = 0; i <= bounds_.size(); ++i) buckets_.emplace_back(0);
}

void histogram::observe(double v) noexcept {
  const auto idx = static_cast<std::size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), v) -
                                            bounds_.begin());
  buckets_[idx].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  double cur = sum_.load(std::memory_order_relaxed);
  while (!sum_.compare_exchange_weak(cur, cur + v, std::memory_order_relaxed)) {
  }
}

std::vector<std::uint64_t> histogram::bucket_counts() const {
  std::vector<std::uint64_t> out;
  std::uint64_t acc = 0;
  for (const auto& b : buckets_) {
    acc += b.load(std::memory_order_relaxed);
    out.push_back(acc);
  }
  return out;
}

metrics_registry::family& metrics_registry::family_for(std::string_view name, std::string_view help,
                                                       kind k) {
  auto it = families_.find(name);
  if (it == families_.end())
    it = families_.emplace(std::string(name), family{k, std::string(help), {}, {}, {}}).first;
  PORTSCAND_ASSERT(it->second.k == k, "metric registered twice with different types");
  return it->second;
}

counter& metrics_registry::get_counter(std::string_view name, std::string_view help,
                                       const metric_labels& labels) {
  std::lock_guard lock(mu_);
  family& f = family_for(name, help, kind::counter);
  auto [it, inserted] = f.counters.try_emplace(labels, nullptr);
  if (inserted) it->second = &counter_store_.emplace_back();
  return *it->second;
}

gauge& metrics_registry::get_gauge(std::string_view name, std::string_view help,
                                   const metric_labels& labels) {
  std::lock_guard lock(mu_);
  family& f = family_for(name, help, kind::gauge);
  auto [it, inserted] = f.gauges.try_emplace(labels, nullptr);
  if (inserted) it->second = &gauge_store_.emplace_back();
  return *it->second;
}

histogram& metrics_registry::get_histogram(std::string_view name, std::string_view help,
                                           std::vector<double> bounds,
                                           const metric_labels& labels) {
  std::lock_guard lock(mu_);
  family& f = family_for(name, help, kind::histogram);
  auto [it, inserted] = f.histograms.try_emplace(labels, nullptr);
  if (inserted) it->second = &histogram_store_.emplace_back(std::move(bounds));
  return *it->second;
}

std::uint64_t metrics_registry::counter_sum(std::string_view name,
                                            const metric_labels& match) const {
  std::lock_guard lock(mu_);
  auto it = families_.find(name);
  if (it == families_.end()) return 0;
  std::uint64_t sum = 0;
  for (const auto& entry : it->second.counters) {
    const metric_labels& labels = entry.first;
    const bool all = std::all_of(match.begin(), match.end(), [&labels](const auto& m) {
      return std::find(labels.begin(), labels.end(), m) != labels.end();
    });
    if (all) sum += entry.second->value();
  }
  return sum;
}

std::string metrics_registry::render() const {
  std::lock_guard lock(mu_);
  std::string out;
  for (const auto& [name, f] : families_) {
    out += "# HELP " + name + ' ' + f.help + '\n';
    switch (f.k) {
      case kind::counter:
        out += "# TYPE " + name + " counter\n";
        for (const auto& [labels, c] : f.counters) {
          out += name;
          append_labels(out, labels);
          out += ' ' + std::to_string(c->value()) + '\n';
        }
        break;
      case kind::gauge:
        out += "# TYPE " + name + " gauge\n";
        for (const auto& [labels, g] : f.gauges) {
          out += name;
          append_labels(out, labels);
          out += ' ' + format_number(g->value()) + '\n';
        }
        break;
      case kind::histogram:
        out += "# TYPE " + name + " histogram\n";
        for (const auto& [labels, h] : f.histograms) {
          const auto counts = h->bucket_counts();
          for (std::size_t i = 0; i < counts.size(); ++i) {
            out += name + "_bucket";
            append_labels(out, labels, "le",
                          i < h->bounds().size() ? format_number(h->bounds()[i]) : "+Inf");
            out += ' ' + std::to_string(counts[i]) + '\n';
          }
          out += name + "_sum";
          append_labels(out, labels);
          out += ' ' + format_number(h->sum()) + '\n';
          out += name + "_count";
          append_labels(out, labels);
          out += ' ' + std::to_string(h->count()) + '\n';
        }
        break;
    }
  }
  return out;
}

}  // namespace portscand
