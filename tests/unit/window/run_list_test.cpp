// run_list (a source's runs: the first inline, the rest in one heap array) and run_labels
// (one label inline when its time is the run's first, else a heap array of (id, time)).
#include "window/run_list.hpp"

#include <gtest/gtest.h>

#include <utility>
#include <vector>

namespace portscand {
namespace {

port_run make_run(std::uint16_t port, timestamp_us first, timestamp_us last,
                  std::uint32_t events = 1) {
  port_run r;
  r.first = first;
  r.last = last;
  r.events = events;
  r.port = port;
  r.labels.insert(7, first, first);
  return r;
}

std::vector<std::uint16_t> ports(const run_list& l) {
  std::vector<std::uint16_t> out;
  for (const port_run& r : l) out.push_back(r.port);
  return out;
}

using seen_list = std::vector<std::pair<label_id, timestamp_us>>;
seen_list labels_of(const run_labels& l, timestamp_us run_first) {
  seen_list out;
  l.for_each(run_first, [&](const run_labels::seen& x) { out.emplace_back(x.id, x.first); });
  return out;
}

TEST(run_list, a_source_with_one_run_allocates_nothing) {
  run_list l;
  EXPECT_TRUE(l.empty());
  l.push_back(make_run(443, 10, 20));
  EXPECT_EQ(l.size(), 1u);
  EXPECT_EQ(l.heap_capacity(), 0u);
  EXPECT_EQ(l.heap_bytes(), 0u);
  EXPECT_EQ(l[0].port, 443);
  EXPECT_EQ(l[0].last, 20);
}

TEST(run_list, grows_to_the_heap_one_run_at_a_time_up_to_four_then_by_half) {
  run_list l;
  // Runs beyond the inline one: heap capacity after each push.
  const std::vector<std::uint32_t> caps = {0, 1, 2, 3, 4, 6, 6, 9, 9, 9, 13};
  for (std::uint16_t i = 0; i < caps.size(); ++i) {
    l.push_back(make_run(i, i, i));
    EXPECT_EQ(l.heap_capacity(), caps[i]) << "after run " << i;
    EXPECT_EQ(l.heap_bytes(), caps[i] * sizeof(port_run));
  }
  // Every run kept its place and contents through the reallocations.
  for (std::uint32_t i = 0; i < l.size(); ++i) {
    EXPECT_EQ(l[i].port, i);
    EXPECT_EQ(labels_of(l[i].labels, l[i].first), (seen_list{{7, timestamp_us{i}}}));
  }
}

TEST(run_list, removing_the_inline_run_moves_the_first_heap_run_inline) {
  run_list l;
  for (std::uint16_t p : {1, 2, 3}) l.push_back(make_run(p, p, p));
  l.retain_if([](const port_run& r) { return r.port != 1; });
  EXPECT_EQ(ports(l), (std::vector<std::uint16_t>{2, 3}));
  EXPECT_EQ(l[0].first, 2);
  // A push after the removal goes behind the kept ones.
  l.push_back(make_run(4, 4, 4));
  EXPECT_EQ(ports(l), (std::vector<std::uint16_t>{2, 3, 4}));
}

TEST(run_list, retain_if_keeps_order_and_calls_keep_once_per_run_in_order) {
  run_list l;
  for (std::uint16_t p = 0; p < 10; ++p) l.push_back(make_run(p, p, p));
  std::vector<std::uint16_t> seen;
  l.retain_if([&](const port_run& r) {
    seen.push_back(r.port);
    return r.port % 3 == 0;
  });
  EXPECT_EQ(seen, (std::vector<std::uint16_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
  EXPECT_EQ(ports(l), (std::vector<std::uint16_t>{0, 3, 6, 9}));
}

run_list twenty_runs() {
  run_list l;
  for (std::uint16_t p = 0; p < 20; ++p) l.push_back(make_run(p, p, p));
  return l;
}

TEST(run_list, compaction_gives_back_heap_space_beyond_twice_what_is_left_plus_four) {
  // 19 runs on the heap: capacities 1, 2, 3, 4, 6, 9, 13, 19.
  ASSERT_EQ(twenty_runs().heap_capacity(), 19u);
  {
    run_list l = twenty_runs();  // 9 left, 8 on the heap: 19 <= 2 * 8 + 4, kept
    l.retain_if([](const port_run& r) { return r.port < 9; });
    EXPECT_EQ(l.heap_capacity(), 19u);
    EXPECT_EQ(l.size(), 9u);
  }
  {
    run_list l = twenty_runs();  // 8 left, 7 on the heap: 19 > 18, shrunk to fit
    l.retain_if([](const port_run& r) { return r.port < 8; });
    EXPECT_EQ(l.heap_capacity(), 7u);
    EXPECT_EQ(ports(l), (std::vector<std::uint16_t>{0, 1, 2, 3, 4, 5, 6, 7}));
    l.push_back(make_run(30, 30, 30));  // and it grows again from there
    EXPECT_EQ(l.heap_capacity(), 10u);
    EXPECT_EQ(l[8].port, 30);
  }
  {
    run_list l = twenty_runs();  // one left: inline, no heap at all
    l.retain_if([](const port_run& r) { return r.port == 17; });
    EXPECT_EQ(l.heap_capacity(), 0u);
    EXPECT_EQ(ports(l), (std::vector<std::uint16_t>{17}));
  }
  {
    run_list l = twenty_runs();
    l.retain_if([](const port_run&) { return false; });
    EXPECT_TRUE(l.empty());
    EXPECT_EQ(l.heap_capacity(), 0u);
    l.push_back(make_run(5, 5, 5));  // usable again, inline
    EXPECT_EQ(ports(l), (std::vector<std::uint16_t>{5}));
  }
}

TEST(run_list, a_moved_list_takes_the_runs_and_leaves_an_empty_one) {
  // Table entries move when the key table compacts (shedding, pruning).
  run_list a = twenty_runs();
  run_list b(std::move(a));
  EXPECT_EQ(b.size(), 20u);
  EXPECT_TRUE(a.empty());  // NOLINT(bugprone-use-after-move): the moved-from state is specified
  EXPECT_EQ(a.heap_capacity(), 0u);
  run_list c;
  c.push_back(make_run(99, 1, 1));
  c.push_back(make_run(98, 1, 1));
  c = std::move(b);
  EXPECT_EQ(c.size(), 20u);
  EXPECT_EQ(c[19].port, 19);
  c.clear();
  EXPECT_TRUE(c.empty());
  EXPECT_EQ(c.heap_bytes(), 0u);
}

TEST(run_labels, one_label_at_the_runs_first_time_is_inline) {
  run_labels l;
  l.insert(3, 100, 100);
  EXPECT_TRUE(l.is_inline());
  EXPECT_EQ(l.heap_bytes(), 0u);
  EXPECT_EQ(labels_of(l, 100), (seen_list{{3, 100}}));
  // The same label later: still the run's first.
  l.insert(3, 150, 100);
  EXPECT_TRUE(l.is_inline());
  EXPECT_EQ(labels_of(l, 100), (seen_list{{3, 100}}));
  // The same label earlier (a late record): the run's first moves down with it.
  l.insert(3, 40, 100);
  EXPECT_TRUE(l.is_inline());
  EXPECT_EQ(labels_of(l, 40), (seen_list{{3, 40}}));
}

TEST(run_labels, a_second_label_moves_both_to_the_heap_with_their_own_times) {
  run_labels l;
  l.insert(3, 100, 100);
  // Y arrives late, before the run's first: X must keep 100, not follow the run to 60.
  l.insert(4, 60, 100);
  EXPECT_FALSE(l.is_inline());
  EXPECT_EQ(labels_of(l, 60), (seen_list{{3, 100}, {4, 60}}));
  // One block: an 8-byte header (size, capacity) and room for two (id, time) pairs.
  EXPECT_EQ(l.heap_bytes(), 8 + 2 * sizeof(run_labels::seen));
  l.insert(5, 120, 60);  // a third: the block doubles
  EXPECT_EQ(l.heap_bytes(), 8 + 4 * sizeof(run_labels::seen));
  EXPECT_EQ(labels_of(l, 60), (seen_list{{3, 100}, {4, 60}, {5, 120}}));
  l.insert(3, 50, 60);  // an earlier X lowers X's time only
  EXPECT_EQ(labels_of(l, 50), (seen_list{{3, 50}, {4, 60}, {5, 120}}));
}

TEST(run_labels, keeps_at_most_max_kept_labels) {
  run_labels l;
  for (label_id id = 1; id <= run_labels::max_kept + 5; ++id) l.insert(id, 100 + id, 101);
  std::size_t n = 0;
  label_id last = 0;
  l.for_each(101, [&](const run_labels::seen& x) {
    ++n;
    last = x.id;
  });
  EXPECT_EQ(n, run_labels::max_kept);
  EXPECT_EQ(last, run_labels::max_kept);  // the first ones seen are kept
}

TEST(run_labels, a_lone_label_seen_after_the_runs_first_stays_on_the_heap_until_settled) {
  // As a checkpoint may hold it: the run starts at 100, its only label was first seen at 130.
  run_labels l;
  l.insert(3, 130, 100);
  EXPECT_FALSE(l.is_inline());
  l.settle(100);
  EXPECT_FALSE(l.is_inline());  // inline would say 100
  EXPECT_EQ(labels_of(l, 100), (seen_list{{3, 130}}));
  run_labels m;
  m.insert(3, 100, 100);
  m.insert(3, 90, 100);  // still inline
  EXPECT_TRUE(m.is_inline());
  run_labels h;  // from a checkpoint: (X, 100) after the run's first 100, then settled
  h.insert(5, 120, 100);
  h.insert(5, 100, 100);
  h.settle(100);
  EXPECT_TRUE(h.is_inline());
  EXPECT_EQ(labels_of(h, 100), (seen_list{{5, 100}}));
}

TEST(run_labels, merging_two_runs_of_one_label_stays_inline_at_the_earlier_first) {
  run_labels into, from;
  into.insert(3, 100, 100);
  from.insert(3, 40, 40);
  into.merge(from, 40, 100);
  EXPECT_TRUE(into.is_inline());
  EXPECT_TRUE(from.empty());
  EXPECT_EQ(labels_of(into, 40), (seen_list{{3, 40}}));
}

TEST(run_labels, merging_different_labels_keeps_each_ones_time_in_order) {
  run_labels into, from;
  into.insert(3, 100, 100);
  from.insert(4, 40, 40);
  from.insert(3, 70, 40);
  into.merge(from, 40, 100);
  // into's label first, then from's in its order; X's time is the smaller of the two.
  EXPECT_EQ(labels_of(into, 40), (seen_list{{3, 70}, {4, 40}}));
}

TEST(run_labels, merging_keeps_a_label_that_started_after_the_other_runs_first_explicit) {
  // `from` starts at 40 but its only label (the same as into's) was first seen at 60: the
  // merged run starts at 40, the label at 60.
  run_labels into, from;
  into.insert(3, 100, 100);
  from.insert(3, 60, 40);
  into.merge(from, 40, 100);
  EXPECT_FALSE(into.is_inline());
  EXPECT_EQ(labels_of(into, 40), (seen_list{{3, 60}}));
}

TEST(run_labels, a_moved_label_set_owns_the_heap_array) {
  run_labels a;
  a.insert(3, 100, 100);
  a.insert(4, 110, 100);
  run_labels b(std::move(a));
  EXPECT_TRUE(a.empty());  // NOLINT(bugprone-use-after-move): the moved-from state is specified
  EXPECT_EQ(labels_of(b, 100), (seen_list{{3, 100}, {4, 110}}));
  run_labels c;
  c.insert(9, 5, 5);
  c = std::move(b);
  EXPECT_EQ(labels_of(c, 100), (seen_list{{3, 100}, {4, 110}}));
}

}  // namespace
}  // namespace portscand
