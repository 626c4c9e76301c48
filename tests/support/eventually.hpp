#pragma once

#include <chrono>
#include <thread>

namespace tcp_server::testing {

// Re-checks condition until it holds or timeout passes; true if it held. For state that has no
// event to wait on (counters); the timeout is a bound, never the thing the test relies on.
template <class Condition>
bool eventually(Condition condition,
                std::chrono::milliseconds timeout = std::chrono::milliseconds(10'000)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  return true;
}

}  // namespace tcp_server::testing
