#include "fuzz_util.hpp"

// The `auto` decoder: every probe in registration order, then the format that claims the
// unit. Seeds are a few units of every format (corpus/auto/<format>_<seed>).
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  portscand::fuzz::run_format("auto", data, size);
  return 0;
}
