#include "tcp_server/log_throttle.hpp"

#include <gtest/gtest.h>

#include <string>

namespace tcp_server {
namespace {

using namespace std::chrono_literals;
using TimePoint = LogThrottle::Clock::time_point;

// An arbitrary start; the throttle only ever sees times the test passes.
const TimePoint kStart = TimePoint{} + 1000h;

std::string address(int i) {
  return "10.0.0." + std::to_string(i % 250) + ":" + std::to_string(5000 + i);
}

// admit() for events 0..count-1 at one instant; how many were admitted.
int admit_burst(LogThrottle& throttle, TimePoint now, int count, int first = 0) {
  int admitted = 0;
  for (int i = first; i < first + count; ++i) admitted += throttle.admit(now, address(i)) ? 1 : 0;
  return admitted;
}

TEST(LogThrottle, ABurstOfOneHundredIsAllLogged) {
  LogThrottle throttle;
  EXPECT_EQ(admit_burst(throttle, kStart, 100), 100);
  EXPECT_FALSE(throttle.summary_due().has_value());
  EXPECT_FALSE(throttle.take_summary(kStart + 1h).has_value());
}

TEST(LogThrottle, TheHundredAndFirstIsSuppressed) {
  LogThrottle throttle;
  admit_burst(throttle, kStart, 100);
  EXPECT_FALSE(throttle.admit(kStart, "10.9.9.9:1"));
  EXPECT_TRUE(throttle.summary_due().has_value());
}

TEST(LogThrottle, RefillsTwentyPerSecond) {
  LogThrottle throttle;
  admit_burst(throttle, kStart, 100);
  EXPECT_EQ(admit_burst(throttle, kStart + 1s, 100, 100), 20);
  EXPECT_EQ(admit_burst(throttle, kStart + 1s + 49ms, 5, 200), 0);  // not a whole token yet
  EXPECT_EQ(admit_burst(throttle, kStart + 1s + 50ms, 5, 205), 1);
  // Partial tokens are not lost between calls: 25 ms + 25 ms is one token.
  EXPECT_EQ(admit_burst(throttle, kStart + 1s + 75ms, 1, 210), 0);
  EXPECT_EQ(admit_burst(throttle, kStart + 1s + 100ms, 1, 211), 1);
}

TEST(LogThrottle, RefillStopsAtTheBurst) {
  LogThrottle throttle;
  admit_burst(throttle, kStart, 100);
  EXPECT_EQ(admit_burst(throttle, kStart + 1h, 150), 100);
}

TEST(LogThrottle, TwoAddressesWithinASecondAreBothLoggedWhileTokensRemain) {
  LogThrottle throttle;
  EXPECT_TRUE(throttle.admit(kStart, "10.0.0.1:5000"));
  EXPECT_TRUE(throttle.admit(kStart + 10ms, "10.0.0.2:6000"));
}

TEST(LogThrottle, SummaryComesOnceQuietWithTheCountAndAtMostFiveExamples) {
  LogThrottle throttle;
  admit_burst(throttle, kStart, 100);
  EXPECT_EQ(admit_burst(throttle, kStart, 340, 100), 0);
  ASSERT_TRUE(throttle.summary_due().has_value());
  EXPECT_EQ(*throttle.summary_due(), kStart + 1s);
  EXPECT_FALSE(throttle.take_summary(kStart + 999ms).has_value());  // still in the burst

  const auto summary = throttle.take_summary(kStart + 1s);
  ASSERT_TRUE(summary.has_value());
  EXPECT_EQ(summary->count, 340u);
  ASSERT_EQ(summary->examples.size(), 5u);
  EXPECT_EQ(summary->examples.front(), address(100));
  EXPECT_EQ(summary->examples.back(), address(104));
  // Written once.
  EXPECT_FALSE(throttle.summary_due().has_value());
  EXPECT_FALSE(throttle.take_summary(kStart + 1h).has_value());
}

TEST(LogThrottle, EachSuppressedEventPostponesTheSummary) {
  LogThrottle throttle;
  admit_burst(throttle, kStart, 100);
  EXPECT_FALSE(throttle.admit(kStart, "a"));
  EXPECT_FALSE(throttle.admit(kStart + 40ms, "b"));
  EXPECT_EQ(*throttle.summary_due(), kStart + 40ms + 1s);
}

TEST(LogThrottle, AFloodThatNeverEndsIsSummedUpEveryTenSeconds) {
  LogThrottle throttle;
  admit_burst(throttle, kStart, 100);
  std::uint64_t suppressed = 0;
  TimePoint now = kStart;
  for (; now < kStart + 10s; now += 10ms) suppressed += throttle.admit(now, "x") ? 0 : 1;
  EXPECT_EQ(*throttle.summary_due(), kStart + 10s);
  const auto summary = throttle.take_summary(now);
  ASSERT_TRUE(summary.has_value());
  EXPECT_EQ(summary->count, suppressed);
}

TEST(LogThrottle, ForceTakesAPendingSummaryBeforeItIsDue) {
  LogThrottle throttle;
  admit_burst(throttle, kStart, 101);
  const auto summary = throttle.take_summary(kStart, /*force=*/true);
  ASSERT_TRUE(summary.has_value());
  EXPECT_EQ(summary->count, 1u);
  EXPECT_FALSE(throttle.take_summary(kStart, /*force=*/true).has_value());
}

TEST(LogThrottle, ASmallerPolicyIsHonoured) {
  LogThrottle throttle(LogThrottlePolicy{.burst = 2, .refill_every = 1s, .max_examples = 1});
  EXPECT_EQ(admit_burst(throttle, kStart, 4), 2);
  EXPECT_EQ(admit_burst(throttle, kStart + 1s, 2, 4), 1);
  const auto summary = throttle.take_summary(kStart + 1h);
  ASSERT_TRUE(summary.has_value());
  EXPECT_EQ(summary->count, 3u);
  EXPECT_EQ(summary->examples.size(), 1u);
}

TEST(PollTimeoutUntil, WaitsForEverWhenNothingIsDueAndRoundsUp) {
  EXPECT_EQ(poll_timeout_until(std::nullopt, kStart), -1);
  EXPECT_EQ(poll_timeout_until(kStart - 1s, kStart), 0);
  EXPECT_EQ(poll_timeout_until(kStart, kStart), 0);
  EXPECT_EQ(poll_timeout_until(kStart + 1us, kStart), 1);
  EXPECT_EQ(poll_timeout_until(kStart + 1500ms, kStart), 1500);
}

}  // namespace
}  // namespace tcp_server
