#include "runtime/publisher.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

namespace portscand {
namespace {

using namespace std::chrono_literals;

// An output that accepts every batch and confirms it only when told to (a broker away).
class held_output final : public alert_output {
 public:
  explicit held_output(std::atomic<bool>& confirm) : confirm_(confirm) {}
  const std::string& name() const override { return name_; }
  bool publish(const std::vector<alert>& alerts) override {
    pending_ += alerts.size();
    return true;
  }
  void poll() override {
    if (confirm_) pending_ = 0;
  }
  std::size_t pending() const override { return pending_; }
  bool flush(std::chrono::milliseconds) override { return pending_ == 0; }
  bool healthy() const override { return true; }

 private:
  std::string name_ = "held";
  std::atomic<bool>& confirm_;
  std::size_t pending_ = 0;
};

double gauge_value(const metrics_registry& m, const std::string& name) {
  const std::string text = m.render();
  const auto at = text.find("\n" + name + " ");
  if (at == std::string::npos) return -1;
  return std::stod(text.substr(at + name.size() + 2));
}

// Before: an output outage was invisible in metrics until librdkafka gave up on a message
// (message.timeout.ms, 5 minutes by default); the age of the oldest unconfirmed alert shows
// it from the first second.
TEST(publisher, the_age_of_the_oldest_unconfirmed_alert_grows_during_an_outage_and_resets_after) {
  metrics_registry metrics;
  std::atomic<bool> confirm{false};
  std::vector<std::unique_ptr<alert_output>> outputs;
  outputs.push_back(std::make_unique<held_output>(confirm));
  publisher pub(std::move(outputs), metrics);
  pub.start();
  EXPECT_EQ(gauge_value(metrics, "portscand_alerts_unconfirmed_age_seconds"), 0);
  pub.publish(std::vector<alert>(1));
  std::this_thread::sleep_for(600ms);
  pub.publish(std::vector<alert>(1));  // a newer batch does not make the oldest younger
  std::this_thread::sleep_for(300ms);
  EXPECT_GE(gauge_value(metrics, "portscand_alerts_unconfirmed_age_seconds"), 0.8);
  EXPECT_EQ(pub.batches_received(), 2u);
  EXPECT_EQ(pub.batches_confirmed(), 0u);
  confirm = true;
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (pub.batches_confirmed() < 2 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(10ms);
  EXPECT_EQ(pub.batches_confirmed(), 2u);
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(gauge_value(metrics, "portscand_alerts_unconfirmed_age_seconds"), 0);
  pub.stop(1s);
}

// An output that refuses everything until told otherwise (its own bound is full).
class refusing_output final : public alert_output {
 public:
  explicit refusing_output(std::atomic<bool>& accept) : accept_(accept) {}
  const std::string& name() const override { return name_; }
  bool publish(const std::vector<alert>& alerts) override {
    if (!accept_) return false;
    delivered += alerts.size();
    return true;
  }
  void poll() override {}
  std::size_t pending() const override { return 0; }
  bool flush(std::chrono::milliseconds) override { return true; }
  bool healthy() const override { return accept_; }
  std::atomic<std::size_t> delivered{0};

 private:
  std::string name_ = "refusing";
  std::atomic<bool>& accept_;
};

// Before: the publisher moved every batch from its bounded queue into the refusing output's
// backlog, which grew for as long as the outage lasted. Now the backlog stops at its bound,
// the queue fills, the shards wait (backpressure) and a gauge says so.
TEST(publisher, an_outputs_backlog_is_bounded_and_the_shards_wait_instead) {
  metrics_registry metrics;
  std::atomic<bool> accept{false};
  std::vector<std::unique_ptr<alert_output>> outputs;
  auto out = std::make_unique<refusing_output>(accept);
  refusing_output& output = *out;
  outputs.push_back(std::move(out));
  publisher pub(std::move(outputs), metrics, 4);
  pub.start();
  std::thread shard([&pub] {
    for (int i = 0; i < 20; ++i) pub.publish(std::vector<alert>(1));
  });
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (!pub.producers_blocked() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(10ms);
  std::this_thread::sleep_for(200ms);
  EXPECT_TRUE(pub.producers_blocked()) << "the shard should wait, not the backlog grow";
  EXPECT_LE(gauge_value(metrics, "portscand_publisher_backlog_batches"), 4);
  EXPECT_NE(metrics.render().find("portscand_output_backlog_full{output=\"refusing\"} 1"),
            std::string::npos);
  accept = true;
  shard.join();
  const auto done = std::chrono::steady_clock::now() + 5s;
  while (output.delivered < 20 && std::chrono::steady_clock::now() < done)
    std::this_thread::sleep_for(10ms);
  EXPECT_EQ(output.delivered, 20u) << "nothing is dropped";
  std::this_thread::sleep_for(100ms);
  EXPECT_NE(metrics.render().find("portscand_output_backlog_full{output=\"refusing\"} 0"),
            std::string::npos);
  pub.stop(1s);
}

}  // namespace
}  // namespace portscand
