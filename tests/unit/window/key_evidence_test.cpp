#include "window/key_evidence.hpp"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <vector>

namespace portscand {
namespace {

struct model {  // the evidence written the obvious way
  std::map<ip_address, std::uint32_t> targets;
  outcome_counts counts;
};

// Random keys, most of them of the shapes the inline form holds (one IPv4 target, one
// outcome, or no destination), the rest breaking it at a random record: the evidence read
// back must equal the model at every step, and after a checkpoint-style restore.
TEST(KeyEvidence, AgreesWithAPlainModelAcrossTheInlineAndHeapForms) {
  std::mt19937 rng(5);
  const dvc_action actions[] = {dvc_action::allow, dvc_action::deny,    dvc_action::drop,
                                dvc_action::reset, dvc_action::unknown, dvc_action::encrypt};
  for (std::uint32_t limit : {0u, 1u, 3u, 10u}) {
    for (int key = 0; key < 300; ++key) {
      key_evidence ev;
      model m;
      bool truncated_model = false;
      const int n = 1 + static_cast<int>(rng() % 40);
      const int breaks_at = key % 3 == 0 ? static_cast<int>(rng() % n) : n;
      const auto base_action = actions[rng() % 6];
      const bool base_dst = key % 5 != 0;
      for (int i = 0; i < n; ++i) {
        network_session r;
        r.action = i < breaks_at ? base_action : actions[rng() % 6];
        r.has_dst = i < breaks_at ? base_dst : rng() % 4 != 0;
        if (r.has_dst) {
          const auto host = i < breaks_at ? 7u : static_cast<std::uint32_t>(rng() % 6);
          r.dst = rng() % 9 == 0 && i >= breaks_at
                      ? *ip_address::parse(("2001:db8::" + std::to_string(host)).c_str())
                      : ip_address::from_v4(0xC6336400u + host);
          ++m.targets[r.dst];
        }
        switch (outcome_of(r.action)) {
          case attempt_outcome::allowed:
            ++m.counts.allowed;
            break;
          case attempt_outcome::denied:
            ++m.counts.denied;
            break;
          case attempt_outcome::dropped:
            ++m.counts.dropped;
            break;
          case attempt_outcome::unknown:
            break;
        }
        ev.add(r, static_cast<std::uint32_t>(i), limit);
      }
      const auto events = static_cast<std::uint32_t>(n);
      std::vector<target_set::target> want;
      for (const auto& [a, c] : m.targets)
        if (want.size() < limit) want.push_back({a.bytes(), c});
      truncated_model = m.targets.size() > limit;
      auto check = [&](const key_evidence& e, const char* what) {
        std::vector<target_set::target> got;
        e.targets(events, got);
        ASSERT_EQ(got.size(), want.size()) << what << " limit " << limit << " key " << key;
        for (std::size_t i = 0; i < got.size(); ++i) {
          EXPECT_EQ(got[i].address, want[i].address) << what;
          EXPECT_EQ(got[i].count, want[i].count) << what;
        }
        EXPECT_EQ(e.truncated(), truncated_model) << what << " limit " << limit << " key " << key;
        const auto c = e.outcomes(events);
        EXPECT_EQ(c.allowed, m.counts.allowed) << what;
        EXPECT_EQ(c.denied, m.counts.denied) << what;
        EXPECT_EQ(c.dropped, m.counts.dropped) << what;
      };
      check(ev, "built");
      std::vector<target_set::target> list;
      ev.targets(events, list);
      key_evidence back;
      back.restore(events, ev.outcomes(events), list, ev.truncated(), limit);
      check(back, "restored");
      key_evidence moved(std::move(back));
      check(moved, "moved");
    }
  }
}

// The point of the inline form: a benign key (one target, one outcome) costs no heap.
TEST(KeyEvidence, ABenignKeyStaysInline) {
  key_evidence ev;
  network_session r;
  r.has_dst = true;
  r.dst = *ip_address::parse("192.0.2.80");
  r.action = dvc_action::allow;
  for (std::uint32_t i = 0; i < 100; ++i) ev.add(r, i, 10);
  EXPECT_EQ(ev.heap_bytes(), 0u);
  EXPECT_EQ(ev.outcomes(100).allowed, 100u);
  r.action = dvc_action::deny;  // a second outcome moves it to the heap
  ev.add(r, 100, 10);
  EXPECT_GT(ev.heap_bytes(), 0u);
  EXPECT_EQ(ev.outcomes(101).allowed, 100u);
  EXPECT_EQ(ev.outcomes(101).denied, 1u);
  std::vector<target_set::target> t;
  ev.targets(101, t);
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(t[0].count, 101u);
}

}  // namespace
}  // namespace portscand
