#include "runtime/startup_checks.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <optional>
#include <variant>

#include "ingest/syslog_listener.hpp"
#include "publish/http_output.hpp"
#include "publish/kafka_properties.hpp"
#include "publish/syslog_output.hpp"

namespace portscand {
namespace {

namespace fs = std::filesystem;

std::string who() {
  return "uid " + std::to_string(::geteuid());
}

// The nearest existing ancestor of a path that does not exist decides whether it can be
// created (std::filesystem::create_directories and open(O_CREAT) need to write there).
std::optional<std::string> creatable(const fs::path& missing, const std::string& what) {
  fs::path dir = missing.parent_path();
  for (;;) {
    struct stat st {};
    if (::stat(dir.c_str(), &st) == 0) {
      if (!S_ISDIR(st.st_mode))
        return what + " cannot be created: '" + dir.string() + "' is not a directory";
      if (::access(dir.c_str(), W_OK | X_OK) != 0)
        return what + " cannot be created: '" + dir.string() + "' is not writable by " + who() +
               " (" + std::strerror(errno) + ")";
      return std::nullopt;
    }
    if (errno != ENOENT && errno != ENOTDIR)
      return what + " cannot be checked: '" + dir.string() + "': " + std::strerror(errno);
    if (!dir.has_relative_path()) return what + " cannot be created: no existing parent";
    dir = dir.parent_path();
  }
}

// checkpoint_store::prepare() at start: create_directories(state_dir), then it must be
// writable. Checked here without creating anything.
std::optional<std::string> state_dir_problem(const std::string& dir) {
  if (dir.empty()) return std::string("must name a directory (checkpoints are written there)");
  std::error_code ec;
  const fs::path abs = fs::absolute(dir, ec);
  if (ec) return "'" + dir + "': " + ec.message();
  struct stat st {};
  if (::stat(abs.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode)) return "'" + dir + "' exists but is not a directory";
    if (::access(abs.c_str(), W_OK | X_OK) != 0)
      return "directory '" + dir + "' is not writable by " + who() + " (" + std::strerror(errno) +
             "): checkpoints could not be written";
    return std::nullopt;
  }
  if (errno != ENOENT && errno != ENOTDIR)
    return "'" + dir + "' cannot be checked: " + std::strerror(errno);
  return creatable(abs, "directory '" + dir + "' does not exist and");
}

// file_output opens its path with O_WRONLY | O_APPEND | O_CREAT when it is built.
std::optional<std::string> output_file_problem(const std::string& path) {
  std::error_code ec;
  const fs::path abs = fs::absolute(path, ec);
  if (ec) return "'" + path + "': " + ec.message();
  struct stat st {};
  if (::stat(abs.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return "'" + path + "' is a directory, not a file";
    if (::access(abs.c_str(), W_OK) != 0)
      return "'" + path + "' is not writable by " + who() + " (" + std::strerror(errno) + ")";
    return std::nullopt;
  }
  if (errno != ENOENT && errno != ENOTDIR)
    return "'" + path + "' cannot be checked: " + std::strerror(errno);
  // Unlike the state directory, the daemon does not create the directories of an output
  // file: the parent must be there.
  const fs::path parent = abs.parent_path();
  if (::stat(parent.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    return "the directory '" + parent.string() + "' of '" + path +
           "' does not exist: create it (the daemon does not)";
  if (::access(parent.c_str(), W_OK | X_OK) != 0)
    return "'" + path + "' cannot be created: '" + parent.string() + "' is not writable by " +
           who() + " (" + std::strerror(errno) + ")";
  return std::nullopt;
}

}  // namespace

std::vector<config_problem> check_startup(const config& cfg) {
  std::vector<config_problem> problems;
  if (cfg.outputs.empty())
    problems.push_back(
        {"outputs",
         "no outputs configured: alerts would go nowhere (add a kafka, file, http, syslog "
         "or stdout output)"});
  if (auto why = state_dir_problem(cfg.state_dir)) problems.push_back({"state_dir", *why});
  for (const auto& o : cfg.outputs)
    if (const auto* f = std::get_if<file_output_config>(&o.sink); f != nullptr && f->path != "-")
      if (auto why = output_file_problem(f->path)) problems.push_back({o.path + ".path", *why});
  for (const auto& o : cfg.outputs)
    if (const auto* h = std::get_if<http_output_config>(&o.sink))
      for (auto& p : check_http_tls_files(*h, o.path)) problems.push_back(std::move(p));
  for (const auto& o : cfg.outputs)
    if (const auto* s = std::get_if<syslog_output_config>(&o.sink))
      for (auto& p : check_syslog_tls_files(*s, o.path)) problems.push_back(std::move(p));
  for (const auto& in : cfg.inputs)
    if (const auto* s = std::get_if<syslog_input_config>(&in.transport))
      for (auto& p : check_tls_files(*s, in.path)) problems.push_back(std::move(p));
  for (auto& p : check_kafka_properties(cfg)) problems.push_back(std::move(p));
  return problems;
}

config_load_result load_daemon_config(const std::string& path,
                                      const std::vector<std::string>& known_formats) {
  config_load_result loaded = load_config_file(path, known_formats);
  // Without a readable document cfg holds only defaults: checking its state_dir or its
  // (absent) outputs would report problems the file does not have.
  if (loaded.read)
    for (auto& p : check_startup(loaded.cfg)) loaded.problems.push_back(std::move(p));
  return loaded;
}

}  // namespace portscand
