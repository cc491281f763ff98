// The HTTP output against a real local receiver (tests/unit/publish/http_receiver.*, Beast,
// plain and TLS), and its pure pieces: URL, Retry-After, backoff, bodies, spool.
#include "publish/http_output.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include "event/network_session.hpp"
#include "ingest/ingest_test_util.hpp"
#include "ocsf_schema.hpp"
#include "publish/http_receiver.hpp"
#include "publish/http_request.hpp"
#include "publish/http_spool.hpp"
#include "publish/publish_test_util.hpp"

namespace portscand {
namespace {

using namespace std::chrono_literals;
using test::http_receiver;
using test::planned_answer;
using test::recorded_request;
using test::test_alert;
using test::test_alerts;
using json = nlohmann::json;

// ---------------------------------------------------------------------------------------
// Pure pieces

TEST(HttpUrl, SplitsSchemeHostPortAndTarget) {
  auto u = parse_http_url("https://soar.example:8443/api/v1/alert?x=1");
  ASSERT_TRUE(u);
  EXPECT_TRUE(u->tls);
  EXPECT_EQ(u->host, "soar.example");
  EXPECT_EQ(u->port, "8443");
  EXPECT_EQ(u->target, "/api/v1/alert?x=1");
  EXPECT_EQ(u->host_header, "soar.example:8443");
  u = parse_http_url("http://[2001:db8::1]/hook");
  ASSERT_TRUE(u);
  EXPECT_FALSE(u->tls);
  EXPECT_EQ(u->host, "2001:db8::1");
  EXPECT_EQ(u->port, "80");
  EXPECT_EQ(u->host_header, "[2001:db8::1]");
  u = parse_http_url("https://h");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->port, "443");
  EXPECT_EQ(u->target, "/");
  EXPECT_FALSE(parse_http_url("ftp://h/x"));
  EXPECT_FALSE(parse_http_url("https://user:pw@h/x"));
  EXPECT_FALSE(parse_http_url("https://h:0/x"));
  EXPECT_FALSE(parse_http_url("https://h:70000/x"));
  EXPECT_FALSE(parse_http_url("https:///x"));
  EXPECT_FALSE(parse_http_url("https://h/x y"));
}

TEST(RetryAfter, DelaySecondsAndTheThreeHttpDateForms) {
  // RFC 9110 §5.6.7's example instant: Sun, 06 Nov 1994 08:49:37 GMT = 784111777.
  const auto now = std::chrono::system_clock::time_point(std::chrono::seconds(784111777 - 120));
  EXPECT_EQ(parse_retry_after("120", now), 120s);
  EXPECT_EQ(parse_retry_after(" 0 ", now), 0s);
  EXPECT_EQ(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now), 120s);
  EXPECT_EQ(parse_retry_after("Sunday, 06-Nov-94 08:49:37 GMT", now), 120s);
  EXPECT_EQ(parse_retry_after("Sun Nov  6 08:49:37 1994", now), 120s);
  // A date in the past means "now".
  EXPECT_EQ(parse_retry_after("Sat, 05 Nov 1994 08:49:37 GMT", now), 0s);
  EXPECT_FALSE(parse_retry_after("", now));
  EXPECT_FALSE(parse_retry_after("-5", now));
  EXPECT_FALSE(parse_retry_after("1.5", now));
  EXPECT_FALSE(parse_retry_after("Sun, 06 Nov 1994 08:49:37 UTC", now));
  EXPECT_FALSE(parse_retry_after("Sun, 06 Foo 1994 08:49:37 GMT", now));
  EXPECT_FALSE(parse_retry_after("Sun, 06 Nov 1994 25:49:37 GMT", now));
  EXPECT_EQ(parse_retry_after("99999999999999999999999", now), std::chrono::seconds(INT32_MAX));
}

