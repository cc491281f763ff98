#pragma once

// What `portscand run` refuses when it starts, found without starting anything: the checks
// that need more than the YAML (the file system, OpenSSL, librdkafka). `run` and
// `check-config` both load the configuration through load_daemon_config(), so check-config
// refuses every configuration run would refuse at start; the Debian postinst starts the
// service only when check-config accepts it. What only the environment of the moment
// decides (a port another process holds, an unreachable broker) is left to run.
//
// Threads: the main thread, at startup (no state).

#include <string>
#include <vector>

#include "config/config.hpp"

namespace portscand {

// Problems with their YAML paths, for a configuration the reader accepted or not:
//   outputs                      none configured (alerts would go nowhere)
//   state_dir                    not a directory, or neither writable nor creatable
//   outputs[i].path              a file output that cannot be opened for appending
//   inputs[i].tls.*              TLS files OpenSSL cannot load (syslog tls://)
//   inputs[i].properties.*,      librdkafka properties librdkafka refuses
//   outputs[i].properties.*
// Permissions are those of the calling user: run check-config as the service's user.
std::vector<config_problem> check_startup(const config& cfg);

// load_config_file() and, once the file is read, check_startup(): every problem, each once.
config_load_result load_daemon_config(const std::string& path,
                                      const std::vector<std::string>& known_formats);

}  // namespace portscand
