#include <variant>

#include "publish/alert_output.hpp"
#include "publish/file_output.hpp"
#include "publish/http_output.hpp"
#include "publish/kafka_output.hpp"
#include "publish/syslog_output.hpp"

namespace portscand {

counter& delivery_failures(metrics_registry& metrics, const std::string& output,
                           const std::string& reason) {
  return metrics.get_counter("portscand_alert_delivery_failures_total",
                             "Failed alert delivery attempts (each is retried).",
                             {{"output", output}, {"reason", reason}});
}

std::unique_ptr<alert_output> make_output(const output_config& cfg, metrics_registry& metrics) {
  if (const auto* k = std::get_if<kafka_output_config>(&cfg.sink))
    return std::make_unique<kafka_output>(cfg.name, cfg.schema, *k, metrics);
  if (const auto* h = std::get_if<http_output_config>(&cfg.sink))
    return std::make_unique<http_output>(cfg.name, cfg.schema, *h, metrics);
  if (const auto* s = std::get_if<syslog_output_config>(&cfg.sink))
    return std::make_unique<syslog_output>(cfg.name, cfg.schema, *s, metrics);
  return std::make_unique<file_output>(cfg.name, cfg.schema, std::get<file_output_config>(cfg.sink),
                                       metrics);
}

}  // namespace portscand
