#include "runtime/checkpoint.hpp"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
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
  if (::access(dir_.c_str(), W_OK) != 0)
    return error{"state directory " + dir_ + " is not writable"};
  return ok_status();
}

input_offsets merge_offsets(const std::vector<const input_offsets*>& generations) {
  input_offsets out;
  if (generations.empty()) return out;
  for (const auto& [input, parts] : *generations.front()) {
    for (const auto& [name, off] : parts) {
      std::int64_t lowest = off;
      bool everywhere = true;
      for (const input_offsets* g : generations) {
        auto i = g->find(input);
        if (i == g->end()) {
          everywhere = false;
          break;
        }
        auto p = i->second.find(name);
        if (p == i->second.end()) {
          everywhere = false;
          break;
        }
        lowest = std::min(lowest, p->second);
      }
      if (everywhere) out[input][name] = lowest;
    }
  }
  return out;
}

std::vector<std::uint64_t> checkpoint_store::epochs_on_disk() const {
  std::vector<std::uint64_t> epochs;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir_, ec)) {
    const std::string n = entry.path().filename().string();
    if (n.rfind("ckpt-", 0) != 0 || !entry.is_directory(ec)) continue;
    std::uint64_t e = 0;
    const char* first = n.data() + 5;
    const char* last = n.data() + n.size();
    const auto [end, err] = std::from_chars(first, last, e);
    if (err == std::errc() && end == last) epochs.push_back(e);  // "ckpt-7.tmp" is unfinished
  }
  std::sort(epochs.rbegin(), epochs.rend());
  return epochs;
}

result<input_offsets> checkpoint_store::write(const checkpoint_data& data) {
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
    if (auto s = write_file_durably(tmp + "/" + file, data.shards[i]); !s) {
      fs::remove_all(tmp, ec);
      return s.err();
    }
    manifest["shards"].push_back(
        {{"file", file}, {"bytes", data.shards[i].size()}, {"sha256", sha256_hex(data.shards[i])}});
  }
  if (std::any_of(data.suppression.begin(), data.suppression.end(),
                  [](const std::string& b) { return !b.empty(); })) {
    manifest["suppression"] = nlohmann::json::array();
    for (std::size_t i = 0; i < data.suppression.size(); ++i) {
      const std::string file = "suppression-" + std::to_string(i) + ".bin";
      if (auto s = write_file_durably(tmp + "/" + file, data.suppression[i]); !s) {
        fs::remove_all(tmp, ec);
        return s.err();
      }
      manifest["suppression"].push_back({{"file", file},
                                         {"bytes", data.suppression[i].size()},
                                         {"sha256", sha256_hex(data.suppression[i])}});
    }
  }
  manifest["offsets"] = data.offsets;
  if (auto s = write_file_durably(tmp + "/manifest.json", manifest.dump(2)); !s) {
    fs::remove_all(tmp, ec);  // a full disk must not keep a half checkpoint's space
    return s.err();
  }
  if (auto s = fsync_dir(tmp); !s) return s.err();
  const std::string final_dir = dir_ + "/" + name;
  fs::remove_all(final_dir, ec);
  fs::rename(tmp, final_dir, ec);
  if (ec) return error{"cannot rename " + tmp + ": " + ec.message()};
  if (auto s = fsync_dir(dir_); !s) return s.err();
  if (auto s = write_file_durably(dir_ + "/CURRENT.tmp", name + "\n"); !s) return s.err();
  fs::rename(dir_ + "/CURRENT.tmp", dir_ + "/CURRENT", ec);
  if (ec) return error{"cannot name the current checkpoint: " + ec.message()};
  if (auto s = fsync_dir(dir_); !s) return s.err();
  // Keep the newest generations; the offsets safe to commit are the oldest kept one's.
  const auto epochs = epochs_on_disk();
  for (std::size_t i = generations_; i < epochs.size(); ++i)
    fs::remove_all(dir_ + "/ckpt-" + std::to_string(epochs[i]), ec);
  const std::size_t oldest = std::min(generations_, epochs.size()) - 1;
  if (epochs[oldest] == data.epoch) return data.offsets;
  auto text = read_file(dir_ + "/ckpt-" + std::to_string(epochs[oldest]) + "/manifest.json");
  try {
    if (text) return nlohmann::json::parse(*text).at("offsets").get<input_offsets>();
  } catch (const nlohmann::json::exception&) {
  }
  // The oldest generation is unreadable: commit nothing rather than too much.
  return input_offsets{};
}

std::vector<checkpoint_generation> checkpoint_store::load_all(std::vector<std::string>* problems) {
  std::vector<checkpoint_generation> out;
  for (const std::uint64_t epoch : epochs_on_disk()) {
    const std::string base = dir_ + "/ckpt-" + std::to_string(epoch);
    auto report = [&](std::string why) {
      if (problems != nullptr) problems->push_back(std::move(why));
    };
    auto text = read_file(base + "/manifest.json");
    if (!text) {
      report("checkpoint " + base + " has no manifest");
      continue;
    }
    checkpoint_generation g;
    checkpoint_data& data = g.data;
    try {
      const auto m = nlohmann::json::parse(*text);
      if (m.at("version").get<int>() != manifest_version) {
        report("checkpoint " + base + " has version " + m.at("version").dump() +
               ", this portscand reads version " + std::to_string(manifest_version));
        continue;
      }
      data.epoch = m.at("epoch").get<std::uint64_t>();
      data.created = parse_iso8601(m.at("created").get<std::string>()).value_or(0);
      data.rule_id = m.at("rule_id").get<std::string>();
      data.bin_width = m.at("bin_width_us").get<timestamp_us>();
      data.offsets = m.at("offsets").get<input_offsets>();
      for (const auto& s : m.at("shards")) {
        const std::string file = s.at("file").get<std::string>();
        std::optional<std::string> bytes;
        if (file.find('/') == std::string::npos) bytes = read_file(base + "/" + file);
        const bool ok = bytes && bytes->size() == s.at("bytes").get<std::size_t>() &&
                        sha256_hex(*bytes) == s.at("sha256").get<std::string>();
        if (!ok) {
          g.problems.push_back("checkpoint file " + base + "/" + file +
                               (bytes ? " is corrupt (size or checksum mismatch)" : " is missing"));
          bytes = std::string();
        }
        g.intact.push_back(ok);
        data.shards.push_back(std::move(*bytes));
      }
      g.suppression_intact.assign(data.shards.size(), true);
      data.suppression.assign(data.shards.size(), std::string());
      if (m.contains("suppression")) {
        const auto& list = m.at("suppression");
        for (std::size_t i = 0; i < list.size() && i < data.shards.size(); ++i) {
          const std::string file = list[i].at("file").get<std::string>();
          std::optional<std::string> bytes;
          if (file.find('/') == std::string::npos) bytes = read_file(base + "/" + file);
          const bool ok = bytes && bytes->size() == list[i].at("bytes").get<std::size_t>() &&
                          sha256_hex(*bytes) == list[i].at("sha256").get<std::string>();
          if (!ok) {
            g.problems.push_back(
                "checkpoint file " + base + "/" + file +
                (bytes ? " is corrupt (size or checksum mismatch)" : " is missing"));
            g.suppression_intact[i] = false;
            continue;
          }
          data.suppression[i] = std::move(*bytes);
        }
      }
    } catch (const nlohmann::json::exception& e) {
      report("checkpoint manifest " + base + "/manifest.json is invalid: " + e.what());
      continue;
    }
    out.push_back(std::move(g));
  }
  return out;
}

}  // namespace portscand
