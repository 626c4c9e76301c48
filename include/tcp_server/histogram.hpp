#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>

namespace tcp_server {

// A copy of a BucketHistogram: counts[i] is the observations <= upper_bounds[i] and above the
// bound before it (not cumulative); counts[N] those above every bound.
template <std::size_t N>
struct HistogramCounts {
  std::array<std::uint64_t, N> upper_bounds{};
  std::array<std::uint64_t, N + 1> counts{};
  std::uint64_t sum = 0;

  [[nodiscard]] std::uint64_t count() const noexcept {
    std::uint64_t total = 0;
    for (const auto n : counts) total += n;
    return total;
  }
};

// A histogram of non-negative integers (microseconds, messages) over fixed upper bounds, observed
// from any thread without a lock: one relaxed increment of one bucket and one of the sum. The
// bounds are few, so finding the bucket is a short scan. A snapshot taken while observations land
// may count one in a bucket before its value reaches the sum: close enough for monitoring, and
// the total count is always the sum of the buckets.
template <std::size_t N>
class BucketHistogram {
 public:
  explicit constexpr BucketHistogram(const std::array<std::uint64_t, N>& upper_bounds) noexcept
      : upper_bounds_(upper_bounds) {}

  void observe(std::uint64_t value) noexcept {
    std::size_t bucket = 0;
    while (bucket < N && value > upper_bounds_[bucket]) ++bucket;
    counts_[bucket].fetch_add(1, std::memory_order_relaxed);
    sum_.fetch_add(value, std::memory_order_relaxed);
  }

  [[nodiscard]] HistogramCounts<N> snapshot() const noexcept {
    HistogramCounts<N> result;
    result.upper_bounds = upper_bounds_;
    for (std::size_t i = 0; i <= N; ++i) {
      result.counts[i] = counts_[i].load(std::memory_order_relaxed);
    }
    result.sum = sum_.load(std::memory_order_relaxed);
    return result;
  }

 private:
  std::array<std::uint64_t, N> upper_bounds_;
  std::array<std::atomic<std::uint64_t>, N + 1> counts_{};
  std::atomic<std::uint64_t> sum_{0};
};

}  // namespace tcp_server
