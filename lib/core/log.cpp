#include "core/log.hpp"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>

#include <cstdio>
#include <cstdlib>

#include "core/thread_guard.hpp"

namespace portscand {
namespace {

// Maps spdlog levels to sd-daemon(3) priorities so journald files each line correctly.
class journald_priority_flag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    static constexpr const char* prefixes[] = {"<7>", "<7>", "<6>", "<4>", "<3>", "<2>", "<6>"};
    const char* p = prefixes[static_cast<int>(msg.level)];
    dest.append(p, p + 3);
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<journald_priority_flag>();
  }
};

}  // namespace

bool parse_log_level(std::string_view name, spdlog::level::level_enum& out) {
  static constexpr std::pair<std::string_view, spdlog::level::level_enum> levels[] = {
      {"trace", spdlog::level::trace}, {"debug", spdlog::level::debug},
      {"info", spdlog::level::info},   {"warn", spdlog::level::warn},
      {"error", spdlog::level::err},   {"critical", spdlog::level::critical},
      {"off", spdlog::level::off}};
  for (const auto& [n, l] : levels)
    if (n == name) {
      out = l;
      return true;
    }
  return false;
}

void init_logging(std::string_view level) {
  auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  auto logger = std::make_shared<spdlog::logger>("portscand", sink);
  std::unique_ptr<spdlog::pattern_formatter> formatter;
  if (std::getenv("JOURNAL_STREAM") != nullptr) {
    formatter = std::make_unique<spdlog::pattern_formatter>();
    formatter->add_flag<journald_priority_flag>('*').set_pattern("%*%v");
  } else {
    formatter = std::make_unique<spdlog::pattern_formatter>("%Y-%m-%dT%H:%M:%S.%eZ %l %v",
                                                            spdlog::pattern_time_type::utc);
  }
  logger->set_formatter(std::move(formatter));
  spdlog::level::level_enum lvl = spdlog::level::info;
  parse_log_level(level, lvl);
  logger->set_level(lvl);
  spdlog::set_default_logger(std::move(logger));
}

bool rate_limited_log::allow(std::string_view key, timestamp_us now, std::uint64_t& suppressed) {
  auto it = slots_.find(std::string(key));
  if (it == slots_.end()) {
    if (slots_.size() >= 4096) slots_.clear();  // bounded: hostile input cannot grow it
    slots_.emplace(std::string(key), slot{now, 0});
    suppressed = 0;
    return true;
  }
  slot& s = it->second;
  if (now - s.last >= interval_) {
    suppressed = s.suppressed;
    s.suppressed = 0;
    s.last = now;
    return true;
  }
  ++s.suppressed;
  return false;
}

}  // namespace portscand

namespace portscand {

void thread_failed(const char* thread, const char* what) noexcept {
  try {
    spdlog::critical(
        "thread {} failed: {}; exiting with status 1 (after a restart the state is "
        "rebuilt from the last checkpoint)",
        thread, what);
    spdlog::default_logger()->flush();
  } catch (...) {
    std::fputs("<2>portscand: a thread failed and the log could not say which\n", stderr);
  }
  std::fflush(stderr);
  std::_Exit(1);
}

}  // namespace portscand
