#pragma once

#include <fstream>
#include <mutex>
#include <string>
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

// Inbound 5156 events (one-line Event XML, tests/fixtures/windows-wfp/oneline.log line 4,
// with our addresses, ports and times): 60 connections from 203.0.113.50 to listening ports
// 1..60 of 198.51.100.10, each from its own ephemeral port 40000+i. WFP writes the local
// listener in SourceAddress/SourcePort.
inline std::string wfp_inbound_scan() {
  std::ifstream in(std::string(PORTSCAND_FIXTURES) + "/windows-wfp/oneline.log");
  std::string line;
  for (int i = 0; i < 4; ++i) std::getline(in, line);
  auto set = [](std::string& s, const std::string& from, const std::string& to) {
    const auto p = s.find(from);
    if (p != std::string::npos) s.replace(p, from.size(), to);
  };
  std::string out;
  for (int i = 0; i < 60; ++i) {
    std::string e = line;
    set(e, "2015-09-22T05:24:22.622090200Z",
        std::string("2026-01-15T10:11:") + (i < 10 ? "0" : "") + std::to_string(i) + ".5Z");
    set(e, ">10.0.0.10<", ">198.51.100.10<");
    set(e, ">3333<", std::string(">").append(std::to_string(i + 1)).append("<"));
    set(e, ">10.0.0.100<", ">203.0.113.50<");
    set(e, ">49278<", std::string(">").append(std::to_string(40000 + i)).append("<"));
    out += e + "\n";
  }
  return out;
}

}  // namespace portscand::test
