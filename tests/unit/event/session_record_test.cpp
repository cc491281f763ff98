#include "event/session_record.hpp"

#include <gtest/gtest.h>

namespace portscand {
namespace {

network_session v4_session() {
  network_session s;
  s.time = 1'736'935'200'123'456;  // 2025-01-15T10:00:00.123456Z
  s.has_time = true;
  s.src = *ip_address::parse("203.0.113.70");
  s.dst = *ip_address::parse("198.51.100.9");
  s.has_dst = true;
  s.dst_port = 3389;
  s.protocol = 6;
  s.action = dvc_action::deny;
  return s;
}

TEST(SessionRecord, Ipv4RoundTripAndSize) {
  const network_session s = v4_session();
  std::string value;
  encode_session_record(s, "Palo Alto Networks/PAN-OS", "", value);
  const std::string key = session_record_key(s.src);
  EXPECT_EQ(key, "203.0.113.70");
  // 1 version + 1 flags + 8 time + 2 port + 4 dst + 1 protocol + 1 action + 1 + 25 label.
  EXPECT_EQ(value.size(), 44u);
  const auto d = decode_session_record(key, value);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->session.src, s.src);
  EXPECT_EQ(d->session.dst, s.dst);
  EXPECT_TRUE(d->session.has_dst);
  EXPECT_TRUE(d->session.has_time);
  EXPECT_EQ(d->session.time, s.time);
  EXPECT_EQ(d->session.dst_port, 3389);
  EXPECT_EQ(d->session.protocol, 6);
  EXPECT_EQ(d->session.action, dvc_action::deny);
  EXPECT_EQ(d->reported_by, "Palo Alto Networks/PAN-OS");
  EXPECT_EQ(d->device, "");
}

TEST(SessionRecord, Ipv6WithoutPortDstOrProtocol) {
  network_session s;
  s.time = -5;  // before the epoch: still a valid time
  s.has_time = true;
  s.src = *ip_address::parse("2001:db8::1");
  std::string value;
  encode_session_record(s, "", "fw1", value);
  const std::string key = session_record_key(s.src);
  EXPECT_EQ(key, "2001:db8::1");
  const auto d = decode_session_record(key, value);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->session.src, s.src);
  EXPECT_FALSE(d->session.has_port());
  EXPECT_FALSE(d->session.has_dst);
  EXPECT_EQ(d->session.protocol, network_session::no_protocol);
  EXPECT_EQ(d->session.time, -5);
  EXPECT_EQ(d->device, "fw1");
}

TEST(SessionRecord, Ipv6DestinationAndLongLabelCut) {
  network_session s = v4_session();
  s.src = *ip_address::parse("2001:db8:5ca0::14");
  s.dst = *ip_address::parse("2001:db8::99");
  std::string value;
  encode_session_record(s, std::string(300, 'x'), "", value);
  const auto d = decode_session_record(session_record_key(s.src), value);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->session.dst, s.dst);
  EXPECT_EQ(d->reported_by.size(), 255u);
}

TEST(SessionRecord, RefusesWhatIsNotAV1Session) {
  std::string value;
  encode_session_record(v4_session(), "a/b", "", value);
  std::string_view why;
  EXPECT_FALSE(decode_session_record("not-an-ip", value, &why));
  EXPECT_EQ(why, "bad_key");
  std::string other = value;
  other[0] = 0x07;
  EXPECT_FALSE(decode_session_record("1.2.3.4", other, &why));
  EXPECT_EQ(why, "unknown_version");
  other = value;
  other[1] = static_cast<char>(0x40);
  EXPECT_FALSE(decode_session_record("1.2.3.4", other, &why));
  EXPECT_EQ(why, "bad_flags");
  for (std::size_t n = 0; n < value.size(); ++n)
    EXPECT_FALSE(decode_session_record("1.2.3.4", value.substr(0, n))) << n;
  EXPECT_FALSE(decode_session_record("1.2.3.4", value + "z", &why));
  EXPECT_EQ(why, "trailing_bytes");
  // A tick is not a session.
  EXPECT_FALSE(decode_session_record("1.2.3.4", encode_tick_record({5, 6})));
}

