// Fuzzes what the HTTP output reads back from disk and from receivers: a spool line (whatever
// parses must encode back to the same bytes: the format has one encoding) and a Retry-After
// header value (never a negative delay).
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "publish/http_request.hpp"
#include "publish/http_spool.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  if (const auto rec = portscand::parse_spool_line(in)) {
    const std::string again =
        rec->kind == 'A' ? portscand::encode_spool_added(rec->seq, rec->alert_id, rec->element)
                         : portscand::encode_spool_done(rec->seq);
    if (again.substr(0, again.size() - 1) != in) __builtin_trap();
  }
  const auto now = std::chrono::system_clock::time_point(std::chrono::seconds(1'800'000'000));
  if (const auto d = portscand::parse_retry_after(in, now))
    if (d->count() < 0) __builtin_trap();
  return 0;
}
