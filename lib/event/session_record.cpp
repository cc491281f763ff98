#include "event/session_record.hpp"

#include <charconv>

#include "core/binary_io.hpp"

namespace portscand {
namespace {

enum : std::uint8_t { f_port = 1, f_dst = 2, f_dst_v6 = 4, f_protocol = 8, f_device = 16 };
constexpr std::uint8_t known_flags = f_port | f_dst | f_dst_v6 | f_protocol | f_device;
constexpr std::uint8_t max_action = static_cast<std::uint8_t>(dvc_action::decrypt);

void put_label(binary_writer& w, std::string_view s) {
  const std::size_t n = std::min<std::size_t>(s.size(), 255);
  w.put<std::uint8_t>(static_cast<std::uint8_t>(n));
  w.put_bytes(s.data(), n);
}

bool get_label(std::string_view value, std::size_t& pos, std::string_view& out) {
  if (pos >= value.size()) return false;
  const auto n = static_cast<unsigned char>(value[pos++]);
  if (value.size() - pos < n) return false;
  out = value.substr(pos, n);
  pos += n;
  return true;
}

std::optional<decoded_session> fail(std::string_view* why, std::string_view reason) {
  if (why != nullptr) *why = reason;
  return std::nullopt;
}

}  // namespace

std::string session_record_key(const ip_address& src) {
  return src.to_string();
}

void encode_session_record(const network_session& s, std::string_view reported_by,
                           std::string_view device, std::string& out) {
  binary_writer w(out);
  std::uint8_t flags = 0;
  if (s.has_port()) flags |= f_port;
  if (s.has_dst) flags |= s.dst.is_v4() ? f_dst : (f_dst | f_dst_v6);
  if (s.protocol <= 0xff) flags |= f_protocol;
  if (!device.empty()) flags |= f_device;
  w.put<std::uint8_t>(session_record_v1);
  w.put<std::uint8_t>(flags);
  w.put<std::int64_t>(s.time);
  if (flags & f_port) w.put<std::uint16_t>(static_cast<std::uint16_t>(s.dst_port));
  if (flags & f_dst) {
    if (s.dst.is_v4())
      w.put<std::uint32_t>(s.dst.v4());
    else
      w.put_bytes(s.dst.bytes().data(), 16);
  }
  if (flags & f_protocol) w.put<std::uint8_t>(static_cast<std::uint8_t>(s.protocol));
  w.put<std::uint8_t>(static_cast<std::uint8_t>(s.action));
  put_label(w, reported_by);
  if (flags & f_device) put_label(w, device);
}

std::optional<decoded_session> decode_session_record(std::string_view key, std::string_view value,
                                                     std::string_view* why) {
  decoded_session d;
  network_session& s = d.session;
  if (!ip_address::parse(key, s.src)) return fail(why, "bad_key");
  if (value.size() < 2 || static_cast<std::uint8_t>(value[0]) != session_record_v1)
    return fail(why, "unknown_version");
  const auto flags = static_cast<std::uint8_t>(value[1]);
  if ((flags & ~known_flags) != 0 || ((flags & f_dst_v6) && !(flags & f_dst)))
    return fail(why, "bad_flags");
  binary_reader r(value.substr(2));
  std::size_t pos = 2;
  if (!r.get(s.time)) return fail(why, "truncated");
  pos += 8;
  s.has_time = true;
  if (flags & f_port) {
    std::uint16_t port = 0;
    if (!r.get(port)) return fail(why, "truncated");
    s.dst_port = port;
    pos += 2;
  }
  if (flags & f_dst) {
    if (flags & f_dst_v6) {
      std::array<std::uint8_t, 16> b{};
      if (!r.get_bytes(b.data(), b.size())) return fail(why, "truncated");
      s.dst = ip_address::from_v6(b);
      pos += 16;
    } else {
      std::uint32_t v4 = 0;
      if (!r.get(v4)) return fail(why, "truncated");
      s.dst = ip_address::from_v4(v4);
      pos += 4;
    }
    s.has_dst = true;
  }
  if (flags & f_protocol) {
    std::uint8_t p = 0;
    if (!r.get(p)) return fail(why, "truncated");
    s.protocol = p;
    pos += 1;
  }
  std::uint8_t action = 0;
  if (!r.get(action)) return fail(why, "truncated");
  if (action > max_action) return fail(why, "bad_action");
  s.action = static_cast<dvc_action>(action);
  pos += 1;
  if (!get_label(value, pos, d.reported_by)) return fail(why, "truncated");
  if ((flags & f_device) && !get_label(value, pos, d.device)) return fail(why, "truncated");
  if (pos != value.size()) return fail(why, "trailing_bytes");
  return d;
}

std::string encode_tick_record(const tick_record& t) {
  std::string out;
  binary_writer w(out);
  w.put<std::uint8_t>(tick_record_v1);
  w.put<std::uint8_t>(t.evaluate_before ? 1 : 0);
  w.put<std::int64_t>(t.watermark);
  w.put<std::int64_t>(t.evaluate_before.value_or(0));
  return out;
}

std::optional<tick_record> decode_tick_record(std::string_view value) {
  if (value.size() != 18 || static_cast<std::uint8_t>(value[0]) != tick_record_v1)
    return std::nullopt;
  const auto flags = static_cast<std::uint8_t>(value[1]);
  if (flags > 1) return std::nullopt;
  binary_reader r(value.substr(2));
  tick_record t;
  std::int64_t before = 0;
  if (!r.get(t.watermark) || !r.get(before)) return std::nullopt;
  if (flags == 1) t.evaluate_before = before;
  return t;
}

std::string encode_mark_record(const mark_record& m) {
  std::string out;
  binary_writer w(out);
  w.put<std::uint8_t>(mark_record_v1);
  w.put<std::uint8_t>(m.final ? 1 : 0);
  w.put<std::int64_t>(m.watermark);
  put_label(w, m.producer);
  w.put<std::uint16_t>(static_cast<std::uint16_t>(std::min<std::size_t>(m.covered.size(), 65535)));
  for (std::size_t i = 0; i < m.covered.size() && i < 65535; ++i) put_label(w, m.covered[i]);
  return out;
}

std::optional<mark_record> decode_mark_record(std::string_view value) {
  if (value.size() < 11 || static_cast<std::uint8_t>(value[0]) != mark_record_v1)
    return std::nullopt;
  const auto flags = static_cast<std::uint8_t>(value[1]);
  if (flags > 1) return std::nullopt;
  mark_record m;
  m.final = flags == 1;
  binary_reader r(value.substr(2, 8));
  if (!r.get(m.watermark)) return std::nullopt;
  std::size_t pos = 10;
  std::string_view producer;
  if (!get_label(value, pos, producer) || producer.empty() || value.size() - pos < 2)
    return std::nullopt;
  m.producer = producer;
  binary_reader count_reader(value.substr(pos, 2));
  std::uint16_t n = 0;
  count_reader.get(n);
  pos += 2;
  for (std::uint16_t i = 0; i < n; ++i) {
    std::string_view c;
    if (!get_label(value, pos, c) || c.empty()) return std::nullopt;
    m.covered.emplace_back(c);
  }
  if (pos != value.size()) return std::nullopt;
  return m;
}

std::string encode_note_record(const note_record& n) {
  std::string out;
  binary_writer w(out);
  w.put<std::uint8_t>(note_record_v1);
  w.put<std::uint8_t>(n.source.is_v4() ? 0 : 1);
  w.put<std::uint64_t>(n.writer);
  w.put<std::uint64_t>(n.seq);
  w.put<std::int64_t>(n.next_allowed);
  if (n.source.is_v4())
    w.put<std::uint32_t>(n.source.v4());
  else
    w.put_bytes(n.source.bytes().data(), 16);
  return out;
}

std::optional<note_record> decode_note_record(std::string_view value) {
  if (value.size() < 2 || static_cast<std::uint8_t>(value[0]) != note_record_v1)
    return std::nullopt;
  const auto flags = static_cast<std::uint8_t>(value[1]);
  if (flags > 1 || value.size() != 26 + (flags == 1 ? 16u : 4u)) return std::nullopt;
  binary_reader r(value.substr(2));
  note_record n;
  if (!r.get(n.writer) || !r.get(n.seq) || !r.get(n.next_allowed)) return std::nullopt;
  if (flags == 0) {
    std::uint32_t v4 = 0;
    if (!r.get(v4)) return std::nullopt;
    n.source = ip_address::from_v4(v4);
  } else {
    std::array<std::uint8_t, 16> bytes{};
    if (!r.get_bytes(bytes.data(), bytes.size())) return std::nullopt;
    n.source = ip_address::from_v6(bytes);
  }
  return n;
}

std::string encode_partition_resume(const partition_resume& r) {
  std::string out =
      "psd1 wm=" + std::to_string(r.watermark) + " end=" + std::to_string(r.end) + " bins=";
  for (std::size_t i = 0; i < r.bins.size(); ++i) {
    if (i != 0) out += ',';
    out += std::to_string(r.bins[i]);
  }
  if (r.floor != INT64_MIN) out += " floor=" + std::to_string(r.floor);
  return out;
}

std::optional<partition_resume> decode_partition_resume(std::string_view text) {
  auto number = [](std::string_view s, std::int64_t& v) {
    const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    return ec == std::errc() && p == s.data() + s.size() && !s.empty();
  };
  auto field = [&text](std::string_view name) -> std::optional<std::string_view> {
    if (text.substr(0, name.size()) != name) return std::nullopt;
    text.remove_prefix(name.size());
    const std::size_t end = text.find(' ');
    const std::string_view v = text.substr(0, end);
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
    return v;
  };
  partition_resume r;
  const auto magic = field("psd1");
  const auto wm = field("wm=");
  const auto end = field("end=");
  const auto bins = field("bins=");
  // Written by sliding windows only: older releases' metadata has none.
  const auto floor = text.empty() ? std::optional<std::string_view>() : field("floor=");
  if (!magic || !magic->empty() || !wm || !end || !bins || !text.empty()) return std::nullopt;
  if (floor && (!number(*floor, r.floor) || r.floor == INT64_MIN)) return std::nullopt;
  if (!number(*wm, r.watermark) || !number(*end, r.end) || r.end < 0) return std::nullopt;
  std::string_view rest = *bins;
  while (!rest.empty()) {
    const std::size_t comma = rest.find(',');
    std::int64_t b = 0;
    if (!number(rest.substr(0, comma), b)) return std::nullopt;
    if (!r.bins.empty() && b <= r.bins.back()) return std::nullopt;
    r.bins.push_back(b);
    rest.remove_prefix(comma == std::string_view::npos ? rest.size() : comma + 1);
    if (comma != std::string_view::npos && rest.empty()) return std::nullopt;
  }
  return r;
}

}  // namespace portscand
