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

}  // namespace
}  // namespace portscand