TEST(TickRecord, RoundTrip) {
  const tick_record with{1'000'000, 900'000};
  EXPECT_EQ(decode_tick_record(encode_tick_record(with)), with);
  const tick_record without{INT64_MIN, std::nullopt};
  EXPECT_EQ(decode_tick_record(encode_tick_record(without)), without);
  std::string bad = encode_tick_record(with);
  bad[1] = 3;
  EXPECT_FALSE(decode_tick_record(bad));
  EXPECT_FALSE(decode_tick_record(bad.substr(0, 17)));
}

TEST(MarkRecord, RoundTripAndStrictness) {
  const mark_record m{"host-a-1f2e", 1'736'935'200'000'000, false, {"asim/0", "asim/7"}};
  const std::string v = encode_mark_record(m);
  EXPECT_EQ(v.size(), 1u + 1 + 8 + 1 + 11 + 2 + 7 + 7);
  EXPECT_EQ(decode_mark_record(v), m);
  const mark_record last{"b", INT64_MAX, true, {}};
  EXPECT_EQ(decode_mark_record(encode_mark_record(last)), last);
  EXPECT_FALSE(decode_mark_record(encode_mark_record({"", 5, false, {}})));     // no producer
  EXPECT_FALSE(decode_mark_record(encode_mark_record({"a", 5, false, {""}})));  // empty entry
  for (std::size_t n = 0; n < v.size(); ++n) EXPECT_FALSE(decode_mark_record(v.substr(0, n))) << n;
  EXPECT_FALSE(decode_mark_record(v + "x"));
  std::string bad = v;
  bad[1] = 2;
  EXPECT_FALSE(decode_mark_record(bad));
  EXPECT_FALSE(decode_mark_record(encode_tick_record({1, 2})));
}

TEST(PartitionResume, RoundTripAndStrictness) {
  const partition_resume r{
      1'736'935'200'000'000, 4711, {1'736'934'000'000'000, 1'736'934'300'000'000}};
  const std::string text = encode_partition_resume(r);
  EXPECT_EQ(text, "psd1 wm=1736935200000000 end=4711 bins=1736934000000000,1736934300000000");
  EXPECT_EQ(decode_partition_resume(text), r);
  const partition_resume empty{INT64_MIN, 0, {}};
  EXPECT_EQ(decode_partition_resume(encode_partition_resume(empty)), empty);
  for (const char* bad :
       {"", "psd1", "psd2 wm=1 end=2 bins=", "psd1 wm=x end=2 bins=", "psd1 wm=1 end=-2 bins=",
        "psd1 wm=1 end=2 bins=5,4", "psd1 wm=1 end=2 bins=5,", "psd1 wm=1 end=2 bins=1 extra",
        "psd1 end=2 wm=1 bins=", "psd1 wm=1 end=2 bins= floor=", "psd1 wm=1 end=2 bins= floor=x",
        "psd1 wm=1 end=2 bins= floor=-9223372036854775808", "psd1 wm=1 end=2 bins= floor=3 x"})
    EXPECT_FALSE(decode_partition_resume(bad)) << bad;
  // Sliding windows add their floor; without one the text is what older releases wrote.
  partition_resume sliding = r;
  sliding.floor = 1'736'934'600'000'000;
  EXPECT_EQ(encode_partition_resume(sliding), text + " floor=1736934600000000");
  EXPECT_EQ(decode_partition_resume(encode_partition_resume(sliding)), sliding);
}

TEST(NoteRecord, RoundTripAndStrictness) {
  const note_record v4{0x1122334455667788u, 7, *ip_address::parse("203.0.113.7"),
                       1'736'935'200'000'001};
  const std::string a = encode_note_record(v4);
  EXPECT_EQ(a.size(), 1u + 1 + 8 + 8 + 8 + 4);
  EXPECT_EQ(decode_note_record(a), v4);
  EXPECT_TRUE(decode_note_record(a)->source.is_v4());
  const note_record v6{1, 1, *ip_address::parse("2001:db8::7"), INT64_MAX};
  const std::string b = encode_note_record(v6);
  EXPECT_EQ(b.size(), 1u + 1 + 8 + 8 + 8 + 16);
  EXPECT_EQ(decode_note_record(b), v6);
  for (std::size_t n = 0; n < b.size(); ++n) EXPECT_FALSE(decode_note_record(b.substr(0, n))) << n;
  EXPECT_FALSE(decode_note_record(a + "x"));
  std::string bad = a;
  bad[1] = 2;  // unknown flag
  EXPECT_FALSE(decode_note_record(bad));
  bad[1] = 1;  // says IPv6, holds 4 bytes
  EXPECT_FALSE(decode_note_record(bad));
  EXPECT_FALSE(decode_note_record(encode_tick_record({1, 2})));
}

}  // namespace
}  // namespace portscand
