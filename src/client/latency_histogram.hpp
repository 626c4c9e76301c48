#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>

namespace tcp_server::client {

// A log-linear histogram of durations in nanoseconds, in the manner of HdrHistogram: values
// below 32 ns have a bucket each; above, each power of two is split into 32 buckets, so any
// quantile is within 1/32 (about 3%) of the true value. Fixed size (about 16 KiB), so
// recording never allocates. Not thread safe: one per worker, merged at the end.
class LatencyHistogram {
 public:
  void record(std::chrono::nanoseconds value) noexcept;
  void merge(const LatencyHistogram& other) noexcept;
  void clear() noexcept;

  [[nodiscard]] std::uint64_t count() const noexcept { return count_; }
  [[nodiscard]] std::chrono::nanoseconds max() const noexcept {
    return std::chrono::nanoseconds(max_);
  }
  // The smallest recorded-bucket bound b such that at least q (0..1) of the values are <= b;
  // never more than max(). Zero when nothing was recorded.
  [[nodiscard]] std::chrono::nanoseconds quantile(double q) const noexcept;

  static constexpr unsigned kSubBucketBits = 5;
  static constexpr std::size_t kSubBuckets = std::size_t{1} << kSubBucketBits;
  static constexpr std::size_t kBuckets = kSubBuckets + (64 - kSubBucketBits) * kSubBuckets;

  // Exposed for tests: where a value goes, and the largest value a bucket holds.
  static std::size_t bucket_of(std::uint64_t value) noexcept;
  static std::uint64_t bucket_upper_bound(std::size_t bucket) noexcept;

 private:
  std::array<std::uint64_t, kBuckets> buckets_{};
  std::uint64_t count_ = 0;
  std::uint64_t max_ = 0;
};

}  // namespace tcp_server::client
