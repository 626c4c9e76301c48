#include "tcp_server/log_throttle.hpp"

#include <algorithm>
#include <limits>
#include <utility>

namespace tcp_server {

LogThrottle::LogThrottle(LogThrottlePolicy policy) : policy_(policy), tokens_(policy.burst) {}

void LogThrottle::refill(Clock::time_point now) {
  if (tokens_ >= policy_.burst) {
    refilled_at_ = now;  // a full bucket earns nothing: count from now
    return;
  }
  if (now <= refilled_at_ || policy_.refill_every.count() <= 0) return;
  const auto earned = static_cast<std::size_t>((now - refilled_at_) / policy_.refill_every);
  if (earned >= policy_.burst - tokens_) {
    tokens_ = policy_.burst;
    refilled_at_ = now;
    return;
  }
  tokens_ += earned;
  // Only whole tokens are taken out of the elapsed time; the remainder counts towards the next.
  refilled_at_ += policy_.refill_every * static_cast<std::int64_t>(earned);
}

bool LogThrottle::admit(Clock::time_point now, std::string_view example) {
  refill(now);
  if (tokens_ > 0) {
    --tokens_;
    return true;
  }
  if (pending_.count++ == 0) first_suppressed_ = now;
  last_suppressed_ = now;
  if (pending_.examples.size() < policy_.max_examples) pending_.examples.emplace_back(example);
  return false;
}

std::optional<LogThrottle::Clock::time_point> LogThrottle::summary_due() const {
  if (pending_.count == 0) return std::nullopt;
  return std::min(last_suppressed_ + policy_.quiet_after,
                  first_suppressed_ + policy_.longest_delay);
}

std::optional<LogThrottle::Summary> LogThrottle::take_summary(Clock::time_point now, bool force) {
  const auto due = summary_due();
  if (!due || (!force && now < *due)) return std::nullopt;
  return std::exchange(pending_, Summary{});
}

int poll_timeout_until(std::optional<std::chrono::steady_clock::time_point> due,
                       std::chrono::steady_clock::time_point now) {
  if (!due) return -1;
  if (*due <= now) return 0;
  const auto wait = std::chrono::ceil<std::chrono::milliseconds>(*due - now).count();
  return static_cast<int>(std::min<std::int64_t>(wait, std::numeric_limits<int>::max()));
}

}  // namespace tcp_server
