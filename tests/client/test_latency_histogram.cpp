#include "latency_histogram.hpp"

#include <gtest/gtest.h>

#include <cmath>

namespace tcp_server::client {
namespace {

using std::chrono::nanoseconds;

TEST(LatencyHistogram, EmptyHasZeroQuantilesAndCount) {
  const LatencyHistogram histogram;
  EXPECT_EQ(histogram.count(), 0u);
  EXPECT_EQ(histogram.quantile(0.5), nanoseconds(0));
  EXPECT_EQ(histogram.max(), nanoseconds(0));
}

TEST(LatencyHistogram, SmallValuesAreExact) {
  LatencyHistogram histogram;
  for (int value = 1; value <= 20; ++value) histogram.record(nanoseconds(value));
  EXPECT_EQ(histogram.count(), 20u);
  EXPECT_EQ(histogram.quantile(0.5), nanoseconds(10));
  EXPECT_EQ(histogram.quantile(1.0), nanoseconds(20));
  EXPECT_EQ(histogram.quantile(0.0), nanoseconds(1));
  EXPECT_EQ(histogram.max(), nanoseconds(20));
}

TEST(LatencyHistogram, BucketsCoverEveryValueAndStayWithinThreePercent) {
  for (std::uint64_t value :
       {32ULL, 33ULL, 63ULL, 64ULL, 1000ULL, 123456789ULL, (1ULL << 40) + 7, ~0ULL}) {
    const std::size_t bucket = LatencyHistogram::bucket_of(value);
    ASSERT_LT(bucket, LatencyHistogram::kBuckets) << value;
    const std::uint64_t upper = LatencyHistogram::bucket_upper_bound(bucket);
    EXPECT_GE(upper, value);
    EXPECT_LE(static_cast<double>(upper - value), static_cast<double>(value) / 32.0) << value;
    if (bucket > 0) {
      EXPECT_LT(LatencyHistogram::bucket_upper_bound(bucket - 1), value) << value;
    }
  }
}

TEST(LatencyHistogram, QuantilesOfAUniformSpreadAreWithinThreePercent) {
  LatencyHistogram histogram;
  for (int value = 1; value <= 100000; ++value) histogram.record(nanoseconds(value * 100));
  for (const double q : {0.5, 0.9, 0.99, 0.999}) {
    const double expected = q * 100000 * 100;
    const double got = static_cast<double>(histogram.quantile(q).count());
    EXPECT_NEAR(got, expected, expected * 0.035) << q;
  }
  EXPECT_EQ(histogram.quantile(1.0), nanoseconds(10000000));
}

TEST(LatencyHistogram, MergeAddsCountsAndKeepsTheLargerMax) {
  LatencyHistogram a;
  LatencyHistogram b;
  for (int i = 0; i < 90; ++i) a.record(nanoseconds(1000));
  for (int i = 0; i < 10; ++i) b.record(nanoseconds(5000000));
  a.merge(b);
  EXPECT_EQ(a.count(), 100u);
  EXPECT_EQ(a.max(), nanoseconds(5000000));
  EXPECT_NEAR(static_cast<double>(a.quantile(0.5).count()), 1000.0, 32.0);
  EXPECT_EQ(a.quantile(0.95), nanoseconds(5000000));
  a.clear();
  EXPECT_EQ(a.count(), 0u);
}

TEST(LatencyHistogram, NegativeDurationsCountAsZero) {
  LatencyHistogram histogram;
  histogram.record(nanoseconds(-5));
  EXPECT_EQ(histogram.count(), 1u);
  EXPECT_EQ(histogram.quantile(1.0), nanoseconds(0));
}

}  // namespace
}  // namespace tcp_server::client
