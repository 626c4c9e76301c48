#include "lifetime_watch.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <vector>

#include "eventually.hpp"

namespace tcp_server {
namespace {

using namespace std::chrono_literals;
using Clock = LifetimeWatch::Clock;

struct Counted final : Expirable {
  std::atomic<int> expired{0};
  std::atomic<Clock::time_point> at{};
  void expire() noexcept override {
    at.store(Clock::now());
    expired.fetch_add(1);
  }
};

TEST(LifetimeWatch, ExpiresEachWatchedOneAtItsDeadlineOnce) {
  LifetimeWatch watch;
  Counted late;
  Counted early;
  const auto start = Clock::now();
  // The later one first, so that the earlier one has to wake the watch's thread.
  LifetimeWatch::Handle late_handle = watch.watch(late, start + 300ms);
  LifetimeWatch::Handle early_handle = watch.watch(early, start + 100ms);
  ASSERT_TRUE(testing::eventually([&] { return late.expired.load() == 1; }, 5s));
  EXPECT_EQ(early.expired.load(), 1);
  EXPECT_GE(early.at.load(), start + 100ms);
  EXPECT_GE(late.at.load(), start + 300ms);
  EXPECT_LT(early.at.load(), late.at.load());
}

TEST(LifetimeWatch, AResetHandleIsNeverExpired) {
  LifetimeWatch watch;
  Counted left;
  Counted stays;
  const auto start = Clock::now();
  LifetimeWatch::Handle left_handle = watch.watch(left, start + 50ms);
  LifetimeWatch::Handle stays_handle = watch.watch(stays, start + 150ms);
  left_handle.reset();
  ASSERT_TRUE(testing::eventually([&] { return stays.expired.load() == 1; }, 5s));
  EXPECT_EQ(left.expired.load(), 0);
}

TEST(LifetimeWatch, StopsPromptlyWithNothingDue) {
  Counted never;
  {
    LifetimeWatch watch;
    LifetimeWatch::Handle handle = watch.watch(never, Clock::now() + 1h);
    handle.reset();
  }
  EXPECT_EQ(never.expired.load(), 0);
}

}  // namespace
}  // namespace tcp_server