TEST(Backoff, FullJitterStaysUnderTheDoublingCeiling) {
  // The ceiling doubles from the base and stops at the cap; random picks within [0, ceiling].
  EXPECT_EQ(full_jitter_backoff(100ms, 10s, 1, 100), 100ms);  // 100 % 101
  EXPECT_EQ(full_jitter_backoff(100ms, 10s, 1, 101), 0ms);
  EXPECT_EQ(full_jitter_backoff(100ms, 10s, 3, 400), 400ms);  // ceiling 400
  EXPECT_EQ(full_jitter_backoff(100ms, 10s, 3, 401), 0ms);
  EXPECT_EQ(full_jitter_backoff(100ms, 10s, 40, 10'000), 10s);  // capped at 10 s
  EXPECT_EQ(full_jitter_backoff(100ms, 10s, 40, 10'001), 0ms);
  for (std::uint64_t r : {0ull, 1ull, 12345ull, ~0ull})
    EXPECT_LE(full_jitter_backoff(500ms, 60s, 1000, r), 60s);
}

TEST(HttpBody, OneArrayAndNdjson) {
  const std::vector<std::string_view> e = {R"({"a":1})", R"({"b":2})"};
  EXPECT_EQ(http_body(http_batch::array, e), R"([{"a":1},{"b":2}])");
  EXPECT_EQ(http_body(http_batch::ndjson, e), "{\"a\":1}\n{\"b\":2}\n");
  EXPECT_EQ(http_body(http_batch::one, {e[0]}), R"({"a":1})");
  EXPECT_EQ(http_content_type(http_preset::webhook, http_batch::ndjson), "application/x-ndjson");
  EXPECT_EQ(http_content_type(http_preset::splunk_hec, http_batch::ndjson), "application/json");
  EXPECT_EQ(http_idempotency_key({"id-1"}), "id-1");
  const std::string k = http_idempotency_key({"id-1", "id-2"});
  EXPECT_EQ(k, uuid_v5(alert_id_namespace, "batch|id-1|id-2"));
  EXPECT_NE(k, http_idempotency_key({"id-2", "id-1"}));
}

// An early alert (README "Early alerts") tells TheHive what it is: a tag to filter on and a
// line naming the final alert that follows.
TEST(HttpElement, TheHiveMarksAnEarlyAlert) {
  http_output_config c;
  c.preset = http_preset::thehive;
  alert a = test_alert(0);
  const json plain = json::parse(render_http_element(a, c, output_schema::native, "host"));
  const auto plain_tags = plain["tags"].get<std::vector<std::string>>();
  EXPECT_EQ(std::find(plain_tags.begin(), plain_tags.end(), "portscand:early"), plain_tags.end());
  a.early = true;
  a.final_alert_id = "11111111-2222-5333-8444-555555555555";
  const json b = json::parse(render_http_element(a, c, output_schema::native, "host"));
  const auto tags = b["tags"].get<std::vector<std::string>>();
  EXPECT_NE(std::find(tags.begin(), tags.end(), "portscand:early"), tags.end());
  EXPECT_EQ(b["sourceRef"], a.alert_id);
  EXPECT_NE(b["description"].get<std::string>().find(
                "follows with id 11111111-2222-5333-8444-555555555555"),
            std::string::npos);
}

// A sweep alert (README "Port sweeps") tells TheHive the port and the addresses tried.
TEST(HttpElement, TheHiveDescribesASweep) {
  http_output_config c;
  c.preset = http_preset::thehive;
  alert a = test_alert(0);
  a.swept_port = 445;
  a.target_count = 77;
  const json b = json::parse(render_http_element(a, c, output_schema::native, "host"));
  const std::string d = b["description"].get<std::string>();
  EXPECT_NE(d.find("- Port swept: 445\n- Distinct destination addresses: 77"), std::string::npos);
  EXPECT_EQ(d.find("Distinct destination ports"), std::string::npos);
  EXPECT_EQ(b["observables"][0]["message"], "port sweep source");
}

// ---------------------------------------------------------------------------------------
// Spool

class HttpSpool : public ::testing::Test {
 protected:
  void SetUp() override { path_ = dir_.file("out.spool"); }
  test::temp_dir dir_;
  std::string path_;
};

TEST_F(HttpSpool, LineFormatRoundTripsAndRejectsDamage) {
  const std::string a = encode_spool_added(7, "id-7", R"({"x":"a b"})");
  ASSERT_EQ(a.back(), '\n');
  auto rec = parse_spool_line(std::string_view(a).substr(0, a.size() - 1));
  ASSERT_TRUE(rec);
  EXPECT_EQ(rec->kind, 'A');
  EXPECT_EQ(rec->seq, 7u);
  EXPECT_EQ(rec->alert_id, "id-7");
  EXPECT_EQ(rec->element, R"({"x":"a b"})");
  // FNV-1a 64 of "D 1", worked out with an independent implementation (Python).
  EXPECT_EQ(encode_spool_done(1), "D 1 e172951992cb2808\n");
  const std::string d = encode_spool_done(7);
  rec = parse_spool_line(std::string_view(d).substr(0, d.size() - 1));
  ASSERT_TRUE(rec);
  EXPECT_EQ(rec->kind, 'D');
  EXPECT_EQ(rec->seq, 7u);
  std::string flipped = a.substr(0, a.size() - 1);
  flipped[12] ^= 1;  // one bit anywhere breaks the check
  EXPECT_FALSE(parse_spool_line(flipped));
  EXPECT_FALSE(parse_spool_line(a.substr(0, a.size() - 5)));  // torn
  EXPECT_FALSE(parse_spool_line(""));
}

TEST_F(HttpSpool, KeepsWhatIsNotDoneAcrossReopenAndSkipsDamagedLines) {
  {
    http_spool s(path_);
    EXPECT_TRUE(s.take_recovered().empty());
    ASSERT_EQ(s.append({{1, "a", "{\"n\":1}"}, {2, "b", "{\"n\":2}"}, {3, "c", "{\"n\":3}"}}), 0);
    ASSERT_EQ(s.mark_done({2}), 0);
    EXPECT_EQ(s.live(), 2u);
  }
  {
    // A damaged line in the middle and a torn line at the end (a crash mid-append).
    std::string content = test::read_file(path_);
    content += "A 9 zz {\"garbage\":1} 0000000000000000\n";
    content += encode_spool_added(4, "d", "{\"n\":4}");
    content += encode_spool_added(5, "e", "{\"n\":5}").substr(0, 10);
    test::write_file(path_, content);
  }
  http_spool s(path_);
  EXPECT_EQ(s.damaged_lines(), 2u);
  const auto rec = s.take_recovered();
  ASSERT_EQ(rec.size(), 3u);
  EXPECT_EQ(rec[0].alert_id, "a");
  EXPECT_EQ(rec[1].alert_id, "c");
  EXPECT_EQ(rec[2].alert_id, "d");
  EXPECT_EQ(rec[2].element, "{\"n\":4}");
  EXPECT_GE(s.next_seq(), 5u);
  // The reopened file was compacted: exactly the three live records, nothing damaged.
  std::istringstream lines(test::read_file(path_));
  int n = 0;
  for (std::string line; std::getline(lines, line); ++n) EXPECT_TRUE(parse_spool_line(line));
  EXPECT_EQ(n, 3);
  ASSERT_EQ(s.mark_done({1, 3, 4}), 0);
  EXPECT_EQ(std::filesystem::file_size(path_), 0u);  // nothing live: truncated
}

TEST_F(HttpSpool, CompactsWhenDoneRecordsOutweighLiveOnes) {
  std::optional<http_spool> s;
  s.emplace(path_);
  const std::string big(2000, 'x');
  std::vector<spooled_alert> batch;
  for (std::uint64_t i = 1; i <= 1000; ++i) batch.push_back({i, "id" + std::to_string(i), big});
  ASSERT_EQ(s->append(batch), 0);
  std::vector<std::uint64_t> done;
  for (std::uint64_t i = 1; i <= 990; ++i) done.push_back(i);
  ASSERT_EQ(s->mark_done(done), 0);
  // 10 live lines of ~2 KB remain; the 990 done ones are gone from the file.
  EXPECT_LT(std::filesystem::file_size(path_), 30'000u);
  EXPECT_EQ(s->live(), 10u);
  s.reset();
  s.emplace(path_);
  EXPECT_EQ(s->take_recovered().size(), 10u);
  EXPECT_EQ(s->damaged_lines(), 0u);
}

// ---------------------------------------------------------------------------------------
// The output against a live receiver

class HttpOutput : public ::testing::Test {
 protected:
  http_output_config cfg(const std::string& url) const {
    http_output_config c;
    c.url = url;
    c.spool_path = dir_.file("http-test.spool");
    c.connect_timeout = 2 * us_per_second;
    c.request_timeout = 2 * us_per_second;
    c.retry_backoff_min = 5'000;  // 5 ms
    c.retry_backoff_max = 50'000;
    return c;
  }
  std::uint64_t failures(const std::string& reason) const {
    return m_.counter_sum("portscand_alert_delivery_failures_total",
                          {{"output", "http-test"}, {"reason", reason}});
  }
  std::uint64_t rejected(const std::string& status) const {
    return m_.counter_sum("portscand_alerts_rejected_total",
                          {{"output", "http-test"}, {"status", status}});
  }
  std::uint64_t delivered() const {
    return m_.counter_sum("portscand_alerts_delivered_total", {{"output", "http-test"}});
  }
  // Polls until pred() holds (the counters move on the output's I/O thread); false after
  // `timeout`.
  template <class Pred>
  static bool eventually(Pred pred, std::chrono::milliseconds timeout = 10s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!pred()) {
      if (std::chrono::steady_clock::now() >= deadline) return false;
      std::this_thread::sleep_for(5ms);
    }
    return true;
  }
  // Requests answered 2xx, per Idempotency-Key.
  static std::map<std::string, int> accepted_by_key(const std::vector<recorded_request>& rs) {
    std::map<std::string, int> out;
    for (const auto& r : rs)
      if (r.answered >= 200 && r.answered < 300) ++out[r.header("idempotency-key")];
    return out;
  }

  test::temp_dir dir_;
  metrics_registry m_;
};

TEST_F(HttpOutput, PostsEachAlertOnceWithItsIdempotencyKeyOverOneConnection) {
  http_receiver rx;
  http_output out("http-test", output_schema::native, cfg(rx.url("/hook?x=1")), m_);
  const auto alerts = test_alerts(0, 5);
  ASSERT_TRUE(out.publish(alerts));
  EXPECT_EQ(out.pending(), 5u);
  ASSERT_TRUE(out.flush(10s));
  EXPECT_EQ(out.pending(), 0u);
  EXPECT_EQ(delivered(), 5u);
  const auto rs = rx.requests();
  ASSERT_EQ(rs.size(), 5u);
  for (std::size_t i = 0; i < rs.size(); ++i) {
    EXPECT_EQ(rs[i].method, "POST");
    EXPECT_EQ(rs[i].target, "/hook?x=1");
    EXPECT_EQ(rs[i].header("content-type"), "application/json");
    EXPECT_EQ(rs[i].header("idempotency-key"), alerts[i].alert_id);
    EXPECT_EQ(rs[i].header("host"), "127.0.0.1:" + std::to_string(rx.port()));
    EXPECT_EQ(rs[i].connection, 1u);  // kept alive: one connection for all
    // The webhook body is the native alert document as it is.
    EXPECT_EQ(json::parse(rs[i].body), json::parse(render_alert(alerts[i], alert_schema::native)));
  }
  // The spool is empty once everything is confirmed.
  EXPECT_EQ(std::filesystem::file_size(dir_.file("http-test.spool")), 0u);
}

TEST_F(HttpOutput, OcsfSchemaAndConfiguredHeaders) {
  http_receiver rx;
  auto c = cfg(rx.url());
  c.headers = {{"X-Api-Key", "s3cret"}, {"X-Tenant", "blue"}};
  http_output out("http-test", output_schema::ocsf, c, m_);
  ASSERT_TRUE(out.publish(test_alerts(0, 1)));
  ASSERT_TRUE(out.flush(10s));
  const auto rs = rx.requests();
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].header("x-api-key"), "s3cret");
  EXPECT_EQ(rs[0].header("x-tenant"), "blue");
  EXPECT_EQ(json::parse(rs[0].body)["class_uid"], 2004);
  EXPECT_EQ(test::detection_finding_problems(json::parse(rs[0].body)), "");
}

TEST_F(HttpOutput, EveryAlertArrivesExactlyOncePerIdAfterRefusals500sAnd429) {
  http_receiver rx;
  rx.refuse();
  // First 3 requests: 500; the 4th: 429 with Retry-After 1 s; the rest 200.
  rx.plan([](const recorded_request&, std::size_t i) {
    planned_answer a;
    if (i < 3) a.status = 500;
    if (i == 3) {
      a.status = 429;
      a.retry_after = "1";
    }
    return a;
  });
  http_output out("http-test", output_schema::native, cfg(rx.url()), m_);
  const auto alerts = test_alerts(0, 20);
  ASSERT_TRUE(out.publish(alerts));
  // Refused connections are counted and make the output unhealthy.
  ASSERT_TRUE(eventually([&] { return failures("connect") >= 2; }));
  EXPECT_FALSE(out.healthy());
  EXPECT_EQ(out.pending(), 20u);
  rx.resume();
  ASSERT_TRUE(out.flush(20s));
  EXPECT_TRUE(out.healthy());
  EXPECT_EQ(failures("http_500"), 3u);
  EXPECT_EQ(failures("http_429"), 1u);
  EXPECT_EQ(delivered(), 20u);
  const auto rs = rx.requests();
  const auto by_key = accepted_by_key(rs);
  ASSERT_EQ(by_key.size(), 20u);
  for (const auto& a : alerts) EXPECT_EQ(by_key.at(a.alert_id), 1) << a.alert_id;
  // The request after the 429 waited for Retry-After; the retries of the 500s were fast.
  ASSERT_GE(rs.size(), 5u);
  EXPECT_EQ(rs[3].answered, 429u);
  EXPECT_EQ(rs[4].header("idempotency-key"), rs[3].header("idempotency-key"));
}

TEST_F(HttpOutput, RetryAfterIsHonoured) {
  // Declared before the receiver, whose threads call the plan.
  std::vector<std::chrono::steady_clock::time_point> at;
  std::mutex mu;
  http_receiver rx;
  rx.plan([&](const recorded_request&, std::size_t i) {
    std::lock_guard lk(mu);
    at.push_back(std::chrono::steady_clock::now());
    planned_answer a;
    if (i == 0) {
      a.status = 429;
      a.retry_after = "1";
    }
    return a;
  });
  http_output out("http-test", output_schema::native, cfg(rx.url()), m_);
  ASSERT_TRUE(out.publish(test_alerts(0, 1)));
  ASSERT_TRUE(out.flush(10s));
  std::lock_guard lk(mu);
  ASSERT_EQ(at.size(), 2u);
  // The backoff alone would be at most 5 ms.
  EXPECT_GE(at[1] - at[0], 950ms);
}

TEST_F(HttpOutput, A400IsNotRetriedButCountedAndDropped) {
  const auto alerts = test_alerts(0, 3);
  const std::string refused_id = alerts[1].alert_id;
  http_receiver rx;
  rx.plan([&](const recorded_request& r, std::size_t) {
    planned_answer a;
    if (r.header("idempotency-key") == refused_id) {
      a.status = 400;
      a.body = R"({"error":"bad field"})";
    }
    return a;
  });
  http_output out("http-test", output_schema::native, cfg(rx.url()), m_);
  ASSERT_TRUE(out.publish(alerts));
  ASSERT_TRUE(out.flush(10s));
  EXPECT_EQ(out.pending(), 0u);  // the checkpoint rule is not blocked by it
  const auto rs = rx.requests();
  ASSERT_EQ(rs.size(), 3u);  // one request per alert: no retry of the 400
  EXPECT_EQ(failures("http_400"), 1u);
  EXPECT_EQ(rejected("400"), 1u);
  EXPECT_EQ(delivered(), 2u);
  EXPECT_TRUE(out.healthy());
}

TEST_F(HttpOutput, AnAnswerSlowerThanTheRequestTimeoutIsRetried) {
  http_receiver rx;
  rx.plan([](const recorded_request&, std::size_t i) {
    planned_answer a;
    if (i == 0) a.delay = 3s;
    return a;
  });
  auto c = cfg(rx.url());
  c.request_timeout = 300'000;  // 300 ms
  http_output out("http-test", output_schema::native, c, m_);
  const auto alerts = test_alerts(0, 1);
  ASSERT_TRUE(out.publish(alerts));
  ASSERT_TRUE(out.flush(10s));
  EXPECT_EQ(failures("timeout"), 1u);
  EXPECT_EQ(delivered(), 1u);
  EXPECT_TRUE(rx.wait_for([&](const auto& rs) { return accepted_by_key(rs).size() == 1; }));
}

TEST_F(HttpOutput, RefusesWhenThePendingBoundIsReached) {
  http_receiver rx;
  rx.refuse();
  auto c = cfg(rx.url());
  c.max_pending_alerts = 3;
  http_output out("http-test", output_schema::native, c, m_);
  EXPECT_TRUE(out.publish(test_alerts(0, 2)));
  EXPECT_FALSE(out.publish(test_alerts(2, 2)));  // 4 > 3: all or nothing
  EXPECT_TRUE(out.publish(test_alerts(2, 1)));
  EXPECT_FALSE(out.publish(test_alerts(3, 1)));
  EXPECT_EQ(out.pending(), 3u);
}

TEST_F(HttpOutput, RefusesWhenTheSpoolIsFull) {
  http_receiver rx;
  rx.refuse();
  auto c = cfg(rx.url());
  c.spool_max_bytes = 4000;  // a native alert line is ~1 KB
  http_output out("http-test", output_schema::native, c, m_);
  std::size_t accepted = 0;
  for (int i = 0; i < 10; ++i) accepted += out.publish(test_alerts(i, 1)) ? 1 : 0;
  EXPECT_GE(accepted, 2u);
  EXPECT_LT(accepted, 10u);
  EXPECT_LE(std::filesystem::file_size(c.spool_path), 4000u);
}

TEST_F(HttpOutput, PendingAlertsSurviveTheOutputAndANewOneDeliversThemFirst) {
  http_receiver rx;
  rx.plan([](const recorded_request&, std::size_t) { return planned_answer{503, "", 0ms, ""}; });
  const auto alerts = test_alerts(0, 5);
  {
    http_output out("http-test", output_schema::native, cfg(rx.url()), m_);
    ASSERT_TRUE(out.publish(alerts));
    ASSERT_TRUE(rx.wait_for([](const auto& rs) { return rs.size() >= 2; }));
    EXPECT_EQ(out.pending(), 5u);
  }  // destroyed with everything pending
  EXPECT_GT(std::filesystem::file_size(dir_.file("http-test.spool")), 0u);
  rx.plan([](const recorded_request&, std::size_t) { return planned_answer{}; });
  http_output again("http-test", output_schema::native, cfg(rx.url()), m_);
  EXPECT_EQ(again.recovered(), 5u);
  EXPECT_EQ(again.pending(), 5u);
  const auto more = test_alerts(5, 1);
  ASSERT_TRUE(again.publish(more));
  ASSERT_TRUE(again.flush(10s));
  const auto rs = rx.requests();
  std::vector<std::string> order;
  for (const auto& r : rs)
    if (r.answered == 200) order.push_back(r.header("idempotency-key"));
  ASSERT_EQ(order.size(), 6u);
  for (std::size_t i = 0; i < 5; ++i) EXPECT_EQ(order[i], alerts[i].alert_id);  // spool first
  EXPECT_EQ(order[5], more[0].alert_id);
  // What went out from the spool is the body the first output rendered.
  EXPECT_EQ(json::parse(rs.back().body)["alert_id"], more[0].alert_id);
}

TEST_F(HttpOutput, ADamagedSpoolRecordIsSkippedAndCountedTheRestDelivered) {
  const alert a = test_alert(3);
  const std::string element = render_alert(a, alert_schema::native);
  test::write_file(dir_.file("http-test.spool"),
                   "A 1 x {\"damaged\": true} 0123456789abcdef\n\x01\x02 binary junk\n" +
                       encode_spool_added(2, a.alert_id, element) + "A 3 torn {\"");
  http_receiver rx;
  http_output out("http-test", output_schema::native, cfg(rx.url()), m_);
  EXPECT_EQ(out.recovered(), 1u);
  EXPECT_EQ(m_.counter_sum("portscand_http_spool_damaged_records_total", {{"output", "http-test"}}),
            3u);
  ASSERT_TRUE(out.flush(10s));
  const auto rs = rx.requests();
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].header("idempotency-key"), a.alert_id);
  EXPECT_EQ(rs[0].body, element);
}

