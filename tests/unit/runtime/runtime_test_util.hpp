#pragma once

#include <mutex>
#include <vector>

#include "core/time.hpp"
#include "runtime/engine.hpp"

namespace portscand::test {

inline timestamp_us at(const char* iso) {
  return *parse_iso8601(iso);
}

// Keeps every alert the engine publishes (from any shard thread).
class collecting_sink final : public alert_sink {
 public:
  void publish(std::vector<alert>&& alerts) override {
    std::lock_guard lock(mu);
    for (auto& a : alerts) got.push_back(std::move(a));
  }
  std::mutex mu;
  std::vector<alert> got;
};

}  // namespace portscand::test
