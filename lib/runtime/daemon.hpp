#pragma once

#include <string>

#include "config/config.hpp"
#include "core/clock.hpp"
#include "detect/rule.hpp"

namespace portscand {

// `portscand run`: the long-running daemon. Builds the engine, the publisher and the inputs
// from the configuration, restores the last checkpoint, and runs the coordinator loop on
// the calling thread until SIGTERM/SIGINT (graceful stop: stop inputs, drain, checkpoint,
// flush outputs) while SIGHUP reloads the rule parameters without losing window state.
// Returns the process exit code.
int run_daemon(const std::string& config_path, config cfg, rule_set rules, const clock& clk);

}  // namespace portscand