TEST_F(HttpOutput, ArrayAndNdjsonBatches) {
  http_receiver rx;
  auto c = cfg(rx.url());
  c.batch = http_batch::array;
  c.max_batch = 50;
  const auto alerts = test_alerts(0, 7);
  {
    http_output out("http-test", output_schema::native, c, m_);
    ASSERT_TRUE(out.publish(alerts));
    ASSERT_TRUE(out.flush(10s));
  }
  c.batch = http_batch::ndjson;
  c.max_batch = 3;
  {
    http_output out("http-test", output_schema::native, c, m_);
    ASSERT_TRUE(out.publish(alerts));
    ASSERT_TRUE(out.flush(10s));
  }
  const auto rs = rx.requests();
  // Array: the publisher's 7 alerts may go in one request or be split as they reach the
  // I/O thread; every alert is in exactly one array, in order.
  std::vector<std::string> ids;
  std::size_t i = 0;
  for (; i < rs.size() && rs[i].header("content-type") == "application/json"; ++i) {
    const json body = json::parse(rs[i].body);
    ASSERT_TRUE(body.is_array());
    std::vector<std::string_view> key_ids;
    for (const auto& a : body) ids.push_back(a["alert_id"].get<std::string>());
    for (std::size_t k = ids.size() - body.size(); k < ids.size(); ++k) key_ids.push_back(ids[k]);
    EXPECT_EQ(rs[i].header("idempotency-key"), http_idempotency_key(key_ids));
  }
  ASSERT_EQ(ids.size(), 7u);
  for (std::size_t k = 0; k < 7; ++k) EXPECT_EQ(ids[k], alerts[k].alert_id);
  ids.clear();
  for (; i < rs.size(); ++i) {
    EXPECT_EQ(rs[i].header("content-type"), "application/x-ndjson");
    std::istringstream lines(rs[i].body);
    std::size_t n = 0;
    for (std::string line; std::getline(lines, line); ++n)
      ids.push_back(json::parse(line)["alert_id"].get<std::string>());
    EXPECT_LE(n, 3u);
    EXPECT_EQ(rs[i].body.back(), '\n');
  }
  ASSERT_EQ(ids.size(), 7u);
  for (std::size_t k = 0; k < 7; ++k) EXPECT_EQ(ids[k], alerts[k].alert_id);
}

