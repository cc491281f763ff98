#include <string_view>

#include "fuzz_util.hpp"
#include "parse/cef.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  portscand::fuzz::run_format("cef", data, size);
  // The standalone splitter shares the parser's tokenizer and copies every field out.
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto m = portscand::parse_cef_message(text)) {
    for (const auto& [key, value] : m->extension)
      if (key.size() + value.size() > size) __builtin_trap();  // unescaping only shrinks
  }
  return 0;
}
