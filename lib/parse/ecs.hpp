#pragma once

#include "parse/registry.hpp"

namespace portscand {

// Elastic Common Schema network events as Beats, Logstash or Elastic Agent write them to
// Kafka: one document per unit (pretty-printed or not) or a JSON array of documents. Nested
// objects and dotted flat keys ("source.ip") are both read.
format_entry ecs_format();

}  // namespace portscand