// ---------------------------------------------------------------------------------------
// TLS

class HttpOutputTls : public HttpOutput {
 protected:
  void SetUp() override {
    ca_ = std::make_unique<test::test_ca>(dir_.path(), "ca");
    other_ca_ = std::make_unique<test::test_ca>(dir_.path(), "other-ca");
    server_ = ca_->issue(dir_.path(), "server");
    impostor_ = other_ca_->issue(dir_.path(), "impostor");
    client_ = ca_->issue(dir_.path(), "client");
  }
  std::unique_ptr<test::test_ca> ca_, other_ca_;
  test::pem_pair server_, impostor_, client_;
};

TEST_F(HttpOutputTls, VerifiesTheServerAgainstTheConfiguredCa) {
  http_receiver rx({server_.cert_path, server_.key_path, ""});
  auto c = cfg(rx.url());
  c.ca_file = ca_->cert_path();
  http_output out("http-test", output_schema::native, c, m_);
  ASSERT_TRUE(out.publish(test_alerts(0, 3)));
  ASSERT_TRUE(out.flush(10s));
  EXPECT_EQ(rx.request_count(), 3u);
  EXPECT_EQ(failures("tls"), 0u);
  EXPECT_EQ(rx.requests()[0].sni, "");  // an address is never sent as SNI (RFC 6066 §3)
}

