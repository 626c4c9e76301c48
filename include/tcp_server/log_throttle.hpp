#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tcp_server {

struct LogThrottlePolicy {
  std::size_t burst = 100;                                 // lines logged back to back
  std::chrono::nanoseconds refill_every{50'000'000};       // one more line per 50 ms: 20/s
  std::chrono::nanoseconds quiet_after{1'000'000'000};     // summary once none for 1 s...
  std::chrono::nanoseconds longest_delay{10'000'000'000};  // ...or 10 s into a long flood
  std::size_t max_examples = 5;                            // kept for the summary
};

// A token bucket for one kind of log line (e.g. one rejection reason): a burst of lines is
// logged, then a steady rate; the lines beyond that are counted, the first few of them kept as
// examples, and summed up in one summary once they stop (or every longest_delay while they do
// not). Nothing is dropped silently. Pure: the caller passes the time. Not thread safe.
class LogThrottle {
 public:
  using Clock = std::chrono::steady_clock;

  struct Summary {
    std::uint64_t count = 0;            // events not logged
    std::vector<std::string> examples;  // the first of them (at most max_examples)
  };

  LogThrottle() : LogThrottle(LogThrottlePolicy{}) {}
  explicit LogThrottle(LogThrottlePolicy policy);

  // True: log this event now (a token is taken). False: it is counted for the summary, and
  // example kept if fewer than max_examples are.
  bool admit(Clock::time_point now, std::string_view example);

  // When the pending summary is due; empty when nothing is pending.
  [[nodiscard]] std::optional<Clock::time_point> summary_due() const;

  // The pending summary if it is due at now (always, with force), which then starts over.
  std::optional<Summary> take_summary(Clock::time_point now, bool force = false);

 private:
  void refill(Clock::time_point now);

  LogThrottlePolicy policy_;
  std::size_t tokens_;
  Clock::time_point refilled_at_{};  // tokens_ is the count at this time
  Summary pending_;
  Clock::time_point first_suppressed_{};
  Clock::time_point last_suppressed_{};
};

// A poll(2) timeout in milliseconds until due, rounded up so the wait never ends early: -1
// (wait for ever) when nothing is due, 0 when it is already.
int poll_timeout_until(std::optional<std::chrono::steady_clock::time_point> due,
                       std::chrono::steady_clock::time_point now);

}  // namespace tcp_server
