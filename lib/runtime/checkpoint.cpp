#include "runtime/checkpoint.hpp"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace portscand {
namespace {

namespace fs = std::filesystem;
constexpr int manifest_version = 1;

std::string sha256_hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), digest, &len, EVP_sha256(), nullptr);
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < len; ++i) {
    out += hex[digest[i] >> 4];
    out += hex[digest[i] & 0xf];
  }
  return out;
}

status write_file_durably(const std::string& path, std::string_view data) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return error{"cannot create " + path + ": " + std::strerror(errno)};
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      const std::string e = std::strerror(errno);
      ::close(fd);
      return error{"cannot write " + path + ": " + e};
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) {
    const std::string e = std::strerror(errno);
    ::close(fd);
    return error{"cannot fsync " + path + ": " + e};
  }
  ::close(fd);
  return ok_status();
}

status fsync_dir(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return error{"cannot open directory " + path + ": " + std::strerror(errno)};
  const int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return error{"cannot fsync directory " + path};
  return ok_status();
}

std::optional<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

status checkpoint_store::prepare() {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) return error{"cannot create state directory " + dir_ + ": " + ec.message()};
  if (::access(dir_.c_str(), W_OK) != 0) return error{"state directory " + dir_ + " is not writable"};
  return ok_status();
}

status checkpoint_store::write(const checkpoint_data& data) {
  const std::string name = "ckpt-" + std::to_string(data.epoch);
  const std::string tmp = dir_ + "/" + name + ".tmp";
  std::error_code ec;
  fs::remove_all(tmp, ec);
  fs::create_directories(tmp, ec);
  if (ec) return error{"cannot create " + tmp + ": " + ec.message()};
  nlohmann::json manifest;
  manifest["version"] = manifest_version;
  manifest["epoch"] = data.epoch;
  manifest["created"] = format_iso8601(data.created);
  manifest["rule_id"] = data.rule_id;
  manifest["bin_width_us"] = data.bin_width;
  manifest["shards"] = nlohmann::json::array();
  for (std::size_t i = 0; i < data.shards.size(); ++i) {
    const std::string file = "shard-" + std::to_string(i) + ".bin";
    if (auto s = write_file_durably(tmp + "/" + file, data.shards[i]); !s) return s;
    manifest["shards"].push_back({{"file", file}, {"bytes", data.shards[i].size()}, {"sha256", sha256_hex(data.shards[i])}});
  }
  manifest["offsets"] = data.offsets;
  if (auto s = write_file_durably(tmp + "/manifest.json", manifest.dump(2)); !s) return s;
  if (auto s = fsync_dir(tmp); !s) return s;
  const std::string final_dir = dir_ + "/" + name;
  fs::remove_all(final_dir, ec);
  fs::rename(tmp, final_dir, ec);
  if (ec) return error{"cannot rename " + tmp + ": " + ec.message()};
  if (auto s = write_file_durably(dir_ + "/CURRENT.tmp", name + "\n"); !s) return s;
  fs::rename(dir_ + "/CURRENT.tmp", dir_ + "/CURRENT", ec);
  if (ec) return error{"cannot publish checkpoint: " + ec.message()};
  if (auto s = fsync_dir(dir_); !s) return s;
  // Older checkpoints are no longer needed.
  for (const auto& entry : fs::directory_iterator(dir_, ec)) {
    const std::string n = entry.path().filename().string();
    if (n.rfind("ckpt-", 0) == 0 && n != name) fs::remove_all(entry.path(), ec);
  }
  return ok_status();
}

std::optional<result<checkpoint_data>> checkpoint_store::load() {
  auto current = read_file(dir_ + "/CURRENT");
  if (!current) return std::nullopt;
  while (!current->empty() && (current->back() == '\n' || current->back() == '\r')) current->pop_back();
  if (current->rfind("ckpt-", 0) != 0 || current->find('/') != std::string::npos)
    return result<checkpoint_data>(error{"CURRENT names no checkpoint ('" + *current + "')"});
  const std::string base = dir_ + "/" + *current;
  auto text = read_file(base + "/manifest.json");
  if (!text) return result<checkpoint_data>(error{"checkpoint " + base + " has no manifest"});
  checkpoint_data data;
  try {
    const auto m = nlohmann::json::parse(*text);
    if (m.at("version").get<int>() != manifest_version)
      return result<checkpoint_data>(error{"checkpoint " + base + " has version " + m.at("version").dump() +
                                           ", this portscand reads version " + std::to_string(manifest_version)});
    data.epoch = m.at("epoch").get<std::uint64_t>();
    data.created = parse_iso8601(m.at("created").get<std::string>()).value_or(0);
    data.rule_id = m.at("rule_id").get<std::string>();
    data.bin_width = m.at("bin_width_us").get<timestamp_us>();
    for (const auto& s : m.at("shards")) {
      const std::string file = s.at("file").get<std::string>();
      if (file.find('/') != std::string::npos) return result<checkpoint_data>(error{"bad shard file name in manifest"});
      auto bytes = read_file(base + "/" + file);
      if (!bytes) return result<checkpoint_data>(error{"checkpoint file " + file + " is missing"});
      if (bytes->size() != s.at("bytes").get<std::size_t>() || sha256_hex(*bytes) != s.at("sha256").get<std::string>())
        return result<checkpoint_data>(error{"checkpoint file " + file + " is corrupt (size or checksum mismatch)"});
      data.shards.push_back(std::move(*bytes));
    }
    data.offsets = m.at("offsets").get<std::map<std::string, std::map<std::string, std::int64_t>>>();
  } catch (const nlohmann::json::exception& e) {
    return result<checkpoint_data>(error{"checkpoint manifest " + base + " is invalid: " + e.what()});
  }
  return result<checkpoint_data>(std::move(data));
}

}  // namespace portscand