TEST_F(HttpOutputTls, SendsTheServerNameAndVerifiesItInTheCertificate) {
  http_receiver rx({server_.cert_path, server_.key_path, ""});
  auto c = cfg(rx.url());
  c.ca_file = ca_->cert_path();
  c.server_name = "localhost";  // the certificate names 127.0.0.1 and localhost
  http_output out("http-test", output_schema::native, c, m_);
  ASSERT_TRUE(out.publish(test_alerts(0, 2)));
  ASSERT_TRUE(out.flush(10s));
  const auto rs = rx.requests();
  ASSERT_EQ(rs.size(), 2u);
  EXPECT_EQ(rs[0].sni, "localhost");
  EXPECT_EQ(rs[1].connection, rs[0].connection);
}

TEST_F(HttpOutputTls, ACertificateFromAnotherCaIsRefusedAndCounted) {
  http_receiver rx({impostor_.cert_path, impostor_.key_path, ""});
  auto c = cfg(rx.url());
  c.ca_file = ca_->cert_path();
  http_output out("http-test", output_schema::native, c, m_);
  ASSERT_TRUE(out.publish(test_alerts(0, 1)));
  EXPECT_FALSE(out.flush(1500ms));
  EXPECT_GE(failures("tls"), 1u);
  EXPECT_EQ(rx.request_count(), 0u);  // nothing was sent to the impostor
  EXPECT_FALSE(out.healthy());
  EXPECT_EQ(out.pending(), 1u);
}

