#include "publish/kafka_properties.hpp"

#include <librdkafka/rdkafka.h>

#include <memory>
#include <variant>

namespace portscand {
namespace {

using conf_ptr = std::unique_ptr<rd_kafka_conf_t, decltype(&rd_kafka_conf_destroy)>;

// How much of a secret value identifies it in librdkafka's message (the message may hold
// only the beginning of a long value).
constexpr std::size_t min_quoted_prefix = 8;

void check_properties(const std::map<std::string, std::string>& properties, const std::string& path,
                      bool output, std::vector<config_problem>& out) {
  conf_ptr conf(rd_kafka_conf_new(), &rd_kafka_conf_destroy);
  for (const auto& [key, value] : properties) {
    if (output && refused_output_property(key, value)) continue;
    if (auto why = set_kafka_property(conf.get(), key, value))
      out.push_back({path + ".properties." + key, "librdkafka refuses it: " + *why});
  }
}

}  // namespace

std::optional<std::string> set_kafka_property(rd_kafka_conf_s* conf, const std::string& key,
                                              const std::string& value) {
  char errstr[512];
  if (rd_kafka_conf_set(conf, key.c_str(), value.c_str(), errstr, sizeof errstr) ==
      RD_KAFKA_CONF_OK)
    return std::nullopt;
  const std::string why = errstr;
  // librdkafka quotes the value in some messages ("Invalid value \"...\" for ..."), possibly
  // cut at the buffer's end: never that of a SASL password or a private key. Its reason for
  // a secret key is shown only when no piece of the value is in it.
  if (is_secret_key(key) && !value.empty() &&
      why.find(value.substr(0, min_quoted_prefix)) != std::string::npos)
    return "invalid value (not shown: secret)";
  return why;
}

std::vector<config_problem> check_kafka_properties(const config& cfg) {
  std::vector<config_problem> out;
  for (const auto& in : cfg.inputs)
    if (const auto* k = std::get_if<kafka_input_config>(&in.transport))
      check_properties(k->properties, in.path, false, out);
  for (const auto& o : cfg.outputs)
    if (const auto* k = std::get_if<kafka_output_config>(&o.sink))
      check_properties(k->properties, o.path, true, out);
  // Its own properties only: by default it has the first input's, checked above.
  if (cfg.scale_out.enabled && cfg.scale_out.properties_set)
    check_properties(cfg.scale_out.properties, "scale_out", false, out);
  return out;
}

}  // namespace portscand
