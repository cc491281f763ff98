// The fuzz target of a format of lib/parse/formats.def, built once per format with
// PORTSCAND_FUZZ_FORMAT set to the format's name (tests/fuzz/CMakeLists.txt). A format whose
// target checks more than run_format's promises has its own tests/fuzz/<id>_fuzz.cpp instead.
#include "fuzz_util.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  portscand::fuzz::run_format(PORTSCAND_FUZZ_FORMAT, data, size);
  return 0;
}
