#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>

namespace tcp_server {

// --throttle's arithmetic, without a clock of its own: how big each piece is and when the next
// may go, so that bytes leave at most bytes_per_second on average. A link left idle saves up no
// credit (no burst after a pause). Pure; not thread safe.
class SendPacer {
 public:
  using Clock = std::chrono::steady_clock;

  explicit SendPacer(std::uint64_t bytes_per_second) noexcept
      : bytes_per_second_(std::max<std::uint64_t>(bytes_per_second, 1)) {}

  // About 20 pieces a second, so that a client sees the bytes trickle in, never more than
  // 16 KiB (or less than a byte) at a time.
  [[nodiscard]] std::size_t piece_size() const noexcept {
    return static_cast<std::size_t>(std::clamp<std::uint64_t>(bytes_per_second_ / 20, 1, 16384));
  }
  // When a piece may go, given that it is now.
  [[nodiscard]] Clock::time_point next_send(Clock::time_point now) const noexcept {
    return std::max(now, next_send_);
  }
  // A piece of `bytes` went at `sent_at` (no earlier than next_send()): the next waits its turn.
  void sent(std::size_t bytes, Clock::time_point sent_at) noexcept {
    const auto cost = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(
        static_cast<double>(bytes) / static_cast<double>(bytes_per_second_)));
    next_send_ = std::max(sent_at, next_send_) + cost;
  }

 private:
  std::uint64_t bytes_per_second_;
  Clock::time_point next_send_{};
};

}  // namespace tcp_server
