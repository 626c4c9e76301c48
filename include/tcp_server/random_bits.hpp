#pragma once

#include <chrono>
#include <cstdint>

namespace tcp_server {

// A small, fast pseudo-random sequence (SplitMix64, Steele et al. 2014): 8 bytes of state, so
// every connection can carry its own without the 2.5 KiB of std::mt19937_64. Not for secrets:
// it only makes a test server's choices (drops, jitter) reproducible from --seed.
class RandomBits {
 public:
  // The sequence of one connection: a function of the server's seed and the connection's
  // number, so that a run with the same seed makes the same choices for the same connection.
  RandomBits(std::uint64_t seed, std::uint64_t stream) noexcept
      : state_(mix(seed ^ mix(stream + kGolden))) {}

  std::uint64_t next() noexcept { return mix(state_ += kGolden); }
  // True with probability p (0: never, 1: always).
  bool chance(double p) noexcept {
    if (p <= 0) return false;
    if (p >= 1) return true;
    return static_cast<double>(next() >> 11) * 0x1.0p-53 < p;
  }
  // Uniform in 0..max inclusive.
  std::chrono::milliseconds up_to(std::chrono::milliseconds max) noexcept {
    if (max.count() <= 0) return std::chrono::milliseconds(0);
    return std::chrono::milliseconds(
        static_cast<std::int64_t>(next() % (static_cast<std::uint64_t>(max.count()) + 1)));
  }

 private:
  static constexpr std::uint64_t kGolden = 0x9e3779b97f4a7c15ULL;
  static std::uint64_t mix(std::uint64_t z) noexcept {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  std::uint64_t state_;
};

}  // namespace tcp_server