TEST_F(HttpOutputTls, TheCertificateMustNameTheHost) {
  http_receiver rx({server_.cert_path, server_.key_path, ""});
  auto c = cfg(rx.url());
  c.ca_file = ca_->cert_path();
  c.server_name = "not-this-host.example";  // the certificate names 127.0.0.1/localhost
  http_output out("http-test", output_schema::native, c, m_);
  ASSERT_TRUE(out.publish(test_alerts(0, 1)));
  EXPECT_FALSE(out.flush(1000ms));
  EXPECT_GE(failures("tls"), 1u);
  EXPECT_EQ(rx.request_count(), 0u);
}

TEST_F(HttpOutputTls, PresentsTheClientCertificate) {
  http_receiver rx({server_.cert_path, server_.key_path, ca_->cert_path()});
  auto c = cfg(rx.url());
  c.ca_file = ca_->cert_path();
  {
    // Without one the server refuses the handshake.
    http_output out("http-test", output_schema::native, c, m_);
    ASSERT_TRUE(out.publish(test_alerts(0, 1)));
    EXPECT_FALSE(out.flush(1000ms));
    EXPECT_EQ(rx.request_count(), 0u);
  }
  std::filesystem::remove(c.spool_path);
  c.client_cert = client_.cert_path;
  c.client_key = client_.key_path;
  http_output out("http-test", output_schema::native, c, m_);
  ASSERT_TRUE(out.publish(test_alerts(0, 1)));
  ASSERT_TRUE(out.flush(10s));
  EXPECT_EQ(rx.request_count(), 1u);
}

