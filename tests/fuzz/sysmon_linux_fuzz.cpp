#include "fuzz_util.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  portscand::fuzz::run_format("sysmon-linux", data, size);
  return 0;
}
