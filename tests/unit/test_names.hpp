#pragma once

#include <cctype>
#include <string>

namespace portscand::test {

// Turns a case's "why" sentence into a gtest name: "port is negative" -> "PortIsNegative",
// so that ctest lists table cases as sentences instead of byte dumps.
inline std::string sentence_name(const std::string& why) {
  std::string out;
  bool upper = true;
  for (char c : why) {
    if (std::isalnum(static_cast<unsigned char>(c))) {
      out += upper ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c;
      upper = false;
    } else {
      upper = true;
    }
  }
  return out.empty() ? "Unnamed" : out;
}

struct why_name {
  template <typename Info>
  std::string operator()(const Info& info) const {
    return sentence_name(info.param.why);
  }
};

}  // namespace portscand::test