// ---------------------------------------------------------------------------------------
// Presets: the request shape of each receiver's documented API. Expected values are worked
// out by hand from test_alert(0): source 203.0.113.0, bin 2026-11-28T10:05:00Z..10:10:00Z
// (epoch 1795860300..1795860600, `date -u -d ... +%s`), severity Medium, technique T1046,
// ports 1..51.

TEST_F(HttpOutput, TheHivePresetCreatesATheHive5Alert) {
  // TheHive 5 "Create Alert": POST /api/v1/alert with an API key as a Bearer token; required
  // type, source, sourceRef, title, description; severity 1 low .. 4 critical; date in ms;
  // observables [{dataType, data}] (https://docs.strangebee.com/thehive/api-docs/ , alert
  // model as in TheHive's API documentation).
  http_receiver rx;
  auto c = cfg(rx.url("/api/v1/alert"));
  c.preset = http_preset::thehive;
  c.token = "hive-api-key";
  http_output out("http-test", output_schema::native, c, m_);
  alert a = test_alert(0);
  a.incident_id = "0b6d6e3c-1111-5222-8333-944455556666";
  a.has_targets = true;
  a.targets = {{*ip_address::parse("192.0.2.10"), 40}, {*ip_address::parse("192.0.2.11"), 11}};
  a.protocols = protocol_bit(6);
  a.outcomes = {1, 50, 0};
  ASSERT_TRUE(out.publish({a}));
  ASSERT_TRUE(out.flush(10s));
  const auto rs = rx.requests();
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].target, "/api/v1/alert");
  EXPECT_EQ(rs[0].header("authorization"), "Bearer hive-api-key");
  EXPECT_EQ(rs[0].header("content-type"), "application/json");
  EXPECT_EQ(rs[0].header("idempotency-key"), a.alert_id);
  const json b = json::parse(rs[0].body);
  EXPECT_EQ(b["type"], "port-scan");
  EXPECT_EQ(b["source"], "portscand");
  EXPECT_EQ(b["sourceRef"], a.alert_id);
  EXPECT_EQ(b["title"], "Potential port scan from 203.0.113.0");
  EXPECT_EQ(b["description"].get<std::string>().rfind("203.0.113.0 tried 51 ports", 0), 0u);
  EXPECT_EQ(b["severity"], 2);  // Medium
  EXPECT_EQ(b["date"], 1795860600000);
  const auto tags = b["tags"].get<std::vector<std::string>>();
  EXPECT_NE(std::find(tags.begin(), tags.end(), "T1046"), tags.end());
  // Every alert of the incident carries its tag: the analyst finds and merges them.
  EXPECT_NE(std::find(tags.begin(), tags.end(),
                      "portscand:incident=0b6d6e3c-1111-5222-8333-944455556666"),
            tags.end());
  const std::string description = b["description"];
  EXPECT_NE(description.find("- Targets: 192.0.2.10 (40 attempts), 192.0.2.11 (11 attempts)"),
            std::string::npos)
      << description;
  EXPECT_NE(description.find("- Outcomes: 1 allowed, 50 denied, 0 dropped"), std::string::npos);
  ASSERT_TRUE(b["observables"].is_array());
  ASSERT_EQ(b["observables"].size(), 4u);
  EXPECT_EQ(b["observables"][0]["dataType"], "ip");
  EXPECT_EQ(b["observables"][0]["data"], "203.0.113.0");
  EXPECT_EQ(b["observables"][1]["dataType"], "ip");  // the scanned targets
  EXPECT_EQ(b["observables"][1]["data"], "192.0.2.10");
  EXPECT_EQ(b["observables"][2]["data"], "192.0.2.11");
  EXPECT_EQ(b["observables"][3]["dataType"], "other");
  std::string ports = "ports:1";
  for (int p = 2; p <= 51; ++p) ports += "," + std::to_string(p);
  EXPECT_EQ(b["observables"][3]["data"], ports);
  for (const auto& o : b["observables"]) {
    EXPECT_TRUE(o["dataType"].is_string());
    EXPECT_TRUE(o["data"].is_string());
  }
}

