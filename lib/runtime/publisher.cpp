#include "runtime/publisher.hpp"

#include <spdlog/spdlog.h>

#include <optional>
#include <thread>

#include "core/thread_guard.hpp"

namespace portscand {

publisher::publisher(std::vector<std::unique_ptr<alert_output>> outputs, metrics_registry& metrics,
                     std::size_t max_backlog_batches)
    : queue_(max_backlog_batches), backlog_limit_(max_backlog_batches) {
  for (auto& o : outputs) {
    gauge* full = &metrics.get_gauge(
        "portscand_output_backlog_full",
        "1 while an output's backlog of refused alert batches is at its bound (the shards wait).",
        {{"output", o->name()}});
    outputs_.push_back(output_state{std::move(o), {}, full});
  }
  backlog_gauge_ = &metrics.get_gauge("portscand_publisher_backlog_batches",
                                      "Alert batches waiting for an output that refused them.");
  unconfirmed_age_ =
      &metrics.get_gauge("portscand_alerts_unconfirmed_age_seconds",
                         "Age of the oldest alert batch not yet confirmed by every output.");
}

publisher::~publisher() {
  stop(std::chrono::milliseconds(0));
}

void publisher::start() {
  thread_ = std::thread(guarded("publisher", [this] { run(); }));
}

void publisher::publish(std::vector<alert>&& alerts) {
  received_.fetch_add(1, std::memory_order_acq_rel);
  if (queue_.try_push(alerts)) return;
  blocked_.fetch_add(1, std::memory_order_acq_rel);
  queue_.push(std::move(alerts));
  blocked_.fetch_sub(1, std::memory_order_acq_rel);
}

void publisher::deliver(std::vector<alert>&& batch) {
  for (auto& o : outputs_) {
    if (!o.backlog.empty() || !o.out->publish(batch)) o.backlog.push_back(batch);
  }
}

void publisher::run() {
  auto last_warn = std::chrono::steady_clock::now() - std::chrono::hours(1);
  std::uint64_t handed = 0;
  while (true) {
    // An output's backlog is bounded like the queue: at the bound nothing more is taken from
    // the queue, which fills, and the shards wait in publish() (backpressure to the inputs)
    // instead of memory growing for as long as the outage lasts.
    bool room = true;
    for (const auto& o : outputs_) room = room && o.backlog.size() < backlog_limit_;
    std::optional<std::vector<alert>> batch;
    if (room)
      batch = queue_.pop_for(std::chrono::milliseconds(20));
    else
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    if (stop_.load(std::memory_order_acquire) && !batch && (!room || queue_.size() == 0)) break;
    if (batch) {
      deliver(std::move(*batch));
      ++handed;
      if (!unconfirmed_since_) unconfirmed_since_ = std::chrono::steady_clock::now();
    }
    std::size_t backlog = 0, pending = 0;
    bool healthy = true;
    for (auto& o : outputs_) {
      o.out->poll();
      while (!o.backlog.empty() && o.out->publish(o.backlog.front())) o.backlog.pop_front();
      backlog += o.backlog.size();
      o.full->set(o.backlog.size() >= backlog_limit_ ? 1 : 0);
      pending += o.out->pending();
      healthy = healthy && o.out->healthy();
    }
    if (backlog == 0 && pending == 0) {
      confirmed_.store(handed, std::memory_order_release);
      unconfirmed_since_.reset();
    }
    unconfirmed_age_->set(
        !unconfirmed_since_
            ? 0.0
            : std::chrono::duration<double>(std::chrono::steady_clock::now() - *unconfirmed_since_)
                  .count());
    healthy_.store(healthy && backlog == 0, std::memory_order_release);
    backlog_gauge_->set(static_cast<double>(backlog));
    if (backlog != 0 && std::chrono::steady_clock::now() - last_warn > std::chrono::seconds(30)) {
      last_warn = std::chrono::steady_clock::now();
      for (auto& o : outputs_)
        if (!o.backlog.empty())
          spdlog::error(
              "output {}: {} alert batch(es) waiting, {} alert(s) unconfirmed: the output is not "
              "accepting alerts",
              o.out->name(), o.backlog.size(), o.out->pending());
    }
  }
}

bool publisher::drain(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  const std::uint64_t target = received_.load(std::memory_order_acquire);
  while (confirmed_.load(std::memory_order_acquire) < target) {
    if (std::chrono::steady_clock::now() >= deadline || !thread_.joinable()) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

void publisher::stop(std::chrono::milliseconds drain_timeout) {
  if (!thread_.joinable()) return;
  if (!drain(drain_timeout))
    spdlog::error(
        "stopping with undelivered alerts; they are re-sent after restart from the last "
        "checkpoint");
  stop_.store(true, std::memory_order_release);
  queue_.close();
  thread_.join();
  for (auto& o : outputs_) o.out->flush(std::chrono::milliseconds(0));
}

bool publisher::healthy() const {
  return healthy_.load(std::memory_order_acquire);
}

}  // namespace portscand
