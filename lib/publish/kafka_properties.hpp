#pragma once

// The librdkafka passthrough (`properties:` of Kafka inputs and outputs) checked by
// librdkafka itself. check-config and run must refuse the same configuration: the Debian
// postinst starts the service only when check-config accepts it, and a property librdkafka
// refuses would otherwise be found only when the consumer or producer is created.
//
// Threads: any (librdkafka configuration objects are private to each call).

#include <optional>
#include <string>
#include <vector>

#include "config/config.hpp"

// librdkafka's C type, forward-declared so that users of this header do not need rdkafka.h.
struct rd_kafka_conf_s;

namespace portscand {

// Sets one property on conf. On refusal returns librdkafka's reason (unknown name, bad
// value); for a secret-looking key (is_secret_key) the value never appears in it.
std::optional<std::string> set_kafka_property(rd_kafka_conf_s* conf, const std::string& key,
                                              const std::string& value);

// Applies the properties of every Kafka input and output (secret references already
// resolved by the configuration reader, as run uses them) to a fresh librdkafka
// configuration, and returns one problem per property librdkafka refuses, at
// "inputs[i].properties.<key>" or "outputs[i].properties.<key>". Connects to nothing.
// Output properties that refused_output_property() already refuses are not reported twice.
std::vector<config_problem> check_kafka_properties(const config& cfg);

}  // namespace portscand
