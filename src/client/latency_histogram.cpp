#include "latency_histogram.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

namespace tcp_server::client {

std::size_t LatencyHistogram::bucket_of(std::uint64_t value) noexcept {
  if (value < kSubBuckets) return static_cast<std::size_t>(value);
  const unsigned top_bit = 63U - static_cast<unsigned>(std::countl_zero(value));
  const unsigned shift = top_bit - kSubBucketBits;
  const std::uint64_t sub = (value >> shift) & (kSubBuckets - 1);
  return kSubBuckets + static_cast<std::size_t>(shift) * kSubBuckets +
         static_cast<std::size_t>(sub);
}

std::uint64_t LatencyHistogram::bucket_upper_bound(std::size_t bucket) noexcept {
  if (bucket < kSubBuckets) return bucket;
  const std::size_t shift = (bucket - kSubBuckets) / kSubBuckets;
  const std::uint64_t sub = (bucket - kSubBuckets) % kSubBuckets;
  const std::uint64_t lower = (kSubBuckets + sub) << shift;
  return lower + ((std::uint64_t{1} << shift) - 1);
}

void LatencyHistogram::record(std::chrono::nanoseconds value) noexcept {
  const auto ns = static_cast<std::uint64_t>(std::max<std::int64_t>(value.count(), 0));
  ++buckets_[bucket_of(ns)];
  ++count_;
  max_ = std::max(max_, ns);
}

void LatencyHistogram::merge(const LatencyHistogram& other) noexcept {
  for (std::size_t i = 0; i < kBuckets; ++i) buckets_[i] += other.buckets_[i];
  count_ += other.count_;
  max_ = std::max(max_, other.max_);
}

void LatencyHistogram::clear() noexcept {
  *this = LatencyHistogram();
}

std::chrono::nanoseconds LatencyHistogram::quantile(double q) const noexcept {
  if (count_ == 0) return std::chrono::nanoseconds(0);
  q = std::clamp(q, 0.0, 1.0);
  const auto rank = std::max<std::uint64_t>(
      1, static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(count_))));
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < kBuckets; ++i) {
    seen += buckets_[i];
    if (seen >= rank) {
      return std::chrono::nanoseconds(
          static_cast<std::int64_t>(std::min(bucket_upper_bound(i), max_)));
    }
  }
  return std::chrono::nanoseconds(static_cast<std::int64_t>(max_));
}

}  // namespace tcp_server::client