TEST_F(HttpOutput, SplunkHecPresetSendsEventEnvelopes) {
  // Splunk HEC: POST /services/collector/event, "Authorization: Splunk <token>", JSON events
  // {"time": epoch seconds, "host", "source", "sourcetype", "index", "event": ...}, several
  // events stacked in one body (https://help.splunk.com/splunk-enterprise/get-data-in/
  // collect-http-event-data/format-events-for-http-event-collector).
  http_receiver rx;
  auto c = cfg(rx.url("/services/collector/event"));
  c.preset = http_preset::splunk_hec;
  c.token = "11111111-2222-3333-4444-555555555555";
  c.batch = http_batch::ndjson;
  c.splunk_host = "sensor-1";
  c.splunk_index = "security";
  http_output out("http-test", output_schema::native, c, m_);
  const auto alerts = test_alerts(0, 2);
  ASSERT_TRUE(out.publish(alerts));
  ASSERT_TRUE(out.flush(10s));
  const auto rs = rx.requests();
  ASSERT_GE(rs.size(), 1u);
  std::vector<json> events;
  for (const auto& r : rs) {
    EXPECT_EQ(r.target, "/services/collector/event");
    EXPECT_EQ(r.header("authorization"), "Splunk 11111111-2222-3333-4444-555555555555");
    EXPECT_EQ(r.header("content-type"), "application/json");
    std::istringstream lines(r.body);
    for (std::string line; std::getline(lines, line);) events.push_back(json::parse(line));
  }
  ASSERT_EQ(events.size(), 2u);
  const json& e = events[0];
  EXPECT_DOUBLE_EQ(e["time"].get<double>(), 1795860300.0);
  EXPECT_EQ(e["host"], "sensor-1");
  EXPECT_EQ(e["source"], "portscand");
  EXPECT_EQ(e["sourcetype"], "portscand:alert");
  EXPECT_EQ(e["index"], "security");
  EXPECT_EQ(e["event"], json::parse(render_alert(alerts[0], alert_schema::native)));
  EXPECT_EQ(events[1]["event"]["alert_id"], alerts[1].alert_id);
}

}  // namespace
}  // namespace portscand
